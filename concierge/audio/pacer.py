"""The real-time outgoing pacer: one audio frame per tick against a monotonic clock.

Asterisk plays whatever we send the moment it arrives, so we must pace it ourselves:
frame n goes out at t0 + n * frame_seconds (never `sleep(frame_seconds)` per frame, which
drifts). Each tick sends the next frame of what is queued to play, or silence when nothing
is, which also keeps `AudioSocket()` from hanging up on a quiet line. Every frame is exactly
`frame_bytes` long: a playback that ends mid-frame is followed by the next one or by silence.
"""

import asyncio
import enum
import time
from collections import deque
from collections.abc import Awaitable, Callable

from concierge.audio.pcm import FRAME_BYTES, FRAME_SECONDS, SAMPLE_WIDTH, duration_seconds

Send = Callable[[bytes], Awaitable[None]]
CLOSE_SECONDS = 1.0
"""How long a closed pacer's task may take to return before it is cancelled (`finish`)."""


class PlaybackEnd(enum.Enum):
    """How a playback ended."""

    COMPLETED = "completed"
    """Every byte was sent."""
    INTERRUPTED = "interrupted"
    """Stopped (barge-in, end of a waiting loop, pacer closed) before the end."""


class Playback:
    """One queued utterance or looping sound; await it to learn how it ended."""

    def __init__(self, pcm: bytes, *, looping: bool) -> None:
        if not pcm or len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"playback PCM must be non-empty whole samples, got {len(pcm)} bytes")
        self.looping = looping
        self.first_frame_at: float | None = None
        """`time.monotonic()` just after its first frame was sent; None until then."""
        self._pcm = pcm
        self._position = 0
        loop = asyncio.get_running_loop()
        self._started: asyncio.Future[float | None] = loop.create_future()
        self._ended: asyncio.Future[PlaybackEnd] = loop.create_future()

    @property
    def duration(self) -> float:
        """Seconds of audio in one pass."""
        return duration_seconds(self._pcm)

    @property
    def done(self) -> bool:
        """Whether it has completed or been interrupted."""
        return self._ended.done()

    def stop(self) -> None:
        """Interrupt it: it sends no more frames (from the next tick on)."""
        self._end(PlaybackEnd.INTERRUPTED)

    async def wait(self) -> PlaybackEnd:
        """Wait until it ends; return how."""
        return await asyncio.shield(self._ended)

    async def started(self) -> float | None:
        """Wait for its first frame to be sent; return `first_frame_at` (None if it never was)."""
        return await asyncio.shield(self._started)

    def _take(self, size: int) -> bytes:
        """Return up to `size` next bytes; a looping sound wraps around to its start."""
        if self.looping and self._position == len(self._pcm):
            self._position = 0
        chunk = self._pcm[self._position : self._position + size]
        self._position += len(chunk)
        return chunk

    @property
    def _exhausted(self) -> bool:
        """Whether a one-shot playback has handed out all its bytes."""
        return not self.looping and self._position == len(self._pcm)

    def _mark_sent(self, now: float) -> None:
        """Record that a frame carrying its audio was sent; complete it if that was the end."""
        if self.first_frame_at is None:
            self.first_frame_at = now
            if not self._started.done():
                self._started.set_result(now)
        if self._exhausted:
            self._end(PlaybackEnd.COMPLETED)

    def _end(self, how: PlaybackEnd) -> None:
        """Settle both futures once."""
        if not self._started.done():
            self._started.set_result(None)
        if not self._ended.done():
            self._ended.set_result(how)


class Pacer:
    """Sends `frame_bytes` every `frame_seconds` through `send` until closed.

    Queue audio with `play` and `loop`; `stop_playback` silences everything at once
    (barge-in). A frame sent up to `max_lag_seconds` late is followed at once by the next
    ones until the schedule is caught up; one sent later than that (the event loop stalled)
    restarts the schedule from now instead of bursting all the missed frames.
    """

    def __init__(
        self,
        send: Send,
        frame_bytes: int = FRAME_BYTES,
        frame_seconds: float = FRAME_SECONDS,
        max_lag_seconds: float = 3 * FRAME_SECONDS,
    ) -> None:
        if frame_bytes <= 0 or frame_bytes % SAMPLE_WIDTH:
            raise ValueError(f"frame_bytes must be a positive even number, got {frame_bytes}")
        self._send = send
        self._frame_bytes = frame_bytes
        self._frame_seconds = frame_seconds
        self._max_lag = max_lag_seconds
        self._silence = bytes(frame_bytes)
        self._queue: deque[Playback] = deque()
        self._closed = False
        self.frames_sent = 0
        self.resyncs = 0
        """How many times a stalled event loop made the schedule restart."""
        self.stalled_seconds = 0.0
        """Schedule time given up at those restarts: how much later the audio went out."""

    @property
    def is_playing(self) -> bool:
        """Whether any playback is playing or queued."""
        return self._current() is not None

    def play(self, pcm: bytes) -> Playback:
        """Queue `pcm` to play once after what is already queued."""
        return self._enqueue(Playback(pcm, looping=False))

    def loop(self, pcm: bytes) -> Playback:
        """Queue `pcm` to repeat until stopped; anything queued after it waits for that."""
        return self._enqueue(Playback(pcm, looping=True))

    def stop_playback(self) -> bool:
        """Interrupt the playing and all queued playbacks; return whether there were any."""
        was_playing = self.is_playing
        while self._queue:
            self._queue.popleft().stop()
        return was_playing

    def close(self) -> None:
        """Interrupt all playbacks and make `run` return at its next tick."""
        self._closed = True
        self.stop_playback()

    async def run(self) -> None:
        """Send one frame per tick until `close`; playbacks left are interrupted on exit."""
        loop = asyncio.get_running_loop()
        start, tick = loop.time(), 0
        try:
            while True:
                scheduled = start + tick * self._frame_seconds
                await asyncio.sleep(scheduled - loop.time())
                if self._closed:
                    return
                await self._send_next_frame()
                late = loop.time() - scheduled
                if late > self._max_lag:
                    # Stalled: the frame just sent starts a new schedule; missed ticks are dropped.
                    start, tick = loop.time(), 1
                    self.resyncs += 1
                    self.stalled_seconds += late
                else:
                    tick += 1
        finally:
            self.close()

    def _enqueue(self, playback: Playback) -> Playback:
        """Append a playback to the queue, unless the pacer is closed."""
        if self._closed:
            playback.stop()
        else:
            self._queue.append(playback)
        return playback

    def _current(self) -> Playback | None:
        """Return the first unfinished playback, dropping the finished ones before it."""
        while self._queue and (self._queue[0].done or self._queue[0]._exhausted):
            self._queue.popleft()
        return self._queue[0] if self._queue else None

    async def _send_next_frame(self) -> None:
        """Send one full frame of queued audio padded with silence, then settle playbacks."""
        parts: list[bytes] = []
        carried: list[Playback] = []
        missing = self._frame_bytes
        while missing and (playback := self._current()):
            chunk = playback._take(missing)
            parts.append(chunk)
            carried.append(playback)
            missing -= len(chunk)
        frame = b"".join(parts) + self._silence[:missing] if parts else self._silence
        try:
            await self._send(frame)
        except BaseException:
            for playback in carried:
                playback.stop()
            raise
        self.frames_sent += 1
        now = time.monotonic()
        for playback in carried:
            if not playback.done:
                playback._mark_sent(now)


async def finish(pacer: Pacer, task: asyncio.Task, seconds: float = CLOSE_SECONDS) -> None:
    """Close `pacer` and wait for its `run` task to return; cancel the task if it does not within
    `seconds`: a send stuck on a peer that stopped reading (a full socket buffer) must not hold
    the call's cleanup, and the server's shutdown, forever."""
    pacer.close()
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
