"""One delivering process per SQLite state file: an OS lock on a file beside it.

Contract: `InstanceLock.take(db_path, role)` takes an exclusive `flock(2)` on `<db>.lock` without
waiting, and writes the holder (pid, host, role, since) into that file as text. While it is held,
a second `take` on the same state file raises `InstanceBusy` naming the holder: two processes
delivering one outbox would post the same alert twice. The kernel releases the lock when its
process exits, however it exits (SIGKILL included), so a dead holder never blocks the next start;
the text it left is only read to name a holder that still has the lock. The lock file is never
removed (removing it would let a third process lock a new file while the second waits on the
old one).

Out of scope: network filesystems (NFS, SMB), whose `flock` may be local to one machine or
missing; the README says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import StoreError

SERVICE, ONCE, DIGEST = "service", "run --once", "digest"


class InstanceBusy(StoreError):
    """Another newsbot delivers from this state file; the message names it and what to do."""


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    host: str
    role: str
    since: str  # ISO 8601, UTC

    def text(self) -> str:
        return f"pid={self.pid}\nhost={self.host}\nrole={self.role}\nsince={self.since}\n"

    @staticmethod
    def parse(text: str) -> Holder | None:
        fields = dict(line.partition("=")[::2] for line in text.splitlines())
        try:
            return Holder(int(fields["pid"]), fields["host"], fields["role"], fields["since"])
        except (KeyError, ValueError):
            return None

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}, {self.role} since {self.since}"


def lock_path(db_path: str) -> Path:
    return Path(f"{db_path}.lock")


class InstanceLock:
    """A held instance lock; `release` (or process exit) gives it up."""

    def __init__(self, fd: int, path: Path, holder: Holder) -> None:
        self._fd = fd
        self.path = path
        self.holder = holder

    @classmethod
    def take(cls, db_path: str, role: str) -> InstanceLock:
        path = lock_path(db_path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(
                f"{path}: cannot open the instance lock file: {exc.strerror}. "
                "Make the state directory writable, or set NEWSBOT_DB to another path."
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise InstanceBusy(_busy_message(db_path, role, holder)) from None
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"{path}: cannot lock: {exc.strerror}") from None
        holder = Holder(os.getpid(), socket.gethostname(), role, _now())
        data = holder.text().encode()
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        return cls(fd, path, holder)

    def release(self) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # a reader must not name a holder that has gone
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_holder(fd: int) -> Holder | None:
    try:
        return Holder.parse(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
    except OSError:
        return None


def _busy_message(db_path: str, role: str, holder: Holder | None) -> str:
    who = holder.describe() if holder else "a process that has not written its details yet"
    head = f"state database {db_path} is in use by another newsbot ({who})"
    if role == SERVICE:
        fix = (
            "a second service on one state file would post alerts twice: stop the other one "
            "first, or give this one its own NEWSBOT_DB"
        )
    elif holder is not None and holder.role == SERVICE:
        does = "cuts and posts digests" if role == DIGEST else "polls and delivers"
        fix = (
            f"`newsbot {role}` refused: the running service {does} on its schedule; "
            "stop it first to run this by hand"
        )
    else:
        fix = f"`newsbot {role}` refused so nothing is posted twice; try again when it has ended"
    return f"{head}: {fix}"
