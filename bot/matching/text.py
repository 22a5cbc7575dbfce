"""Text normalisation and tokenisation shared by matching, clustering and summaries.

Contract:
- `normalize(text)` turns feed text into plain, lower-case, single-spaced text: HTML tags dropped,
  entities decoded, Unicode compatibility forms folded (NFKC), curly quotes to ASCII quotes, every
  dash and non-breaking space to its ASCII form. Offsets reported elsewhere index this string.
- `tokenize(text)` splits normalised text into word tokens (letters and digits). Hyphens and other
  punctuation separate words, so "facial-recognition" is two tokens like "facial recognition";
  apostrophes join ("won't" -> "wont") and a possessive "'s" is dropped ("Microsoft's").
- `stem(word)` is a light, deterministic English suffix stripper: it only needs to map a word and
  its inflections to one key ("ban", "bans", "banned", "banning" -> "ban"), never one word onto an
  unrelated one of the same spelling family ("bank", "band" stay themselves).
All functions are pure and cheap; callers tokenise a story once and reuse the tokens.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_TAG = re.compile(r"<[^>]{0,500}>")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")  # the same tokens, twice as fast on ASCII
_VOWELS = frozenset("aeiouy")
# Dashes, minus signs and curly quotes that headlines use instead of their ASCII forms.
_PUNCT = str.maketrans(
    {
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'", "\u201a": "'",
        "\u201b": "'", "\u2032": "'", "\u00b4": "'", "\u0060": "'", "\u201c": '"',
        "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
        "\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u200b": "", "\u00ad": "",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Token:
    """One word of normalised text: its matching form and where it sits in that text."""

    text: str  # lower case, apostrophes removed
    start: int  # character offset in the normalised text
    end: int


def normalize(text: str) -> str:
    """Plain, lower-case, single-spaced text (see the module docstring)."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        # Twice: feeds often double-escape ("&amp;quot;").
        text = html.unescape(html.unescape(text))
    if not text.isascii():  # ASCII is already NFKC and has none of the _PUNCT characters
        text = unicodedata.normalize("NFKC", text).translate(_PUNCT)
    return _SPACE.sub(" ", text).strip().casefold()


def tokenize(normalized: str) -> list[Token]:
    """Word tokens of text already passed through `normalize`."""
    tokens = []
    for found in _words_regex(normalized).finditer(normalized):
        word = found.group()
        if "'" in word:
            word = _drop_apostrophes(word)
        tokens.append(Token(word, found.start(), found.end()))
    return tokens


def token_texts(normalized: str) -> list[str]:
    """The texts of `tokenize(normalized)`, in order, without building Token objects (hot path)."""
    found = _words_regex(normalized).findall(normalized)
    if "'" in normalized:
        found = [_drop_apostrophes(word) if "'" in word else word for word in found]
    return found


def _words_regex(normalized: str) -> re.Pattern[str]:
    return _ASCII_WORD if normalized.isascii() else _WORD


def fold_accents(word: str) -> str:
    """`word` without diacritics ("prohíbe" -> "prohibe"), so rules written without accents
    find news written with them and vice versa. Letters outside Latin scripts stay."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """The token texts of raw text: normalise, then tokenise."""
    return token_texts(normalize(text))


def _drop_apostrophes(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    return word.replace("'", "")


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """The inflection-free key of one lower-case word (see the module docstring)."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return _drop_final_e(word[:-1])
    for suffix in ("ing", "ed"):
        if word.endswith(suffix):
            return _strip_verb_suffix(word, len(suffix))
    return _drop_final_e(word)


def _strip_verb_suffix(word: str, size: int) -> str:
    base = word[:-size]
    if not _VOWELS.intersection(base):
        return word  # "thing", "bring", "red": the suffix is part of the word
    if len(base) == 2:
        return base + "e"  # "sued" -> "sue", "using" -> "use"
    if len(base) < 2:
        return word
    if base[-1] == base[-2] and base[-1] not in "lsz" and base[-1] not in _VOWELS:
        return base[:-1]  # "banned" -> "ban", "stopping" -> "stop"
    return _drop_final_e(base)


def _drop_final_e(word: str) -> str:
    # "pause", "paused", "pausing" all end up as "paus"; short words keep their e ("use").
    return word[:-1] if len(word) > 3 and word.endswith("e") else word
