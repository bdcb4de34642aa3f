"""Build real call services for tests: real espeak-ng voice, real Redis memory, rules brain.

Only the transcriber can be swapped for a scripted one, so that turn-taking, pacing and
hang-up logic are tested fast; real Whisper runs in the tests marked slow.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import redis

from concierge.audiosocket.server import AudioSocketServer
from concierge.brain.concierge import Concierge
from concierge.brain.memory import ConversationStore
from concierge.brain.rules import RulesBrain
from concierge.call.services import CallServices, render_phrases, waiting_tone
from concierge.call.session import CallSession
from concierge.config import Config
from concierge.speech.base import Transcript
from concierge.speech.cache import CachedSynthesizer
from concierge.speech.espeak import EspeakSynthesizer

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "fixtures" / "calls"
CLIPS = ROOT / "tests" / "audio" / "data"


class ScriptedTranscriber:
    """Hears the given texts, in order, one per utterance (an empty string once they run out)."""

    def __init__(self, texts: list[str], delay: float = 0.0) -> None:
        self.texts = list(texts)
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        time.sleep(self.delay)
        with self._lock:
            self.calls += 1
            text = self.texts.pop(0) if self.texts else ""
        return Transcript(text=text, duration_s=len(pcm8k) / 16000, elapsed_ms=self.delay * 1000)


class LengthTranscriber:
    """Hears `short` in audio shorter than `seconds` and `long` in longer audio: a turn's text
    follows its audio, however many transcriptions start in its pauses."""

    def __init__(self, short: str, long: str, seconds: float) -> None:
        self.short, self.long, self.seconds = short, long, seconds
        self.heard: list[float] = []  # seconds of audio of each transcription asked for
        self._lock = threading.Lock()

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        duration = len(pcm8k) / 16000
        with self._lock:
            self.heard.append(duration)
        return Transcript(text=self.short if duration < self.seconds else self.long, duration_s=duration, elapsed_ms=0.0)


class NoiseTranscriber:
    """What Whisper writes on line noise: a lone "Obrigado." on a blip, subtitle credits and
    annotations on longer noise. Counts what it was given."""

    INVENTED = ("Legendas pela comunidade Amara.org", "", "...", "[Música]", "Obrigado por assistir!")

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        duration = len(pcm8k) / 16000
        with self._lock:
            self.calls += 1
            text = "Obrigado." if duration < 0.95 else self.INVENTED[self.calls % len(self.INVENTED)]
        return Transcript(text=text, duration_s=duration, elapsed_ms=0.0, no_speech_prob=0.9)


class FailingTranscriber:
    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        raise RuntimeError("engine exploded")


def make_services(directory, redis_url: str, transcriber, tmp_path: Path, sections: dict | None = None, **system: object) -> CallServices:
    config = Config.model_validate({"system": {"silence_threshold_seconds": 0.5, **system}, **(sections or {})})
    store = ConversationStore(redis.Redis.from_url(redis_url, decode_responses=True), 600)
    synthesizer = CachedSynthesizer(EspeakSynthesizer(), tmp_path / "tts")
    greeting = synthesizer.synthesize(config.greeting.message)
    concierge = Concierge(RulesBrain(directory), store)
    return CallServices(config, concierge, transcriber, synthesizer, "", greeting, waiting_tone(), phrases=render_phrases(synthesizer))


@asynccontextmanager
async def running_server(services: CallServices, events: list | None = None, observer=None):
    """An AudioSocket server on a free loopback port whose calls run real CallSessions.
    Their events are appended to `events` and/or given to `observer`."""

    def observe(event) -> None:
        if observer is not None:
            observer(event)
        if events is not None:
            events.append(event)

    async def handle(connection):
        await CallSession(connection, services, observe).run()

    server = AudioSocketServer(handle, "127.0.0.1", 0)
    await server.start()
    try:
        yield server
    finally:
        await server.close(2)


@asynccontextmanager
async def visit_server(services: CallServices, directory, ami_port: int, events: list, fallback_dial=None, observer=None):
    """An AudioSocket server wired as `apoena serve` wires it to call residents through the Manager at `ami_port`."""
    from concierge.asterisk.ami import AMIClient
    from concierge.call.gate import Gate
    from concierge.call.session import call_handler
    from concierge.call.visit import Dialing, ResidentLegs

    ami = AMIClient("127.0.0.1", ami_port, "apoena", "s3cret", timeout=2.0, ping_interval=None)
    services.gate = Gate(services.config.gate, ami)
    def observe(event) -> None:
        events.append(event)
        if observer is not None:
            observer(event)

    server = AudioSocketServer(call_handler(services, observe), "127.0.0.1", 0)
    await server.start()
    services.visits = ResidentLegs(services.config, directory, Dialing(ami, server.port, fallback_dial))
    try:
        yield server
    finally:
        await server.close(2)
        await services.gate.drain(5)
        await ami.close()


def clip(name: str) -> bytes:
    """A short speech clip of tests/audio/data ("bom_dia", "entrega"), 8 kHz slin."""
    from concierge.audio.pcm import read_audio_file

    return read_audio_file(CLIPS / f"{name}.slin")


def pink_noise(seconds: float, level_dbfs: float, seed: int = 0) -> bytes:
    """Pink noise in the phone band (300–3400 Hz) at `level_dbfs` RMS, 8 kHz slin."""
    count = int(seconds * 8000)
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(size=count))
    frequencies = np.fft.rfftfreq(count, 1 / 8000)
    spectrum /= np.sqrt(np.maximum(frequencies, 1.0))
    spectrum[(frequencies < 300) | (frequencies > 3400)] = 0
    samples = np.fft.irfft(spectrum, count)
    samples *= 10 ** (level_dbfs / 20) / np.sqrt(np.mean(samples**2))
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def noise_bursts(seconds: float, level_dbfs: float = -25.0, seed: int = 0) -> bytes:
    """Line noise that comes and goes (bumps, traffic, a hand on the handset): pink noise bursts
    of 0.2–1.5 s between quiet stretches of 0.3–2 s, for `seconds`."""
    rng = np.random.default_rng(seed)
    pcm = b""
    while len(pcm) < seconds * 16000:
        pcm += pink_noise(rng.uniform(0.2, 1.5), level_dbfs, int(rng.integers(1 << 30)))
        pcm += bytes(int(rng.uniform(0.3, 2.0) * 8000) * 2)
    return pcm[: int(seconds * 8000) * 2]


def fixture_turns(name: str) -> tuple[bytes, list[dict]]:
    from concierge.audio.pcm import read_audio_file

    path = next(path for path in (FIXTURES / f"{name}.slin", FIXTURES / f"{name}.wav") if path.is_file())
    return read_audio_file(path), json.loads((FIXTURES / f"{name}.json").read_text())["turns"]


async def collect(client, seconds: float) -> tuple[list[tuple[float, bytes]], bool]:
    """Audio frames received (with arrival time) for `seconds`, and whether we were hung up on."""
    from concierge.audiosocket.protocol import Audio, Hangup

    frames: list[tuple[float, bytes]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = await asyncio.wait_for(client.receive(), deadline - time.monotonic())
        except TimeoutError:
            break
        if isinstance(message, Hangup):
            return frames, True
        if isinstance(message, Audio):
            frames.append((time.monotonic(), message.pcm))
    return frames, False


def heard_at(frames: list[tuple[float, bytes]], pcm: bytes, after: float = 0.0) -> float | None:
    """When the caller started hearing `pcm` (found by a piece of its audio in what arrived after
    `after`, whatever the frame alignment), or None if it never came."""
    frames = [(at, frame) for at, frame in frames if at >= after]
    stream = b"".join(frame for _, frame in frames)
    skip = len(pcm) // 4  # a quarter in: past any silence the engine put at its start
    index = stream.find(pcm[skip:][:640])
    if index < 0:
        return None
    return frames[max(0, (index - skip) // 320)][0]


async def pace(client, pcm: bytes, speed: float = 1.0) -> None:
    """Send `pcm` in 20 ms frames at `speed` times real time."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index in range(0, len(pcm), 320):
        frame = pcm[index : index + 320]
        await client.send_audio(frame + bytes(320 - len(frame)))
        delay = start + (index // 320 + 1) * 0.02 / speed - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
