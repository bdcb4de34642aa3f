"""The spoken-number reader: every shape pt-BR speakers and Whisper give an apartment number."""

from __future__ import annotations

import pytest

from concierge.brain.numbers import blocks, readings, tokens
from concierge.brain.understand import apartment_readings


def best(text: str) -> str | None:
    heard = apartment_readings(text)
    return heard[0].number if heard else None


@pytest.mark.parametrize(
    "said, number",
    [
        ("trezentos e dezesseis", "316"),  # words
        ("mil cento e dois", "1102"),
        ("é o apartamento 1204", "1204"),  # digits
        ("três um seis", "316"),  # digit by digit
        ("meia zero dois", "602"),  # 'meia' is six
        ("3, 1, 6", "316"),
        ("quinze zero dois", "1502"),  # pairs, as many say four-digit numbers
        ("12 04", "1204"),
        ("300 de 16", "316"),  # Whisper splits one number
        ("500 de 4", "504"),
        ("200, 9", "209"),
        ("mil 100 e 2", "1102"),
        ("Não, 1,300 e cinco.", "1305"),  # Whisper's English thousands separator
        ("é o 1,200 mil", "1200"),  # ...with the thousand said again in words
        ("1.700.2", "1702"),  # a round number and its units, dotted
        ("3.07", "307"),  # digit by digit, dotted
        ("apartamento 14.02", "1402"),
        ("400 e 15", "415"),
        ("317, 17, 17, 17, 17, 17", "317"),  # a decoding loop
        ("apartamento 2.403", "2403"),  # a thousands separator
        ("quinhemtos e oito", "508"),  # one slip in a long number word
        ("é o quatrocentos e... não, quinhentos e dois", "502"),  # a self-correction
        ("casa sete", "7"),
    ],
)
def test_apartment_number_shapes(said, number):
    assert best(said) == number


@pytest.mark.parametrize("said", ["tenho um pacote", "são 3 caixas", "volto em 20 minutos", "uma encomenda"])
def test_counts_and_articles_are_not_apartments(said):
    assert best(said) is None


def test_blocks_and_towers_are_labels_not_numbers():
    words = tokens("torre dois, cento e um")
    assert blocks(words) == [("2", 1)]
    assert [r.value for r in readings(words)] == ["101"]
    heard = apartment_readings("Vim ver o Joaquim do bloco B, apartamento 1204.")
    assert (heard[0].number, heard[0].block) == ("1204", "B")
    assert [(h.number, h.block) for h in apartment_readings("A 504.")] == [("504", "A")]


def test_negated_numbers_come_last():
    heard = apartment_readings("não é o 301, é o 302")
    assert [h.number for h in heard] == ["302", "301"] and heard[1].negated
