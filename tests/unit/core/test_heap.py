"""release_free_heap gives freed heap pages back to the system (glibc's malloc_trim)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from issuance.heap import release_free_heap

CHUNK = 64 * 1024  # below glibc's mmap threshold: taken from the heap, not mapped alone
CHUNKS = 800  # 50 MiB


def _anonymous_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_freed_heap_pages_go_back_to_the_system() -> None:
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "malloc_trim"):
        assert release_free_heap() is False
        return
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(CHUNK) for _ in range(CHUNKS)]
    for block in blocks:
        ctypes.memset(block, 1, CHUNK)  # resident
    last = blocks.pop()  # kept: the top of the heap stays in use, so free() gives nothing back
    for block in blocks:
        libc.free(block)
    held = _anonymous_kib()
    assert release_free_heap() is True
    released = held - _anonymous_kib()
    libc.free(last)
    assert released > CHUNK * CHUNKS // 2 // 1024  # at least half of the 50 MiB freed
