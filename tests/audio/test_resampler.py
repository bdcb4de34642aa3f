"""A call's frames at another rate reach the line rate through one resampler stream per call: the
same audio as resampling the whole call at once, with no click at the edges of its 20 ms frames."""

from __future__ import annotations

import asyncio
import threading
import uuid

import numpy as np
import pytest

from concierge.audio.pcm import read_audio_file, resample
from concierge.audio.resampler import LineResampler
from concierge.speech.base import Transcript
from tests.call.helpers import CLIPS, make_services, running_server

RATE = 16000
FRAME = 640  # 20 ms at 16 kHz


def sine(seconds: float, rate: int = RATE, hz: float = 440.0, level: float = 12000.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * level).astype("<i2").tobytes()


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.int64)


def by_frames(pcm: bytes, frame: int = FRAME) -> list[bytes]:
    return [pcm[i : i + frame] for i in range(0, len(pcm), frame)]


def edge_clicks(pcm: bytes, frame: int = 160) -> tuple[float, float]:
    """The largest second difference (how sharply the wave bends) next to the edges of the 20 ms frames
    (160 samples at 8 kHz), and away from them: a click is a spike at the edges."""
    bend = np.abs(np.diff(samples(pcm), 2))  # bend[i] is centred on sample i + 1
    near_edge = np.zeros(len(bend), dtype=bool)
    for offset in (-3, -2, -1, 0, 1):
        near_edge[np.arange(frame + offset, len(bend), frame)] = True
    body = slice(frame, len(bend) - frame)  # not the first and last frames: the signal's own start and end
    return float(bend[body][near_edge[body]].max()), float(bend[body][~near_edge[body]].max())


def test_a_16khz_sine_through_the_calls_stream_is_the_one_shot_resampling_without_clicks_at_frame_edges():
    call = sine(2.0)
    whole = resample(call, RATE, 8000)
    line = LineResampler()
    streamed = b"".join(line(frame, RATE) for frame in by_frames(call)) + line.flush()
    assert len(streamed) == len(whole)
    assert np.abs(samples(streamed) - samples(whole)).max() <= 1, "the same signal as resampling the call at once"
    at_edges, inside = edge_clicks(streamed)
    assert at_edges <= inside * 1.01, (at_edges, inside)
    # what each frame resampled alone gives: far from the whole, and clicking at every frame edge
    alone = b"".join(resample(frame, RATE, 8000) for frame in by_frames(call))
    assert np.abs(samples(alone) - samples(whole)).max() > 1000
    at_edges, inside = edge_clicks(alone)
    assert at_edges > 2 * inside, (at_edges, inside)


def test_an_8khz_call_passes_straight_through_with_no_delay():
    line = LineResampler()
    frame = sine(0.02, 8000)
    assert line(frame, 8000) is frame and line.flush() == b""


@pytest.mark.parametrize("rate", [12000, 24000, 48000])
def test_other_rates_and_a_change_of_rate_mid_call_keep_every_sample(rate):
    line = LineResampler()
    first = sine(1.0, rate)
    second = sine(1.0, 8000)
    out = b"".join(line(frame, rate) for frame in by_frames(first, rate // 50 * 2))
    out += b"".join(line(frame, 8000) for frame in by_frames(second, 320)) + line.flush()
    assert len(out) == len(resample(first, rate, 8000)) + len(second)


class Capturing:
    """A transcriber that keeps the audio it is given (8 kHz, as the session hands it) and hears one text."""

    def __init__(self) -> None:
        self.heard: list[bytes] = []
        self._lock = threading.Lock()

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        with self._lock:
            self.heard.append(pcm8k)
        return Transcript(text="Boa tarde, tenho uma entrega para a Joana Prado.", duration_s=len(pcm8k) / 16000, elapsed_ms=0.0)


def test_a_16khz_call_reaches_speech_recognition_as_the_whole_call_resampled_at_once(directory, redis_server, tmp_path):
    """Over a real AudioSocket, a call in 16 kHz frames (kind 0x12): the utterance handed to speech
    recognition is, sample for sample (±2), a stretch of the whole call resampled to 8 kHz at once."""
    speech8k = read_audio_file(CLIPS / "entrega.slin")
    call = bytes(RATE) + resample(speech8k, 8000, RATE) + bytes(3 * RATE * 2)  # 0.5 s quiet, speech, 3 s quiet
    transcriber = Capturing()
    services = make_services(directory, redis_server.url, transcriber, tmp_path)

    async def main():
        async with running_server(services) as server:
            from concierge.audiosocket.client import AudioSocketClient

            client = await AudioSocketClient.connect("127.0.0.1", server.port, uuid.uuid4())
            loop = asyncio.get_running_loop()
            start = loop.time()
            for index, frame in enumerate(by_frames(call)):
                await client.send_audio(frame, sample_rate=RATE)
                await asyncio.sleep(max(0.0, start + (index + 1) * 0.02 / 4 - loop.time()))  # 4x real time
            for _ in range(100):
                if transcriber.heard:
                    break
                await asyncio.sleep(0.05)
            await client.close()

    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        services.close()
    assert transcriber.heard, "the turn reached speech recognition"
    heard = samples(max(transcriber.heard, key=len))
    whole = samples(resample(call, RATE, 8000))
    assert len(heard) > 8000, "a whole turn, not a blip"
    best = min(np.abs(whole[start : start + len(heard)] - heard).max() for start in range(0, len(whole) - len(heard) + 1, 160))
    assert best <= 2, f"the utterance differs from the call resampled at once by up to {best}"
