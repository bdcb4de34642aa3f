"""The outgoing pacer: real-time frames, silence when idle, playbacks, loops, interruption."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from concierge.audio.pacer import Pacer, PlaybackEnd
from concierge.audio.pcm import silence

T = TypeVar("T")
SILENT_FRAME = bytes(320)


class Sink:
    """Records each frame sent and when."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.times: list[float] = []

    async def __call__(self, frame: bytes) -> None:
        self.frames.append(frame)
        self.times.append(time.monotonic())

    @property
    def audio(self) -> bytes:
        return b"".join(self.frames)


def ramp(frame_count: int, extra_bytes: int = 0) -> bytes:
    """Return audio whose every frame is distinct and non-silent (frame i holds value i + 1)."""
    whole = b"".join((i + 1).to_bytes(2, "little") * 160 for i in range(frame_count))
    return whole + b"\x07\x00" * (extra_bytes // 2)


def run_with_pacer(scenario: Callable[[Pacer, Sink], Awaitable[T]]) -> tuple[T, Sink]:
    """Run `scenario` while a pacer sends into a fresh sink; close it afterwards."""
    sink = Sink()

    async def main() -> T:
        pacer = Pacer(sink)
        runner = asyncio.create_task(pacer.run())
        try:
            return await scenario(pacer, sink)
        finally:
            pacer.close()
            await asyncio.wait_for(runner, 1)

    return asyncio.run(main()), sink


def test_two_seconds_of_reply_are_paced_in_real_time_without_drift() -> None:
    async def scenario(pacer: Pacer, sink: Sink) -> tuple[float, float]:
        started = time.monotonic()
        assert await pacer.play(ramp(100)).wait() is PlaybackEnd.COMPLETED
        return time.monotonic() - started, pacer.stalled_seconds

    (elapsed, stalled), sink = run_with_pacer(scenario)
    first = sink.frames.index(ramp(1))
    span = sink.times[first + 99] - sink.times[first]
    # A loaded machine may stall the process; the pacer must add no drift of its own.
    assert span - stalled == pytest.approx(99 * 0.02, rel=0.02)
    assert elapsed - stalled == pytest.approx(2.0, abs=0.1)
    assert sink.audio[first * 320 :].startswith(ramp(100))


def test_idle_line_gets_full_silence_frames_at_50_per_second() -> None:
    async def scenario(pacer: Pacer, sink: Sink) -> None:
        await asyncio.sleep(0.5)

    _, sink = run_with_pacer(scenario)
    assert set(sink.frames) == {SILENT_FRAME}
    assert 15 <= len(sink.frames) <= 27


def test_every_frame_is_full_even_and_a_short_tail_is_padded_with_silence() -> None:
    async def scenario(pacer: Pacer, sink: Sink) -> None:
        await pacer.play(ramp(3, extra_bytes=78)).wait()
        await pacer.play(b"\x01\x02").wait()
        await asyncio.sleep(0.05)

    _, sink = run_with_pacer(scenario)
    assert all(len(frame) == 320 for frame in sink.frames)
    audio = sink.audio.lstrip(b"\x00")
    assert audio.startswith(ramp(3, extra_bytes=78) + bytes(242))


def test_playbacks_queue_back_to_back_in_the_same_frame() -> None:
    async def scenario(pacer: Pacer, sink: Sink) -> None:
        pacer.play(b"\x05\x00" * 100)
        await pacer.play(b"\x06\x00" * 100).wait()

    _, sink = run_with_pacer(scenario)
    joined = [frame for frame in sink.frames if frame != SILENT_FRAME]
    assert joined[0] == b"\x05\x00" * 100 + b"\x06\x00" * 60
    assert joined[1] == b"\x06\x00" * 40 + bytes(240)


def test_first_frame_time_marks_when_the_reply_reached_the_line() -> None:
    async def scenario(pacer: Pacer, sink: Sink) -> tuple[float | None, float]:
        await asyncio.sleep(0.05)
        asked = time.monotonic()
        playback = pacer.play(ramp(5))
        first_frame_at = await playback.started()
        assert playback.first_frame_at == first_frame_at
        return first_frame_at, asked

    (first_frame_at, asked), sink = run_with_pacer(scenario)
    assert first_frame_at is not None
    assert 0 <= first_frame_at - asked <= 0.08
    assert sink.times[sink.frames.index(ramp(1))] <= first_frame_at


def test_barge_in_interrupts_the_reply_and_what_is_queued_within_a_frame() -> None:
    async def scenario(pacer: Pacer, sink: Sink) -> tuple[PlaybackEnd, PlaybackEnd, float]:
        reply, after = pacer.play(ramp(100)), pacer.play(ramp(10))
        await asyncio.sleep(0.2)
        stopped_at = time.monotonic()
        assert pacer.stop_playback()
        assert not pacer.is_playing
        ended = await reply.wait()
        await asyncio.sleep(0.1)
        return ended, await after.wait(), stopped_at

    (reply_end, after_end, stopped_at), sink = run_with_pacer(scenario)
    assert (reply_end, after_end) == (PlaybackEnd.INTERRUPTED, PlaybackEnd.INTERRUPTED)
    after_stop = [f for f, t in zip(sink.frames, sink.times, strict=True) if t > stopped_at + 0.025]
    assert after_stop and set(after_stop) == {SILENT_FRAME}
    assert 1 <= sum(frame != SILENT_FRAME for frame in sink.frames) <= 15


def test_waiting_loop_repeats_until_stopped_then_the_reply_starts_next_frame() -> None:
    waiting_sound = b"\x09\x00" * 250

    async def scenario(pacer: Pacer, sink: Sink) -> tuple[PlaybackEnd, float, float | None]:
        waiting = pacer.loop(waiting_sound)
        reply = pacer.play(ramp(5))
        await asyncio.sleep(0.3)
        assert reply.first_frame_at is None
        stopped_at = time.monotonic()
        waiting.stop()
        first_frame_at = await reply.started()
        await reply.wait()
        return await waiting.wait(), stopped_at, first_frame_at

    (waiting_end, stopped_at, first_frame_at), sink = run_with_pacer(scenario)
    assert waiting_end is PlaybackEnd.INTERRUPTED
    assert first_frame_at is not None and first_frame_at - stopped_at <= 0.06
    looped = sink.audio.lstrip(b"\x00").split(ramp(1))[0]
    assert looped.count(b"\x09\x00") >= 2 * 250
    assert set(looped) == {0, 9}


def test_a_stalled_event_loop_resyncs_instead_of_bursting_missed_frames() -> None:
    async def scenario(pacer: Pacer, sink: Sink) -> float:
        await asyncio.sleep(0.1)
        time.sleep(0.5)
        resumed = time.monotonic()
        await asyncio.sleep(0.2)
        return resumed

    resumed, sink = run_with_pacer(scenario)
    burst = [t for t in sink.times if resumed <= t < resumed + 0.015]
    assert len(burst) == 1
    after = [t for t in sink.times if t >= resumed]
    assert 5 <= len(after) <= 13


def test_a_stall_is_counted_with_the_time_it_cost() -> None:
    async def scenario(pacer: Pacer, sink: Sink) -> tuple[int, float]:
        await asyncio.sleep(0.05)
        time.sleep(0.3)
        await asyncio.sleep(0.05)
        return pacer.resyncs, pacer.stalled_seconds

    (resyncs, stalled), _ = run_with_pacer(scenario)
    assert resyncs >= 1
    assert stalled == pytest.approx(0.3, abs=0.1)


def test_close_ends_run_and_interrupts_playbacks_and_later_plays() -> None:
    async def main() -> tuple[PlaybackEnd, PlaybackEnd]:
        pacer = Pacer(Sink())
        runner = asyncio.create_task(pacer.run())
        playback = pacer.play(ramp(100))
        await asyncio.sleep(0.05)
        pacer.close()
        await asyncio.wait_for(runner, 0.1)
        return await playback.wait(), await pacer.play(ramp(1)).wait()

    assert asyncio.run(main()) == (PlaybackEnd.INTERRUPTED, PlaybackEnd.INTERRUPTED)


def test_a_failing_send_stops_run_and_settles_every_playback() -> None:
    async def broken(frame: bytes) -> None:
        raise ConnectionResetError("caller hung up")

    async def main() -> tuple[PlaybackEnd, float | None]:
        pacer = Pacer(broken)
        playback = pacer.play(ramp(1))
        with pytest.raises(ConnectionResetError):
            await pacer.run()
        return await playback.wait(), await playback.started()

    assert asyncio.run(main()) == (PlaybackEnd.INTERRUPTED, None)


@pytest.mark.parametrize("pcm", [b"", b"\x01\x02\x03"])
def test_empty_or_odd_playback_is_refused(pcm: bytes) -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match="non-empty whole samples"):
            Pacer(Sink()).play(pcm)

    asyncio.run(main())


def test_playback_reports_its_duration() -> None:
    async def main() -> float:
        return Pacer(Sink()).play(silence(1.5)).duration

    assert asyncio.run(main()) == 1.5


def test_a_pacer_stuck_on_a_peer_that_stopped_reading_is_finished_within_its_limit() -> None:
    """A real socket whose peer never reads: the pacer's send blocks once the buffers are full,
    `close` alone cannot stop it, and `finish` cancels it after its limit (the call's cleanup and
    the server's shutdown must not wait forever)."""
    import socket

    from concierge.audio.pacer import finish

    async def main() -> tuple[bool, float, bool]:
        async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(3600)

        server = await asyncio.start_server(never_read, "127.0.0.1", 0)
        _, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

        async def send(frame: bytes) -> None:
            writer.write(frame)
            await writer.drain()

        pacer = Pacer(send, frame_bytes=65536, frame_seconds=0.001)
        task = asyncio.create_task(pacer.run())
        playback = pacer.play(bytes(65536 * 2000))  # far more than any socket buffer holds
        sent = -1
        while sent != pacer.frames_sent:  # until the sends stop going through
            sent = pacer.frames_sent
            await asyncio.sleep(0.3)
        pacer.close()
        await asyncio.sleep(0.3)
        stuck = not task.done()
        started = time.monotonic()
        await finish(pacer, task, seconds=0.5)
        elapsed = time.monotonic() - started
        writer.transport.abort()
        server.close()
        return stuck, elapsed, task.done() and playback.done

    stuck, elapsed, ended = asyncio.run(main())
    assert stuck, "close() alone returns at the next tick, which a blocked send never reaches"
    assert ended and 0.4 <= elapsed < 2.0, elapsed
