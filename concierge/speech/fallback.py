"""A voice with a spare: what the main engine cannot say, a local one says.

The cloud voice (Azure) goes away with the network, and RHVoice runs as a program that can
fail; a reply the caller never hears is worse than one in a plainer voice. Each side keeps its
own cache, so the spare's renderings are never stored as the main voice's.
"""

from __future__ import annotations

import logging
import threading
import time

from concierge.speech.base import Synthesizer

log = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 60.0  # while the main voice keeps failing, one line a minute says how often


class FallbackSynthesizer:
    """Speaks with `main`; a sentence `main` fails on is spoken by `spare` (which may raise in turn).
    Named as `main`: that is the voice configured."""

    def __init__(self, main: Synthesizer, spare: Synthesizer) -> None:
        self.main, self.spare = main, spare
        self.name, self.voice = main.name, main.voice
        self.failures = 0  # sentences the spare had to say
        self._lock = threading.Lock()
        self._logged_at = -LOG_EVERY_SECONDS
        self._unlogged = 0

    def synthesize(self, text: str) -> bytes:
        try:
            return self.main.synthesize(text)
        except Exception as error:
            self._log(error)
            return self.spare.synthesize(text)

    def _log(self, error: Exception) -> None:
        with self._lock:
            self.failures += 1
            now = time.monotonic()
            if now - self._logged_at < LOG_EVERY_SECONDS:
                self._unlogged += 1
                return
            more, self._unlogged, self._logged_at = self._unlogged, 0, now
        also = f" ({more} more since the last report)" if more else ""
        log.warning("speech: %s failed (%s); %s speaks instead%s", self.main.name, error, self.spare.name, also)
