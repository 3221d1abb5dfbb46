"""Returning the C heap's free pages to the operating system.

CPython frees what a long-lived process no longer uses to the C allocator, not
always to the system: glibc keeps freed pages in the heap (and in the arena of
each thread that ever allocated, as start-up's thread pool did) until the top
of the heap is free. ``malloc_trim(0)`` gives every whole free page back
(``madvise``), so the process's resident memory is what it holds. An API
process calls it once it is warm and then once a minute; where the C library
is not glibc, nothing is done.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:  # the symbols the process has loaded: the C library's among them
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_free_heap() -> bool:
    """Give the C heap's free pages back to the system; False where that cannot be done."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
