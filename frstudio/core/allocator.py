"""Keep freed memory in the process instead of handing it back to the system after every network layer.

glibc's malloc gives blocks above a moving threshold (up to 32 MiB) their own mmap and returns freed heap tops over
128 KiB to the kernel. A network run tile by tile frees and re-allocates the same 1-30 MiB activations hundreds
of times per photo, and each time the kernel zeroes the pages again: on the 12 MP damage-detection benchmark that
was 550,000 page faults and about a quarter of the time (`benchmarks/damage.py`). Fixing both thresholds keeps
those blocks in the heap for reuse. Other platforms' allocators are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest: blocks below it come from the heap
TRIM_THRESHOLD = 512 * 1024 * 1024  # free heap kept before any is returned: a few tiles' activations, not the photo


@functools.cache
def keep_freed_memory() -> bool:
    """Tune glibc's malloc as above, once per process; False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
