"""Give memory the process has freed back to the operating system (glibc's `malloc_trim`).

glibc's malloc keeps what a process frees for its own reuse: free chunks inside its arenas stay
resident, so RSS keeps the high-water mark of the busiest moment long after the memory is free.
Measured on `apoena serve` (bench/fuzz.py): two real calls left 46 MiB more resident in the
arenas of the speech and turn threads while the bytes malloc had in use did not change; after a
fuzz run RSS stayed 28-31 MiB over its baseline with 2 MiB more in use; one `malloc_trim(0)`
(5-50 ms) gave back 36-91 MiB and brought RSS to within a few MiB of the trimmed baseline.
`apoena serve` calls `release_freed_memory` when its AudioSocket server has had no connection for
a few seconds (`AudioSocketServer`'s `on_idle`). Elsewhere than glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None when this process does not run on glibc."""
    if not sys.platform.startswith("linux") or not _glibc_version():
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process already runs on
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def _glibc_version() -> str | None:
    """The running C library's version if it is glibc ("glibc 2.36"), else None."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):  # not a name this C library knows: not glibc
        return None


def can_release() -> bool:
    """Whether `release_freed_memory` can do anything here (glibc)."""
    return _malloc_trim() is not None


def resident_bytes() -> int | None:
    """This process's RSS in bytes (None where /proc is not there)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def release_freed_memory() -> tuple[int, int] | None:
    """Give the memory malloc holds free back to the OS (glibc's `malloc_trim(0)`): RSS in bytes
    before and after, or None when not on glibc. Takes milliseconds (it walks the free chunks and
    locks each arena in turn): call it when nothing time-critical runs. Thread-safe."""
    trim = _malloc_trim()
    if trim is None:
        return None
    before = resident_bytes()
    trim(0)
    after = resident_bytes()
    return (before or 0, after or 0)
