"""A real PostgreSQL server for the tests: `initdb` and `pg_ctl` in a temporary directory,
listening on a free 127.0.0.1 port, never a mock.

- The server binaries are found on PATH, else in /usr/lib/postgresql/<version>/bin (Debian's
  `postgresql` package; `.ci/run` installs it when missing).
- `initdb` refuses to run as root: as root the server runs as the `postgres` user (or `nobody`)
  through `runuser`, in a directory handed to that user.
- One server per test session (fixture `pg_server`); each test gets a database of its own
  (fixture `pg_url`, a `postgresql://` URL), so tests never see each other's rows.
- No binaries: tests that need PostgreSQL are skipped, saying why; with
  NEWSBOT_REQUIRE_POSTGRES=1 (set by `.ci/run`) that is a failure instead.

Run by hand (prints the URL; Ctrl-C stops and removes it):
    python -m tests.pgserver
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port

REQUIRE_ENV = "NEWSBOT_REQUIRE_POSTGRES"
SERVER_USERS = ("postgres", "nobody")  # who runs the server when the tests run as root
BINARIES = ("initdb", "pg_ctl", "postgres")


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres; the newest Debian version wins."""
    on_path = [shutil.which(name) for name in BINARIES]
    if all(on_path):
        return Path(os.path.realpath(str(on_path[0]))).parent
    candidates = Path("/usr/lib/postgresql").glob("*/bin")
    for folder in sorted(candidates, key=_version_key, reverse=True):
        if all((folder / name).exists() for name in BINARIES):
            return folder
    return None


def _version_key(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", folder.parent.name)) or (0,)


def _server_user() -> str | None:
    """None when not root (the server runs as us); else the first existing unprivileged user."""
    if os.geteuid() != 0:
        return None
    for name in SERVER_USERS:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError(
        f"running as root and none of the users {', '.join(SERVER_USERS)} exists: "
        "PostgreSQL refuses to run as root; create one (useradd --system postgres)"
    )


class PgServer:
    """One PostgreSQL cluster in a temporary directory; `stop` removes it all."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="newsbot-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self._names = itertools.count(1)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=120, check=False
        )

    def start(self) -> None:
        init = self._run(
            "initdb", "-D", str(self.data), "-U", "newsbot", "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")
        self.resume()

    def resume(self) -> None:
        """Start the server (again, after `pause`) on the same port and data."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} "
            # fsync off: durable against a server crash (the OS keeps what was written), not
            # against a machine crash; commits stay synchronous, so a crash loses no commit.
            "-c fsync=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        started = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
            "start",
        )  # fmt: skip
        if started.returncode != 0:
            text = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr}{started.stdout}\n{text}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://newsbot@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().split()[0])
        return None

    def pause(self) -> None:
        """Stop the server as a crash would (no shutdown checkpoint), keeping what it committed:
        clients now find nobody listening."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        pid = self.postmaster_pid()
        if pid is not None:  # pg_ctl could not stop it: end it ourselves
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: PostgreSQL tests must run here)", pytrace=False)
    pytest.skip(f"{reason}; install Debian's postgresql package to run the PostgreSQL tests")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server for the session, removed at the end."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed")
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _unavailable("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found")
        raise AssertionError("unreachable")
    server = PgServer(bin_dir)
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"PostgreSQL did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A `postgresql://` URL of a fresh, empty database for this test."""
    return pg_server.create_database()


if __name__ == "__main__":
    folder = find_bin_dir()
    if folder is None:
        raise SystemExit("no PostgreSQL server binaries found")
    server = PgServer(folder)
    server.start()
    print(server.url(), flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
