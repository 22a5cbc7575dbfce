"""Load and validate the admin's configuration (YAML), once, at the edge.

`load_config(path)` returns a frozen `Config` or raises `ConfigErrors` listing every problem as
`file:line key.path: what is wrong`. The main file holds `defaults`, `topics` and `feeds`;
`topics` and `feeds` may instead name a YAML file beside it, so admins can keep long keyword
rules apart from the feed list. YAML was chosen over TOML because the rule queries are long,
multi-line strings that read naturally as YAML block scalars, and because YAML keeps line numbers
we can point admins at.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from bot import query as query_language
from bot.errors import ConfigError, ConfigErrors, QuerySyntaxError
from bot.models import ClusterSettings, FeedSpec, Topic

Loc = tuple[str | int, ...]
T = TypeVar("T")

_HTTP_URL = re.compile(r"^https?://[^/\s]+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Defaults:
    interval: int = 300
    jitter: int = 30
    backfill_hours: float = 0.0
    retention_days: float = 30.0
    max_feed_bytes: int = 10 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    defaults: Defaults
    topics: tuple[Topic, ...]
    feeds: tuple[FeedSpec, ...]
    files: tuple[Path, ...]  # every file read, so a reload can watch them all

    def topics_for(self, feed: FeedSpec) -> tuple[Topic, ...]:
        if not feed.topics:
            return self.topics
        return tuple(topic for topic in self.topics if topic.name in feed.topics)

    def with_feeds(self, feeds: list[FeedSpec]) -> Config:
        """The same config polling another feed list (`run --feeds FILE`)."""
        return Config(self.path, self.defaults, self.topics, tuple(feeds), self.files)


# --- schema (pydantic, at the edge only) -------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class _DefaultsModel(_Strict):
    interval: int = Field(300, ge=10, le=86400)
    jitter: int = Field(30, ge=0, le=3600)
    backfill_hours: float = Field(0.0, ge=0)
    retention_days: float = Field(30.0, gt=0)
    max_feed_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    connect_timeout: float = Field(10.0, gt=0, le=120)
    read_timeout: float = Field(30.0, gt=0, le=600)


class _FeedModel(_Strict):
    url: str
    name: str | None = None
    interval: int | None = Field(None, ge=10, le=86400)
    topics: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        url = url.strip()
        if not _HTTP_URL.match(url):
            raise ValueError(f"must be an http(s) URL, got {url!r}")
        return url


class _ClusterModel(_Strict):
    window_hours: float = Field(72.0, gt=0, le=24 * 60)
    threshold: float = Field(0.0, ge=0, le=100)
    enabled: bool = True


class _TopicModel(_Strict):
    name: str = Field(min_length=1, max_length=80)
    channels: list[str] = Field(min_length=1)
    threshold: float = Field(50.0, ge=0, le=100)
    query: str | None = None
    any: list[str] | None = None
    all: list[list[str]] | None = None
    none: list[str] | None = None
    # mypy without the pydantic plugin cannot type a model class as a factory
    cluster: _ClusterModel = Field(default_factory=_ClusterModel)  # type: ignore[arg-type]

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
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"YAML syntax error: {problem}", file=str(path), line=line) from None
    lines: dict[Loc, int] = {}
    if node is None:
        return None, lines
    return _node_to_data(node, (), lines), lines


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


def _render_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _describe(error: ErrorDetails) -> str:
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
        return "unknown key (check the spelling)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"{error['msg'].lower()}, got {got!r}"


def _validate(model: Any, data: Any, *, file: Path, lines: dict[Loc, int], prefix: Loc) -> Any:
    from pydantic import TypeAdapter

    adapter = TypeAdapter(model)
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
            errors.append(
                ConfigError(
                    _describe(error),
                    file=str(file),
                    line=_line_for((*prefix, *loc), lines),
                    path=_render_loc((*prefix, *loc)),
                )
            )
        raise ConfigErrors(errors) from None


# --- sections ------------------------------------------------------------------------------------


def _section(
    value: Any, base: Path, name: str, files: list[Path]
) -> tuple[Any, Path, dict[Loc, int], Loc]:
    """A section given inline, or as the name of a YAML file beside the main file."""
    if isinstance(value, str):
        path = (base.parent / value).resolve() if not Path(value).is_absolute() else Path(value)
        files.append(path)
        data, lines = _read_yaml(path)
        return (data if data is not None else []), path, lines, ()
    return value, base, {}, (name,)


def _topics(
    models: list[_TopicModel], file: Path, lines: dict[Loc, int], prefix: Loc
) -> list[Topic]:
    topics, errors, seen = [], [], set()
    for index, model in enumerate(models):
        loc: Loc = (*prefix, index)
        if model.name in seen:
            errors.append(
                ConfigError(
                    f"duplicate topic name {model.name!r}",
                    file=str(file),
                    line=_line_for((*loc, "name"), lines),
                    path=_render_loc((*loc, "name")),
                )
            )
        seen.add(model.name)
        text = model.query_text()
        try:
            query_language.parse(text)
        except QuerySyntaxError as exc:
            errors.append(
                _query_error(exc, text, file, lines, (*loc, "query"), model.query is None)
            )
            continue
        cluster = ClusterSettings(
            model.cluster.window_hours, model.cluster.threshold, model.cluster.enabled
        )
        topics.append(Topic(model.name, tuple(model.channels), text, model.threshold, cluster))
    if errors:
        raise ConfigErrors(errors)
    return topics


def _query_error(
    exc: QuerySyntaxError, text: str, file: Path, lines: dict[Loc, int], loc: Loc, simple: bool
) -> ConfigError:
    line = _line_for(loc, lines)
    position = min(exc.position, len(text.rstrip()))  # "ends where..." points at the last line
    if line is not None and not simple:
        line += text[:position].count("\n") + (1 if (*loc, "__block__") in lines else 0)
    snippet = text[max(0, exc.position - 20) : exc.position + 20].replace("\n", " ")
    where = "the any/all/none terms" if simple else f"position {exc.position}"
    return ConfigError(
        f"query syntax error at {where}: {exc.message} (near {snippet!r})",
        file=str(file),
        line=line,
        path=_render_loc(loc),
    )


def _feeds(
    models: list[_FeedModel],
    file: Path,
    lines: dict[Loc, int],
    prefix: Loc,
    defaults: Defaults,
    topic_names: set[str],
) -> list[FeedSpec]:
    feeds, errors, seen = [], [], set()
    for index, model in enumerate(models):
        loc: Loc = (*prefix, index)
        for unknown in sorted(set(model.topics) - topic_names):
            errors.append(
                ConfigError(
                    f"unknown topic {unknown!r} (known: {sorted(topic_names)})",
                    file=str(file),
                    line=_line_for((*loc, "topics"), lines),
                    path=_render_loc((*loc, "topics")),
                )
            )
        if model.url in seen:
            errors.append(
                ConfigError(
                    f"duplicate feed {model.url!r}",
                    file=str(file),
                    line=_line_for((*loc, "url"), lines),
                    path=_render_loc((*loc, "url")),
                )
            )
        seen.add(model.url)
        feeds.append(
            FeedSpec(
                model.url, model.name, model.interval or defaults.interval, tuple(model.topics)
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
    main = _collect(errors, lambda: _validate(_MainModel, data, file=path, lines=lines, prefix=()))
    if main is None:
        raise ConfigErrors(errors)
    defaults = Defaults(**main.defaults.model_dump())
    files: list[Path] = [path]
    topics = _collect(errors, lambda: _load_topics(main.topics, path, lines, files)) or []
    names = {topic.name for topic in topics}
    feeds = (
        _collect(errors, lambda: _load_feeds(main.feeds, path, lines, files, defaults, names)) or []
    )
    if errors:
        raise ConfigErrors(errors)
    return Config(path, defaults, tuple(topics), tuple(feeds), tuple(files))


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
    return tuple(_load_topics(str(path), path, {}, []))


def _load_topics(value: Any, path: Path, lines: dict[Loc, int], files: list[Path]) -> list[Topic]:
    data, file, section_lines, prefix = _section(value, path, "topics", files)
    section_lines = lines if prefix else section_lines
    models = _validate(list[_TopicModel], data, file=file, lines=section_lines, prefix=prefix)
    if not models:
        raise ConfigError("at least one topic is required", file=str(file), path="topics")
    return _topics(models, file, section_lines, prefix)


def _load_feeds(
    value: Any,
    path: Path,
    lines: dict[Loc, int],
    files: list[Path],
    defaults: Defaults,
    topic_names: set[str],
) -> list[FeedSpec]:
    data, file, section_lines, prefix = _section(value, path, "feeds", files)
    section_lines = lines if prefix else section_lines
    models = _validate(list[_FeedModel], data, file=file, lines=section_lines, prefix=prefix)
    return _feeds(models, file, section_lines, prefix, defaults, topic_names)


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
        if not _HTTP_URL.match(url):
            raise ConfigError(f"not an http(s) URL: {url!r}", file=str(path), line=number)
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
        if not _HTTP_URL.match(url):
            raise ConfigError(f"not an http(s) feed URL: {url!r}", file=str(path))
        name = outline.get("title") or outline.get("text")
        feeds.append(FeedSpec(url, name, defaults.interval))
    if not feeds:
        raise ConfigError("no <outline xmlUrl=...> feeds found", file=str(path))
    return _unique(feeds)


def _unique(feeds: list[FeedSpec]) -> list[FeedSpec]:
    return list({feed.url: feed for feed in feeds}.values())
