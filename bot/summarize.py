"""Summaries for alerts: the first one to three whole sentences of a story's plain-text summary.

Contract: `summarize(text)` returns at most `max_sentences` whole sentences and at most `max_chars`
characters. Sentences are never cut in the middle, except when the first sentence alone is too
long: then it is cut on a word boundary and ends with an ellipsis ("…"). Whitespace is collapsed,
and feed boilerplate ("The post X appeared first on Y.", "Continue reading", "[…]") is dropped.
Pure: text in, text out. The input is already plain text (HTML stripped by the parser).
"""

from __future__ import annotations

import re

ELLIPSIS = "…"

# Words that end with a period without ending a sentence ("Dr. Smith", "U.S. law", "e.g. this").
_ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "approx", "no"),
        *("inc", "ltd", "corp", "co", "nos", "fig", "gov", "sen", "rep", "gen", "col", "lt"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
        *("e.g", "i.e", "u.s", "u.k", "u.n", "e.u", "a.m", "p.m"),
    }
)
# Sentence ends: . ! ? and the CJK full stop / fullwidth ! ?, then closing quotes or brackets.
_ENDS = ".!?\u3002\uff01\uff1f"
_CLOSERS = "\"'\u201d\u2019)\\]"
_OPENERS = "\"'\u201c\u2018(["
_DASHES = " ,;:-\u2013\u2014"
_BOUNDARY = re.compile(f"(?<=[{_ENDS}])[{_CLOSERS}]*\\s+")
_BOILERPLATE = (
    re.compile(r"\s*The post .{1,300}? appeared first on .{1,200}?\.?\s*$", re.DOTALL),
    re.compile(r"(?:(?<=[.!?…])|^)\s*(Continue reading|Read more|Read the full story)\b.{0,120}$"),
    re.compile(r"\s*(\[(…|\.\.\.)\]|\[\s*\+\d+ chars\])\s*$"),
)


def summarize(text: str, *, max_sentences: int = 3, max_chars: int = 400) -> str:
    """The first whole sentences of `text` that fit; a word-cut first sentence when none fits."""
    clean = _strip_boilerplate(" ".join(text.split()))
    if not clean or max_chars <= 0 or max_sentences <= 0:
        return ""
    chosen: list[str] = []
    for sentence in split_sentences(clean)[:max_sentences]:
        candidate = " ".join([*chosen, sentence])
        if len(candidate) > max_chars:
            break
        chosen.append(sentence)
    if chosen:
        return " ".join(chosen)
    return cut_words(clean, max_chars)


def split_sentences(text: str) -> list[str]:
    """Split on . ! ? (and their CJK forms) followed by space, but not after an abbreviation."""
    sentences: list[str] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        piece = text[start : boundary.start()].strip()
        if _ends_with_abbreviation(piece) or not _starts_sentence(text, boundary.end()):
            continue
        sentences.append(text[start : boundary.end()].strip())
        start = boundary.end()
    rest = text[start:].strip()
    return [*sentences, rest] if rest else sentences


def cut_words(text: str, max_chars: int) -> str:
    """`text` cut to at most `max_chars` characters on a word boundary, with an ellipsis."""
    if len(text) <= max_chars:
        return text
    if max_chars <= len(ELLIPSIS):
        return ELLIPSIS[:max_chars]
    return end_on_word(text[: max_chars - len(ELLIPSIS)])


def end_on_word(head: str) -> str:
    """`head` (a prefix of a longer text) ended on its last whole word, plus an ellipsis."""
    space = head.rfind(" ")
    if space >= len(head) // 2:  # a very long "word" (a URL, CJK text) is cut mid-word instead
        head = head[:space]
    return head.rstrip(_DASHES) + ELLIPSIS


def _ends_with_abbreviation(piece: str) -> bool:
    last = piece.rsplit(" ", 1)[-1].rstrip(".").lower().lstrip(_OPENERS)
    if last in _ABBREVIATIONS:
        return True
    return len(last) == 1 and last.isalpha()  # an initial: "J. Smith"


def _starts_sentence(text: str, index: int) -> bool:
    if index >= len(text):
        return True
    first = text[index]
    if first.isupper() or first.isdigit() or first in _OPENERS:
        return True
    return not first.isascii() and not first.islower()  # CJK and other caseless scripts


def _strip_boilerplate(text: str) -> str:
    for pattern in _BOILERPLATE:
        text = pattern.sub("", text)
    return text.strip()
