"""A synthesis cache: wraps any `Synthesizer`, keeping renderings in memory (LRU) and on disk.

Entries are keyed by a hash of (engine name, voice, text), so fixed prompts are rendered
once per machine and dynamic replies once per process. Disk entries are raw 8 kHz slin
files written by atomic rename, so a crash or a racing process never leaves half a file.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path

from concierge.speech._files import write_atomically
from concierge.speech.base import Synthesizer

log = logging.getLogger(__name__)


class CachedSynthesizer:
    """A `Synthesizer` that asks `inner` only for text it has not rendered before."""

    def __init__(self, inner: Synthesizer, cache_dir: Path | None = None, max_entries: int = 256) -> None:
        self.inner = inner
        self.name = inner.name
        self.voice = inner.voice
        self._dir = Path(cache_dir) if cache_dir else None
        self._max_entries = max_entries
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> bytes:
        """Return the rendering of `text` from memory, else disk, else `inner` (then store it)."""
        key = self.key(text)
        pcm = self._from_memory(key)
        if pcm is None:
            pcm = self._from_disk(key)
            if pcm is None:
                pcm = self.inner.synthesize(text)
                self._to_disk(key, pcm)
            self._to_memory(key, pcm)
        return pcm

    def key(self, text: str) -> str:
        """Return the cache key of `text` for this engine and voice."""
        return hashlib.sha256(f"{self.name}\0{self.voice}\0{text}".encode()).hexdigest()

    def _from_memory(self, key: str) -> bytes | None:
        with self._lock:
            pcm = self._memory.get(key)
            if pcm is not None:
                self._memory.move_to_end(key)
            return pcm

    def _to_memory(self, key: str, pcm: bytes) -> None:
        with self._lock:
            self._memory[key] = pcm
            self._memory.move_to_end(key)
            while len(self._memory) > self._max_entries:
                self._memory.popitem(last=False)

    def _path(self, key: str) -> Path | None:
        return self._dir / key[:2] / f"{key}.slin" if self._dir else None

    def _from_disk(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes() if path else None
        except OSError:
            return None

    def _to_disk(self, key: str, pcm: bytes) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, pcm)
        except OSError as error:
            log.warning("speech cache cannot store %s: %s", path, error)
