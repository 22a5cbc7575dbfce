"""Train a topic's meaning stage from labelled stories: `python -m bot.matching.train`.

    python -m bot.matching.train tests/data/relevance/train.jsonl [more.jsonl ...] \\
        --config config/newsbot.yaml --topic facial-recognition-policy \\
        -o config/meaning/facial-recognition-policy.json

Input: the labelled JSON lines `newsbot eval` reads (and `newsbot feedback export` writes):
`title`, `summary`, `label` = relevant / irrelevant. Features are computed by the topic's own
compiled rules (bot.matching.match.Matcher.stage_features), so the model learns from the same
concepts the rules use. The thresholds written (`veto_below`, `rescue_above`) are the ones given
here; measure a new model with `newsbot eval` on stories it was not trained on before shipping it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.config import load_config
from bot.matching.evaluate import read_labelled
from bot.matching.match import Matcher
from bot.matching.meaning import MeaningModel, train


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.matching.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("files", nargs="+", help="labelled JSON lines")
    parser.add_argument("--config", default="config/newsbot.yaml")
    parser.add_argument("--topic", required=True)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--veto-below", type=float, default=0.15)  # chosen by 5-fold CV
    parser.add_argument("--rescue-above", type=float, default=0.9)
    parser.add_argument("--l2", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=600)
    args = parser.parse_args(argv)
    config = load_config(Path(args.config))
    topic = next((t for t in config.topics if t.name == args.topic), None)
    if topic is None:
        print(f"train: no topic {args.topic!r} in {args.config}", file=sys.stderr)
        return 2
    # An empty model makes the matcher compute the stage's features for this topic.
    matcher = Matcher([replace(topic, meaning=MeaningModel({}))])
    examples = []
    for path in args.files:
        with open(path, encoding="utf-8") as infile:
            for item in read_labelled(infile, path):
                feats = matcher.stage_features(item["title"], item.get("summary") or "")
                examples.append((feats[topic.name], item["label"] == "relevant"))
    weights, bias = train(examples, l2=args.l2, epochs=args.epochs)
    model = MeaningModel(weights, bias, args.veto_below, args.rescue_above, topic.name)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(model.to_json(), encoding="utf-8")
    kept = sum(1 for weight in weights.values() if round(weight, 4))
    print(f"train: {len(examples)} stories, {kept} features -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
