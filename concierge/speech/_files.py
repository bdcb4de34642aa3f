"""Where the speech caches live, and atomic writes into them: a file appears whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def default_cache_root() -> Path:
    """Return Apoena's cache root: `$XDG_CACHE_HOME/apoena`, else `~/.cache/apoena`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "apoena"


@contextmanager
def replacing(destination: Path) -> Iterator[BinaryIO]:
    """Yield a temp file beside `destination` that replaces it only if the block succeeds."""
    handle = tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)
            os.fsync(handle.fileno())
        os.replace(handle.name, destination)
    finally:
        Path(handle.name).unlink(missing_ok=True)


def write_atomically(destination: Path, data: bytes) -> None:
    """Write `data` to `destination` so readers see the old file or the new one, never a part."""
    with replacing(destination) as handle:
        handle.write(data)
