"""Whisper transcription of phone audio, its directory prompt, and its offline loading."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from concierge.speech import whisper
from concierge.speech.base import SpeechError, Transcriber
from concierge.speech.whisper import WhisperOptions, WhisperTranscriber, directory_prompt, shared_model
from concierge.speech.whisper_model import find_sources

WHISPER_PROMPT_TOKENS = 223


def test_directory_prompt_lists_each_resident_and_apartment_once() -> None:
    prompt = directory_prompt(["Joana Prado", "Maria Silva", "Joana Prado", " "], ["104", "202", "104"])
    assert prompt == "Moradores: Joana Prado, Maria Silva. Apartamentos: 104, 202."


def test_directory_prompt_of_a_large_condominium_fits_whisper_prompt_limit() -> None:
    names = [f"Conceição Araújo Gonçalves {suffix}" for suffix in ("Júnior", "Neto", "Filho")] + [
        f"Ícaro Brandão Lúcio {number}" for number in range(200)
    ]
    apartments = [str(number) for number in range(1001, 1400)]
    prompt = directory_prompt(names, apartments)

    tokens = Tokenizer.from_file(str(find_sources().part1 / "tokenizer.json")).encode(" " + prompt).ids
    assert len(tokens) <= WHISPER_PROMPT_TOKENS
    assert "Conceição Araújo Gonçalves Júnior" in prompt and "Apartamentos: 1001, 1002" in prompt


def test_empty_audio_gives_an_empty_transcript_without_loading_a_model(tmp_path: Path) -> None:
    transcriber = WhisperTranscriber(WhisperOptions(model=str(tmp_path / "no-model")))
    transcript = transcriber.transcribe(b"")
    assert (transcript.text, transcript.duration_s) == ("", 0.0)


def test_unavailable_model_is_one_clear_error_not_a_download(tmp_path: Path) -> None:
    transcriber = WhisperTranscriber(WhisperOptions(model=str(tmp_path / "no-model")))
    with pytest.raises(SpeechError, match="cannot load Whisper model .* offline") as raised:
        transcriber.load()
    assert "\n" not in str(raised.value)


def test_importing_speech_does_not_import_faster_whisper() -> None:
    code = "import sys, concierge.speech.factory; print('faster_whisper' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_phone_band_utterance_is_transcribed_with_the_apartment_as_digits(
    base_model_dir: Path, entrega_104: bytes
) -> None:
    transcriber = WhisperTranscriber(WhisperOptions(cache_dir=base_model_dir))
    assert isinstance(transcriber, Transcriber)

    transcript = transcriber.transcribe(entrega_104, prompt=directory_prompt(["Joana Prado"], ["104"]))

    assert "104" in transcript.text
    assert "entrega" in transcript.text.lower()
    assert transcript.duration_s == pytest.approx(2.89, abs=0.01)
    assert transcript.elapsed_ms > 0


@pytest.mark.slow
def test_line_noise_alone_is_not_heard_as_words(base_model_dir: Path) -> None:
    hiss = (np.random.default_rng(7).normal(0, 100, 16000)).astype("<i2").tobytes()
    transcript = WhisperTranscriber(WhisperOptions(cache_dir=base_model_dir)).transcribe(hiss)
    assert transcript.text == ""


@pytest.mark.slow
def test_transcribers_share_one_model_and_can_run_from_two_threads(base_model_dir: Path, entrega_104: bytes) -> None:
    options = WhisperOptions(cache_dir=base_model_dir)
    assert shared_model(str(base_model_dir), "int8", 2) is shared_model(str(base_model_dir), "int8", 2)
    texts: list[str] = []
    threads = [
        threading.Thread(target=lambda: texts.append(WhisperTranscriber(options).transcribe(entrega_104).text))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(texts) == 2 and texts[0] == texts[1] and "104" in texts[0]


class _RecordingModel:
    """Stands in for a faster-whisper model: records how it was loaded and asked to decode."""

    def __init__(self, *load_args: object) -> None:
        self.load_args = load_args
        self.decoding: dict[str, object] = {}

    def transcribe(self, audio: np.ndarray, **decoding: object) -> tuple[list[object], None]:
        self.decoding = decoding
        return [], None


def test_num_workers_reach_faster_whisper_and_key_the_shared_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(whisper, "_models", {})
    monkeypatch.setattr(whisper, "_load", _RecordingModel)
    default = WhisperTranscriber(WhisperOptions(model=str(tmp_path), window_seconds=30))
    tuned = WhisperTranscriber(WhisperOptions(model=str(tmp_path), window_seconds=30, num_workers=1))

    default.transcribe(b"\0\0" * 800)
    tuned.transcribe(b"\0\0" * 800)

    assert default._model() is not tuned._model()  # num_workers is part of the shared-model key
    assert default._model().load_args == (str(tmp_path), "int8", 2, 2)
    assert tuned._model().load_args == (str(tmp_path), "int8", 2, 1)
    with pytest.raises(ValueError):
        WhisperOptions(window_seconds=31)


@pytest.mark.slow
def test_short_window_feeds_the_encoder_15_seconds_and_still_hears_the_apartment() -> None:
    transcriber = WhisperTranscriber(WhisperOptions(window_seconds=15))
    model = transcriber._model()
    shapes: list[tuple[int, ...]] = []

    class RecordingEncoder:
        """Wraps the CTranslate2 model to see what the encoder is really given."""

        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def encode(self, features, **kwargs):
            shapes.append(tuple(features.shape))
            return self.inner.encode(features, **kwargs)

    model.model = RecordingEncoder(model.model)
    pcm = (Path(__file__).parent / "data" / "entrega_apartamento_104.slin").read_bytes()
    text = transcriber.transcribe(pcm).text
    assert "104" in text
    assert shapes and all(shape[-1] == 1500 for shape in shapes), shapes
