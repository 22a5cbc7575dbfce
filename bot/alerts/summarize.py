"""Summaries for alerts: the first one to three whole sentences of a story's plain-text summary.

Contract: `summarize(text)` returns at most `max_sentences` whole sentences and at most `max_chars`
characters. Sentences are never cut in the middle, except when the first sentence alone is too
long: then it is cut on a word boundary and ends with an ellipsis ("…"). Whitespace is collapsed,
and feed clutter is dropped first (`strip_clutter`): photo captions and credits ("Photo: Getty
Images", "(AP Photo/Jane Doe)", "Image credit: ..."), bylines ("By Jane Doe, Reuters"), "Read
more" / "Continue reading" links, "The post X appeared first on Y." and a trailing "[…]" (a text
the feed cut short then ends with "…"). Pure: text in, text out. The input is already plain text
(HTML stripped by the parser).
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
# Who made a picture: "Getty Images", "Jane Doe/Reuters", "AP Photo/Ted S. Warren, File".
_CREDIT_WORDS = r"(?:[A-Z][\w'\u2019.-]*|[A-Z]\.|via|for|and|of|de|van|von|der|/|&|,)"
_AGENCIES = (
    r"(?:Images|Image|Photos?|Reuters|AP|AFP|EPA|PA|Shutterstock|Alamy|Bloomberg|Unsplash"
    r"|Commons|File|Handout|Staff|Pool|Xinhua|Anadolu|NurPhoto|SOPA|Stock)"
)
_PICTURE = r"(?:Photo(?:graph)?s?|Images?|Pictures?|Illustrations?|Video|Graphic)"
_CLUTTER = (
    # "(AP Photo/Evan Vucci, File)", "(Photo by Jane Doe/Getty Images)", "(Image: Shutterstock)"
    re.compile(
        rf"\s*\((?:AP |AFP |Reuters |PA )?{_PICTURE}\b(?:\s*(?:credit)?\s*[:/]|\s+by\b)"
        r"[^()]{0,120}\)"
    ),
    # "Photo: Getty Images", "Photograph: Jane Doe/AP", "Image credit: City of Portland" and
    # "Credit: Jane Doe/Bloomberg": the credit runs to its agency, else to its last name before a
    # sentence goes on (see `_credit_end`).
    re.compile(
        rf"(?:(?<=[.!?…])|^)\s*(?:{_PICTURE}(?:\s+credits?)?|Credits?)\s*:\s*"
        rf"(?P<credit>(?:{_CREDIT_WORDS}\s*){{1,14}})"
    ),
    # "By Jane Doe", "By Jane Doe and John Roe, Reuters", "By JANE DOE | Staff writer"
    # (a word followed by ":" is the next label, "Photo:", not a name)
    re.compile(
        r"^\s*By\s+(?P<byline>(?:[A-Z][\w'\u2019.-]*+(?!:)|and|&|,|\|)"
        r"(?:\s*(?:[A-Z][\w'\u2019.-]*+(?!:)|and|de|van|von|der|&|,|\||[Ss]taff|[Ww]riter"
        r"|[Rr]eporter|[Cc]orrespondent|[Ee]ditor))*)"
    ),
    re.compile(r"\s*The post .{1,300}? appeared first on .{1,200}?\.?\s*$", re.DOTALL),
    re.compile(
        r"\s*This (?:article|story) (?:was )?(?:originally |first )?(?:appeared|published)"
        r" (?:on|in|by) .{1,200}?\.?\s*$"
    ),
    re.compile(
        r"(?:(?<=[.!?…\]])|^)\s*(?:Continue reading|Read more|Keep reading"
        r"|Read the full (?:story|article)|Click here to read more)\b.{0,120}$",
        re.IGNORECASE,
    ),
)
_TRUNCATED = re.compile(r"\s*(?:\[\s*(?:…|\.\.\.)\s*\]|\[\s*\+\d+ chars\]|\.\.\.|…)\s*$")
_AGENCY_END = re.compile(rf".*\b{_AGENCIES}\b\s*(?:,\s*(?:File|Pool|Handout))?", re.DOTALL)
# Words that start a sentence, never a name: "By Monday, ..." is not a byline.
_NOT_NAMES = frozenset(
    re.findall(
        r"\w+",
        """
    a an this that these it its in on at by for as new monday tuesday wednesday thursday
    friday saturday sunday january february march april may june july august september october
    november december""",
    )
)


def summarize(text: str, *, max_sentences: int = 3, max_chars: int = 400) -> str:
    """The first whole sentences of `text` that fit; a word-cut first sentence when none fits."""
    clean = strip_clutter(" ".join(text.split()))
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


def strip_clutter(text: str) -> str:
    """`text` (whitespace already collapsed) without photo credits, bylines, "Read more" links,
    "The post ... appeared first on ..." and a trailing "[…]" (then ending with "…")."""
    cut, before = False, None
    while text != before:  # one piece of clutter can hide another ("By X Photo: Y The ...")
        before = text
        for pattern in _CLUTTER:
            text, was_cut = _strip_truncation(" ".join(pattern.sub(_removal, text).split()))
            cut = cut or was_cut
    if cut and text and text[-1] not in _ENDS + _CLOSERS:
        return text.rstrip(_DASHES) + ELLIPSIS
    return text


def _strip_truncation(text: str) -> tuple[str, bool]:
    stripped = _TRUNCATED.sub("", text)
    return stripped, stripped != text


def _removal(found: re.Match[str]) -> str:
    """What replaces one piece of clutter: nothing, or the words after a credit or byline that
    the pattern took in but that already belong to the next sentence."""
    groups = found.groupdict()
    if groups.get("credit"):
        return " " + found["credit"][_credit_end(found["credit"]) :]
    if "byline" in groups:
        return _after_byline(found["byline"], found.string[found.end() :])
    return " "


def _credit_end(credit: str) -> int:
    """Where a credit run ends: after its agency ("Getty Images The council ..."), at a period,
    else before its last capitalised word when more text follows ("Jane Doe The council")."""
    period = re.search(r"(?<![A-Z])\.(\s|$)", credit)
    if period:
        return period.end()
    agency = _AGENCY_END.match(credit)
    if agency:
        return agency.end()
    words = list(re.finditer(r"\S+", credit))
    if len(words) > 1 and credit.rstrip() != credit:  # more text follows the run
        return words[-1].start()
    return len(credit)


def _after_byline(byline: str, rest: str) -> str:
    """A byline is a name of two or more words; anything else ("By Monday, ...") is kept."""
    names = list(re.findall(r"[\w'\u2019.-]+", byline))
    keep_last = bool(rest.strip()) and rest.lstrip()[:1].islower() and len(names) > 2
    name = names[:-1] if keep_last else names
    if len(name) < 2 or name[0].lower() in _NOT_NAMES:
        return f"By {byline}"
    return f" {names[-1]}" if keep_last else " "
