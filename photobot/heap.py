"""glibc heap tuning, so memory freed after a large buffer (a download, an image) goes back to the system.

glibc serves an allocation above its mmap threshold with its own mapping, unmapped on free; but the
threshold rises to the size of each such block freed (up to 32 MB), after which 16 MB downloads
and decoded images come from the heap and stay in the process's resident size long after. Fixing
the threshold keeps large buffers mapped, and `trim` hands back what the heap holds free. Both are
no-ops where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

M_MMAP_THRESHOLD = -3
LARGE_BUFFER_BYTES = 1 << 20


@functools.cache
def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def return_large_buffers(threshold: int = LARGE_BUFFER_BYTES) -> bool:
    """Allocations of `threshold` bytes or more get their own mapping, given back when freed."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(M_MMAP_THRESHOLD, threshold))


def trim() -> None:
    """Give the heap's free memory back to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
