"""summarize.py: feed clutter (photo credits, bylines, "Read more", WordPress footers) removed.

Every case is feed text of the kind real outlets send, written for these tests; each names what
it checks. The expected text is what an alert shows as its summary.
"""

from __future__ import annotations

import pytest

from bot.alerts.summarize import strip_clutter, summarize

CLUTTER = [
    pytest.param(
        "Photo: Getty Images The city council voted 7-2 on Tuesday to ban police use of facial "
        "recognition.",
        "The city council voted 7-2 on Tuesday to ban police use of facial recognition.",
        id="leading-photo-credit-agency",
    ),
    pytest.param(
        "Photo: Jane Doe The mayor signed the ordinance on Friday.",
        "The mayor signed the ordinance on Friday.",
        id="leading-photo-credit-person",
    ),
    pytest.param(
        "The measure passed after a long debate. (AP Photo/Ted S. Warren, File) The ban takes "
        "effect in June.",
        "The measure passed after a long debate. The ban takes effect in June.",
        id="ap-photo-in-parentheses",
    ),
    pytest.param(
        "Lawmakers approved the bill (Photo by Jane Doe/Getty Images) late on Thursday.",
        "Lawmakers approved the bill late on Thursday.",
        id="photo-by-in-parentheses",
    ),
    pytest.param(
        "Protesters gathered outside the statehouse as the vote began. Photograph: Jane "
        "Doe/Reuters",
        "Protesters gathered outside the statehouse as the vote began.",
        id="trailing-guardian-photograph-credit",
    ),
    pytest.param(
        "Image credit: City of Riverton Council members voted to pause the cameras.",
        "Council members voted to pause the cameras.",
        id="image-credit-label",
    ),
    pytest.param(
        "Credit: Jane Doe/Bloomberg via Getty Images Regulators fined the company $20 million.",
        "Regulators fined the company $20 million.",
        id="credit-via-getty",
    ),
    pytest.param(
        "By Jane Doe The state senate passed the biometric privacy bill.",
        "The state senate passed the biometric privacy bill.",
        id="byline",
    ),
    pytest.param(
        "By Jane Doe, Reuters The regulator ordered the company to delete its face database.",
        "The regulator ordered the company to delete its face database.",
        id="byline-with-agency",
    ),
    pytest.param(
        "By Jane Doe and John Roe The court struck down the ordinance.",
        "The court struck down the ordinance.",
        id="byline-two-authors",
    ),
    pytest.param(
        "By JANE DOE | Staff Writer The county paused its face-matching pilot.",
        "The county paused its face-matching pilot.",
        id="byline-capitals-staff-writer",
    ),
    pytest.param(
        "By Monday, Riverton will stop using the cameras.",
        "By Monday, Riverton will stop using the cameras.",
        id="by-a-day-is-not-a-byline",
    ),
    pytest.param(
        "By 2027 every agency must publish an audit.",
        "By 2027 every agency must publish an audit.",
        id="by-a-year-is-not-a-byline",
    ),
    pytest.param(
        "The ban passed on Tuesday. Read more »",
        "The ban passed on Tuesday.",
        id="read-more",
    ),
    pytest.param(
        "The ban passed on Tuesday. Continue reading at Example Wire",
        "The ban passed on Tuesday.",
        id="continue-reading-at",
    ),
    pytest.param(
        "The ban passed on Tuesday. The post Riverton bans face scans appeared first on Example "
        "Wire.",
        "The ban passed on Tuesday.",
        id="wordpress-footer",
    ),
    pytest.param(
        "The ban passed. This article originally appeared on Example Wire.",
        "The ban passed.",
        id="originally-appeared-on",
    ),
    pytest.param(
        "The council said it would vote on the measure next [&hellip;]".replace("&hellip;", "…"),
        "The council said it would vote on the measure next…",
        id="cut-short-ends-with-ellipsis",
    ),
    pytest.param(
        "The council said it would vote. [...]",
        "The council said it would vote.",
        id="marker-after-a-whole-sentence",
    ),
    pytest.param(
        "Photo: Getty Images The council voted on the ban […] Read more",
        "The council voted on the ban…",
        id="credit-marker-and-read-more-together",
    ),
    pytest.param(
        "The app's Photo: feature scans faces in stores.",
        "The app's Photo: feature scans faces in stores.",
        id="photo-label-mid-sentence-kept",
    ),
    pytest.param(
        "Read more about the ordinance in our explainer on city rules.",
        "",
        id="only-a-read-more-line",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CLUTTER)
def test_strip_clutter(text: str, expected: str) -> None:
    assert strip_clutter(text) == expected


def test_summarize_strips_clutter_before_choosing_sentences() -> None:
    text = (
        "By Jane Doe, Reuters Photo: Getty Images The council voted 7-2. The ban starts in "
        "June. Critics objected. Read more"
    )
    assert summarize(text) == "The council voted 7-2. The ban starts in June. Critics objected."
