"""Freed memory goes back to the OS when asked (glibc's malloc_trim), and only on glibc."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from concierge.audiosocket import allocator

ROOT = Path(__file__).resolve().parents[2]

# 64 MiB malloc'ed in 4 KiB chunks (in malloc's arena, below its mmap threshold) and touched, then
# freed but for the last chunk: free() alone gives back only what lies at the arena's top.
HIGH_WATER = r"""
import ctypes, json
from concierge.audiosocket.allocator import release_freed_memory, resident_bytes

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
start = resident_bytes()
blocks = [libc.malloc(4096) for _ in range(16384)]
for block in blocks:
    libc.memset(block, 1, 4096)
pinned = blocks.pop()
for block in blocks:
    libc.free(block)
freed = resident_bytes()
before, after = release_freed_memory()
print(json.dumps({"start": start, "freed": freed, "before": before, "after": after}))
"""

MIB = 1 << 20


@pytest.mark.skipif(not allocator.can_release(), reason="malloc_trim is glibc's")
def test_memory_freed_but_kept_by_malloc_goes_back_to_the_os():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", HIGH_WATER], capture_output=True, text=True, env=env, timeout=60, check=True)
    rss = json.loads(done.stdout)
    assert rss["freed"] - rss["start"] > 48 * MIB  # freed, still resident: the high-water mark
    assert rss["before"] - rss["after"] > 48 * MIB  # given back
    assert rss["after"] - rss["start"] < 16 * MIB


def test_elsewhere_than_glibc_it_does_nothing(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc_version", lambda: None)
    allocator._malloc_trim.cache_clear()
    try:
        assert not allocator.can_release()
        assert allocator.release_freed_memory() is None
    finally:
        allocator._malloc_trim.cache_clear()


def test_resident_bytes_is_this_process_rss():
    rss = allocator.resident_bytes()
    if rss is None:
        pytest.skip("no /proc")
    status = Path("/proc/self/status").read_text()
    vm_rss = next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    assert abs(rss - vm_rss) < 8 * MIB
