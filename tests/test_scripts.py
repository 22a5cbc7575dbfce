"""scripts/run skips the install when nothing changed (a stamp of pyproject.toml and
requirements.lock), so a second start is quick and prints no pip output."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from tests.helpers import ROOT


def fake_checkout(tmp_path: Path, stamp: str) -> Path:
    """The scripts and the two stamped files, with a .venv whose `newsbot` echoes its arguments."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "run", repo / "scripts" / "run")
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / name, repo / name)
    newsbot = repo / ".venv" / "bin" / "newsbot"
    newsbot.parent.mkdir(parents=True)
    newsbot.write_text('#!/bin/sh\necho "newsbot ran with: $*"\n', encoding="utf-8")
    newsbot.chmod(0o755)
    (repo / ".venv" / ".newsbot-run-stamp").write_text(stamp + "\n", encoding="utf-8")
    return repo


def test_an_unchanged_install_is_skipped(tmp_path: Path) -> None:
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (ROOT / "requirements.lock").read_bytes()
    ).hexdigest()
    repo = fake_checkout(tmp_path, digest)
    result = subprocess.run(
        ["bash", str(repo / "scripts" / "run"), "--once", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "newsbot ran with: run --once --dry-run\n"
    assert result.stderr == ""  # no install, no pip output


def test_scripts_run_installs_from_the_lock_like_the_image() -> None:
    script = (ROOT / "scripts" / "run").read_text(encoding="utf-8")
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes --no-deps -r requirements.lock" in script
    assert "--require-hashes --no-deps -r requirements.lock" in dockerfile
