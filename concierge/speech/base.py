"""The contracts every speech engine keeps: `Transcriber`, `Synthesizer`, `Transcript`, `SpeechError`.

Audio crossing these interfaces is always telephone audio: 8 kHz, signed 16-bit
little-endian, mono ("slin"). Both calls are synchronous and CPU-bound; the call loop
runs them in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from concierge.errors import UserError


class SpeechError(UserError):
    """A speech engine cannot work; `str(error)` is one line telling a person what to do.

    At start-up the CLI prints it as such; during a call the session apologises and listens on."""


@dataclass(frozen=True, slots=True)
class Transcript:
    """What a transcriber heard in one utterance."""

    text: str
    duration_s: float
    """Length of the audio that was transcribed, in seconds."""
    elapsed_ms: float
    """Wall-clock time the transcription took, in milliseconds."""
    alternatives: tuple[str, ...] = ()
    """Other readings of the same audio, best first (e.g. beam N-best), `text` not repeated.
    The brain may prefer one that names a real apartment or resident."""
    no_speech_prob: float = 0.0
    """The engine's probability that the audio holds no speech at all (0 when it cannot tell)."""


@runtime_checkable
class Transcriber(Protocol):
    """Turns one utterance of 8 kHz slin into text."""

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        """Transcribe `pcm8k`; `prompt` primes the vocabulary (names, apartments)."""
        ...


@runtime_checkable
class Synthesizer(Protocol):
    """Turns text into 8 kHz slin."""

    name: str
    """The engine, e.g. "espeak" or "rhvoice"."""
    voice: str
    """The voice the engine speaks with; with `name`, it tells apart cached renderings."""

    def synthesize(self, text: str) -> bytes:
        """Render `text` (pt-BR) as 8 kHz s16le mono PCM."""
        ...
