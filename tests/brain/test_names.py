"""A visitor's name as speech recognition writes it by ear, and the common Brazilian first names
it is checked against (concierge/brain/names.py)."""

from __future__ import annotations

import pytest

from concierge.apps.visitor import same_slot
from concierge.brain.names import is_first_name, respell, same_name, sound_key


@pytest.mark.parametrize(
    "heard, meant",
    [
        ("Maykon", "Maicon"),  # the same sounds, the usual spelling
        ("Jozé Carlos", "José Carlos"),
        ("Edylene Souza", "Edilene Souza"),  # the surname stays as heard
        ("Ed Valdo Pinto", "Edvaldo Pinto"),  # one name written as two words
        ("Ivo Nete", "Ivonete"),
        ("Fran Sinaldo", "Francinaldo"),
        ("Jé fez som", "Jefferson"),  # words that are no names, together one sound off a name
    ],
)
def test_a_known_name_written_by_ear_is_respelled(heard, meant):
    assert respell(heard) == meant


@pytest.mark.parametrize(
    "heard",
    [
        "Thaíssa",  # a name one sound off a known one ('Taís') is a name too
        "Karen",
        "Raimundinho",  # a diminutive
        "Yorrana",  # rare, near nothing
        "Ana Paula",  # two known names: a compound, not one name split
        "Luiz Ivânia",  # two known names one sound off a third: left as heard
        "Luan da Silva",  # never joined across a particle
        "Cristiano Ronaldo",
    ],
)
def test_names_are_otherwise_left_as_heard(heard):
    assert respell(heard) == heard


def test_the_list_holds_names_not_words():
    assert is_first_name("Edileuza") and is_first_name("tonho") and is_first_name("KENJI")
    assert not is_first_name("tentando") and not is_first_name("amanhã")


def test_names_that_sound_alike_are_the_same_name():
    assert sound_key("Thaís") == sound_key("Tais") and sound_key("Wellington") == sound_key("Uelinton")
    assert same_name("Suely", "Sueli") and same_name("Gean", "Jean")
    assert not same_name("Karen", "Carmem") and not same_name("", "")
    # the evaluation judges a visitor's name the same way
    assert same_slot("visitor_name", "Maicon", "Maycon") and not same_slot("visitor_name", "Maicon", "Marcos")
