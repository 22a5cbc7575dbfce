"""Typo robustness: one-letter errors in the headline's action word of relevant stories.

    python bench/typos.py [--config config/topics.yaml] [--seed 3]

For every relevant story of the project's labelled corpus (tests/data/relevance/) that the
topic matches and whose headline has a common action word (ban, fines, sues, halts ...), one
letter of that word is doubled, replaced or dropped at random (fixed seed), and the story is
matched again. Prints how many still match. Run it with another topics file (e.g. an older
version from git) to compare.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.matching.evaluate import load_topics_file  # noqa: E402
from bot.matching.match import Matcher  # noqa: E402

ACTIONS = frozenset(
    {
        *("ban", "bans", "banned", "moratorium", "prohibits", "fines", "fined", "halts"),
        *("suspends", "outlaws", "restricts", "pauses", "sues", "rules", "orders", "lawsuit"),
        *("settlement", "regulator", "law", "bill", "court", "drops", "scraps"),
    }
)


def mutate(word: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(word)) if len(word) > 1 else 0
    kind = rng.choice(["double", "replace", "drop"])
    if kind == "double":
        return word[:at] + word[at - 1] + word[at:]
    if kind == "replace":
        return word[:at] + rng.choice("aeioustrnl") + word[at + 1 :]
    return word[:at] + word[at + 1 :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "topics.yaml"))
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    matcher = Matcher(load_topics_file(args.config))
    rng = random.Random(args.seed)
    kept = total = 0
    for path in sorted((ROOT / "tests" / "data" / "relevance").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            story = json.loads(line)
            summary = story.get("summary") or ""
            if story["label"] != "relevant" or not matcher.match(story["title"], summary):
                continue
            words = story["title"].split()
            places = [i for i, w in enumerate(words) if w.lower().strip(",.:;") in ACTIONS]
            if not places:
                continue
            words[places[0]] = mutate(words[places[0]], rng)
            total += 1
            kept += bool(matcher.match(" ".join(words), summary))
    print(
        f"typo in the headline's action word: {kept} of {total} still match "
        f"({100 * kept / max(total, 1):.0f}%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
