"""bot.matching.text: normalisation, tokenisation and the light stemmer."""

from __future__ import annotations

import pytest

from bot.matching.text import normalize, stem, token_texts, tokenize, words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("City Bans Face Scans", "city bans face scans"),
        ("<p>Council <b>votes</b></p>", "council votes"),
        ("Smith &amp; Jones &quot;ban&quot;", 'smith & jones "ban"'),
        ("double &amp;quot;escaped&amp;quot;", 'double "escaped"'),
        ("it\u2019s \u201cbanned\u201d", "it's \"banned\""),
        ("face\u00a0recognition\u2014now", "face recognition-now"),
        ("  lots \n\t of   space ", "lots of space"),
        ("\uff26\uff32\uff34 ban", "frt ban"),  # full-width letters fold to ASCII (NFKC)
    ],
    ids=["case", "html-tags", "entities", "double-escaped", "curly-quotes", "nbsp-em-dash",
         "whitespace", "full-width"],
)  # fmt: skip
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("facial-recognition ban", ["facial", "recognition", "ban"]),
        ("Microsoft\u2019s pledge", ["microsoft", "pledge"]),
        ("won't sell", ["wont", "sell"]),
        ("AB 1215, signed.", ["ab", "1215", "signed"]),
        ("São Paulo café", ["são", "paulo", "café"]),
        ("snake_case", ["snake", "case"]),
    ],
    ids=["hyphen-splits", "possessive", "contraction", "numbers", "accents", "underscore"],
)
def test_words(raw: str, expected: list[str]) -> None:
    assert words(raw) == expected


@pytest.mark.parametrize(
    "text",
    ["plain ascii text, here", "caf\u00e9 d\u00e9j\u00e0 vu", "it's o'clock"],
    ids=["ascii", "unicode", "apostrophes"],
)
def test_token_texts_agree_with_tokenize(text: str) -> None:
    normalized = normalize(text)
    tokens = tokenize(normalized)
    assert token_texts(normalized) == [token.text for token in tokens]
    assert all(normalized[t.start : t.end].replace("'", "").startswith(t.text) for t in tokens)


@pytest.mark.parametrize(
    ("family", "key"),
    [
        (["ban", "bans", "banned", "banning"], "ban"),
        (["halt", "halts", "halted", "halting"], "halt"),
        (["pause", "pauses", "paused", "pausing"], "paus"),
        (["sue", "sues", "sued", "suing"], "sue"),
        (["rule", "rules", "ruled", "ruling"], "rul"),
        (["policy", "policies"], "policy"),
        (["stop", "stops", "stopped", "stopping"], "stop"),
    ],
    ids=["ban", "halt", "pause", "sue", "rule", "policy", "stop"],
)
def test_stem_joins_inflections(family: list[str], key: str) -> None:
    assert {stem(word) for word in family} == {key}


@pytest.mark.parametrize(
    ("word", "other"),
    [("ban", "bank"), ("ban", "band"), ("ban", "banner"), ("thing", "the"), ("police", "policy")],
    ids=["bank", "band", "banner", "thing-is-not-the", "police-is-not-policy"],
)
def test_stem_keeps_different_words_apart(word: str, other: str) -> None:
    assert stem(word) != stem(other)
