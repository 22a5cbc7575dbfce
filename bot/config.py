"""Load and validate the admin's configuration (YAML), once, at the edge.

`load_config(path)` returns a frozen `Config` or raises `ConfigErrors` listing every problem as
`file:line key.path: what is wrong`. The main file holds `defaults`, `topics` and `feeds`;
`topics` and `feeds` may instead name a YAML file beside it, so admins can keep long keyword
rules apart from the feed list. YAML was chosen over TOML because the rule queries are long,
multi-line strings that read naturally as YAML block scalars, and because YAML keeps line numbers
we can point admins at.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from bot.alerts.admission import PollPolicy
from bot.errors import ConfigError, ConfigErrors, QuerySyntaxError
from bot.feeds.urls import is_http_url, redact_url
from bot.matching import query as query_language
from bot.matching.meaning import MeaningModel, MeaningModelError, load_model
from bot.models import DAYS, DIGEST, ClusterSettings, DigestSchedule, FeedSpec, Topic

Loc = tuple[str | int, ...]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Defaults:
    """The `defaults:` section: the one place each default value is written."""

    interval: int = 300
    jitter: int = 30
    backfill_hours: float = 24.0  # a feed's first poll alerts on stories this recent
    max_alerts_per_poll: int = 20  # per feed per poll; the rest go into "and N more"
    retention_days: float = 30.0
    max_feed_bytes: int = 10 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    fetch_deadline: float = 60.0  # seconds for a whole fetch: connect, headers, body, redirects
    allow_private_networks: bool = False  # may a public feed redirect into a private network?
    timezone: str = "UTC"  # IANA zone alert times are written in; a topic may set its own
    feedback_days: float = 7.0  # read reactions on alerts delivered this many days back
    feedback_interval: int = 600  # seconds between reads of readers' reactions; 0: off


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    defaults: Defaults
    topics: tuple[Topic, ...]
    feeds: tuple[FeedSpec, ...]
    files: tuple[Path, ...]  # every file read, so a reload can watch them all
    warnings: tuple[str, ...] = ()  # things that work, but likely not as the admin meant

    def topics_for(self, feed: FeedSpec) -> tuple[Topic, ...]:
        if not feed.topics:
            return self.topics
        return tuple(topic for topic in self.topics if topic.name in feed.topics)

    def policy_for(self, feed: FeedSpec) -> PollPolicy:
        """The first-poll window and per-poll cap of `feed`: its own, else the defaults'."""
        hours = self.defaults.backfill_hours if feed.backfill_hours is None else feed.backfill_hours
        cap = feed.max_alerts_per_poll or self.defaults.max_alerts_per_poll
        return PollPolicy(hours, cap)

    def with_feeds(self, feeds: list[FeedSpec]) -> Config:
        """The same config polling another feed list (`run --feeds FILE`)."""
        return Config(
            self.path, self.defaults, self.topics, tuple(feeds), self.files, self.warnings
        )


# --- schema (pydantic, at the edge only) -------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


def _iana_zone(name: str | None) -> str | None:
    """A `timezone` setting: an IANA name that zoneinfo knows ("Europe/Berlin", "UTC")."""
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin', "
            "'America/New_York' or 'UTC'"
        ) from None
    return name


_DEFAULTS = Defaults()


class _DefaultsModel(_Strict):
    """The bounds of each default; the values themselves come from `Defaults`."""

    interval: int = Field(_DEFAULTS.interval, ge=10, le=86400)
    jitter: int = Field(_DEFAULTS.jitter, ge=0, le=3600)
    backfill_hours: float = Field(_DEFAULTS.backfill_hours, ge=0)
    max_alerts_per_poll: int = Field(_DEFAULTS.max_alerts_per_poll, ge=1, le=1000)
    retention_days: float = Field(_DEFAULTS.retention_days, gt=0)
    max_feed_bytes: int = Field(_DEFAULTS.max_feed_bytes, ge=1024)
    connect_timeout: float = Field(_DEFAULTS.connect_timeout, gt=0, le=120)
    read_timeout: float = Field(_DEFAULTS.read_timeout, gt=0, le=600)
    fetch_deadline: float = Field(_DEFAULTS.fetch_deadline, gt=0, le=600)
    allow_private_networks: bool = _DEFAULTS.allow_private_networks
    timezone: str = _DEFAULTS.timezone

    _zone = field_validator("timezone")(_iana_zone)

    feedback_days: float = Field(_DEFAULTS.feedback_days, gt=0, le=90)
    feedback_interval: int = Field(_DEFAULTS.feedback_interval, ge=0, le=86400)

    @field_validator("feedback_interval")
    @classmethod
    def _feedback_off_or_paced(cls, seconds: int) -> int:
        if 0 < seconds < 10:
            raise ValueError(f"must be 0 (off) or 10-86400 seconds, got {seconds}")
        return seconds


class _FeedModel(_Strict):
    url: str
    name: str | None = None
    interval: int | None = Field(None, ge=10, le=86400)
    topics: list[str] = Field(default_factory=list)
    backfill_hours: float | None = Field(None, ge=0)
    max_alerts_per_poll: int | None = Field(None, ge=1, le=1000)

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        url = url.strip()
        if not is_http_url(url):
            raise ValueError(f"must be an http(s) URL, got {redact_url(url)!r}")
        return url


class _ClusterModel(_Strict):
    window_hours: float = Field(72.0, gt=0, le=24 * 60)
    threshold: float = Field(0.0, ge=0, le=100)
    enabled: bool = True


class _MeaningModel(_Strict):
    model: str = Field(min_length=1)  # a JSON file, relative to the file that names it
    requires: str = "tech"  # the concept a story must contain for the stage to rescue it
    veto_below: float | None = Field(None, ge=0, le=1)  # override the model file's thresholds
    rescue_above: float | None = Field(None, ge=0, le=1)


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class _DigestModel(_Strict):
    at: str = "08:00"
    days: list[str] = Field(default_factory=lambda: list(DAYS), min_length=1)
    timezone: str | None = None  # default: the topic's `timezone` (itself defaults.timezone)

    @field_validator("at", mode="before")
    @classmethod
    def _time_of_day(cls, at: Any) -> str:
        if isinstance(at, int) and 0 <= at < 24 * 60:  # YAML 1.1 reads 8:30 as the number 510
            raise ValueError(f'write the time in quotes: at: "{at // 60:02d}:{at % 60:02d}"')
        text = str(at).strip()
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", text):
            raise ValueError(f'must be a time of day HH:MM (24 h), e.g. "08:00", got {at!r}')
        return text

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: list[str]) -> list[str]:
        names = [str(day).strip().lower() for day in days]
        for day, name in zip(days, names, strict=True):
            if name not in DAYS and name not in _DAY_NAMES:
                raise ValueError(f"unknown day {day!r} (use {', '.join(DAYS)})")
        return [name[:3] for name in names]

    _zone = field_validator("timezone")(_iana_zone)

    def schedule(self, zone: str) -> DigestSchedule:
        hour, minute = (int(part) for part in self.at.split(":"))
        days = tuple(day for day in DAYS if day in self.days)  # Monday first, no repeats
        return DigestSchedule(hour, minute, days, self.timezone or zone)


class _TopicModel(_Strict):
    name: str = Field(min_length=1, max_length=80)
    channels: list[str] = Field(min_length=1)
    threshold: float = Field(50.0, ge=0, le=100)
    query: str | None = None
    any: list[str] | None = None
    all: list[list[str]] | None = None
    none: list[str] | None = None
    concepts: dict[str, str] = Field(default_factory=dict)
    meaning: _MeaningModel | None = None
    # mypy without the pydantic plugin cannot type a model class as a factory
    cluster: _ClusterModel = Field(default_factory=_ClusterModel)  # type: ignore[arg-type]
    timezone: str | None = None  # default: defaults.timezone

    _zone = field_validator("timezone")(_iana_zone)
    delivery: Literal["realtime", "digest"] = "realtime"
    digest: _DigestModel | None = None

    @model_validator(mode="after")
    def _digest_needs_digest_delivery(self) -> _TopicModel:
        if self.digest is not None and self.delivery != DIGEST:
            raise ValueError(
                "has `digest:` settings but `delivery` is realtime: add `delivery: digest` to "
                "post a digest, or remove `digest:`"
            )
        return self

    @field_validator("query", mode="before")
    @classmethod
    def _query_is_text(cls, query: Any) -> Any:
        if isinstance(query, dict) and set(query) & {"any", "all", "none"}:
            raise ValueError(
                "the simple form (`any`/`all`/`none`) is not written under `query:`: put "
                "`any:`/`all:`/`none:` directly in the topic, beside `name:` and `channels:` "
                "(and drop `query:`), or write `query:` as one rule-language string"
            )
        if isinstance(query, list | dict):
            raise ValueError(
                "must be one rule-language string (e.g. `query: |` and the rule on the lines "
                "below); for a list of terms use the simple form `any: [...]` beside `name:`"
            )
        return query

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, channels: list[str]) -> list[str]:
        for channel in channels:
            if not re.fullmatch(r"#?[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{6,}", channel):
                raise ValueError(f"not a Slack channel name or id: {channel!r}")
        return channels

    @model_validator(mode="after")
    def _one_rule_form(self) -> _TopicModel:
        simple = self.any is not None or self.all is not None or self.none is not None
        if self.query is None and not simple:
            raise ValueError("needs a `query`, or the simple form `any`/`all`/`none`")
        if self.query is not None and simple:
            raise ValueError("give either `query` or `any`/`all`/`none`, not both")
        if simple and not (self.any or self.all):
            raise ValueError(
                "the simple form needs `any` or `all` terms (`none` alone matches nothing)"
            )
        return self

    def query_text(self) -> str:
        if self.query is not None:
            return self.query
        return query_language.from_simple(self.any or [], self.all or [], self.none or [])


class _MainModel(_Strict):
    # mypy without the pydantic plugin cannot type a model class as a factory
    defaults: _DefaultsModel = Field(default_factory=_DefaultsModel)  # type: ignore[arg-type]
    topics: str | list[Any]
    feeds: str | list[Any] = Field(default_factory=list)


# --- YAML with line numbers ---------------------------------------------------------------------


def _read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse one YAML file into plain data plus a map from key path to 1-based line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "file not found (set NEWSBOT_CONFIG or pass --config)", file=str(path)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, text, exc) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply to read", file=str(path)) from None
    lines: dict[Loc, int] = {}
    if node is None:
        return None, lines
    _check_expanded_size(node, path)
    return _node_to_data(node, (), lines), lines


MAX_YAML_VALUES = 250_000  # 6,000 feeds with a name and an interval each are about 42,000


def _check_expanded_size(root: yaml.Node, path: Path) -> None:
    """Refuse a file whose anchors and aliases expand to more than MAX_YAML_VALUES values.

    PyYAML composes an alias as the same node object, so a "billion laughs" file is small as a
    graph and huge as data: reading it into dicts and lists (and the line map) would take
    gigabytes. The expanded size is counted on the graph, each distinct node once, before any
    expansion; the error points at the anchor that expands the most.
    """
    size: dict[int, int] = {}
    uses: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            continue
        uses[key] = uses.get(key, 0) + 1
        if uses[key] > 1:
            continue  # an alias: counted from the node's size, not walked again
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))
    if size[id(root)] <= MAX_YAML_VALUES:
        return
    nodes = {id(node): node for node in _all_nodes(root)}
    worst = max((key for key in nodes if uses[key] > 1), key=lambda key: size[key] * uses[key])
    raise ConfigError(
        f"anchors and aliases expand this file to more than {MAX_YAML_VALUES:,} values "
        f"(the anchor on this line is repeated by {uses[worst] - 1:,} aliases): write the values "
        "out, or use fewer aliases",
        file=str(path),
        line=nodes[worst].start_mark.line + 1,
    )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _all_nodes(root: yaml.Node) -> list[yaml.Node]:
    """Each distinct node of the graph once."""
    seen: set[int] = set()
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            found.append(node)
            stack.extend(_children(node))
    return found


_YAML_HINTS = (  # PyYAML's words -> what to change
    ("expected ',' or ']'", "a `,` or the closing `]` is missing after the last item here"),
    ("expected ',' or '}'", "a `,` or the closing `}` is missing after the last item here"),
    ("could not find expected ':'", "a key without its `:` (write `key: value`)"),
    ("quoted scalar", "a quote opened here is never closed"),
    ("expected <block end>", "this line's indentation does not match the lines above it"),
    ("mapping values are not allowed", "a `: ` inside a value: put the value in quotes"),
)


def _yaml_error(path: Path, text: str, exc: yaml.YAMLError) -> ConfigError:
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    line = _yaml_error_line(text, exc)
    hint = next((text for clue, text in _YAML_HINTS if clue in f"{problem} {context}"), "")
    message = f"YAML syntax error: {hint} (YAML says: {problem})" if hint else problem
    if not hint:
        message = f"YAML syntax error: {problem}"
        if context and context_mark is not None and context_mark.line + 1 != line:
            message += f" ({context} that starts on line {context_mark.line + 1})"
    return ConfigError(message, file=str(path), line=line)


def _yaml_error_line(text: str, exc: yaml.YAMLError) -> int | None:
    """The line the admin must fix, which is not always where PyYAML noticed the problem.

    A token that cannot go on (an unclosed quote, a key without its colon) is reported at the
    line where it starts. Inside [...] or {...} line breaks mean nothing, so a missing `,` or `]`
    is noticed at the next token, often one line late: we point after the last thing written.
    """
    mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    context = getattr(exc, "context", None) or ""
    if mark is None:
        return None
    if isinstance(exc, yaml.scanner.ScannerError) and context_mark is not None:
        return int(context_mark.line) + 1
    if isinstance(exc, yaml.parser.ParserError) and "flow" in context:
        return _last_token_line(text, mark.index) or int(mark.line) + 1
    return int(mark.line) + 1


def _last_token_line(text: str, index: int) -> int | None:
    """The 1-based line where the last YAML token before `index` starts (comments skipped)."""
    last = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= index:
                break
            last = token
    except yaml.YAMLError:
        pass
    return int(last.start_mark.line) + 1 if last is not None else None


def _node_to_data(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            result[key] = _node_to_data(value_node, (*loc, key), lines)
            lines[(*loc, key)] = key_node.start_mark.line + 1  # point at the key, not its value
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_node_to_data(item, (*loc, index), lines) for index, item in enumerate(node.value)]
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        lines[(*loc, "__block__")] = 1  # block scalars start on the line after the key
    return yaml.SafeLoader("").construct_object(node)


# --- where an error is: file, line, and a key path that names topics and feeds ------------------


@dataclass(frozen=True, slots=True)
class _Source:
    """One section's data and where it came from, to word its errors `file:line key.path`.

    `prefix` is the section's place in its file's line map (("topics",) when given inline, ()
    when in a file of its own); `label` is its key path as shown (always ("topics",)); `names`
    maps a list item's shown path to its name, so paths read `topics[facial-recognition-policy]`.
    """

    file: Path
    lines: dict[Loc, int]
    prefix: Loc = ()
    label: Loc = ()
    names: dict[Loc, str] = field(default_factory=dict)

    def line(self, loc: Loc) -> int | None:
        return _line_for((*self.prefix, *loc), self.lines)

    def path(self, loc: Loc) -> str:
        return _render_loc((*self.label, *loc), self.names)

    def error(self, message: str, loc: Loc) -> ConfigError:
        return ConfigError(message, file=str(self.file), line=self.line(loc), path=self.path(loc))


def _names(data: Any, loc: Loc = ()) -> dict[Loc, str]:
    """Every list item that has a `name:`, by its key path (topics, and feeds that are named)."""
    names: dict[Loc, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            names.update(_names(value, (*loc, key)))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name.strip():
                names[(*loc, index)] = name.strip()
            names.update(_names(item, (*loc, index)))
    return names


def _render_loc(loc: Loc, names: dict[Loc, str] | None = None) -> str:
    text = ""
    for end, part in enumerate(loc, start=1):
        if isinstance(part, int):
            text += f"[{(names or {}).get(loc[:end], part)}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _describe(error: ErrorDetails, model: Any) -> str:
    """pydantic's error, reworded for admins and always showing the value we got."""
    kind, ctx, got = error["type"], error.get("ctx") or {}, error.get("input")
    bounds = {
        "greater_than_equal": ">=",
        "less_than_equal": "<=",
        "greater_than": ">",
        "less_than": "<",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {limit}, got {got!r}"
    if kind == "too_short":
        return f"must not be empty, got {got!r}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"], model)
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"{error['msg'].lower()}, got {got!r}"


def _unknown_key(loc: tuple[str | int, ...], model: Any) -> str:
    key = str(loc[-1]) if loc else ""
    known = _keys_at(model, loc[:-1])
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key `{key}`: did you mean `{close[0]}`?"
    if known:
        return f"unknown key `{key}` (known here: {', '.join(f'`{k}`' for k in known)})"
    return f"unknown key `{key}` (check the spelling)"


def _keys_at(model: Any, loc: tuple[str | int, ...]) -> list[str]:
    """The keys the schema allows at `loc` (a path into `model`), for spelling suggestions."""
    current = _model_in(model)
    for part in loc:
        if current is None:
            return []
        if isinstance(part, str):
            found = current.model_fields.get(part)
            current = _model_in(found.annotation) if found is not None else None
    return list(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a type such as `list[_TopicModel]` or `_ClusterModel | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.GenericAlias | types.UnionType) or typing.get_origin(
        annotation
    ):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _validate(model: Any, data: Any, source: _Source) -> Any:
    from pydantic import TypeAdapter

    adapter = TypeAdapter(model)
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        details = []
        for error in exc.errors():
            error["loc"] = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
            details.append(error)
        misspelt = _misspelt_keys(details, model)
        errors = [
            source.error(_describe(error, model), error["loc"])
            for error in details
            if not (error["type"] == "missing" and error["loc"] in misspelt)
        ]
        raise ConfigErrors(errors) from None


def _misspelt_keys(details: list[ErrorDetails], model: Any) -> set[tuple[str | int, ...]]:
    """Required keys that are only "missing" because they were misspelt (`chanels:`): the
    did-you-mean error says it all, so the "is required" one is left out."""
    found = set()
    for error in details:
        if error["type"] != "extra_forbidden" or not error["loc"]:
            continue
        loc = error["loc"]
        known = _keys_at(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        if close:
            found.add((*loc[:-1], close[0]))
    return found


# --- sections ------------------------------------------------------------------------------------


def _section(value: Any, main: _Source, name: str, files: list[Path]) -> tuple[Any, _Source]:
    """A section given inline, or as the name of a YAML file beside the main file."""
    if not isinstance(value, str):
        return value, _Source(main.file, main.lines, (name,), (name,), _names(value, (name,)))
    path = Path(value) if Path(value).is_absolute() else (main.file.parent / value).resolve()
    files.append(path)
    if not path.exists():
        raise main.error(
            f"names the file {value!r}, which does not exist ({path}): create it, or fix the "
            f"name, or give the {name} as a list here",
            (name,),
        )
    data, lines = _read_yaml(path)
    data = data if data is not None else []
    return data, _Source(path, lines, (), (name,), _names(data, (name,)))


def _topics(
    models: list[_TopicModel], source: _Source, warnings: list[str], timezone: str
) -> list[Topic]:
    topics, errors, seen = [], [], set()
    for index, model in enumerate(models):
        if model.name in seen:
            errors.append(source.error(f"duplicate topic name {model.name!r}", (index, "name")))
        seen.add(model.name)
        text = model.query_text()
        try:
            concepts = query_language.parse_concepts(model.concepts)
        except query_language.ConceptError as exc:
            concept_text = model.concepts.get(exc.concept, "")
            loc: Loc = (index, "concepts", exc.concept)
            errors.append(_query_error(exc, concept_text, source, loc, False))
            continue
        try:
            root = query_language.parse(text, concepts)
        except QuerySyntaxError as exc:
            errors.append(_query_error(exc, text, source, (index, "query"), model.query is None))
            continue
        _warn_short_fuzzy(root, text, source, (index, "query"), warnings)
        for name, node in concepts.items():
            _warn_short_fuzzy(
                node, model.concepts[name], source, (index, "concepts", name), warnings
            )
        stage = None
        if model.meaning is not None:
            try:
                stage = _meaning_stage(model.meaning, source.file, concepts)
            except (MeaningModelError, ValueError) as exc:
                errors.append(source.error(str(exc), (index, "meaning")))
                continue
        cluster = ClusterSettings(
            model.cluster.window_hours, model.cluster.threshold, model.cluster.enabled
        )
        requires = model.meaning.requires if model.meaning else "tech"
        topics.append(
            Topic(
                model.name,
                tuple(model.channels),
                text,
                model.threshold,
                cluster,
                tuple(model.concepts.items()),
                stage,
                requires,
                timezone=model.timezone or timezone,
                delivery=model.delivery,
                digest=_schedule(model, model.timezone or timezone),
            )
        )
    if errors:
        raise ConfigErrors(errors)
    return topics


def _warn_short_fuzzy(
    node: query_language.Node, text: str, source: _Source, loc: Loc, warnings: list[str]
) -> None:
    """`check` says where `~` is written on a word too short to take a typing error."""
    for term in query_language.short_fuzzy_terms(node):
        line = source.line(loc)
        found = text.find(term.raw)
        if line is not None and found >= 0:
            block = 1 if (*source.prefix, *loc, "__block__") in source.lines else 0
            line += text.count("\n", 0, found) + block
        place = f"{source.file}:{line}" if line is not None else str(source.file)
        message = (
            f"{place} {source.path(loc)}: `{term.raw}`: words under "
            f"{query_language.MIN_FUZZY_LEN} letters take no typing errors, so `~` has no "
            f"effect (write `{term.word}` for its forms, `{term.word}~0` for the word alone)"
        )
        if message not in warnings:
            warnings.append(message)


def _meaning_stage(settings: _MeaningModel, file: Path, concepts: dict[str, Any]) -> MeaningModel:
    """The topic's meaning model, loaded from its JSON file, with the topic's overrides."""
    if settings.requires not in concepts:
        raise ValueError(f"meaning.requires names no concept of this topic: {settings.requires!r}")
    path = Path(settings.model)
    model = load_model(path if path.is_absolute() else file.parent / path)
    return replace(
        model,
        veto_below=model.veto_below if settings.veto_below is None else settings.veto_below,
        rescue_above=model.rescue_above if settings.rescue_above is None else settings.rescue_above,
    )


def _schedule(model: _TopicModel, zone: str) -> DigestSchedule | None:
    """A digest topic's schedule: its own settings, else every day at 08:00, in `zone` (the
    topic's time zone) unless it names its own."""
    if model.delivery != DIGEST:
        return None
    return (model.digest or _DigestModel()).schedule(zone)


def _query_error(
    exc: QuerySyntaxError, text: str, source: _Source, loc: Loc, simple: bool
) -> ConfigError:
    """Point at the line inside a multi-line query, and at the column, under a caret."""
    if simple:
        snippet = text[max(0, exc.position - 20) : exc.position + 20].replace("\n", " ")
        return source.error(
            f"query syntax error in the any/all/none terms: {exc.message} (near {snippet!r})",
            loc[:-1],
        )
    position = min(exc.position, len(text.rstrip()))  # "ends where..." points at the last line
    row = text.count("\n", 0, position)
    column = position - (text.rfind("\n", 0, position) + 1)
    query_line = [*text.split("\n"), ""][row]
    line = source.line(loc)
    if line is not None:
        line += row + (1 if (*source.prefix, *loc, "__block__") in source.lines else 0)
    shown, column = _in_file(source.file, line, query_line, column)
    excerpt = f"    {shown.rstrip()}\n    {' ' * column}^"
    message = f"query syntax error at column {column + 1}: {exc.message}"
    if exc.message == "unterminated quote":
        message += " (quotes pair up in order: an earlier phrase may lack its closing quote)"
    error = source.error(message, loc)
    return ConfigError(f"{error.message}\n{excerpt}", file=error.file, line=line, path=error.path)


def _in_file(file: Path, line: int | None, query_line: str, column: int) -> tuple[str, int]:
    """The file's own line (with its indentation) and the column in it, when it can be found."""
    try:
        file_lines = file.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        return query_line, column
    if line is None or not 0 < line <= len(file_lines) or not query_line.strip():
        return query_line, column
    found = file_lines[line - 1].find(query_line)
    if found < 0:
        return query_line, column
    return file_lines[line - 1], found + column


def _feeds(
    models: list[_FeedModel], source: _Source, defaults: Defaults, topic_names: set[str] | None
) -> list[FeedSpec]:
    """The feeds; `topic_names` None when the topics did not load (no follow-on errors then)."""
    feeds, errors, seen = [], [], set()
    for index, model in enumerate(models):
        for unknown in sorted(set(model.topics) - (topic_names or set(model.topics))):
            known = sorted(topic_names or ())
            close = difflib.get_close_matches(unknown, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {known}"
            errors.append(source.error(f"unknown topic {unknown!r} ({hint})", (index, "topics")))
        if model.url in seen:
            shown = redact_url(model.url)
            errors.append(source.error(f"duplicate feed {shown!r}", (index, "url")))
        seen.add(model.url)
        feeds.append(
            FeedSpec(
                model.url,
                model.name,
                model.interval or defaults.interval,
                tuple(model.topics),
                model.backfill_hours,
                model.max_alerts_per_poll,
            )
        )
    if errors:
        raise ConfigErrors(errors)
    return feeds


def load_config(path: Path) -> Config:
    """Read, validate and freeze the configuration; raise ConfigErrors naming every problem."""
    path = Path(path)
    data, lines = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigErrors(
            [ConfigError("must be a mapping with `topics` and `feeds`", file=str(path), line=1)]
        )
    errors: list[ConfigError] = []
    warnings: list[str] = []
    source = _Source(path, lines, names=_names(data))
    main = _collect(errors, lambda: _validate(_MainModel, data, source))
    if main is None:
        raise ConfigErrors(errors)
    defaults = Defaults(**main.defaults.model_dump())
    files: list[Path] = [path]
    loaded = _collect(
        errors, lambda: _load_topics(main.topics, source, files, warnings, defaults.timezone)
    )
    topics = loaded or []
    names = {topic.name for topic in topics} if loaded is not None else None
    feeds = _collect(errors, lambda: _load_feeds(main.feeds, source, files, defaults, names)) or []
    if errors:
        raise ConfigErrors(errors)
    return Config(path, defaults, tuple(topics), tuple(feeds), tuple(files), tuple(warnings))


def _collect(errors: list[ConfigError], step: Callable[[], T]) -> T | None:
    """Run one validation step, keeping its errors so the admin sees them all at once."""
    try:
        return step()
    except ConfigErrors as exc:
        errors.extend(exc.errors)
    except ConfigError as exc:
        errors.append(exc)
    return None


def load_topics(path: Path) -> tuple[Topic, ...]:
    """The topics of one YAML list file, validated exactly as `load_config` validates them."""
    path = Path(path).resolve()
    return tuple(_load_topics(str(path), _Source(path, {}), [], [], Defaults().timezone))


def _load_topics(
    value: Any, main: _Source, files: list[Path], warnings: list[str], timezone: str
) -> list[Topic]:
    data, source = _section(value, main, "topics", files)
    models = _validate(list[_TopicModel], data, source)
    if not models:
        raise source.error("at least one topic is required", ())
    return _topics(models, source, warnings, timezone)


def _load_feeds(
    value: Any, main: _Source, files: list[Path], defaults: Defaults, topic_names: set[str] | None
) -> list[FeedSpec]:
    data, source = _section(value, main, "feeds", files)
    models = _validate(list[_FeedModel], data, source)
    return _feeds(models, source, defaults, topic_names)


# --- feed lists brought from a reader (`run --feeds FILE`) ---------------------------------------


def load_feed_list(path: Path, defaults: Defaults) -> list[FeedSpec]:
    """An OPML export (outline elements with xmlUrl) or a text file of URLs, one a line."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the feed list: {exc.strerror}", file=str(path)) from None
    if raw.lstrip().startswith(b"<"):
        return _opml_feeds(raw, Path(path), defaults)
    feeds = []
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue  # blank lines and comments
        url = words[0]
        if not is_http_url(url):
            raise ConfigError(
                f"not an http(s) URL: {redact_url(url)!r}", file=str(path), line=number
            )
        feeds.append(FeedSpec(url, None, defaults.interval))
    return _unique(feeds)


def _opml_feeds(raw: bytes, path: Path, defaults: Defaults) -> list[FeedSpec]:
    if b"<!ENTITY" in raw or b"<!DOCTYPE" in raw:
        raise ConfigError("OPML with a DOCTYPE/ENTITY declaration is refused", file=str(path))
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise ConfigError(f"not valid OPML: {exc}", file=str(path), line=exc.position[0]) from None
    feeds = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if not url:
            continue
        if not is_http_url(url):
            raise ConfigError(f"not an http(s) feed URL: {redact_url(url)!r}", file=str(path))
        name = outline.get("title") or outline.get("text")
        feeds.append(FeedSpec(url, name, defaults.interval))
    if not feeds:
        raise ConfigError("no <outline xmlUrl=...> feeds found", file=str(path))
    return _unique(feeds)


def _unique(feeds: list[FeedSpec]) -> list[FeedSpec]:
    return list({feed.url: feed for feed in feeds}.values())
