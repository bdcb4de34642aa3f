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
from concierge.speech.whisper import (
    COMPRESSION_RATIO_THRESHOLD,
    NO_SPEECH_THRESHOLD,
    TOKENS_FLOOR,
    TOKENS_PER_SECOND,
    WhisperOptions,
    WhisperTranscriber,
    compression_ratio,
    directory_prompt,
    shared_model,
    without_loops,
)
from concierge.speech.whisper_model import find_sources

WHISPER_PROMPT_TOKENS = 223
DIRECTORY_PROMPT = (  # directory_prompt() of data/apartamentos.json, frozen here
    "Moradores: Ana Beatriz Souza, Marcos Souza, Roberto Almeida, Francisca Oliveira, Joana Prado, Raimundo "
    "Nonato Ferreira, Maria Silva, José Silva, Fernanda Costa, Luciana Martins, Paulo Martins, Beatriz Andrade, "
    "Júlia Mendes, Ricardo Mendes, Helena Vasconcelos, João Santos. Apartamentos: 101, 102, 103, 104, 201, 202, "
    "203, 301, 302, 401, 415, 502, 601, 702, 801, 804, 902, 1001, 1104, 1203, 1204."
)


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
    """Stands in for a faster-whisper model: records how it was loaded."""

    def __init__(self, *load_args: object) -> None:
        self.load_args = load_args


def test_num_workers_reach_faster_whisper_and_key_the_shared_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(whisper, "_models", {})
    monkeypatch.setattr(whisper, "_load", _RecordingModel)
    default = WhisperTranscriber(WhisperOptions(model=str(tmp_path), window_seconds=30))
    tuned = WhisperTranscriber(WhisperOptions(model=str(tmp_path), window_seconds=30, num_workers=1))

    default.load()
    tuned.load()

    assert default._model() is not tuned._model()  # num_workers is part of the shared-model key
    assert default._model().load_args == (str(tmp_path), "int8", 2, 2)
    assert tuned._model().load_args == (str(tmp_path), "int8", 2, 1)
    with pytest.raises(ValueError):
        WhisperOptions(window_seconds=31)


def test_a_reading_that_loops_keeps_what_came_before_the_loop() -> None:
    looped = "317, " + "17, " * 30
    assert compression_ratio(looped) > COMPRESSION_RATIO_THRESHOLD
    assert without_loops(looped) == "317, 17"
    assert without_loops("Apartamentos, 601, 601, 601, 601") == "Apartamentos, 601"
    assert without_loops("Sou visita, vim ver a Joana, do 104, 104 mesmo.") == "Sou visita, vim ver a Joana, do 104, 104 mesmo."
    assert whisper._reading(looped, -0.5, hit_cap=True) == whisper.Reading("317, 17", -0.5, looped=True)
    assert not whisper._reading("Entrega no 1504.", -0.2, hit_cap=False).looped


def test_readings_that_differ_only_in_case_or_punctuation_are_one() -> None:
    readings = ["Entrega no 104.", "entrega no 104", "Entrega no 1004.", "", "Entrega, no 104!"]
    assert whisper._distinct(readings) == ["Entrega no 104.", "Entrega no 1004."]


def test_alternatives_of_a_long_recording_change_one_window_at_a_time() -> None:
    combined = whisper._combine([["a1", "a2", "a3"], ["b1", "b2"]], limit=4)
    assert combined == ["a1 b1", "a2 b1", "a1 b2", "a3 b1"]


@pytest.mark.slow
def test_alternatives_are_other_distinct_readings_of_the_same_audio(base_model_dir: Path, entrega_104: bytes) -> None:
    transcriber = WhisperTranscriber(WhisperOptions(cache_dir=base_model_dir, alternatives=5))
    transcript = transcriber.transcribe(entrega_104, prompt=directory_prompt(["Joana Prado"], ["104", "1004", "204"]))

    readings = [transcript.text, *transcript.alternatives]
    assert transcript.alternatives and len(readings) <= 5
    assert len(whisper._distinct(readings)) == len(readings)  # distinct even ignoring case and punctuation
    assert any("104" in reading for reading in readings)
    assert transcript.no_speech_prob < NO_SPEECH_THRESHOLD

    greedy = WhisperTranscriber(WhisperOptions(cache_dir=base_model_dir, alternatives=0)).transcribe(entrega_104)
    assert greedy.alternatives == () and "104" in greedy.text


@pytest.mark.slow
def test_audio_that_makes_whisper_loop_gives_a_short_reading(base_model_dir: Path, entrega_104: bytes) -> None:
    # Slices of "Entrega para o apartamento cento e quatro" played over and over: faster-whisper's own
    # greedy decoding with this prompt loops to its 96-token cap ("Entregue para o arrastamento, 104,
    # entregue para o arrastamento, 104, …", gzip ratio 7).
    samples = np.frombuffer(entrega_104, dtype="<i2")
    starts = [1600 * k % len(samples) for k in range(20)]
    chopped = np.concatenate([samples[start : start + 2400] for start in starts]).tobytes()

    transcriber = WhisperTranscriber(WhisperOptions(cache_dir=base_model_dir, no_speech_threshold=1.0))
    transcript = transcriber.transcribe(chopped, DIRECTORY_PROMPT)

    cap_words = TOKENS_FLOOR + TOKENS_PER_SECOND * transcript.duration_s
    for reading in (transcript.text, *transcript.alternatives):
        assert compression_ratio(reading) <= COMPRESSION_RATIO_THRESHOLD, reading
        assert without_loops(reading) == reading.rstrip(",;:"), reading
        assert len(reading.split()) <= cap_words, reading


@pytest.mark.slow
def test_noise_alone_gives_no_words_even_with_a_directory_prompt(base_model_dir: Path) -> None:
    # 3 s of phone-band pink noise at -30 dBFS: the prompt kept Whisper's no-speech probability
    # (~0.49) under its usual 0.6, so faster-whisper's own decoding heard "Apenas de novo." in it
    # and the beam heard "Comprando, 202," (an apartment of the prompt). On another machine (another
    # CPU, a fresh install) the same audio gave 0.62: the premise varies, our rule must hold either way.
    spectrum = np.fft.rfft(np.random.default_rng(29).standard_normal(24000))
    freqs = np.fft.rfftfreq(24000, 1 / 8000)
    pink = np.fft.irfft(spectrum * np.where((freqs >= 300) & (freqs <= 3400), 1 / np.sqrt(np.maximum(freqs, 1)), 0))
    pcm = (pink / np.sqrt(np.mean(pink**2)) * 32767 * 10 ** (-30 / 20)).astype("<i2").tobytes()

    transcript = WhisperTranscriber(WhisperOptions(cache_dir=base_model_dir)).transcribe(pcm, DIRECTORY_PROMPT)

    assert (transcript.text, transcript.alternatives) == ("", ())
    assert NO_SPEECH_THRESHOLD < transcript.no_speech_prob  # our threshold is what silenced it


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


PROMPT = "Moradores: Joana Prado, Carlos Silva. Apartamentos: 1-601, 1-602, 1-501, A-108, A-501."


@pytest.mark.parametrize(
    "heard, kept",
    [
        ("1-601, 1-602, 1-501, 1", ""),  # the apartment list read back, cut off mid-item
        ("A-108, A-501", ""),
        ("Moradores, meu nome é Cristiane, sou da Logi.", "meu nome é Cristiane, sou da Logi."),
        ("É pra Joana Prado, 1-601.", "É pra Joana Prado, 1-601."),  # one item each: said, not copied
        ("Torre 8-801, 1-801.", "Torre 8-801, 1-801."),
    ],
)
def test_what_whisper_copies_from_the_prompt_is_dropped(heard, kept):
    from concierge.speech.whisper import strip_prompt_echo

    assert strip_prompt_echo(heard, PROMPT) == kept
    assert strip_prompt_echo(heard, None) == heard


def test_whisper_is_primed_with_the_residents_names_only() -> None:
    from concierge.speech.whisper import decoder_prompt

    assert decoder_prompt(DIRECTORY_PROMPT).startswith("Ana Beatriz Souza, Marcos Souza,")
    assert decoder_prompt(DIRECTORY_PROMPT).endswith("João Santos.")
    assert decoder_prompt(directory_prompt([], ["101"])) is None
    assert decoder_prompt("Portaria do Condomínio Apoena.") == "Portaria do Condomínio Apoena."
    assert decoder_prompt(None) is None
