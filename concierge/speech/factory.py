"""Build the configured speech engines by name: the one place that knows every engine."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from concierge.speech._files import default_cache_root
from concierge.speech.azure import DEFAULT_VOICE, AzureOptions, AzureSynthesizer, AzureTranscriber
from concierge.speech.base import SpeechError, Synthesizer, Transcriber
from concierge.speech.cache import CachedSynthesizer
from concierge.speech.espeak import EspeakSynthesizer
from concierge.speech.fallback import FallbackSynthesizer
from concierge.speech.rhvoice import RHVoiceSynthesizer
from concierge.speech.whisper import WhisperOptions, WhisperTranscriber

SYNTHESIZERS = ("auto", "rhvoice", "espeak", "azure")
TRANSCRIBERS = ("whisper", "azure")


def default_tts_cache_dir() -> Path:
    """Return where rendered speech is kept between runs."""
    return default_cache_root() / "tts"


def make_synthesizer(
    engine: str = "auto",
    cache_dir: Path | None = None,
    voice: str = DEFAULT_VOICE,
    environ: Mapping[str, str] | None = None,
) -> Synthesizer:
    """Return the `engine` synthesizer behind a memory + disk cache (`cache_dir`, or the default),
    with a local spare for what it fails to say: Azure's is RHVoice (or espeak-ng), RHVoice's is
    espeak-ng (`FallbackSynthesizer`); espeak-ng, the last resort, has none.

    "auto" picks RHVoice Letícia if it is installed, else espeak-ng, which always is.
    "azure" speaks with the Azure `voice` (`greeting.voice`; the local engines keep their own),
    keyed by `AZURE_SPEECH_KEY` / `AZURE_SPEECH_REGION` from `environ` (default: the process
    environment). It says one word to the service now, so a bad key, region, voice or network
    stops start-up instead of hiding behind the cache until the first new reply.
    """
    folder = cache_dir or default_tts_cache_dir()
    main = CachedSynthesizer(_synthesizer(engine, voice, environ), folder)
    if main.name == "espeak":
        return main
    spare = "auto" if main.name == "azure" else "espeak"  # Azure → RHVoice (or espeak-ng); RHVoice → espeak-ng
    return FallbackSynthesizer(main, CachedSynthesizer(_synthesizer(spare, voice, environ), folder))


def make_transcriber(
    model: str = "base",
    engine: str = "whisper",
    environ: Mapping[str, str] | None = None,
    **options: object,
) -> Transcriber:
    """Return the `engine` transcriber.

    "whisper": `model` ("base" = bundled offline), configured without loading it; `options` are
    WhisperOptions. "azure": Azure Speech (`model` is not used; `options` are AzureOptions),
    checked against the service now like the Azure synthesizer.
    """
    if engine == "whisper":
        return WhisperTranscriber(WhisperOptions(model=model, **options))
    if engine == "azure":
        transcriber = AzureTranscriber(AzureOptions(**options), environ=environ)
        transcriber.check()
        return transcriber
    raise SpeechError(f"unknown speech recognizer {engine!r}: choose one of {', '.join(TRANSCRIBERS)}")


def _synthesizer(engine: str, voice: str, environ: Mapping[str, str] | None) -> Synthesizer:
    if engine == "auto":
        return RHVoiceSynthesizer() if RHVoiceSynthesizer.available() else EspeakSynthesizer()
    if engine == "rhvoice":
        return RHVoiceSynthesizer()
    if engine == "espeak":
        return EspeakSynthesizer()
    if engine == "azure":
        synthesizer = AzureSynthesizer(voice, environ=environ)
        synthesizer.check()
        return synthesizer
    raise SpeechError(f"unknown speech synthesizer {engine!r}: choose one of {', '.join(SYNTHESIZERS)}")
