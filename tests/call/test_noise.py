"""What speech recognition makes of line noise is no visitor's turn; visitors' words always are, as heard."""

from __future__ import annotations

import pytest

from concierge.call.noise import is_noise


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "...",
        "?",
        " - ",
        "Legendas pela comunidade Amara.org",
        "Legendas pela comunidade Amara.org.",
        "Subtítulos realizados por la comunidad de Amara.org",
        "Sous-titres réalisés para la communauté d'Amara.org",
        "Legendas por Adriana Zanotto.",
        "Obrigado por assistir!",
        "Inscreva-se no canal!",
        "[Música]",
        "(risos)",
        "♪",
        "[Música] Legendas pela comunidade Amara.org",
    ],
)
def test_noise_readings_are_noise_however_much_audio_there_was(text):
    assert is_noise(text, speech_seconds=2.0)


@pytest.mark.parametrize("text", ["Obrigado.", "Obrigada!", "Tchau.", "Tchau, tchau."])
def test_a_lone_courtesy_word_is_noise_only_from_very_little_speech(text):
    assert is_noise(text, speech_seconds=0.3)
    assert not is_noise(text, speech_seconds=0.8)


@pytest.mark.parametrize(
    "text",
    [
        "Boa noite.",
        "Sim.",
        "302",
        "É uma entrega para o 302, obrigado.",
        "Meu nome é Carlos. Obrigado.",
        "Não.",
        "Oi?",
        "Amara",
        "É uma entrega para o 302. Legendas pela comunidade Amara.org",
        "[Música] Boa noite, entrega.",
    ],
)
def test_anything_with_a_visitors_words_in_it_is_a_turn_even_when_short(text):
    assert not is_noise(text, speech_seconds=0.3)
