"""Imports point one way: down the README's map (`cli` -> `service` -> `slack` -> `alerts` ->
`state` -> `matching` -> `feeds` -> the shared top-level modules).

Every module's imports are read with `ast`, those inside functions included. An import that
points up a layer fails this test, naming the module and line. The few known exceptions are
listed here by name, and the test also fails when one of them is gone, so the list stays true.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "bot"
LAYERS = ["cli", "service", "slack", "alerts", "state", "matching", "feeds"]  # top first

# (module, imported module): still pointing up; each is debt, with why it is still there.
# None left: the outbox reports through its own DeliveryReport protocol and classifies with
# bot.errors.classify; the clustering index declares the reads it needs (Reports).
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def upward_imports() -> set[tuple[str, str, int]]:
    rank = {name: index for index, name in enumerate(LAYERS)}
    found = set()
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent)
        parts = relative.parts
        if len(parts) < 3 or parts[1] not in rank:
            continue  # a shared top-level module: checked below
        own = rank[parts[1]]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            for module in modules:
                pieces = module.split(".")
                upward = len(pieces) > 1 and pieces[1] in rank and rank[pieces[1]] < own
                if pieces[0] == "bot" and upward:
                    found.add((relative.as_posix(), module, node.lineno))
    return found


def test_imports_point_down_the_layers() -> None:
    found = upward_imports()
    unexpected = sorted(
        (path, module, line)
        for path, module, line in found
        if (path, module) not in KNOWN_EXCEPTIONS
    )
    assert unexpected == [], "\n".join(
        f"{p}:{line} imports {m}, a layer up" for p, m, line in unexpected
    )


def test_the_known_exceptions_are_still_real() -> None:
    still = {(path, module) for path, module, _ in upward_imports()}
    assert still >= KNOWN_EXCEPTIONS, sorted(KNOWN_EXCEPTIONS - still)


def test_shared_modules_import_no_stage_except_what_config_compiles() -> None:
    """models, errors, settings and logs sit under every stage; config compiles the topics with
    the matching package's query language and meaning model, and reads alert policy values; logs
    and errors redact URLs with the feeds' one rule;
    `python -m bot` is the command line."""
    allowed = {
        "config.py": {"alerts", "feeds", "matching"},
        "logs.py": {"feeds"},  # log lines show feed URLs redacted by the one rule, feeds.urls
        "errors.py": {"feeds"},  # so do error messages
        "settings.py": {"state"},  # NEWSBOT_DB is read with the state's one rule (path or URL)
        "models.py": {"matching"},  # a Topic's meaning model: a type-checking import only
        "__main__.py": {"cli"},
    }
    for path in sorted(ROOT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot."):
                stage = node.module.split(".")[1]
                if stage in LAYERS:
                    assert stage in allowed.get(path.name, set()), f"{path.name}: {node.module}"
