"""The meaning stage: a small linear classifier that second-guesses a topic's rules.

Contract:
- `features(title, summary, concepts)` turns a story into named features: which named concepts
  of the topic occur in the headline and in the lede (and which together), and the story's words
  (stems, headline words apart from lede words, and headline word pairs). Not the rules' verdict:
  the stage is a second opinion, so it must not simply learn to agree with the rules. Pure; the
  matcher passes in what it already computed.
- `MeaningModel` holds a logistic regression over those features (weights by name, a bias, and
  the two thresholds that make it a stage): `probability(features)` is the model's belief that
  the story is relevant, `drivers(features)` the features that moved it most (for `explain`).
- `decide(rules_matched, tech_found, probability, model)` is the one rule for how the stage and
  the rules combine, used by the matcher (and so by the pipeline, `match`, `explain` and `eval`):
  a rules match stands unless the model is confident it is not relevant (`veto_below`); a story
  the rules missed is taken when it names the technology and the model is confident it is
  relevant (`rescue_above`).
- `train(examples)` fits a model (batch gradient descent with L2, deterministic); used by
  `python -m bot.matching.train`, which writes the JSON file a topic's `meaning:` setting names.

Why a linear model over words and concepts: it is trained in seconds on a few hundred labelled
stories shipped with the project, needs no download and no heavy package, scores a story with a
few dozen dictionary lookups, and every decision can be shown as the words that drove it.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import NewsbotError
from bot.matching.text import fold_accents, normalize, stem, token_texts

STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "at",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "after",
        "over",
        "into",
        "about",
        "than",
        "but",
        "not",
        "no",
        "will",
        "would",
        "can",
        "could",
        "may",
        "says",
        "said",
        "new",
        "more",
        "how",
        "what",
        "why",
        "who",
        "when",
        "where",
        "which",
        "while",
        "amid",
    }
)


class MeaningModelError(NewsbotError):
    """A model file cannot be read or is not a meaning model."""


@dataclass(frozen=True, slots=True)
class MeaningModel:
    """A trained stage: feature weights, bias, and the thresholds of `decide`."""

    weights: Mapping[str, float] = field(compare=False, hash=False)
    bias: float = 0.0
    veto_below: float = 0.1
    rescue_above: float = 0.9
    name: str = ""

    def probability(self, feats: Mapping[str, float]) -> float:
        z = self.bias + sum(self.weights.get(name, 0.0) * value for name, value in feats.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def drivers(self, feats: Mapping[str, float], count: int = 6) -> list[tuple[str, float]]:
        """The features that pushed the score most, strongest first, with their push."""
        pushes = [(name, self.weights.get(name, 0.0) * value) for name, value in feats.items()]
        pushes = [push for push in pushes if abs(push[1]) >= 0.05]
        return sorted(pushes, key=lambda push: -abs(push[1]))[:count]

    def to_json(self) -> str:
        weights = {name: round(weight, 4) for name, weight in sorted(self.weights.items())}
        data = {
            "kind": "newsbot-meaning/1",
            "name": self.name,
            "bias": round(self.bias, 4),
            "veto_below": self.veto_below,
            "rescue_above": self.rescue_above,
            "weights": {name: weight for name, weight in weights.items() if weight},
        }
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def load_model(path: Path) -> MeaningModel:
    """The model in the JSON file at `path` (MeaningModelError when it is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MeaningModelError(f"{path}: cannot read meaning model: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != "newsbot-meaning/1":
        raise MeaningModelError(f"{path}: not a newsbot meaning model (kind newsbot-meaning/1)")
    weights = data.get("weights")
    if not isinstance(weights, dict) or not all(
        isinstance(value, int | float) for value in weights.values()
    ):
        raise MeaningModelError(f"{path}: `weights` must map feature names to numbers")
    return MeaningModel(
        {str(name): float(value) for name, value in weights.items()},
        float(data.get("bias", 0.0)),
        float(data.get("veto_below", 0.1)),
        float(data.get("rescue_above", 0.9)),
        str(data.get("name", path.stem)),
    )


def decide(rules_matched: bool, tech_found: bool, probability: float, model: MeaningModel) -> bool:
    """The stage's verdict from the rules' verdict and the model's belief (module docstring)."""
    if rules_matched:
        return probability >= model.veto_below
    return tech_found and probability >= model.rescue_above


def features(
    title: str, summary: str, concepts: Mapping[str, tuple[bool, bool]]
) -> dict[str, float]:
    """Named features of one story (module docstring). `concepts`: name -> (in title, in lede)."""
    feats: dict[str, float] = {}
    present = []
    for name, (in_title, in_summary) in concepts.items():
        if in_title:
            feats[f"c:{name}@t"] = 1.0
        if in_summary:
            feats[f"c:{name}@s"] = 1.0
        if in_title or in_summary:
            present.append(name)
    for first, second in _pairs(present):
        feats[f"c:{first}+{second}"] = 1.0
    title_words = _stems(title)
    for word in title_words:
        feats[f"t:{word}"] = 1.0
    for left, right in itertools.pairwise(title_words):
        feats[f"t:{left}_{right}"] = 1.0
    for word in _stems(summary):
        feats[f"s:{word}"] = 1.0
    return feats


def _pairs(names: Sequence[str]) -> Iterable[tuple[str, str]]:
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            yield first, second


def _stems(text: str) -> list[str]:
    out = []
    for token in token_texts(normalize(text)):
        if not token.isascii():
            token = fold_accents(token)
        if len(token) > 2 and token not in STOP and not token.isdigit():
            out.append(stem(token))
    return out


def train(
    examples: Sequence[tuple[Mapping[str, float], bool]],
    *,
    l2: float = 0.02,
    epochs: int = 300,
    rate: float = 0.5,
    min_count: int = 2,
) -> tuple[dict[str, float], float]:
    """Weights and bias of a logistic regression fitted to `examples` (features, relevant).

    Features seen in fewer than `min_count` examples are left out: a word seen once is a
    memory of one headline, not evidence about the topic."""
    counts: dict[str, int] = {}
    for feats, _ in examples:
        for name in feats:
            counts[name] = counts.get(name, 0) + 1
    kept = {name for name, count in counts.items() if count >= min_count}
    rows = [
        ({k: v for k, v in feats.items() if k in kept}, 1.0 if label else 0.0)
        for feats, label in examples
    ]
    weights: dict[str, float] = dict.fromkeys(sorted(kept), 0.0)
    bias = 0.0
    size = len(rows) or 1
    for _ in range(epochs):
        grads = dict.fromkeys(weights, 0.0)
        grad_bias = 0.0
        for feats, target in rows:
            z = bias + sum(weights[name] * value for name, value in feats.items())
            error = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))) - target
            grad_bias += error
            for name, value in feats.items():
                grads[name] += error * value
        for name in weights:
            weights[name] -= rate * (grads[name] / size + l2 * weights[name])
        bias -= rate * grad_bias / size
    return weights, bias
