"""Matching throughput: newsbot's compiled Matcher against a naive fuzzy baseline, same run.

    python bench/bench_match.py [--stories 10000] [--naive-stories 1000] [--dev PATH]

Stories are synthetic, generated here from a fixed seed and this file's own vocabulary (20,000
words drawn with Zipf frequencies, like real text; 5% of stories carry a topic's words or an
on-topic/near-miss line, so matches happen). Two configs: the shipped config/topics.yaml, and a
large one (20 topics x 30 terms: words, phrases, wildcards, typo-tolerant terms, NEAR and NOT).
The naive baseline evaluates the same queries, but decides each term by
`rapidfuzz.fuzz.partial_ratio(term, whole text) >= 90` (with `utils.default_process`), scoring
every term against every story: that is what a keyword list fed to a fuzzy matcher does. It is
slow, so it runs on the first --naive-stories stories; the figure compared is stories per second
on one core.

Real stories: the project's labelled corpus (tests/data/relevance/*.jsonl, 460 items, 54%
relevant) is matched as it is (the realistic mix) and as its relevant stories only (the expensive
path: evidence is built for every match), with the shipped config's meaning stage on and off.
Memory: the compiled matcher's size (tracemalloc) and the process's peak RSS.

With --dev (default ../shared/eval/dev.jsonl when it exists), also prints precision and recall of
both on that labelled set, to show the fast path decides as well or better.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from rapidfuzz import fuzz, utils

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.matching.evaluate import load_topics_file  # noqa: E402
from bot.matching.match import Matcher  # noqa: E402
from bot.matching.query import (  # noqa: E402
    And,
    Concept,
    Field,
    Near,
    Node,
    Not,
    Phrase,
    Term,
    parse,
    parse_concepts,
    render,
)
from bot.models import Topic  # noqa: E402

NAIVE_CUTOFF = 90.0
VOCABULARY = 20_000
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ren",
    "tas",
    "vor",
    "quen",
    "dal",
    "bri",
    "sef",
    "ump",
    "orn",
    "tel",
    "zan",
    "hil",
    "gro",
    "pex",
    "wyn",
    "cal",
    "ruth",
]
# Function words first: they take the top Zipf ranks, as in real text.
COMMON = [
    "the",
    "of",
    "to",
    "and",
    "a",
    "in",
    "for",
    "on",
    "is",
    "that",
    "with",
    "by",
    "as",
    "at",
    "from",
    "will",
    "after",
    "over",
    "new",
    "says",
    "city",
    "state",
    "court",
    "police",
    "company",
    "law",
    "bill",
    "report",
    "plan",
    "vote",
    "market",
    "shares",
    "school",
    "health",
    "budget",
    "tax",
    "election",
    "mayor",
    "minister",
    "deal",
    "talks",
    "energy",
    "oil",
    "rates",
    "bank",
    "band",
    "banner",
    "technology",
    "data",
    "privacy",
    "camera",
    "software",
    "app",
    "phone",
    "users",
    "study",
    "airport",
    "face",
]
# Sentences that the default topic is about, and near misses, written for this benchmark.
ON_TOPIC = [
    "council votes to ban facial recognition",
    "regulator fines company over face recognition database",
    "firm halts sales of face recognition to police",
    "phone maker adds face recognition unlock",
    "airport rolls out facial recognition boarding",
]
INJECT_RATE = 0.05  # share of stories given words from a topic, so some of them match


def vocabulary(rng: random.Random, size: int = VOCABULARY) -> list[str]:
    """Everyday words, then made-up words (syllable soup), in Zipf rank order."""
    words = list(dict.fromkeys(COMMON))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def stories(
    rng: random.Random, words: list[str], count: int, topics: list[list[str]]
) -> list[tuple[str, str]]:
    """Zipf-distributed words; INJECT_RATE of stories carry a topic's words or an ON_TOPIC line."""
    weights = [1 / rank for rank in range(1, len(words) + 1)]
    cumulative = list(itertools.accumulate(weights))

    def sentence(low: int, high: int) -> str:
        return " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(low, high)))

    result = []
    for _ in range(count):
        title, summary = sentence(7, 14), sentence(20, 40)
        if rng.random() < INJECT_RATE:
            extra = rng.choice(ON_TOPIC) if rng.random() < 0.5 else " ".join(rng.choice(topics))
            title = f"{title} {extra}"
        result.append((title.capitalize(), summary + "."))
    return result


def large_config(rng: random.Random, words: list[str]) -> tuple[list[Topic], list[list[str]]]:
    """20 topics of 30 terms: 14 subject terms NEAR/8 12 action terms, minus 4 exclusions.

    Terms are content words (beyond the 300 most frequent), as in real topic queries. Also
    returns, per topic, a subject and an action word to plant in stories.
    """
    topics, plants = [], []
    for number in range(20):
        pool = rng.sample(words[300:], 30)
        subject = [_term_variant(rng, word, pool) for word in pool[:14]]
        action = [_term_variant(rng, word, pool) for word in pool[14:26]]
        query = f"({' OR '.join(subject)}) NEAR/8 ({' OR '.join(action)}) " + " ".join(
            f"-{word}" for word in pool[26:30]
        )
        topics.append(Topic(f"topic-{number}", ("#bench",), query, 50.0))
        plants.append([pool[0], pool[14]])
    return topics, plants


def _term_variant(rng: random.Random, word: str, pool: list[str]) -> str:
    kind = rng.random()
    if kind < 0.15 and len(word) >= 7:
        return f"{word[:-2]}*"  # a stem wildcard, as admins write them: regulat*, moratori*
    if kind < 0.3 and len(word) >= 6:
        return f"{word}~1"
    if kind < 0.45:
        return f'"{word} {rng.choice(pool)}"'
    return word


def naive_decider(topics: Sequence[Topic]) -> Callable[[str, str], bool]:
    """Same queries, each term decided by partial_ratio over the whole text (see docstring)."""
    roots = [_root(topic) for topic in topics]
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


def _root(topic: Topic) -> Node:
    return parse(topic.query, parse_concepts(dict(topic.concepts)))


def _leaves(node: Node) -> list[Term | Phrase]:
    if isinstance(node, Term | Phrase):
        return [node]
    if isinstance(node, Not | Field | Concept):
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
    if isinstance(node, Concept):
        return _naive_eval(node.child, score, field)
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
    matcher = Matcher(topics)  # fresh: the memo's warm-up is part of the measured time
    ours = throughput(matcher.match, items)
    matched = sum(bool(matcher.match(title, summary)) for title, summary in items)
    naive = throughput(naive_decider(topics), items[:naive_count])
    terms = sum(len(_leaves(_root(topic))) for topic in topics)
    print(
        f"{name}: {len(topics)} topics, {terms} terms, {matched:,} of {len(items):,} stories match"
    )
    print(f"  newsbot Matcher : {ours:>10,.0f} stories/s  ({len(items):,} stories)")
    print(f"  naive baseline  : {naive:>10,.0f} stories/s  ({naive_count:,} stories)")
    print(f"  speed-up        : {ours / naive:>10,.1f}x")


def corpus_stories(folder: Path) -> list[tuple[str, str, bool]]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                rows.append((item["title"], item.get("summary") or "", item["label"] == "relevant"))
    return rows


def bench_real(topics: list[Topic], rows: list[tuple[str, str, bool]], repeat: int = 20) -> None:
    """Stories/s on real news: the corpus mix and its relevant stories, stage on and off."""
    mixes = {
        "corpus mix": [(t, s) for t, s, _ in rows] * repeat,
        "relevant only": [(t, s) for t, s, relevant in rows if relevant] * repeat,
    }
    stages = {
        "meaning stage on": topics,
        "rules only": [replace(topic, meaning=None) for topic in topics],
    }
    for stage, chosen in stages.items():
        for mix, items in mixes.items():
            matcher = Matcher(chosen)
            rate = throughput(matcher.match, items)
            print(f"  real news, {mix:<13} {stage:<17}: {rate:>8,.0f} stories/s")


def memory(topics: list[Topic]) -> None:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    matcher = Matcher(topics)
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  memory: compiled matcher {size / 1e6:.1f} MB (stage included); peak RSS {peak:.0f} MB"
    )
    del matcher


def huge_or(words: list[str], items: list[tuple[str, str]]) -> None:
    """One topic of 10,000 OR'd terms (issue 11 #12), the rarer half of the vocabulary: nearly
    every story matches, so this is the worst case (evidence built each time). A story looks up
    only its own words, so the cost stays near the other configs'. No naive baseline: too slow."""
    topic = Topic("huge-or", ("#bench",), " OR ".join(words[-10_000:]), 50.0)
    matcher = Matcher([topic])
    ours = throughput(matcher.match, items)
    matched = sum(bool(matcher.match(title, summary)) for title, summary in items)
    print(f"huge OR: 1 topic, 10,000 terms, {matched:,} of {len(items):,} stories match")
    print(f"  newsbot Matcher : {ours:>10,.0f} stories/s  ({1000 / ours:.3f} ms/story)")


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
    large, plants = large_config(rng, words)
    items = stories(rng, words, args.stories, plants)
    default = load_topics_file(args.config)
    bench("default config", default, items, args.naive_stories)
    bench("large config", large, items, args.naive_stories)
    rows = corpus_stories(ROOT / "tests" / "data" / "relevance")
    print(f"default config on the labelled corpus ({len(rows)} stories, x20):")
    bench_real(default, rows)
    memory(default)

    huge_or(words, items)
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
