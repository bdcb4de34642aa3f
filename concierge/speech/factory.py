"""Build the configured speech engines by name: the one place that knows every engine."""

from __future__ import annotations

from pathlib import Path

from concierge.speech._files import default_cache_root
from concierge.speech.base import SpeechError, Synthesizer, Transcriber
from concierge.speech.cache import CachedSynthesizer
from concierge.speech.espeak import EspeakSynthesizer
from concierge.speech.rhvoice import RHVoiceSynthesizer
from concierge.speech.whisper import WhisperOptions, WhisperTranscriber

SYNTHESIZERS = ("auto", "rhvoice", "espeak")


def default_tts_cache_dir() -> Path:
    """Return where rendered speech is kept between runs."""
    return default_cache_root() / "tts"


def make_synthesizer(engine: str = "auto", cache_dir: Path | None = None) -> CachedSynthesizer:
    """Return the `engine` synthesizer behind a memory + disk cache (`cache_dir`, or the default).

    "auto" picks RHVoice Letícia if it is installed, else espeak-ng, which always is.
    """
    return CachedSynthesizer(_engine(engine), cache_dir or default_tts_cache_dir())


def make_transcriber(model: str = "base", **options: object) -> Transcriber:
    """Return a Whisper transcriber for `model` ("base" = bundled offline), see WhisperOptions."""
    return WhisperTranscriber(WhisperOptions(model=model, **options))


def _engine(engine: str) -> Synthesizer:
    if engine == "auto":
        return RHVoiceSynthesizer() if RHVoiceSynthesizer.available() else EspeakSynthesizer()
    if engine == "rhvoice":
        return RHVoiceSynthesizer()
    if engine == "espeak":
        return EspeakSynthesizer()
    raise SpeechError(f"unknown speech synthesizer {engine!r}: choose one of {', '.join(SYNTHESIZERS)}")
