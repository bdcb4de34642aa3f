"""In-process espeak-ng synthesis through the espeakng-loader wheel."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from concierge.speech.base import SpeechError, Synthesizer
from concierge.speech.espeak import EspeakSynthesizer

GREETING = "Condomínio Apoena, em que posso ajudar?"


def seconds(pcm: bytes) -> float:
    return len(pcm) / 2 / 8000


def rms(pcm: bytes) -> float:
    return float(np.sqrt(np.mean(np.frombuffer(pcm, dtype="<i2").astype(np.float64) ** 2)))


def test_greeting_becomes_audible_8khz_speech_of_plausible_length() -> None:
    synthesizer = EspeakSynthesizer()
    assert isinstance(synthesizer, Synthesizer)

    pcm = synthesizer.synthesize(GREETING)

    assert len(pcm) % 2 == 0
    assert 1.5 < seconds(pcm) < 5.0
    assert rms(pcm) > 500


def test_longer_text_takes_longer_to_say() -> None:
    synthesizer = EspeakSynthesizer()
    short = synthesizer.synthesize("Bom dia.")
    long = synthesizer.synthesize("Bom dia. Por favor, diga o seu nome e o número do apartamento que deseja visitar.")
    assert seconds(long) > 3 * seconds(short) > 0


def test_blank_text_is_silence_of_zero_length() -> None:
    assert EspeakSynthesizer().synthesize("  ") == b""


def test_threads_speaking_at_once_each_get_only_their_own_audio() -> None:
    texts = ["Sim.", "Apartamento cento e um.", "Por favor, aguarde um momento enquanto eu chamo o morador."]
    alone = [seconds(EspeakSynthesizer().synthesize(text)) for text in texts]
    together: list[tuple[int, float]] = []

    def speak(index: int) -> None:
        together.append((index, seconds(EspeakSynthesizer().synthesize(texts[index]))))

    threads = [threading.Thread(target=speak, args=(index,)) for index in range(len(texts)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(together) == 3 * len(texts)
    for index, duration in together:
        assert duration == pytest.approx(alone[index], rel=0.02)


def test_unknown_voice_is_a_speech_error() -> None:
    with pytest.raises(SpeechError, match="voice 'xx-nowhere'"):
        EspeakSynthesizer(voice="xx-nowhere").synthesize(GREETING)
