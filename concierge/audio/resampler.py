"""A call's incoming audio at the line rate (8 kHz), whatever rate its frames arrive at.

AudioSocket's channel driver may carry 12–192 kHz slin (kinds 0x11–0x18). Resampling each 20 ms
frame on its own (`pcm.resample`) treats every frame as a whole signal: the filter sees silence
before and after it, so each frame edge gets a small click, 50 times a second. One
`soxr.ResampleStream` per call keeps the filter's state from one frame to the next, so the
output is the same as resampling the whole call at once.

The price is soxr's delay: it releases output in blocks (for 16 kHz → 8 kHz at its HQ quality,
about 100 ms of audio every fifth 20 ms frame), so audio reaches the endpointer later than on an
8 kHz call — measured over 10 s in 20 ms frames: 64 ms on average (12–115 ms) at 16 kHz, 42 ms
(12–73) at 12 and 24 kHz, 85 ms (13–157) at 48 kHz. A call at 8 kHz passes straight through,
with no delay.
"""

from __future__ import annotations

import numpy as np
import soxr

from concierge.audio.pcm import SAMPLE_RATE

QUALITY = "HQ"
"""The same soxr quality as the one-shot `pcm.resample`."""


class LineResampler:
    """Brings one call's frames to `rate` (8 kHz), keeping the resampler's state between frames.
    A change of rate mid-call (another audio kind) flushes the old stream and starts a new one."""

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        self.rate = rate
        self._source: int | None = None
        self._stream: soxr.ResampleStream | None = None

    def __call__(self, pcm: bytes, source_rate: int) -> bytes:
        """`pcm` (s16le mono at `source_rate`) at the line rate; may be shorter or longer than one frame's worth."""
        if source_rate == self.rate and self._stream is None:
            return pcm
        flushed = b""
        if source_rate != self._source:
            flushed = self.flush()
            self._source = source_rate
            if source_rate != self.rate:
                self._stream = soxr.ResampleStream(source_rate, self.rate, 1, dtype="int16", quality=QUALITY)
        if self._stream is None:
            return flushed + pcm
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        return flushed + self._stream.resample_chunk(samples).astype("<i2").tobytes()

    def flush(self) -> bytes:
        """What the stream still holds (its delay), at the line rate; the stream is closed."""
        stream, self._stream = self._stream, None
        if stream is None:
            return b""
        return stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True).astype("<i2").tobytes()
