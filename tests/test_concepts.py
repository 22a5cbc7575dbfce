"""Named concepts in the rule language, scoped exclusions, typo tolerance in prefixes and short
words, accents, and `check` warnings (bot.matching.query, bot.matching.match, bot.config)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import QuerySyntaxError
from bot.matching.match import Matcher
from bot.matching.query import ConceptError, dump, parse, parse_concepts
from bot.models import Topic

CONCEPTS = {
    "tech": '"facial recognition" OR "face scan*"',
    "ban": "ban OR moratori* OR prohibit*",
    "tech_ban": "@tech NEAR/4 @ban",
}


def _topic(query: str, concepts: dict[str, str] | None = None) -> Topic:
    return Topic("t", ("#c",), query, 50.0, concepts=tuple((concepts or CONCEPTS).items()))


def _matches(
    query: str, title: str, summary: str = "", concepts: dict[str, str] | None = None
) -> bool:
    return bool(Matcher([_topic(query, concepts)]).match(title, summary))


def test_concept_expands_to_its_definition() -> None:
    node = parse("@tech_ban", parse_concepts(CONCEPTS))
    assert dump(node) == "@tech_ban"
    assert _matches("@tech_ban", "City votes to ban facial recognition")
    assert not _matches("@tech_ban", "City votes to ban plastic bags")


def test_unknown_concept_names_the_known_ones() -> None:
    with pytest.raises(QuerySyntaxError, match=r"unknown concept @tek \(known: @tech, @ban"):
        parse("@tek NEAR/3 ban", parse_concepts(CONCEPTS))


def test_concept_may_only_use_concepts_defined_before_it() -> None:
    with pytest.raises(ConceptError, match="in concept @a: unknown concept @b") as error:
        parse_concepts({"a": "@b OR x", "b": "y"})
    assert error.value.concept == "a"


def test_concept_is_a_near_operand_when_its_definition_is_positional() -> None:
    with pytest.raises(QuerySyntaxError, match="NEAR operands"):
        parse("@both NEAR/3 x", parse_concepts({"both": "a AND b"}))


def test_hits_are_credited_to_their_concept() -> None:
    matches = Matcher([_topic("@tech_ban")]).match("Council bans face scanning", "")
    assert {hit.concept for hit in matches[0].hits} == {"tech", "ban"}


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Court rules face unlock falls under biometric law", True),
        ("New phone lets you unlock with facial recognition, maker says law allows it", False),
    ],
    ids=["unlock-far-from-tech-kept", "unlock-next-to-tech-excluded"],
)
def test_scoped_exclusion_only_near_the_technology(title: str, expected: bool) -> None:
    concepts = {"tech": '"facial recognition" OR "face unlock" OR biometric', "law": "law OR rules"}
    query = "(@tech NEAR/12 @law) -(unlock NEAR/3 @tech NOT title:court)"
    assert _matches(query, title, concepts=concepts) is expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("State extends moraterium on face scanning", True),  # typo inside moratori*
        ("City prohibts facial recognition", True),  # typo inside prohibit*
        ("County votes to bann facial recognition", True),  # doubled letter in a short word
        ("Prohibition-era bar uses facial recognition", True),  # prohibit* itself
        ("Band uses face scanning at concerts", False),  # not a typo of ban
        ("Face scanning is regular at the mall", False),  # regular is not regulat*
    ],
    ids=["prefix-typo", "prefix-typo-2", "doubled-letter", "prefix", "band", "regular"],
)
def test_typo_tolerance(title: str, expected: bool) -> None:
    concepts = {**CONCEPTS, "ban": "ban OR moratori* OR prohibit* OR regulat*"}
    assert _matches("@tech NEAR/6 @ban", title, concepts=concepts) is expected


def test_accents_do_not_matter() -> None:
    concepts = {"tech": '"reconocimiento facial"', "ban": "prohib*"}
    assert _matches(
        "@tech NEAR/6 @ban", "El Gobierno prohíbe el reconocimiento facial", concepts=concepts
    )
    assert _matches('"reconnaissance faciale"', "La CNIL et la reconnaissance faciale")


def test_check_warns_on_tilde_too_short_to_take_effect(tmp_path: Path) -> None:
    (tmp_path / "newsbot.yaml").write_text(
        "topics:\n"
        "  - name: t\n"
        "    channels: ['#c']\n"
        "    query: |\n"
        "      face\n"
        "      ban~1 OR moratorium~1\n"
        "feeds: []\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--config", str(tmp_path / "newsbot.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "newsbot.yaml:6 topics[t].query: `ban~1`" in done.stderr
    assert "moratorium" not in done.stderr


def test_check_points_into_the_concept_that_fails(tmp_path: Path) -> None:
    (tmp_path / "newsbot.yaml").write_text(
        "topics:\n"
        "  - name: t\n"
        "    channels: ['#c']\n"
        "    concepts:\n"
        "      tech: face\n"
        "      ban: ban OR (moratorium\n"
        "    query: '@tech @ban'\n"
        "feeds: []\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--config", str(tmp_path / "newsbot.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "newsbot.yaml:6" in done.stderr
    assert "in concept @ban: unbalanced '('" in done.stderr
