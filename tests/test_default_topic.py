"""Guards the shipped config/topics.yaml: realistic headlines (written for this test, not taken
from any evaluation set) that must alert, and near misses that must stay quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluate import load_topics_file
from bot.match import Matcher

TOPICS = Path(__file__).resolve().parent.parent / "config" / "topics.yaml"
TOPIC = "facial-recognition-policy"

RELEVANT = [
    (
        "city-council-ban",
        "Oakland council votes to outlaw facial recognition for city agencies",
        "",
    ),
    ("state-moratorium", "Vermont lawmakers approve moratorium on police face recognition", ""),
    ("hyphenated-ban", "County bans facial-recognition cameras in public housing", ""),
    ("face-scanning-ban", "Lawmakers push face-scanning ban for stadiums", ""),
    ("frt-moratorium", "State extends FRT moratorium by two years", ""),
    (
        "company-pause",
        "Amazon extends pause on police use of Rekognition indefinitely",
        "The company said its moratorium on selling the face recognition tool to police stands.",
    ),
    (
        "company-exit",
        "IBM exits the facial recognition business, citing racial profiling",
        "The company said it would no longer offer general-purpose face recognition software.",
    ),
    (
        "company-wont-sell",
        "Tech giant says it will not sell face recognition to police",
        "Until a federal law regulating the technology exists, the company will refuse sales.",
    ),
    ("regulator-fine", "UK watchdog fines facial recognition company \u00a37.5m", ""),
    (
        "hidden-topic-fine",
        "Privacy regulator issues record penalty against school district",
        "The authority found that the district's use of face recognition to take attendance "
        "breached data protection law.",
    ),
    ("court-ruling", "Appeals court rules police use of live facial recognition was unlawful", ""),
    (
        "bipa-settlement",
        "Photo app agrees to $35m settlement in Illinois biometric privacy case",
        "The class action alleged the app built faceprints of users without consent under BIPA.",
    ),
    (
        "bipa-lawsuit",
        "Retailer sued under BIPA over in-store face scanning",
        "Shoppers say the chain collected their facial geometry without written consent.",
    ),
    ("eu-ai-act", "EU lawmakers agree to ban real-time facial recognition in public spaces", ""),
    ("bill-introduced", "Senators introduce bill to curb federal use of face surveillance", ""),
    ("repeal", "City repeals its facial recognition ban as crime rises", ""),
    (
        "regulator-order",
        "Data protection authority orders Clearview to delete Greek citizens' data",
        "",
    ),
    ("typo-in-headline", "Citiy council bans facial recogniton technology", ""),
    (
        "curly-quotes-html",
        "<b>Portland\u2019s \u201cstrictest\u201d ban</b> on face recognition takes effect",
        "&nbsp;The ordinance covers private businesses too.",
    ),
    (
        "summary-carries-tech",
        "Court blocks police database in landmark privacy ruling",
        "Judges said the force's use of automated facial recognition breached privacy rights.",
    ),
]

IRRELEVANT = [
    ("phone-unlock", "New phone lets you unlock with face recognition even in the dark", ""),
    ("airport-boarding", "Airline rolls out facial recognition boarding at ten more gates", ""),
    (
        "retail-analytics",
        "Shopping malls test face recognition to count visitors",
        "The system estimates age and mood of shoppers to tailor ads.",
    ),
    ("product-launch", "Startup launches faster facial recognition chip for doorbells", ""),
    ("research", "Researchers find face recognition accuracy improves with new dataset", ""),
    (
        "police-deployment",
        "Police to expand facial recognition vans across the city",
        "Critics warn of mass surveillance, but officers say the cameras catch wanted suspects.",
    ),
    ("eviction-moratorium", "Governor extends eviction moratorium through spring", ""),
    ("drilling-pause", "Administration pauses new oil drilling leases on federal land", ""),
    ("tiktok-ban", "Senate votes to ban TikTok on government phones", ""),
    ("company-news", "Microsoft posts record quarterly profit on cloud growth", ""),
    ("clearview-funding", "Clearview AI raises new funding round from investors", ""),
    ("bank-not-ban", "Bank launches facial recognition login for its mobile app", ""),
    ("band-not-ban", "Band uses face scanning to speed up concert entry", ""),
    ("general-ai-rules", "EU agrees sweeping new rules for chatbots and AI models", ""),
    (
        "wrongful-arrest",
        "Man wrongly arrested after facial recognition error sues police for damages",
        "He was held for 30 hours after the software matched him to a shoplifting suspect.",
    ),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_topics_file(str(TOPICS)))


def _matched(matcher: Matcher, title: str, summary: str) -> bool:
    return any(match.topic == TOPIC for match in matcher.match(title, summary))


@pytest.mark.parametrize(
    ("title", "summary"), [c[1:] for c in RELEVANT], ids=[c[0] for c in RELEVANT]
)
def test_relevant_story_alerts(matcher: Matcher, title: str, summary: str) -> None:
    assert _matched(matcher, title, summary), matcher.explain(title, summary)


@pytest.mark.parametrize(
    ("title", "summary"), [c[1:] for c in IRRELEVANT], ids=[c[0] for c in IRRELEVANT]
)
def test_near_miss_stays_quiet(matcher: Matcher, title: str, summary: str) -> None:
    assert not _matched(matcher, title, summary), matcher.explain(title, summary)
