"""Readers' feedback: the reaction -> label rule, the verdict rule, the store, the export format."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.matching.evaluate import cmd_eval
from bot.models import Alert, Feedback, Match, Reaction, Story, Topic, Verdict
from bot.slack.feedback import (
    IRRELEVANT,
    REACTION_LABELS,
    RELEVANT,
    decide,
    export_item,
    export_line,
    parse_since,
    reaction_label,
)
from bot.state.sqlite import SCHEMA_VERSION
from bot.state.sqlite import SqliteStore as Store
from tests.helpers import queue_alerts

# -- which reaction means what ------------------------------------------------------------------

LABEL_CASES = [
    ("thumbs down", "-1", IRRELEVANT),
    ("thumbsdown alias", "thumbsdown", IRRELEVANT),
    ("cross mark", "x", IRRELEVANT),
    ("thumbs up", "+1", RELEVANT),
    ("thumbsup alias", "thumbsup", RELEVANT),
    ("green check", "white_check_mark", RELEVANT),
    ("heavy check", "heavy_check_mark", RELEVANT),
    ("skin tone on thumbs up", "+1::skin-tone-4", RELEVANT),
    ("skin tone on thumbs down", "-1::skin-tone-2", IRRELEVANT),
    ("written with colons", ":x:", IRRELEVANT),
    ("other emoji", "eyes", None),
    ("near miss", "x2", None),
    ("heart", "heart", None),
]


@pytest.mark.parametrize(("name", "emoji", "label"), LABEL_CASES, ids=[c[0] for c in LABEL_CASES])
def test_reaction_label(name: str, emoji: str, label: str | None) -> None:
    assert reaction_label(emoji) == label


def test_the_table_holds_exactly_the_documented_reactions() -> None:
    assert dict(REACTION_LABELS) == {
        "-1": IRRELEVANT,
        "thumbsdown": IRRELEVANT,
        "x": IRRELEVANT,
        "+1": RELEVANT,
        "thumbsup": RELEVANT,
        "white_check_mark": RELEVANT,
        "heavy_check_mark": RELEVANT,
    }
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for emoji in REACTION_LABELS:
        assert f":{emoji}:" in readme, f"README does not document :{emoji}:"


# -- the verdict of one alert -------------------------------------------------------------------


def r(name: str, *users: str, count: int | None = None) -> Reaction:
    return Reaction(name, users, len(users) if count is None else count)


def test_no_labelled_reaction_is_no_verdict() -> None:
    assert decide([], None) is None
    assert decide([r("eyes", "U1"), r("tada", "U2")], None) is None


def test_one_thumbs_down_marks_the_alert_not_relevant() -> None:
    verdict = decide([r("-1", "U1")], None)
    assert verdict == Verdict(IRRELEVANT, 0, 1, ("irrelevant:U1",))


def test_the_majority_wins() -> None:
    verdict = decide([r("-1", "U1", "U5"), r("+1", "U2"), r("x", "U4")], None)
    assert verdict is not None
    assert (verdict.label, verdict.relevant, verdict.irrelevant) == (IRRELEVANT, 1, 3)
    verdict = decide([r("white_check_mark", "U1", "U2"), r("-1", "U3")], None)
    assert verdict is not None
    assert verdict.label == RELEVANT


def test_one_user_with_two_emoji_of_one_label_is_one_vote() -> None:
    verdict = decide([r("-1", "U1"), r("x", "U1"), r("+1", "U2")], None)
    assert verdict is not None
    assert (verdict.relevant, verdict.irrelevant) == (1, 1)


def test_votes_slack_counted_but_left_out_of_a_cut_list_still_count() -> None:
    verdict = decide([r("+1", "U1", count=5), r("-1", "U2", "U3")], None)
    assert verdict is not None
    assert (verdict.label, verdict.relevant, verdict.irrelevant) == (RELEVANT, 5, 2)


def test_a_tie_goes_to_the_label_with_the_newest_vote() -> None:
    before = decide([r("+1", "U1")], None)
    assert before is not None
    assert before.label == RELEVANT
    after = decide([r("+1", "U1"), r("-1", "U2")], before)
    assert after is not None
    assert after.label == IRRELEVANT
    # both labels gain a vote in one sync: which came last cannot be told, the verdict stands
    again = decide([r("+1", "U1", "U3"), r("-1", "U2", "U4")], after)
    assert again is not None
    assert again.label == IRRELEVANT
    later = decide([r("+1", "U1", "U3"), r("-1", "U2")], after)
    assert later is not None
    assert later.label == RELEVANT


def test_a_tie_first_seen_in_one_sync_goes_to_the_emoji_slack_lists_last() -> None:
    verdict = decide([r("+1", "U1"), r("-1", "U2")], None)
    assert verdict is not None
    assert verdict.label == IRRELEVANT
    verdict = decide([r("-1", "U2"), r("+1", "U1")], None)
    assert verdict is not None
    assert verdict.label == RELEVANT


def test_a_tie_with_no_new_vote_keeps_the_verdict() -> None:
    before = Verdict(RELEVANT, 2, 1, ("irrelevant:U3", "relevant:U1", "relevant:U2"))
    after = decide([r("+1", "U1"), r("-1", "U3")], before)  # U2 took the thumbs up back
    assert after is not None
    assert after.label == RELEVANT


def test_the_latest_state_wins_removing_every_reaction_clears_the_verdict() -> None:
    before = decide([r("-1", "U1")], None)
    assert decide([r("eyes", "U1")], before) is None


# -- --since -------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC).timestamp()
SINCE_CASES = [
    ("days", "7d", NOW - 7 * 86400),
    ("hours", "12h", NOW - 12 * 3600),
    ("minutes", "30m", NOW - 1800),
    ("weeks", "2w", NOW - 14 * 86400),
    ("date", "2026-11-01", datetime(2026, 11, 1, tzinfo=UTC).timestamp()),
    ("date and time", "2026-11-01T09:30", datetime(2026, 11, 1, 9, 30, tzinfo=UTC).timestamp()),
    ("with zone", "2026-11-01T09:30+01:00", datetime(2026, 11, 1, 8, 30, tzinfo=UTC).timestamp()),
]


@pytest.mark.parametrize(("name", "text", "expected"), SINCE_CASES, ids=[c[0] for c in SINCE_CASES])
def test_parse_since(name: str, text: str, expected: float) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "7", "seven days", "7y", "2026-13-01"])
def test_parse_since_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="7d"):
        parse_since(text, NOW)


# -- the store ----------------------------------------------------------------------------------


def make_story(n: int) -> Story:
    return Story(
        f"id-{n}",
        f"https://news.example/{n}",
        f"Council bans face scanning {n}",
        f"Summary {n} & more",
        "Outlet",
        datetime(2026, 11, n, 8, tzinfo=UTC),
        "https://feed.example/rss",
    )


def make_alert(n: int, channel: str = "#a", parent: str | None = None) -> Alert:
    return Alert(f"alert-{channel}-{n}", "frt", channel, make_story(n), Match("frt", 80.0), parent)


def deliver(store: Store, alert: Alert, ts: str) -> None:
    queue_alerts(store, [alert])
    store.mark_sent(alert.id, "C0000000001", ts)


def feedback(
    n: int, label: str = IRRELEVANT, updated: float = 2000.0, topic: str = "frt"
) -> Feedback:
    verdict = Verdict(label, int(label == RELEVANT), int(label == IRRELEVANT), (f"{label}:U1",))
    return Feedback(f"alert-#a-{n}", topic, "#a", make_story(n), verdict, updated)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    clock = iter(range(10_000, 20_000, 10))
    opened = Store(tmp_path / "state.db", clock=lambda: float(next(clock)))
    yield opened
    opened.close()


def test_posted_since_gives_each_delivered_alert_its_place_in_slack(store: Store) -> None:
    deliver(store, make_alert(1), "1700000000.000100")
    deliver(store, make_alert(2, parent="alert-#a-1"), "1700000001.000200")
    queue_alerts(store, [make_alert(3)])  # queued, never delivered
    posted = store.posted_since(0)
    assert [(p.alert_id, p.ts, p.thread_ts) for p in posted] == [
        ("alert-#a-1", "1700000000.000100", None),
        ("alert-#a-2", "1700000001.000200", "1700000000.000100"),
    ]
    assert posted[0].story == make_story(1)
    assert posted[0].channel_id == "C0000000001"
    assert store.posted_since(10**9) == []


def test_feedback_is_stored_with_the_story_and_the_latest_verdict_wins(store: Store) -> None:
    store.save_feedback([feedback(1, IRRELEVANT, 100.0)], [])
    store.save_feedback([feedback(1, RELEVANT, 200.0)], [])
    (kept,) = store.feedback_list()
    assert kept == feedback(1, RELEVANT, 200.0)
    assert kept.story.summary == "Summary 1 & more"
    assert store.feedback_for(["alert-#a-1", "alert-#a-9"]) == {"alert-#a-1": kept}


def test_cleared_feedback_is_forgotten(store: Store) -> None:
    store.save_feedback([feedback(1), feedback(2)], [])
    store.save_feedback([], ["alert-#a-1"])
    assert [f.alert_id for f in store.feedback_list()] == ["alert-#a-2"]


def test_feedback_list_filters_by_time_and_topic(store: Store) -> None:
    store.save_feedback(
        [
            feedback(1, updated=100.0),
            feedback(2, updated=300.0, topic="other"),
            feedback(3, RELEVANT, updated=500.0),
        ],
        [],
    )
    assert [f.alert_id for f in store.feedback_list(since=200.0)] == ["alert-#a-2", "alert-#a-3"]
    assert [f.alert_id for f in store.feedback_list(topic="frt")] == ["alert-#a-1", "alert-#a-3"]
    newest = store.feedback_list(newest_first=True, limit=2)
    assert [f.alert_id for f in newest] == ["alert-#a-3", "alert-#a-2"]
    assert store.feedback_counts() == [("frt", 1, 1), ("other", 0, 1)]


def test_feedback_outlives_the_pruning_of_its_alert(tmp_path: Path) -> None:
    now = [1000.0]
    store = Store(tmp_path / "state.db", clock=lambda: now[0])
    try:
        deliver(store, make_alert(1), "1700000000.000100")  # queued at 1000
        now[0] = 10 * 86400.0
        store.save_feedback([feedback(1)], [])
        assert store.prune(retention_days=1) == (0, 1)
        assert store.posted_since(0) == []
        assert [f.alert_id for f in store.feedback_list()] == ["alert-#a-1"]
    finally:
        store.close()


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_database_gains_the_feedback_table_and_keeps_its_alerts(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "old.db"
    store = Store(path)
    deliver(store, make_alert(1), "1700000000.000100")
    store.close()
    db = sqlite3.connect(path)  # make it what an older newsbot left: no feedback table
    db.execute("DROP TABLE feedback")
    if version == 1:
        db.execute("ALTER TABLE alerts DROP COLUMN kind")
    db.execute(f"PRAGMA user_version={version}")
    db.commit()
    db.close()
    store = Store(path)
    try:
        assert [p.alert_id for p in store.posted_since(0)] == ["alert-#a-1"]
        store.save_feedback([feedback(1)], [])
        assert len(store.feedback_list()) == 1
    finally:
        store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    db.close()


# -- the export ---------------------------------------------------------------------------------


def test_an_exported_line_has_the_fields_eval_reads_plus_the_topic() -> None:
    item = export_item(feedback(3, IRRELEVANT))
    assert item == {
        "id": "alert-#a-3",
        "title": "Council bans face scanning 3",
        "summary": "Summary 3 & more",
        "source": "Outlet",
        "published": "2026-11-03T08:00:00Z",
        "url": "https://news.example/3",
        "label": "irrelevant",
        "topic": "frt",
    }
    assert json.loads(export_line(feedback(3))) == item


def test_newsbot_eval_reads_the_export(tmp_path: Path) -> None:
    path = tmp_path / "fb.jsonl"
    path.write_text(
        export_line(feedback(1, RELEVANT)) + export_line(feedback(2, IRRELEVANT)), encoding="utf-8"
    )
    topics = [Topic("frt", ("#a",), "council AND scanning AND 1")]  # matches story 1 only
    out = io.StringIO()
    assert cmd_eval(topics, str(path), out, as_json=True) == 0
    report = json.loads(out.getvalue())
    assert report["count"] == 2
    assert report["confusion"] == {"tp": 1, "fp": 0, "fn": 0, "tn": 1}
