"""bot.matching.query: the rule language parser, its error positions, and the simple form."""

from __future__ import annotations

import pytest

from bot.errors import QuerySyntaxError
from bot.matching.query import dump, from_simple, parse, render

VALID = [
    ("single-term", "ban", "ban"),
    ("implicit-and", "facial recognition", "(and facial recognition)"),
    ("phrase", '"facial recognition"', '"facial recognition"'),
    ("curly-quoted-phrase", "\u201cface scan\u201d", '"face scan"'),
    ("hyphen-is-phrase", "facial-recognition", '"facial recognition"'),
    ("or", "ban OR moratorium", "(or ban moratorium)"),
    ("or-binds-tighter", "police ban OR law", "(and police (or ban law))"),
    ("explicit-and", "a AND b OR c", "(and a (or b c))"),
    ("not", "ban NOT bank", "(and ban (not bank))"),
    ("leading-minus", "ban -tiktok", "(and ban (not tiktok))"),
    ("minus-group", "ban -(tiktok OR eviction)", "(and ban (not (or tiktok eviction)))"),
    ("parentheses", "(a OR b) (c OR d)", "(and (or a b) (or c d))"),
    ("wildcard", "regulat*", "regulat*"),
    ("fuzzy-default", "clearview~", "clearview~1"),
    ("fuzzy-two", "rekognition~2", "rekognition~2"),
    ("literal", "ends~0", "ends~0"),
    ("near", "frt NEAR/3 ban", "(near/3 frt ban)"),
    (
        "near-groups",
        '(frt OR "face scan") NEAR/5 (ban OR halt)',
        '(near/5 (or frt "face scan") (or ban halt))',
    ),
    ("near-chain", "a NEAR/2 b NEAR/4 c", "(near/4 (near/2 a b) c)"),
    ("field-prefix", "title:ban law", "(and (title: ban) law)"),
    ("field-group", "summary:(ban OR law)", "(summary: (or ban law))"),
    ("lowercase-operators-are-words", "ban or near", "(and ban or near)"),
    ("comment", "ban # anything here\nlaw", "(and ban law)"),
    ("wildcard-in-phrase", '"face scan*"', '"face scan*"'),
]

INVALID = [
    ("unbalanced-open", "(ban OR law", 0, "missing ')'"),
    ("unbalanced-close", "ban OR law)", 10, "no '('"),
    ("dangling-or", "ban OR", 6, "term was expected"),
    ("leading-or", "OR ban", 0, "term was expected"),
    ("double-or", "ban OR OR law", 7, "term was expected"),
    ("empty-phrase", 'ban ""', 4, "empty phrase"),
    ("blank-phrase", 'ban "  "', 4, "empty phrase"),
    ("unterminated-quote", 'ban "face scan', 4, "unterminated"),
    ("near-without-distance", "a NEAR b", 2, "NEAR"),
    ("near-bad-distance", "a NEAR/x b", 2, "NEAR"),
    ("near-zero", "a NEAR/0 b", 2, "NEAR"),
    ("near-and-operand", "(a b) NEAR/3 c", 0, "NEAR operands"),
    ("near-not-operand", "a NEAR/3 (b -c)", 9, "NEAR operands"),
    ("lone-not", "NOT", 0, "needs something to exclude"),
    ("trailing-not", "ban NOT", 4, "needs something to exclude"),
    ("not-before-or", "ban NOT OR law", 4, "needs something to exclude"),
    ("only-exclusions", "-ban -law", 0, "only excludes"),
    ("empty-parens", "ban ()", 4, "empty parentheses"),
    ("short-wildcard", "ba*", 0, "wildcard"),
    ("inner-star", "b*n", 0, "may only end"),
    ("too-fuzzy", "clearview~3", 0, "fuzzy tolerance"),
    ("punctuation-only-term", "ban ...", 4, "no letters"),
    ("empty-query", "", 0, "term was expected"),
]


@pytest.mark.parametrize(("query", "expected"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_parse_valid(query: str, expected: str) -> None:
    assert dump(parse(query)) == expected


@pytest.mark.parametrize(("query", "_"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_render_round_trips(query: str, _: str) -> None:
    node = parse(query)
    assert dump(parse(render(node))) == dump(node)  # same structure; `raw` spellings may differ


@pytest.mark.parametrize(
    ("query", "position", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_parse_invalid_reports_position(query: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    assert caught.value.position == position
    assert message in caught.value.message
    assert caught.value.query == query


@pytest.mark.parametrize(
    ("any_of", "all_of", "none_of", "expected"),
    [
        (["ban", "facial recognition"], [], [], '(or ban "facial recognition")'),
        ([], [["frt", "face scan"], ["law", "ban*"]], ["tiktok"],
         '(and (or frt "face scan") (or law ban*) (not tiktok))'),
        (["clearview~"], [["fine"]], ["eviction", "drilling pause"],
         '(and clearview~1 fine (not eviction) (not "drilling pause"))'),
    ],
    ids=["any-only", "all-groups-and-none", "single-groups"],
)  # fmt: skip
def test_from_simple(any_of: list[str], all_of: list[list[str]], none_of: list[str],
                     expected: str) -> None:  # fmt: skip
    assert dump(parse(from_simple(any_of, all_of, none_of))) == expected
