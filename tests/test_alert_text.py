"""What readers see in Slack, through the real `newsbot run --once` with the shipped
configuration, local feeds (tests/feedserver.py) and the Slack stand-in (tests/slackstub.py):
an alert and its thread replies in plain words, times as Slack date tokens, no internal ids,
scores or similarity figures, no photo credits or bylines, and a reply published before the alert
it is threaded under says so."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.feedserver import FeedServer
from tests.helpers import (
    ROOT,
    TEST_TOPICS,
    Item,
    env_for,
    newsbot,
    rss,
    write_config,
    write_feed_list,
)
from tests.slackstub import SlackStub

SHIPPED = ROOT / "config" / "newsbot.yaml"
DATE_TOKEN = re.compile(
    r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d "
    r"[A-Z]+>"
)
# What must never reach a reader: alert ids (24 hex digits), scores, similarity components.
INTERNAL = re.compile(
    r"\b[0-9a-f]{24}\b|score|similar|needed|alert [0-9a-f]|shared-terms|"
    r"Why grouped"
)
QUERY_SYNTAX = re.compile(r"[*~“\"]|\b(?:NEAR|AND|OR|NOT)\b|title:")

FIRST = Item(
    "a1",
    "Riverton bans police use of facial recognition",
    "Photo: Getty Images The Riverton city council voted 6-1 on Tuesday to ban police "
    "from using facial recognition technology. The ordinance takes effect in March. "
    "Read more",
    link="https://daily.example/riverton-ban",
    hours_ago=3,
)
LATER = Item(
    "b1",
    "Riverton council votes to ban facial recognition for police",
    "By Jane Doe, Reuters Riverton's city council banned police use of facial "
    "recognition on Tuesday, the first such ban in the state.",
    link="https://wire.example/riverton-council-ban",
    hours_ago=2,
)
EARLIER = Item(
    "b2",
    "Riverton City Council bans facial recognition for its police",
    "The council in Riverton voted to bar its police from using facial recognition, "
    "over the objections of the police chief.",
    link="https://ledger.example/riverton-bars-face-recognition",
    hours_ago=4,
)


def visible(message: dict[str, Any]) -> str:
    """Everything Slack shows of a message: its text and every text of its blocks."""
    texts = [message["text"]]
    for block in message.get("blocks") or []:
        texts.append((block.get("text") or {}).get("text", ""))
        texts += [element.get("text", "") for element in block.get("elements", [])]
    return "\n".join(texts)


def test_alert_and_replies_read_as_plain_words_with_date_tokens(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    feed_server.set_feed("/daily.xml", rss([FIRST], "Riverton Daily"))
    feed_server.set_feed("/wire.xml", rss([], "Example Wire"))
    feeds = write_feed_list(tmp_path, [feed_server.url("/daily.xml"), feed_server.url("/wire.xml")])
    env = env_for(tmp_path, slack)
    run = ("run", "--once", "--config", str(SHIPPED), "--feeds", str(feeds))

    first = newsbot(*run, env=env)
    assert first.returncode == 0, first.stderr
    feed_server.set_feed("/wire.xml", rss([LATER, EARLIER], "Example Wire"))
    second = newsbot(*run, env=env)
    assert second.returncode == 0, second.stderr

    (alert,) = [m for m in slack.messages if not m["thread_ts"]]
    replies = [m for m in slack.messages if m["thread_ts"]]
    assert [r["thread_ts"] for r in replies] == [alert["ts"], alert["ts"]]
    print(json.dumps({"alert": alert, "replies": replies}, indent=2))  # the closing note's JSON

    shown = visible(alert)
    assert (
        "<https://daily.example/riverton-ban|Riverton bans police use of facial recognition>"
        in shown
    )
    assert DATE_TOKEN.search(shown), shown
    assert "*Riverton Daily* · <!date^" in shown
    assert re.search(
        r"Why it matched: \*facial-recognition-policy\* · .*facial recognition.*, "
        r"in the headline",
        shown,
    ), shown
    assert "The Riverton city council voted 6-1" in shown
    for clutter in ("Photo:", "Getty", "Read more"):
        assert clutter not in shown
    assert not INTERNAL.search(shown), INTERNAL.search(shown)
    why = shown.split("Why it matched: *facial-recognition-policy* · ")[1]
    assert not QUERY_SYNTAX.search(why), why

    later, earlier = sorted(replies, key=lambda r: "ledger" in r["text"])
    assert later["text"].startswith(
        "Also reported by *Example Wire*: <https://wire.example/riverton-council-ban|Riverton "
        "council votes to ban facial recognition for police> · <!date^"
    )
    assert "published earlier" not in later["text"]
    assert re.search(r"> · published earlier, at <!date\^\d+\^", earlier["text"]), earlier["text"]
    for reply in replies:
        assert DATE_TOKEN.search(reply["text"]), reply["text"]
        assert not INTERNAL.search(visible(reply)), visible(reply)


def test_terminal_shows_plain_local_time_in_the_topic_zone(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    topics = TEST_TOPICS.replace(
        "  threshold: 30\n", "  threshold: 30\n  timezone: Europe/Berlin\n"
    )
    config = write_config(tmp_path / "config", topics)
    feed_server.set_feed("/daily.xml", rss([FIRST], "Riverton Daily"))
    feeds = write_feed_list(tmp_path, [feed_server.url("/daily.xml")])

    result = newsbot(
        "run",
        "--once",
        "--config",
        str(config),
        "--feeds",
        str(feeds),
        env={"NEWSBOT_DB": str(tmp_path / "state.db")},
    )

    assert result.returncode == 0, result.stderr
    assert "Riverton bans police use of facial recognition" in result.stdout
    assert re.search(r"\*Riverton Daily\* · \d{4}-\d\d-\d\d \d\d:\d\d CES?T", result.stdout), (
        result.stdout
    )
    assert "<!date" not in result.stdout
