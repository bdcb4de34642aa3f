"""Benchmark: how steadily the Pacer sends a long reply while the process is under load.

One pacer plays `--seconds` of reply audio to a local TCP sink (AudioSocket framing), while
other pacers loop a waiting sound on their own connections, the sink runs a VAD endpointer
on every connection's audio, and busy threads compete for the GIL. Prints the measured
pacer's drift against real time and its frame-interval statistics.

    .venv/bin/python bench/pacing.py --seconds 60
"""

import argparse
import asyncio
import random
import statistics
import sys
import threading
import time

import numpy as np

from concierge.audio.endpoint import Endpointer
from concierge.audio.pacer import Pacer
from concierge.audio.pcm import FRAME_SECONDS

AUDIO_KIND = 0x10
HEADER_BYTES = 3


def tone(seconds: float, frequency: float = 440.0) -> bytes:
    """Return an 8 kHz s16le sine tone."""
    t = np.arange(round(seconds * 8000)) / 8000
    return (0.3 * 32767 * np.sin(2 * np.pi * frequency * t)).astype("<i2").tobytes()


def busy(stop: threading.Event) -> None:
    """Burn CPU in pure Python (holding the GIL in slices) until stopped."""
    total = 0
    while not stop.is_set():
        for number in range(10_000):
            total += number * number


async def sink_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read AudioSocket audio frames and run them through an endpointer, as a server would."""
    endpointer = Endpointer()
    try:
        while header := await reader.readexactly(HEADER_BYTES):
            payload = await reader.readexactly(int.from_bytes(header[1:], "big"))
            endpointer.feed(payload)
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


async def connect_pacer(port: int, times: list[float] | None) -> tuple[Pacer, asyncio.StreamWriter]:
    """Return a pacer writing AudioSocket frames to the sink, recording send times if asked."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send(frame: bytes) -> None:
        if times is not None:
            times.append(time.monotonic())
        writer.write(bytes([AUDIO_KIND]) + len(frame).to_bytes(2, "big") + frame)
        await writer.drain()

    return Pacer(send), writer


async def measure(seconds: float, other_pacers: int) -> tuple[list[float], Pacer]:
    """Play `seconds` of reply through one pacer among others; return its frames' send times.

    The reply is queued before the pacer starts, so its frames are the first ones sent. The
    other pacers start at random phases of the 20 ms tick, as calls that began at random.
    """
    server = await asyncio.start_server(sink_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    times: list[float] = []
    measured, measured_writer = await connect_pacer(port, times)
    others = [await connect_pacer(port, None) for _ in range(other_pacers)]
    for pacer, _ in others:
        pacer.loop(tone(1.0, 660))
    playback = measured.play(tone(seconds))
    everyone = [(measured, measured_writer), *others]
    runners = [asyncio.create_task(measured.run())]
    for pacer, _ in others:
        await asyncio.sleep(random.uniform(0, FRAME_SECONDS))
        runners.append(asyncio.create_task(pacer.run()))
    await playback.wait()
    for pacer, writer in everyone:
        pacer.close()
        writer.close()
    await asyncio.gather(*runners)
    server.close()
    return times[: round(seconds / FRAME_SECONDS)], measured


def report(times: list[float], pacer: Pacer, seconds: float) -> None:
    """Print drift and frame-interval figures for the measured pacer."""
    intervals_ms = [(b - a) * 1000 for a, b in zip(times, times[1:])]
    expected = (len(times) - 1) * FRAME_SECONDS
    late = times[-1] - times[0] - expected
    own_late = late - pacer.stalled_seconds
    jitter_ms = [abs(interval - FRAME_SECONDS * 1000) for interval in intervals_ms]
    print(f"frames sent        {len(times)} ({seconds:g} s of reply audio)")
    print(f"drift              {late / expected * 100:+.4f} % ({late * 1000:+.1f} ms)")
    print(f"  lost to stalls   {pacer.stalled_seconds * 1000:.1f} ms in {pacer.resyncs} resyncs")
    print(f"  pacer's own      {own_late / expected * 100:+.4f} % ({own_late * 1000:+.1f} ms)")
    print(f"interval ms        {spread(intervals_ms)}")
    print(f"|jitter| ms        {spread(jitter_ms)}")


def spread(values: list[float]) -> str:
    """Return the median, 95th percentile and maximum of `values`, formatted."""
    cuts = statistics.quantiles(values, n=100)
    return f"p50 {cuts[49]:.2f}  p95 {cuts[94]:.2f}  max {max(values):.2f}"


def main() -> None:
    """Parse options, start the load, run the measurement, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="reply audio to send")
    parser.add_argument("--other-pacers", type=int, default=9, help="pacers looping a sound")
    parser.add_argument("--busy-threads", type=int, default=1, help="pure-Python CPU threads")
    parser.add_argument(
        "--switch-interval", type=float, default=sys.getswitchinterval(), help="GIL slice, s"
    )
    args = parser.parse_args()
    sys.setswitchinterval(args.switch_interval)
    stop = threading.Event()
    for _ in range(args.busy_threads):
        threading.Thread(target=busy, args=(stop,), daemon=True).start()
    try:
        times, pacer = asyncio.run(measure(args.seconds, args.other_pacers))
    finally:
        stop.set()
    print(
        f"load               {args.other_pacers} other pacers, {args.busy_threads} busy threads,"
        f" VAD on every stream, GIL switch interval {args.switch_interval * 1000:g} ms"
    )
    report(times, pacer, args.seconds)


if __name__ == "__main__":
    main()
