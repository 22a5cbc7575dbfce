"""Clustering decisions: one alert per real-world event, explained.

Every headline here is written for these tests; none is copied from the evaluation set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.cluster import ClusterDecision, PriorReport, decide, report_of
from bot.models import ClusterSettings, Story

T0 = datetime(2021, 3, 1, 9, 0, tzinfo=UTC)

AMAZON = (
    "Amazon halts police use of its Rekognition software for one year",
    "Amazon said it will stop letting police departments use Rekognition, its face-matching "
    "service, for twelve months while lawmakers write rules.",
)
RIVERTON = (
    "Riverton council votes to ban facial recognition by city agencies",
    "The Riverton city council voted 9-0 to bar police and other city departments from using "
    "facial recognition.",
)
FACETRAIL_NORWAY = (
    "Norwegian regulator fines FaceTrail over scraped photos",
    "Norway's data protection authority fined the face search company FaceTrail 4 million euros "
    "for collecting photos of residents without consent.",
)


def story(
    title: str, summary: str, hours: float = 2.0, url: str = "https://news.example/new"
) -> Story:
    return Story(
        id="new",
        url=url,
        title=title,
        summary=summary,
        source="Outlet",
        published=T0 + timedelta(hours=hours),
    )


def report(alert_id: str, text: tuple[str, str], hours: float = 0.0, url: str = "") -> PriorReport:
    published = T0 + timedelta(hours=hours)
    return PriorReport(
        alert_id=alert_id,
        title=text[0],
        summary=text[1],
        url=url or f"https://wire.example/{alert_id}",
        source="Wire",
        published=published,
        event_start=published,
    )


@dataclass(frozen=True)
class Case:
    name: str
    story: Story
    prior: tuple[PriorReport, ...]
    expected: str | None
    settings: ClusterSettings = field(default_factory=ClusterSettings)


CASES = [
    Case(
        "syndicated identical headline",
        story(
            AMAZON[0],
            "The retailer will keep Rekognition away from police for a year, it said.",
        ),
        (report("amazon", AMAZON),),
        "amazon",
    ),
    Case(
        "reworded headline of the same wire story",
        story(
            "Rekognition off-limits to police for a year, Amazon says",
            "Amazon is pausing sales of its Rekognition face-matching tool to law enforcement "
            "for twelve months.",
            hours=20,
        ),
        (report("amazon", AMAZON),),
        "amazon",
    ),
    Case(
        "revised headline at the same canonical URL",
        story(
            "UPDATE: Amazon pauses Rekognition sales to police",
            "Adds comment from civil liberties groups.",
            url="https://wire.example/amazon-halt",
        ),
        (report("amazon", AMAZON, url="https://wire.example/amazon-halt"),),
        "amazon",
    ),
    Case(
        "same week, same theme, different company",
        story(
            "Microsoft says it will not sell face recognition to police departments",
            "Microsoft joined Amazon in keeping its facial recognition away from police until "
            "a federal law is passed, the company's president said.",
            hours=30,
        ),
        (report("amazon", AMAZON),),
        None,
    ),
    Case(
        "a headline that names the other company in passing",
        story(
            "Microsoft joins Amazon in keeping face recognition from police",
            "Microsoft will not sell its facial recognition service to police until Congress "
            "acts, its president said.",
            hours=30,
        ),
        (report("amazon", AMAZON),),
        None,
    ),
    Case(
        "same wording, different city",
        story(
            "Lakeside council votes to ban facial recognition by city agencies",
            "The Lakeside city council voted 6-1 to bar police and other city departments from "
            "using facial recognition.",
        ),
        (report("riverton", RIVERTON),),
        None,
    ),
    Case(
        "same company, different regulator",
        story(
            "Danish regulator fines FaceTrail over scraped photos",
            "Denmark's data protection authority fined FaceTrail 3 million euros for collecting "
            "photos of residents without consent.",
        ),
        (report("norway", FACETRAIL_NORWAY),),
        None,
    ),
    Case(
        "same regulator action reported from the company's side",
        story(
            "FaceTrail fined by Norway over photo scraping",
            "FaceTrail, a face search company, was fined 4 million euros by Norway's data "
            "protection authority, which ordered it to delete residents' photos.",
        ),
        (report("norway", FACETRAIL_NORWAY),),
        "norway",
    ),
    Case(
        "different bills in one legislature",
        story(
            "Assembly passes AB 812 limiting police face scans",
            "The Assembly approved AB 812, which limits how police may run face scans.",
        ),
        (
            report(
                "ab-640",
                (
                    "Assembly passes AB 640 limiting police face scans",
                    "The Assembly approved AB 640, which limits how police may run face scans.",
                ),
            ),
        ),
        None,
    ),
    Case(
        "follow-up months later, outside the window",
        story(
            "Amazon extends its Rekognition moratorium indefinitely",
            "Amazon will keep its ban on police use of Rekognition in place until further notice.",
            hours=24 * 340,
        ),
        (report("amazon", AMAZON),),
        None,
    ),
    Case(
        "the later report of a folded story is matched too",
        story(
            "Riverton becomes latest city to outlaw face surveillance",
            "Riverton joined a growing list of cities that forbid their agencies to use face "
            "surveillance after a unanimous council vote.",
            hours=26,
        ),
        (
            report("amazon", AMAZON),
            report("riverton", RIVERTON, hours=1),
        ),
        "riverton",
    ),
    Case(
        "no shared name and no near copy",
        story(
            "Council votes to ban face surveillance in schools",
            "A school board barred the use of face surveillance on its campuses.",
        ),
        (
            report(
                "council",
                (
                    "City council votes to ban facial recognition",
                    "A city council barred police from using facial recognition.",
                ),
            ),
        ),
        None,
    ),
    Case(
        "clustering disabled for the topic",
        story(AMAZON[0], AMAZON[1]),
        (report("amazon", AMAZON),),
        None,
        ClusterSettings(enabled=False),
    ),
    Case(
        "an explicit threshold above the pair's similarity",
        story(
            "Rekognition off-limits to police for a year, Amazon says",
            "Amazon is pausing sales of its Rekognition tool to law enforcement.",
        ),
        (report("amazon", AMAZON),),
        None,
        ClusterSettings(threshold=99.5),
    ),
    Case("empty prior", story(AMAZON[0], AMAZON[1]), (), None),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_decide(case: Case) -> None:
    decision = decide(case.story, case.prior, case.settings, now=T0 + timedelta(days=400))
    assert decision.parent_id == case.expected, decision.reason
    assert 0.0 <= decision.similarity <= 100.0


def test_a_story_without_a_date_is_placed_at_now() -> None:
    undated = Story("new", "", AMAZON[0], AMAZON[1], "Outlet", None)
    prior = [report("amazon", AMAZON)]
    settings = ClusterSettings()

    assert decide(undated, prior, settings, now=T0 + timedelta(hours=5)).parent_id == "amazon"
    assert decide(undated, prior, settings, now=T0 + timedelta(days=30)).parent_id is None


def test_fold_reason_names_the_alert_the_components_and_the_shared_names() -> None:
    reworded = story(
        "Rekognition off-limits to police for a year, Amazon says",
        "Amazon is pausing sales of its Rekognition tool to law enforcement.",
    )
    decision = decide(reworded, [report("amazon", AMAZON)], ClusterSettings(), now=T0)

    assert decision.parent_id == "amazon"
    for part in ("folded into alert amazon", AMAZON[0], "title ", "text ", "same subject"):
        assert part in decision.reason
    assert "amazon" in decision.reason.split("shared:")[1]
    assert f"{decision.similarity:.0f}" in decision.reason


@pytest.mark.parametrize(
    ("name", "prior", "expected"),
    [
        ("veto", [report("riverton", RIVERTON)], "different subjects: lakesid / riverton"),
        ("empty", [], "no earlier alerts"),
        ("stale", [report("old", RIVERTON, hours=-24 * 10)], "started within 72h"),
    ],
)
def test_keep_apart_reason_says_why(name: str, prior: list[PriorReport], expected: str) -> None:
    lakeside = story(
        "Lakeside council votes to ban facial recognition by city agencies",
        "The Lakeside city council voted to bar city departments from using facial recognition.",
    )
    decision = decide(lakeside, prior, ClusterSettings(), now=T0)

    assert decision == ClusterDecision(None, decision.similarity, decision.reason)
    assert decision.reason.startswith("new alert: ")
    assert expected in decision.reason, name


def test_an_event_starts_when_its_first_alert_was_published() -> None:
    """`report_of`: the one rule of an event's start, for the pipeline and `eval --clusters`."""
    first_at = datetime(2024, 5, 1, 9, tzinfo=UTC)
    story = Story("s", "", "Riverton bans face scans", "", "Outlet", first_at)
    first = report_of([], "alert-1", story, first_at)
    reply = report_of([first], "alert-1", story, first_at + timedelta(hours=30))
    other = report_of([first, reply], "alert-2", story, first_at + timedelta(hours=31))
    assert (first.event_start, reply.event_start, other.event_start) == (
        first_at,
        first_at,
        first_at + timedelta(hours=31),
    )


def test_a_fold_names_when_the_alert_it_joins_was_published() -> None:
    start = datetime(2024, 5, 1, 9, tzinfo=UTC)
    alerted = Story("a", "https://a.example/x", "Riverton bans face scans", "", "A", start)
    prior = [report_of([], "alert-1", alerted, start)]
    earlier = Story(
        "b", "https://a.example/x", "Riverton bans face scans", "", "B", start - timedelta(hours=2)
    )
    decision = decide(earlier, prior, ClusterSettings(), now=start + timedelta(hours=1))
    assert (decision.parent_id, decision.parent_published) == ("alert-1", start)
