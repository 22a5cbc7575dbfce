"""Match stories against topics: compiled queries, scores, evidence and explanations.

Contract:
- `Matcher(topics)` parses every topic query once (QuerySyntaxError on a bad one) and builds the
  vocabulary of every term in every topic.
- `Matcher.match(title, summary)` returns a Match for each topic whose score >= its threshold,
  in topic order, with the TermHits that made the score.
- `Matcher.explain(title, summary)` says, per topic, matched or not, the terms found (field,
  offset, words, similarity), the score, and for a non-match the closest miss.

Scoring is fuzzy logic over the query tree. An occurrence of a term is worth its field weight
(title 1.0, summary 0.6: a headline says what the story is about, a lede may mention things in
passing) times its similarity (100 exact, less for a typo). A phrase or NEAR is worth its weakest
word, AND its weakest operand, OR its strongest, NOT 1 when the excluded thing is absent from
both fields else 0. Score = 100 x the root's worth, so a query satisfied in the title scores 100,
one that needs the summary scores 60.

Speed: a story is tokenised once, and each distinct token is resolved once per Matcher (memo) to
the term ids it satisfies: exact stem lookup in a dict, wildcard prefixes by dict lookups of the
token's prefixes, typo tolerance (rapidfuzz Levenshtein on SymSpell-style candidates) only for
long words. Topics are compiled to closures that read that id -> positions index; a topic, or an
OR group, none of whose terms occurs is skipped outright, and evidence (TermHits, character
offsets) is only built for the topics that matched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from bot.matching import meaning
from bot.matching.query import (
    MAX_EDITS,
    MIN_FUZZY_LEN,
    MIN_PREFIX,
    And,
    Concept,
    Field,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    parse,
    parse_concepts,
    render,
)
from bot.matching.text import fold_accents, normalize, stem, token_texts, tokenize
from bot.models import Match, TermHit, Topic

log = logging.getLogger(__name__)

FIELDS = ("title", "summary")
FIELD_WEIGHTS = (1.0, 0.6)
BOTH = (0, 1)  # field indexes a node may be found in
AUTO_FUZZY_LEN = 8  # words this long tolerate one typing error unless written word~0
FUZZY_PREFIX_LEN = 8  # wildcard prefixes this long tolerate one typing error inside them
FUZZY_PREFIX_TAIL = 5  # ... in words at most this much longer than the prefix
SHORT_TYPO_SIMILARITY = 80.0  # "bann" for "ban": a typo, worth less than the word itself
MEMO_LIMIT = 20_000  # distinct tokens per memo generation (two generations: about 6 MB)


class _Occ(NamedTuple):
    """Where a positional node occurs: one field, a token span, its worth and the evidence.
    (A named tuple: the evidence walk makes tens per story, and a frozen dataclass costs three
    times as much to build.)"""

    field: int
    first: int
    last: int
    worth: float
    hits: tuple[TermHit, ...]


@dataclass(slots=True)
class _Story:
    """One story as the evaluator sees it: normalised fields and term id -> {(field, i): sim}."""

    texts: tuple[str, str]
    spans: tuple[list[tuple[int, int]], list[tuple[int, int]]]  # filled in only for evidence
    found: dict[int, dict[tuple[int, int], float]]
    best: dict[int, list[float]]  # term id -> its best worth in [title, summary]
    # A concept's worth in a field scope, once per story: the query and the meaning stage ask
    # for the same ones (title:@legal_action, and @legal_action in the title). See `_concept`.
    concepts: dict[tuple[int, tuple[int, ...]], float]


_Eval = Callable[[_Story], float]  # a compiled node: the story -> the node's worth
_Span = tuple[int, int, int, float]  # field, first token, last token, worth
_Spans = Callable[[_Story], list[_Span]]


@dataclass(frozen=True, slots=True)
class _Compiled:
    topic: Topic
    root: Node
    term_ids: frozenset[int]  # none of these present: no match (and no rescue) possible
    worth: _Eval  # the decision path: worth only, no evidence objects
    # name, its term ids, whether it occurs in the title, in the summary
    concepts: tuple[tuple[str, frozenset[int], _Eval, _Eval], ...] = ()
    requires: frozenset[int] = frozenset()  # term ids of the concept a rescue needs


@dataclass(frozen=True, slots=True)
class _Verdict:
    """One topic's decision on one story: the rules, the meaning stage, the outcome."""

    score: float  # the rules' score, 0-100
    rules_matched: bool
    matched: bool
    probability: float | None = None  # the meaning stage's, when the topic has one
    features: dict[str, float] | None = None


class Matcher:
    """Topics compiled for matching many stories (see the module docstring)."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self._ids: dict[Term, int] = {}  # by what matching depends on
        self._node_ids: dict[Term, int] = {}  # by the query's own node, raw spelling included
        # The evidence walk (`_worth`) skips any subtree none of whose terms occurs: term ids
        # under each node, by the node's identity (hashing deep frozen trees is costly).
        self._under: dict[int, frozenset[int]] = {}
        # Or nodes: term id -> positions of the children it occurs in, the children that hold
        # a NOT (they count even when nothing in them occurs), and each phrase child's words
        # (None: not a phrase), so a 100-term OR costs what the story's few terms cost.
        self._or_index: dict[
            int,
            tuple[dict[int, tuple[int, ...]], tuple[int, ...], tuple[frozenset[int] | None, ...]],
        ] = {}
        self._exact: dict[str, list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        self._literal: dict[str, list[int]] = {}
        # Typo tolerance, SymSpell style: every string a fuzzy term's stem becomes with up to
        # `edits` deletions -> (stem, term id, edits). A token within k edits of a stem shares
        # one such string with it, so candidates come from dict lookups, not a scan of all terms.
        self._fuzzy: dict[str, list[tuple[str, int, int]]] = {}
        self._fuzzy_depth = 0
        # Prefixes that tolerate one typing error inside them ("moraterium" for moratori*):
        # first letter -> (prefix, term id); rapidfuzz compares the token's head with each.
        self._fuzzy_prefix: dict[str, list[tuple[str, int]]] = {}
        # Short words (ban, fine, law) take no edit distance ("bad", "fin", "low" are words), only
        # a doubled letter ("bann").
        self._short: dict[str, list[int]] = {}
        # Two generations: when the young one fills, it becomes the old one and the oldest is
        # dropped; a word found in the old generation moves back. Frequent words stay resolved,
        # and memory is bounded (2 x MEMO_LIMIT entries) however many distinct words pass by.
        self._memo: dict[str, tuple[tuple[int, float], ...]] = {}
        self._memo_old: dict[str, tuple[tuple[int, float], ...]] = {}
        self._topics = [self._compile(topic) for topic in topics]

    def match(self, title: str, summary: str) -> list[Match]:
        """A Match per topic the story is relevant to (`_judge`), with its evidence."""
        story = self._read(title, summary)
        found = story.found.keys()
        matches = []
        for compiled in self._topics:
            if found.isdisjoint(compiled.term_ids):
                continue
            verdict = self._judge(compiled, story, title, summary)
            if verdict.matched:
                # Evidence is gathered by the slower tree walk, only for the few that match.
                matches.append(self._evidence(compiled, story, verdict))
        return matches

    def stage_features(self, title: str, summary: str) -> dict[str, dict[str, float]]:
        """The meaning-stage features of a story, per topic that has a stage (for training)."""
        story = self._read(title, summary)
        found: dict[str, dict[str, float]] = {}
        for compiled in self._topics:
            features = self._judge(compiled, story, title, summary, always=True).features
            if features is not None:
                found[compiled.topic.name] = features
        return found

    def _judge(
        self, compiled: _Compiled, story: _Story, title: str, summary: str, *, always: bool = False
    ) -> _Verdict:
        """The one decision `match` and `explain` both report: the rules' score against the
        threshold, then the meaning stage (bot.matching.meaning.decide) when the topic has one."""
        topic = compiled.topic
        score = round(100 * compiled.worth(story), 1)
        rules_matched = score >= topic.threshold and score > 0
        if topic.meaning is None:
            return _Verdict(score, rules_matched, rules_matched)
        found = story.found.keys()
        if not rules_matched and found.isdisjoint(compiled.requires) and not always:
            return _Verdict(score, rules_matched, False)  # nothing to veto, nothing to rescue
        concepts = {
            name: (in_title(story) > 0, in_summary(story) > 0)
            if not found.isdisjoint(terms)
            else (False, False)
            for name, terms, in_title, in_summary in compiled.concepts
        }
        feats = meaning.features(title, summary, concepts)
        probability = topic.meaning.probability(feats)
        tech_found = any(concepts.get(topic.meaning_requires, (False, False)))
        matched = meaning.decide(rules_matched, tech_found, probability, topic.meaning)
        return _Verdict(score, rules_matched, matched, round(probability, 3), feats)

    def _evidence(self, compiled: _Compiled, story: _Story, verdict: _Verdict) -> Match:
        if verdict.rules_matched:
            hits = self._positive_hits(compiled.root, story)
        else:  # rescued by the meaning stage: every query term found is the evidence
            hits = self._all_hits(compiled.root, story, BOTH)
        return Match(compiled.topic.name, verdict.score, _dedupe(hits), verdict.probability)

    def _positive_hits(self, root: Node, story: _Story) -> tuple[TermHit, ...]:
        """The hits of a matched query. Its top-level exclusions held (it matched), and they
        carry no evidence, so they are not walked again."""
        if not isinstance(root, And):
            return self._worth(root, story)[1]
        parts = [
            self._worth(child, story)[1] for child in root.children if not isinstance(child, Not)
        ]
        return tuple(hit for hits in parts for hit in hits)

    def explain(self, title: str, summary: str) -> str:
        """Per topic: matched or not (the verdict `match` gives), evidence by field, the rules'
        score, the meaning stage's score and the words that drove it, and the closest miss."""
        story = self._read(title, summary)
        lines = [f"title:   {story.texts[0]}", f"summary: {story.texts[1]}"]
        for compiled in self._topics:
            lines.extend(self._explain_topic(compiled, story, title, summary))
        return "\n".join(lines)

    # -- compiling ---------------------------------------------------------------------------

    def _compile(self, topic: Topic) -> _Compiled:
        concepts = parse_concepts(dict(topic.concepts))
        root = parse(topic.query, concepts)
        positive: set[int] = set()
        self._register(root, positive, negated=False)
        log.debug("topic compiled", extra={"topic": topic.name, "terms": len(positive)})
        worth = _fast(root, self._node_ids, BOTH)
        compiled_concepts: tuple[tuple[str, frozenset[int], _Eval, _Eval], ...] = ()
        if topic.meaning is not None:  # the stage reads which concepts occur, field by field
            for node in concepts.values():
                self._register(node, set(), negated=True)
            compiled_concepts = tuple(
                (
                    name,
                    self._terms_under(node),
                    _concept(node, self._node_ids, (0,)),
                    _concept(node, self._node_ids, (1,)),
                )
                for name, node in concepts.items()
            )
        required = concepts.get(topic.meaning_requires) if topic.meaning is not None else None
        requires = (_need(required, self._node_ids) or frozenset()) if required else frozenset()
        # A story with none of the terms the query needs cannot match: skip it outright.
        needed = _need(root, self._node_ids) or frozenset(positive)
        return _Compiled(topic, root, needed | requires, worth, compiled_concepts, requires)

    def _register(self, node: Node, positive: set[int], *, negated: bool) -> None:
        if isinstance(node, Term):
            term_id = self._node_ids[node] = self._term_id(node)
            if not negated:
                positive.add(term_id)
        elif isinstance(node, Phrase):
            for term in node.terms:
                self._register(term, positive, negated=negated)
        elif isinstance(node, Not):
            self._register(node.child, positive, negated=not negated)
        elif isinstance(node, Field | Concept):
            self._register(node.child, positive, negated=negated)
        elif isinstance(node, Near):
            self._register(node.left, positive, negated=negated)
            self._register(node.right, positive, negated=negated)
        else:
            for child in node.children:
                self._register(child, positive, negated=negated)

    def _term_id(self, term: Term) -> int:
        if not term.word.isascii():  # stories are looked up without accents: so are terms
            term = Term(fold_accents(term.word), term.kind, term.edits, term.raw)
        key = Term(term.word, term.kind, term.edits)  # the raw spelling does not change matching
        if key in self._ids:
            return self._ids[key]
        term_id = self._ids[key] = len(self._ids)
        if term.kind in ("prefix", "literal"):
            table = self._prefix if term.kind == "prefix" else self._literal
            table.setdefault(term.word, []).append(term_id)
            if term.kind == "prefix" and len(term.word) >= FUZZY_PREFIX_LEN and term.word.isalpha():
                self._fuzzy_prefix.setdefault(term.word[0], []).append((term.word, term_id))
            return term_id
        self._exact.setdefault(stem(term.word), []).append(term_id)
        if term.kind == "word" and term.word.isalpha() and len(stem(term.word)) < MIN_FUZZY_LEN:
            self._short.setdefault(stem(term.word), []).append(term_id)
        edits = _allowed_edits(term)
        if edits:
            root = stem(term.word)
            for variant in _deletions(root, edits):
                self._fuzzy.setdefault(variant, []).append((root, term_id, edits))
            self._fuzzy_depth = max(self._fuzzy_depth, edits)
        return term_id

    # -- reading a story ---------------------------------------------------------------------

    def _read(self, title: str, summary: str) -> _Story:
        texts = (normalize(title), normalize(summary))
        spans: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
        found: dict[int, dict[tuple[int, int], float]] = {}
        best: dict[int, list[float]] = {}
        for field, text in enumerate(texts):
            weight = FIELD_WEIGHTS[field] / 100
            for index, token in enumerate(token_texts(text)):
                if not token.isascii():
                    token = fold_accents(token)
                resolved = self._memo.get(token)
                if resolved is None:
                    resolved = self._resolve(token)
                for term_id, similarity in resolved:
                    found.setdefault(term_id, {})[(field, index)] = similarity
                    row = best.setdefault(term_id, [0.0, 0.0])
                    row[field] = max(row[field], weight * similarity)
        return _Story(texts, spans, found, best, {})

    def _resolve(self, token: str) -> tuple[tuple[int, float], ...]:
        """The term ids one token satisfies, with similarity; memoised per distinct token."""
        known = self._memo.get(token)
        if known is not None:
            return known
        if len(self._memo) >= MEMO_LIMIT:
            self._memo_old, self._memo = self._memo, {}
        known = self._memo_old.get(token)
        if known is not None:
            self._memo[token] = known
            return known
        result = dict.fromkeys(self._exact.get(stem(token), ()), 100.0)
        result.update(dict.fromkeys(self._literal.get(token, ()), 100.0))
        for size in range(MIN_PREFIX, len(token) + 1):
            result.update(dict.fromkeys(self._prefix.get(token[:size], ()), 100.0))
        self._add_fuzzy(token, result)
        if token.isalpha():
            self._add_fuzzy_prefix(token, result)
            self._add_short_typo(token, result)
        resolved = tuple(result.items())
        if token.isalpha():  # numbers and codes are cheap to resolve (no typo search) and mostly
            self._memo[token] = resolved  # unique ("report 48213"): memoising them only churns
        return resolved

    def _add_fuzzy(self, token: str, result: dict[int, float]) -> None:
        key = stem(token)
        if not self._fuzzy or len(key) < MIN_FUZZY_LEN - MAX_EDITS or not key.isalpha():
            return
        for variant in _deletions(key, self._fuzzy_depth):
            for word, term_id, edits in self._fuzzy.get(variant, ()):
                if term_id in result or Levenshtein.distance(key, word, score_cutoff=edits) > edits:
                    continue
                result[term_id] = round(fuzz.ratio(key, word), 1)

    def _add_fuzzy_prefix(self, token: str, result: dict[int, float]) -> None:
        """One typing error inside a long wildcard prefix: not at its first or last letter
        ("regular" is not regulat*), and not deep in a long compound ("gezichtsherkenning" is
        not gerichts*). Candidates share the token's first letter; rapidfuzz decides."""
        for prefix, term_id in self._fuzzy_prefix.get(token[0], ()):
            size = len(prefix)
            if term_id in result or not size - 1 <= len(token) <= size + FUZZY_PREFIX_TAIL:
                continue
            for cut in (size, size - 1, size + 1):
                head = token[:cut]
                if head[-1] != prefix[-1] or len(head) != cut:
                    continue
                if Levenshtein.distance(head, prefix, score_cutoff=1) <= 1:
                    result[term_id] = round(fuzz.ratio(head, prefix), 1)
                    break

    def _add_short_typo(self, token: str, result: dict[int, float]) -> None:
        if not self._short or len(token) > MIN_FUZZY_LEN + 1:
            return
        for variant in _short_typo_fixes(token):
            for term_id in self._short.get(stem(variant), ()):
                result.setdefault(term_id, SHORT_TYPO_SIMILARITY)

    # -- evaluating --------------------------------------------------------------------------
    # `fields` narrows where terms count: BOTH, or one field under a title:/summary: prefix.

    def _worth(
        self, node: Node, story: _Story, fields: tuple[int, ...] = BOTH
    ) -> tuple[float, tuple[TermHit, ...]]:
        """The node's worth (0-1) in this story and the hits that support it."""
        if story.found.keys().isdisjoint(self._terms_under(node)):
            return (1.0, ()) if isinstance(node, Not) else (0.0, ())
        if isinstance(node, Term | Phrase | Near):
            occurrences = self._occurrences(node, story, fields)
            best = max(occurrences, key=lambda occ: occ.worth, default=None)
            return (best.worth, best.hits) if best else (0.0, ())
        if isinstance(node, Field):
            return self._worth(node.child, story, _narrow(fields, node))
        if isinstance(node, Concept):
            worth, hits = self._worth(node.child, story, fields)
            return worth, _tagged(hits, node.name)
        if isinstance(node, Not):
            worth, hits = self._worth(node.child, story, fields)
            return (0.0, hits) if worth > 0 else (1.0, ())
        children = self._live(node, story) if isinstance(node, Or) else node.children
        results = [self._worth(child, story, fields) for child in children]
        if isinstance(node, And):
            worth = min(result[0] for result in results)
            hits = tuple(hit for result in results for hit in result[1]) if worth > 0 else ()
            return worth, hits
        worth = max((result[0] for result in results), default=0.0)
        return worth, tuple(hit for result in results if result[0] > 0 for hit in result[1])

    def _occurrences(self, node: Node, story: _Story, fields: tuple[int, ...]) -> list[_Occ]:
        if isinstance(node, Term):
            return self._term_occurrences(node, story, fields)
        if isinstance(node, Phrase):
            return self._phrase_occurrences(node, story, fields)
        if isinstance(node, Near):
            return self._near_occurrences(node, story, fields)
        if isinstance(node, Field):
            return self._occurrences(node.child, story, _narrow(fields, node))
        if isinstance(node, Concept):
            return [
                _Occ(occ.field, occ.first, occ.last, occ.worth, _tagged(occ.hits, node.name))
                for occ in self._occurrences(node.child, story, fields)
            ]
        assert isinstance(node, Or)  # the parser admits only positional nodes here
        live = self._live(node, story)
        return [occ for child in live for occ in self._occurrences(child, story, fields)]

    def _places(self, term: Term, story: _Story) -> dict[tuple[int, int], float]:
        return story.found.get(self._node_ids[term], {})

    def _live(self, node: Or, story: _Story) -> list[Node]:
        """The children of an OR that can be worth anything in this story, in order."""
        index = self._or_index.get(id(node))
        if index is None:
            table: dict[int, list[int]] = {}
            always = []
            for position, child in enumerate(node.children):
                if _has_not(child):
                    always.append(position)
                for term_id in self._terms_under(child):
                    table.setdefault(term_id, []).append(position)
            # A phrase needs every one of its words: "to stop" is not live because "to" occurs.
            needs = tuple(
                self._terms_under(child) if isinstance(child, Phrase) else None
                for child in node.children
            )
            index = {t: tuple(p) for t, p in table.items()}, tuple(always), needs
            self._or_index[id(node)] = index
        table_, always_, needs_ = index
        found = story.found.keys()
        positions = set(always_)
        for term_id in found & table_.keys():
            positions.update(table_[term_id])
        children = node.children
        return [
            children[position]
            for position in sorted(positions)
            if (need := needs_[position]) is None or need <= found
        ]

    def _terms_under(self, node: Node) -> frozenset[int]:
        """Every term id in `node` (under NOT too): if none occurs, the node is decided."""
        known = self._under.get(id(node))
        if known is not None:
            return known
        if isinstance(node, Term):
            found = frozenset((self._node_ids[node],))
        elif isinstance(node, Phrase):
            found = frozenset(self._node_ids[term] for term in node.terms)
        elif isinstance(node, Field | Not | Concept):
            found = self._terms_under(node.child)
        else:
            children = (node.left, node.right) if isinstance(node, Near) else node.children
            found = frozenset().union(*(self._terms_under(child) for child in children))
        self._under[id(node)] = found
        return found

    def _term_occurrences(self, term: Term, story: _Story, fields: tuple[int, ...]) -> list[_Occ]:
        return [
            _occ(field, i, i, sim, (_hit(term.raw, story, field, i, i, sim),))
            for (field, i), sim in self._places(term, story).items()
            if field in fields
        ]

    def _phrase_occurrences(
        self, phrase: Phrase, story: _Story, fields: tuple[int, ...]
    ) -> list[_Occ]:
        tables = [self._places(term, story) for term in phrase.terms]
        occurrences = []
        for (field, first), sim in tables[0].items():
            if field not in fields:
                continue
            sims = [sim] + [
                table.get((field, first + k), 0.0) for k, table in enumerate(tables) if k
            ]
            similarity = min(sims)
            if similarity > 0:
                last = first + len(tables) - 1
                hit = _hit(render(phrase), story, field, first, last, similarity)
                occurrences.append(_occ(field, first, last, similarity, (hit,)))
        return occurrences

    def _near_occurrences(self, near: Near, story: _Story, fields: tuple[int, ...]) -> list[_Occ]:
        rights = self._occurrences(near.right, story, fields)
        occurrences = []
        for left in self._occurrences(near.left, story, fields) if rights else ():
            for right in rights:
                gap = max(right.first - left.last, left.first - right.last)
                if right.field == left.field and gap <= near.distance:
                    occurrences.append(_Occ(
                        left.field, min(left.first, right.first), max(left.last, right.last),
                        min(left.worth, right.worth), left.hits + right.hits,
                    ))  # fmt: skip
        return occurrences

    # -- explaining --------------------------------------------------------------------------

    def _explain_topic(
        self, compiled: _Compiled, story: _Story, title: str, summary: str
    ) -> list[str]:
        topic = compiled.topic
        verdict = self._judge(compiled, story, title, summary)
        word = "match" if verdict.matched else "no match"
        rules = "rules match" if verdict.rules_matched else "rules no match"
        lines = [
            f"topic {topic.name}: {word}, {rules}, score {verdict.score:g} "
            f"(threshold {topic.threshold:g})"
        ]
        evidence = self._evidence(compiled, story, verdict).hits
        lines.extend(f"  found {_describe(hit)}" for hit in evidence)
        if not evidence:
            lines.append("  no query term found")
        if verdict.probability is not None and topic.meaning is not None:
            lines.extend(_explain_meaning(topic, verdict))
        if not verdict.rules_matched:
            misses = self._misses(compiled.root, story, BOTH)
            lines.extend(f"  closest miss: {miss}" for miss in misses)
        return lines

    def _all_hits(self, node: Node, story: _Story, fields: tuple[int, ...]) -> tuple[TermHit, ...]:
        """Every positive term found, for a story that did not match."""
        if isinstance(node, Term | Phrase):
            occurrences = self._occurrences(node, story, fields)
            return _dedupe(tuple(hit for occ in occurrences for hit in occ.hits))
        if isinstance(node, Not):
            return ()
        if isinstance(node, Field):
            return self._all_hits(node.child, story, _narrow(fields, node))
        if isinstance(node, Concept):
            return _tagged(self._all_hits(node.child, story, fields), node.name)
        children = (node.left, node.right) if isinstance(node, Near) else node.children
        found = (hit for child in children for hit in self._all_hits(child, story, fields))
        return _dedupe(tuple(found))

    def _misses(self, node: Node, story: _Story, fields: tuple[int, ...]) -> list[str]:
        """What part of the query failed: the failing AND operands, the best OR alternative."""
        worth, hits = self._worth(node, story, fields)
        if worth > 0:
            return []
        if isinstance(node, Not):
            found = ", ".join(_describe(hit) for hit in _dedupe(hits))
            return [f"excluded by {_short(render(node))}: {found}"]
        if isinstance(node, Field):
            return self._misses(node.child, story, _narrow(fields, node))
        if isinstance(node, Concept) and not isinstance(node.child, And | Near):
            return [f"nothing found{_where(fields)} for @{node.name}"]
        if isinstance(node, Concept):
            return self._misses(node.child, story, fields)
        if isinstance(node, And):
            return [miss for child in node.children for miss in self._misses(child, story, fields)]
        if isinstance(node, Or) and not all(isinstance(c, Term | Phrase) for c in node.children):
            alternatives = (self._misses(child, story, fields) for child in node.children)
            return min(alternatives, key=len)
        if isinstance(node, Near):
            return self._near_misses(node, story, fields)
        return [f"nothing found{_where(fields)} for {_short(render(node))}"]

    def _near_misses(self, near: Near, story: _Story, fields: tuple[int, ...]) -> list[str]:
        sides = [
            side for side in (near.left, near.right) if not self._worth(side, story, fields)[0]
        ]
        if not sides:
            return [f"both sides of {_short(render(near))} found, not within {near.distance} words"]
        return [miss for side in sides for miss in self._misses(side, story, fields)]


# -- the compiled decision path ---------------------------------------------------------------
# The same semantics as Matcher._worth, as closures built once per topic: term ids and field
# scopes are bound at compile time, a run of plain terms is one loop over ids, and positions are
# only looked at (NEAR, phrases) once both sides are known to be present.


def _fast(node: Node, ids: dict[Term, int], fields: tuple[int, ...]) -> _Eval:
    if isinstance(node, Field):
        return _fast(node.child, ids, _narrow(fields, node))
    if isinstance(node, Concept):
        return _concept(node.child, ids, fields)
    if isinstance(node, Term):
        return _fast_any((ids[node],), fields)
    if isinstance(node, Not):
        child = _fast(node.child, ids, fields)
        return lambda story: 0.0 if child(story) > 0 else 1.0
    if isinstance(node, Phrase | Near):
        return _gated(_need(node, ids), _fast_positional(node, ids, fields))
    if isinstance(node, Or):
        return _fast_or(node, ids, fields)
    children = tuple(_fast(child, ids, fields) for child in node.children)
    return lambda story: _fast_and(children, story)


def _concept(definition: Node, ids: dict[Term, int], fields: tuple[int, ...]) -> _Eval:
    """A concept's definition, evaluated once per story and field scope: every use of a concept
    in a topic holds the one tree its definition parsed to (`parse_concepts`), so the tree's
    identity names it."""
    evaluate = _fast(definition, ids, fields)
    key = (id(definition), fields)

    def worth(story: _Story) -> float:
        found = story.concepts.get(key)
        if found is None:
            found = story.concepts[key] = evaluate(story)
        return found

    return worth


def _fast_or(node: Or, ids: dict[Term, int], fields: tuple[int, ...]) -> _Eval:
    """Plain terms become one set lookup; the other alternatives (phrases, NEAR, groups) are
    looked up by the terms they need, so only those whose terms occur are evaluated."""
    terms = tuple(ids[child] for child in node.children if isinstance(child, Term))
    plain = _fast_any(terms, fields) if terms else None
    others = [child for child in node.children if not isinstance(child, Term)]
    if not others and plain is not None:
        return plain
    evals = [_fast(child, ids, fields) for child in others]
    live = _live_positions(others, ids)

    def worth(story: _Story) -> float:
        best = plain(story) if plain is not None else 0.0
        for position in live(story):
            if best >= 1.0:
                break
            best = max(best, evals[position](story))
        return best

    return worth


def _live_positions(
    alternatives: Sequence[Node], ids: dict[Term, int]
) -> Callable[[_Story], set[int]]:
    """The positions of the alternatives that can be worth anything in a story: those whose
    needed word occurs (`_need`), and those that need none; looked up by the story's words."""
    by_term: dict[int, list[int]] = {}
    always = []
    for position, child in enumerate(alternatives):
        need = _need(child, ids)
        if need is None:
            always.append(position)
        for term_id in need or ():
            by_term.setdefault(term_id, []).append(position)
    index = {term_id: tuple(positions) for term_id, positions in by_term.items()}
    keys = frozenset(index)

    def live(story: _Story) -> set[int]:
        wanted = set(always)
        for term_id in keys.intersection(story.best):
            wanted.update(index[term_id])
        return wanted

    return live


def _need(node: Node, ids: dict[Term, int]) -> frozenset[int] | None:
    """Term ids of which at least one must occur for the node to be worth anything (None: any)."""
    if isinstance(node, Term):
        return frozenset((ids[node],))
    if isinstance(node, Phrase):  # the longest word: "stop" in "to stop", rarer than "to"
        return frozenset((ids[max(node.terms, key=lambda term: len(term.word))],))
    if isinstance(node, Field | Concept):
        return _need(node.child, ids)
    if isinstance(node, Near):
        return _need(node.left, ids)
    if isinstance(node, Not):
        return None
    needs = [_need(child, ids) for child in node.children]
    if isinstance(node, Or):
        return None if None in needs else frozenset().union(*(n for n in needs if n))
    known = [need for need in needs if need is not None]
    return min(known, key=len) if known else None


def _gated(need: frozenset[int] | None, evaluate: _Eval) -> _Eval:
    """`evaluate`, skipped (worth 0) when none of the needed terms occurs in the story."""
    if need is None:
        return evaluate
    return lambda story: 0.0 if story.best.keys().isdisjoint(need) else evaluate(story)


def _fast_and(children: tuple[_Eval, ...], story: _Story) -> float:
    worth = 1.0
    for child in children:
        worth = min(worth, child(story))
        if not worth:
            break
    return worth


def _fast_any(term_ids: tuple[int, ...], fields: tuple[int, ...]) -> _Eval:
    wanted = frozenset(term_ids)

    def worth(story: _Story) -> float:
        present = story.best.keys() & wanted
        if not present:
            return 0.0
        return max(story.best[term_id][field] for term_id in present for field in fields)

    return worth


def _fast_positional(node: Phrase | Near, ids: dict[Term, int], fields: tuple[int, ...]) -> _Eval:
    sides: tuple[_Eval, ...]
    if isinstance(node, Near):
        sides = (_fast(node.left, ids, fields), _fast(node.right, ids, fields))
    else:
        sides = tuple(_fast_any((ids[term],), fields) for term in node.terms)
    spans = _spans(node, ids, fields)

    def worth(story: _Story) -> float:
        if not all(side(story) for side in sides):  # positions only when every part occurs
            return 0.0
        return max((span[3] for span in spans(story)), default=0.0)

    return worth


def _spans(node: Node, ids: dict[Term, int], fields: tuple[int, ...]) -> _Spans:
    if isinstance(node, Field):
        return _spans(node.child, ids, _narrow(fields, node))
    if isinstance(node, Concept):
        return _spans(node.child, ids, fields)
    if isinstance(node, Term):
        return _term_spans(ids[node], fields)
    if isinstance(node, Phrase):
        return _phrase_spans(tuple(ids[term] for term in node.terms), fields)
    if isinstance(node, Near):
        return _near_spans(_spans(node.left, ids, fields), _spans(node.right, ids, fields), node)
    assert isinstance(node, Or)  # the parser admits only positional nodes here
    return _or_spans(node, ids, fields)


def _or_spans(node: Or, ids: dict[Term, int], fields: tuple[int, ...]) -> _Spans:
    """An OR's spans: only the alternatives whose needed word occurs are located (a concept
    of a hundred phrases costs the few whose words the story has, as `_fast_or` does)."""
    children = tuple(_spans(child, ids, fields) for child in node.children)
    live = _live_positions(node.children, ids)

    def spans(story: _Story) -> list[_Span]:
        return [span for position in sorted(live(story)) for span in children[position](story)]

    return spans


def _term_spans(term_id: int, fields: tuple[int, ...]) -> _Spans:
    def spans(story: _Story) -> list[_Span]:
        places = story.found.get(term_id, {})
        return [
            (field, i, i, FIELD_WEIGHTS[field] * sim / 100)
            for (field, i), sim in places.items()
            if field in fields
        ]

    return spans


def _phrase_spans(term_ids: tuple[int, ...], fields: tuple[int, ...]) -> _Spans:
    def spans(story: _Story) -> list[_Span]:
        tables = [story.found.get(term_id, {}) for term_id in term_ids]
        found = []
        for (field, first), sim in tables[0].items():
            sims = [sim] + [
                table.get((field, first + k), 0.0) for k, table in enumerate(tables) if k
            ]
            if field in fields and min(sims) > 0:
                worth = FIELD_WEIGHTS[field] * min(sims) / 100
                found.append((field, first, first + len(tables) - 1, worth))
        return found

    return spans


def _near_spans(left: _Spans, right: _Spans, near: Near) -> _Spans:
    def spans(story: _Story) -> list[_Span]:
        rights = right(story)
        found = []
        for lf, lfirst, llast, lworth in left(story) if rights else ():
            for rf, rfirst, rlast, rworth in rights:
                if lf == rf and max(rfirst - llast, lfirst - rlast) <= near.distance:
                    found.append((lf, min(lfirst, rfirst), max(llast, rlast), min(lworth, rworth)))
        return found

    return spans


def _has_not(node: Node) -> bool:
    if isinstance(node, Not):
        return True
    if isinstance(node, Term | Phrase):
        return False
    if isinstance(node, Field | Concept):
        return _has_not(node.child)
    children = (node.left, node.right) if isinstance(node, Near) else node.children
    return any(_has_not(child) for child in children)


def _narrow(fields: tuple[int, ...], node: Field) -> tuple[int, ...]:
    index = FIELDS.index(node.name)
    return (index,) if index in fields else ()


def _occ(field: int, first: int, last: int, sim: float, hits: tuple[TermHit, ...]) -> _Occ:
    return _Occ(field, first, last, FIELD_WEIGHTS[field] * sim / 100, hits)


def _deletions(word: str, depth: int) -> set[str]:
    """`word` and every string made from it by deleting up to `depth` characters."""
    found = frontier = {word}
    for _ in range(depth):
        frontier = {part[:i] + part[i + 1 :] for part in frontier for i in range(len(part))}
        found = found | frontier
    return found


def _short_typo_fixes(token: str) -> set[str]:
    """What a short word may have been before a letter was doubled ("bann"). Swapped letters
    are not undone: they turn everyday words into terms ("uses" -> "sues")."""
    return {token[:i] + token[i + 1 :] for i in range(1, len(token)) if token[i] == token[i - 1]}


def _allowed_edits(term: Term) -> int:
    # Lengths are of the stem, which is what gets compared: "policies" is "policy", one edit
    # from "police", so it must not be tolerant.
    size = len(stem(term.word))
    if size < MIN_FUZZY_LEN or not term.word.isalpha():
        return 0  # short words and codes (ban, FRT, BIPA, AB1215) only ever match exactly
    if term.kind == "fuzzy":
        return term.edits
    return 1 if size >= AUTO_FUZZY_LEN else 0


def _hit(term: str, story: _Story, field: int, first: int, last: int, sim: float) -> TermHit:
    if not story.spans[field]:  # character offsets are only worked out when evidence is shown
        story.spans[field].extend(
            (token.start, token.end) for token in tokenize(story.texts[field])
        )
    start, end = story.spans[field][first][0], story.spans[field][last][1]
    return TermHit(term, FIELDS[field], story.texts[field][start:end], start, sim)


def _explain_meaning(topic: Topic, verdict: _Verdict) -> list[str]:
    model = topic.meaning
    assert model is not None
    assert verdict.probability is not None
    assert verdict.features is not None
    if verdict.rules_matched:
        effect = "kept" if verdict.matched else f"vetoed (below {model.veto_below:g})"
    else:
        effect = "rescued" if verdict.matched else f"not rescued (needs {model.rescue_above:g}"
        effect += "" if verdict.matched else f" and @{topic.meaning_requires})"
    drivers = ", ".join(
        f"{_feature_words(name)} {push:+.2f}" for name, push in model.drivers(verdict.features)
    )
    return [
        f"  meaning stage: {verdict.probability:.2f} relevant, {effect}",
        f"  meaning drivers: {drivers or 'none'}",
    ]


def _feature_words(name: str) -> str:
    """A feature name as a reader says it: "ban" in headline, @face_recognition + @ban."""
    kind, _, rest = name.partition(":")
    if kind == "c":
        where = {"t": " in headline", "s": " in lede"}.get(rest.rpartition("@")[2], "")
        concepts = rest.rpartition("@")[0] if "@" in rest else rest
        return " + ".join(f"@{part}" for part in concepts.split("+")) + where
    words = rest.replace("_", " ")
    return f"\u201c{words}\u201d in {'headline' if kind == 't' else 'lede'}"


def _where(fields: tuple[int, ...]) -> str:
    return "" if fields == BOTH else f" in the {FIELDS[fields[0]]}" if fields else " (no field)"


def _tagged(hits: tuple[TermHit, ...], concept: str) -> tuple[TermHit, ...]:
    """The hits, each credited to the innermost concept it was found through."""
    return tuple(
        hit
        if hit.concept
        else TermHit(hit.term, hit.field, hit.text, hit.start, hit.similarity, concept=concept)
        for hit in hits
    )


def _dedupe(hits: tuple[TermHit, ...]) -> tuple[TermHit, ...]:
    seen: dict[tuple[str, int, str, str], TermHit] = {}
    for hit in hits:  # one hit per place and concept: "axes" is not also axe, axed and axing
        seen.setdefault((hit.field, hit.start, hit.text, hit.concept), hit)
    return tuple(sorted(seen.values(), key=lambda hit: (FIELDS.index(hit.field), hit.start)))


def _describe(hit: TermHit) -> str:
    similarity = "" if hit.similarity >= 100 else f", similarity {hit.similarity:g}"
    concept = f"@{hit.concept} " if hit.concept else ""
    return f"{concept}{hit.term!s} in {hit.field} at {hit.start}: {hit.text!r}{similarity}"


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
