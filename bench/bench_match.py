"""Matching throughput: newsbot's compiled Matcher against a naive fuzzy baseline, same run.

    python bench/bench_match.py [--stories 10000] [--naive-stories 1000] [--dev PATH]

Stories are synthetic, generated here from a fixed seed and this file's own vocabulary. Two
configs: the shipped config/topics.yaml, and a large one (20 topics x 30 terms: words, phrases,
wildcards, typo-tolerant terms, NEAR and NOT). The naive baseline evaluates the same queries,
but decides each term by `rapidfuzz.fuzz.partial_ratio(term, whole text) >= 90` (with
`utils.default_process`), scoring every term against every story: that is what a keyword list
fed to a fuzzy matcher does. It is slow, so it runs on the first --naive-stories stories; the
figure compared is stories per second on one core.

With --dev (default ../shared/eval/dev.jsonl when it exists), also prints precision and recall of
both on that labelled set, to show the fast path decides as well or better.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rapidfuzz import fuzz, utils

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluate import load_topics_file  # noqa: E402
from bot.match import Matcher  # noqa: E402
from bot.models import Topic  # noqa: E402
from bot.query import And, Field, Near, Node, Not, Or, Phrase, Term, parse, render  # noqa: E402

NAIVE_CUTOFF = 90.0
SYLLABLES = "ka lo mi ren tas vor quen dal bri sef ump orn tel zan hil gro pex wyn cal ruth".split()
NEWS_WORDS = (
    "city council state court judge police company ban law bill report new plan vote market "
    "shares record growth storm weather school health hospital budget tax election mayor "
    "governor minister deal talks strike union energy oil drilling rates bank band banner "
    "technology data privacy camera software app phone launch users study research airport "
    "face facial recognition biometric surveillance scanning moratorium pause halt stops sells"
).split()


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    """Made-up words (syllable soup) plus everyday news words, so the text is not all unique."""
    words = set(NEWS_WORDS)
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def stories(rng: random.Random, words: list[str], count: int) -> list[tuple[str, str]]:
    def sentence(low: int, high: int) -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(low, high)))

    return [(sentence(7, 14).capitalize(), sentence(20, 40) + ".") for _ in range(count)]


def large_config(rng: random.Random, words: list[str]) -> list[Topic]:
    """20 topics of 30 terms: 14 subject terms NEAR/8 12 action terms, minus 4 exclusions."""
    topics = []
    for number in range(20):
        pool = rng.sample(words, 40)
        subject = [_term_variant(rng, word, pool) for word in pool[:14]]
        action = [_term_variant(rng, word, pool) for word in pool[14:26]]
        query = (
            f"({' OR '.join(subject)}) NEAR/8 ({' OR '.join(action)}) "
            + " ".join(f"-{word}" for word in pool[26:30])
        )
        topics.append(Topic(f"topic-{number}", ("#bench",), query, 50.0))
    return topics


def _term_variant(rng: random.Random, word: str, pool: list[str]) -> str:
    kind = rng.random()
    if kind < 0.15 and len(word) >= 6:
        return f"{word[:4]}*"
    if kind < 0.3 and len(word) >= 6:
        return f"{word}~1"
    if kind < 0.45:
        return f'"{word} {rng.choice(pool)}"'
    return word


def naive_decider(topics: Sequence[Topic]) -> Callable[[str, str], bool]:
    """Same queries, each term decided by partial_ratio over the whole text (see docstring)."""
    roots = [parse(topic.query) for topic in topics]
    leaves = sorted({_leaf_text(leaf) for root in roots for leaf in _leaves(root)})

    def decide(title: str, summary: str) -> bool:
        texts = {"title": title, "summary": summary, "": f"{title} {summary}"}
        scores = {
            (leaf, field): fuzz.partial_ratio(leaf, text, processor=utils.default_process)
            for leaf in leaves
            for field, text in texts.items()
            if field == ""  # every term against the whole text; fields only where asked
        }

        def score(leaf: str, field: str) -> float:
            if (leaf, field) not in scores:
                scores[leaf, field] = fuzz.partial_ratio(
                    leaf, texts[field], processor=utils.default_process
                )
            return scores[leaf, field]

        return any(_naive_eval(root, score, "") for root in roots)

    return decide


def _leaves(node: Node) -> list[Term | Phrase]:
    if isinstance(node, Term | Phrase):
        return [node]
    if isinstance(node, Not | Field):
        return _leaves(node.child)
    if isinstance(node, Near):
        return _leaves(node.left) + _leaves(node.right)
    return [leaf for child in node.children for leaf in _leaves(child)]


def _leaf_text(leaf: Term | Phrase) -> str:
    return render(leaf).strip('"').replace("*", "").replace("~0", "").replace("~1", "")


def _naive_eval(node: Node, score: Callable[[str, str], float], field: str) -> bool:
    if isinstance(node, Term | Phrase):
        return score(_leaf_text(node), field) >= NAIVE_CUTOFF
    if isinstance(node, Field):
        return _naive_eval(node.child, score, node.name)
    if isinstance(node, Not):
        return not _naive_eval(node.child, score, field)
    if isinstance(node, Near):  # no positions: NEAR degrades to AND
        return _naive_eval(node.left, score, field) and _naive_eval(node.right, score, field)
    results = [_naive_eval(child, score, field) for child in node.children]
    return all(results) if isinstance(node, And) else any(results)


def throughput(decide: Callable[[str, str], object], items: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    for title, summary in items:
        decide(title, summary)
    return len(items) / (time.perf_counter() - start)


def dev_scores(decide: Callable[[str, str], bool], path: Path) -> tuple[float, float]:
    tp = fp = fn = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        predicted = decide(item["title"], item.get("summary") or "")
        relevant = item["label"] == "relevant"
        tp += predicted and relevant
        fp += predicted and not relevant
        fn += relevant and not predicted
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def bench(name: str, topics: list[Topic], items: list[tuple[str, str]], naive_count: int) -> None:
    ours = throughput(Matcher(topics).match, items)  # a fresh Matcher: memo warm-up is included
    naive = throughput(naive_decider(topics), items[:naive_count])
    terms = sum(len(_leaves(parse(topic.query))) for topic in topics)
    print(f"{name}: {len(topics)} topics, {terms} terms")
    print(f"  newsbot Matcher : {ours:>10,.0f} stories/s  ({len(items):,} stories)")
    print(f"  naive baseline  : {naive:>10,.0f} stories/s  ({naive_count:,} stories)")
    print(f"  speed-up        : {ours / naive:>10,.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--naive-stories", type=int, default=1_000)
    parser.add_argument("--config", default=str(ROOT / "config" / "topics.yaml"))
    parser.add_argument("--dev", default=str(ROOT.parent / "shared" / "eval" / "dev.jsonl"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    words = vocabulary(rng)
    items = stories(rng, words, args.stories)
    default = load_topics_file(args.config)
    bench("default config", default, items, args.naive_stories)
    bench("large config", large_config(rng, words), items, args.naive_stories)
    dev = Path(args.dev)
    if not dev.is_file():
        print(f"dev set: {dev} not found, decision comparison skipped")
        return 0
    matcher = Matcher(default)
    for label, decide in (
        ("newsbot Matcher", lambda t, s: bool(matcher.match(t, s))),
        ("naive baseline ", naive_decider(default)),
    ):
        precision, recall = dev_scores(decide, dev)
        print(f"dev set ({dev.name}), {label}: precision {precision:.3f}  recall {recall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
