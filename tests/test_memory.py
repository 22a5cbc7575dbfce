"""glibc's malloc keeps a poll's read buffers out of its heaps in the service
(bot/service/memory.py).

Each probe is a fresh interpreter: the setting is process-wide and cannot be read back, so what
is checked is malloc's behaviour. A 4 MiB block is mapped and freed, which by default raises
glibc's threshold to 4 MiB; then 32 blocks of the size a `recv(65536)` asks for (64 KiB and
Python's bytes header) are allocated, and the probe prints how many of them malloc mapped on
their own (`mallinfo2().hblks`). By default none is. With the setting, malloc maps those it
cannot serve from the free space its heaps already have (a few at most, from the top of a heap,
which glibc trims to under 128 KiB).
"""

from __future__ import annotations

import ctypes
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux"
    or not hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    or not hasattr(ctypes.CDLL(None), "mallinfo2"),
    reason="glibc 2.33+ only",
)

PROBE = """
import ctypes, sys
from pathlib import Path

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

how = sys.argv[1]
if how == "setting":
    from bot.service.memory import keep_large_blocks_out_of_heaps
    assert keep_large_blocks_out_of_heaps()
elif how == "service":
    from bot.config import load_config
    from bot.service.wiring import build_service
    from bot.settings import Settings
    folder = Path(sys.argv[2])
    settings = Settings(config_path=folder / "newsbot.yaml", db_path=folder / "state.db")
    build_service(settings, load_config(Path(sys.argv[3]))).rt.store.close()

libc.free(libc.malloc(4 * 2**20))
before = libc.mallinfo2().hblks
blocks = [libc.malloc(65536 + 33) for _ in range(32)]
print(libc.mallinfo2().hblks - before)
"""


def _mapped(*args: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_by_default_a_freed_large_block_pulls_smaller_ones_into_the_heap() -> None:
    assert _mapped("none") == 0  # the control: what the setting is there to change


def test_with_the_setting_large_blocks_keep_their_own_mapping() -> None:
    assert _mapped("setting") >= 28


def test_the_service_is_built_with_the_setting(tmp_path: Path) -> None:
    assert _mapped("service", str(tmp_path), str(ROOT / "config" / "newsbot.yaml")) >= 28
