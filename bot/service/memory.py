"""A long-running process's memory stays flat: glibc's malloc keeps a poll's read buffers out of
its heaps.

httpcore reads every response with `recv(65536)`: Python allocates 64 KiB, and then shrinks the
block to the bytes that came (a feed's 2 KB, a 304's headers). By default glibc serves such a
block from the heap of the poll thread's arena (its mmap threshold starts at 128 KiB, and rises
to the size of any larger block freed since), so each read leaves a free tail of about 62 KiB in
the middle of the heap. Longer-lived blocks settle in those tails, and the next read's 64 KiB no
longer fits between them: the heaps grow, one hole at a time, for as long as the process polls.
`python -m bench.soak` (1,000 feeds, 8 poll threads) showed it: the memory in use stayed at
16 MB while the heaps' free space grew from 2 to 7.6 MB in 90 cycles, and did not stop.

With the threshold set once, to 64 KiB, glibc maps each such buffer on its own (shrinking it is a
`mremap`, freeing it an `munmap`) and stops adjusting the threshold; the heaps hold only blocks
that fit them. Elsewhere than glibc (musl, macOS) nothing is changed.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's <malloc.h>
LARGE_BLOCK = 64 * 1024  # a 64 KiB read buffer with Python's header is above it


def keep_large_blocks_out_of_heaps() -> bool:
    """Tell glibc's malloc to map every block of LARGE_BLOCK or more on its own, for good.
    Returns whether it took the setting (False: not glibc). Idempotent."""
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols, malloc's among them
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK))
