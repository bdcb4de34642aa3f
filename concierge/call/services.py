"""What every call shares, built once per process: speech engines, the concierge, pre-rendered audio."""

from __future__ import annotations

import logging
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from concierge.brain.concierge import Concierge
from concierge.call.gate import Gate
from concierge.call.visit import ResidentLegs, visit_phrases
from concierge.brain.directory import Directory
from concierge.config import Config
from concierge.speech.base import Synthesizer, Transcriber

if TYPE_CHECKING:
    from concierge.call.condominiums import Condominiums

log = logging.getLogger("apoena.call")

SAMPLE_RATE = 8000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

# What the call itself says (the brain says the rest); rendered at start-up like the greeting.
NO_INPUT_PROMPT = "Alô? Pode falar, estou ouvindo."
NO_INPUT_GOODBYE = "Não consegui ouvir você. Por favor, chame novamente. Até logo!"
TIMEOUT_MESSAGE = "Não consegui concluir o atendimento. Por favor, tente novamente. Até logo!"
FAILURE_MESSAGE = "Desculpe, tive um problema aqui. Pode repetir, por favor?"
WAIT_MESSAGE = "Um momento, por favor."  # an answer is slow: said once, then the chime loops
CALL_PHRASES = (NO_INPUT_PROMPT, NO_INPUT_GOODBYE, TIMEOUT_MESSAGE, FAILURE_MESSAGE, WAIT_MESSAGE)


def sentences(text: str) -> list[str]:
    """Split a reply where it can be spoken in pieces: each sentence is synthesized (and cached) alone."""
    return [part for part in _SENTENCE_END.split(text.strip()) if part]


def render_phrases(synthesizer: Synthesizer, phrases: tuple[str, ...] = CALL_PHRASES) -> dict[str, bytes]:
    """What the call itself says, rendered once: played from memory, these lines need neither the
    speech engine nor a thread, so an apology or a goodbye is heard even when TTS has failed."""
    return {phrase: b"".join(synthesizer.synthesize(sentence) for sentence in sentences(phrase)) for phrase in phrases}


@dataclass
class CallServices:
    """The engines and fixed audio a call session uses. STT and TTS run in their own thread pools."""

    config: Config
    concierge: Concierge
    transcriber: Transcriber
    synthesizer: Synthesizer
    stt_prompt: str
    greeting_pcm: bytes
    waiting_pcm: bytes
    visits: ResidentLegs | None = None  # calls residents (set by the server once it knows its port); None: nobody is asked
    gate: Gate | None = None  # what a decision does: a channel variable, a webhook
    directory: Directory | None = None  # the condominium's directory (its residents' dial strings)
    condominium: str = "default"  # the id of the condominium these services answer for
    condominiums: Condominiums | None = None  # set by the server: each call gets its condominium's services
    phrases: dict[str, bytes] = field(default_factory=dict)  # CALL_PHRASES pre-rendered (`render_phrases`)
    stt_pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(2, thread_name_prefix="stt"))
    work_pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="turn"))

    def close(self) -> None:
        self.stt_pool.shutdown(wait=False, cancel_futures=True)
        self.work_pool.shutdown(wait=False, cancel_futures=True)


def build_services(config: Config, directory: Directory, concierge: Concierge) -> CallServices:
    """Load the speech engines, warm them up and pre-render the greeting: all before the first call."""
    from concierge.speech.factory import make_synthesizer, make_transcriber
    from concierge.speech.whisper import directory_prompt

    started = time.perf_counter()
    transcriber = make_transcriber(config.speech.stt_model, engine=config.speech.stt_engine)
    synthesizer = make_synthesizer(config.speech.tts_engine, cache_dir=config.speech.cache_dir / "tts", voice=config.greeting.voice)
    names, apartments = directory.prompt_terms()
    prompt = directory_prompt(names, apartments)
    greeting = synthesizer.synthesize(config.greeting.message)
    phrases = render_phrases(synthesizer)
    for phrase in (*visit_phrases(), *getattr(concierge.brain, "phrases", ())):
        for sentence in sentences(phrase):
            synthesizer.synthesize(sentence)  # cached from now on (and on disk for the next start)
    transcriber.transcribe(greeting, prompt)  # loads the model and warms it up
    stt = config.speech.stt_model if config.speech.stt_engine == "whisper" else config.speech.stt_engine
    log.info("speech ready in %.1f s: %s, voice %s", time.perf_counter() - started, stt, getattr(synthesizer, "name", "?"))
    return CallServices(config, concierge, transcriber, synthesizer, prompt, greeting, waiting_tone(), directory=directory, phrases=phrases)


def waiting_tone(seconds: float = 2.0) -> bytes:
    """A soft two-note chime followed by silence, looped while the concierge thinks."""
    samples = bytearray()
    for index in range(int(seconds * SAMPLE_RATE)):
        t = index / SAMPLE_RATE
        value = 0.0
        for start, frequency in ((0.0, 660.0), (0.25, 880.0)):
            if start <= t < start + 0.2:
                envelope = math.sin(math.pi * (t - start) / 0.2)
                value += 0.08 * envelope * math.sin(2 * math.pi * frequency * t)
        samples += int(value * 32767).to_bytes(2, "little", signed=True)
    return bytes(samples)
