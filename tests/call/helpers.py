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

import redis

from concierge.audiosocket.server import AudioSocketServer
from concierge.brain.concierge import Concierge
from concierge.brain.memory import ConversationStore
from concierge.brain.rules import RulesBrain
from concierge.call.services import CallServices, waiting_tone
from concierge.call.session import CallSession
from concierge.config import Config
from concierge.speech.base import Transcript
from concierge.speech.cache import CachedSynthesizer
from concierge.speech.espeak import EspeakSynthesizer

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "fixtures" / "calls"


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


class FailingTranscriber:
    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        raise RuntimeError("engine exploded")


def make_services(directory, redis_url: str, transcriber, tmp_path: Path, **system: object) -> CallServices:
    config = Config.model_validate({"system": {"silence_threshold_seconds": 0.5, **system}})
    store = ConversationStore(redis.Redis.from_url(redis_url, decode_responses=True), 600)
    synthesizer = CachedSynthesizer(EspeakSynthesizer(), tmp_path / "tts")
    greeting = synthesizer.synthesize(config.greeting.message)
    return CallServices(config, Concierge(RulesBrain(directory), store), transcriber, synthesizer, "", greeting, waiting_tone())


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


def fixture_turns(name: str) -> tuple[bytes, list[dict]]:
    from concierge.audio.pcm import read_audio_file

    path = next(FIXTURES.glob(f"{name}.*[nv]"))
    return read_audio_file(path), json.loads((FIXTURES / f"{name}.json").read_text())["turns"]


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
