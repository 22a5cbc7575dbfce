"""One event reported by many outlets becomes one Slack alert with the other reports in its
thread."""

from __future__ import annotations

from pathlib import Path

from tests.feedserver import FeedServer
from tests.helpers import Item, env_for, newsbot, rss, write_config, write_feed_list
from tests.slackstub import SlackStub

EVENT_A = [  # one company's decision, five reports, three outlets
    (
        "a",
        Item(
            "a1",
            "Lumina Systems pauses sales of face recognition to police",
            "Lumina Systems said it will stop selling its face recognition software to police "
            "departments for one year.",
            hours_ago=5,
        ),
    ),
    (
        "b",
        Item(
            "b1",
            "Lumina Systems pauses sales of face recognition to police",
            "Lumina Systems said it will stop selling its face recognition software to police "
            "departments for one year.",
            link="https://wire.example/lumina",
            hours_ago=4.5,
        ),
    ),
    (
        "b",
        Item(
            "b2",
            "Lumina halts police face recognition sales for a year",
            "Lumina Systems will pause selling face recognition to police for a year, the "
            "company said.",
            hours_ago=4,
        ),
    ),
    (
        "c",
        Item(
            "c1",
            "Face recognition maker Lumina Systems pauses police sales",
            "Lumina Systems is halting sales of its face recognition product to police for a year.",
            hours_ago=3,
        ),
    ),
    (
        "c",
        Item(
            "c2",
            "Lumina Systems stops selling face recognition to police, for now",
            "A one-year pause on selling face recognition to police departments, Lumina "
            "Systems announced.",
            hours_ago=2,
        ),
    ),
]
EVENT_B = [  # same week, same theme, another company: a distinct event
    (
        "a",
        Item(
            "a2",
            "Corvid Analytics pauses face recognition sales to police",
            "Corvid Analytics announced it will stop selling face recognition to police agencies.",
            hours_ago=1.5,
        ),
    ),
    (
        "c",
        Item(
            "c3",
            "Corvid Analytics halts police face recognition contracts",
            "Corvid Analytics pauses face recognition contracts with police agencies.",
            hours_ago=1,
        ),
    ),
]


def test_five_reports_of_one_event_and_two_of_another_make_two_alerts(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    for feed in "abc":
        items = [item for name, item in EVENT_A + EVENT_B if name == feed]
        feed_server.set_feed(f"/{feed}.xml", rss(items, f"Outlet {feed.upper()}"))
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [feed_server.url(f"/{f}.xml") for f in "abc"])
    env = env_for(tmp_path, slack)
    for _ in range(2):  # the second run must change nothing
        result = newsbot("run", "--once", "--config", str(config), "--feeds", str(feeds), env=env)
        assert result.returncode == 0, result.stderr

    top = [m for m in slack.messages if not m.get("thread_ts")]
    replies = [m for m in slack.messages if m.get("thread_ts")]
    assert len(top) == 2, [m["text"] for m in top]
    assert {("Lumina" in m["text"], "Corvid" in m["text"]) for m in top} == {
        (True, False),
        (False, True),
    }
    assert len(replies) == 5, [m["text"] for m in replies]
    by_parent: dict[str, list[str]] = {}
    for reply in replies:
        by_parent.setdefault(reply["thread_ts"], []).append(reply["text"])
    lumina_ts = next(m["ts"] for m in top if "Lumina" in m["text"])
    corvid_ts = next(m["ts"] for m in top if "Corvid" in m["text"])
    assert len(by_parent[lumina_ts]) == 4
    assert len(by_parent[corvid_ts]) == 1
    assert all("Lumina" in text for text in by_parent[lumina_ts])
    assert all(
        "Also reported" in text or "reported" in text.lower() for text in replies_text(replies)
    )


def replies_text(replies: list[dict[str, object]]) -> list[str]:
    return [str(reply["text"]) for reply in replies]
