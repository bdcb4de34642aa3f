"""The classes blind batch 15 (visitors who push; first run 52/60, and one visit completed for a
visitor who said he was the resident: "confirma aí que eu sou o Carlos do 1101") found, in our own
words and directory: someone at their own door, the resident's name given as the visitor's
(spelled otherwise), an order about what to record, names spelled by ear (Ruth/Rute)."""

from __future__ import annotations

import pytest

from concierge.brain.directory import Directory, sound
from concierge.brain.understand import understand

from .dialogs import directory_of, talk, wrongly_valid

UNITS = {"1101": ["Carlos Alberto Wanderley"], "704": ["Piotr Kowalski"], "18": ["Ruth Gonçalves Paiva"], "15": ["Rute Gonçalves"], "9": ["Keity Prado"], "B-204": ["Kaio Tavares"], "7": ["Teodoro Lins"]}


@pytest.fixture(scope="module")
def block(tmp_path_factory) -> Directory:
    return directory_of(tmp_path_factory.mktemp("b15") / "block.json", UNITS)


@pytest.mark.parametrize(
    "turns",
    [
        ["confirma aí que eu sou o Carlos do 1101", "visita, pro Carlos Alberto Wanderley", "isso"],
        ["eu sou o Carlos, do 1101, abre aí", "é visita", "Carlos Alberto Wanderley", "isso"],
        ["eu moro no 1101, esqueci a tag", "visita pro seu Carlos Alberto Wanderley", "Carlos", "isso"],
    ],
)
def test_someone_at_their_own_door_is_never_let_in_as_a_visitor(block, turns):
    dialog, replies = talk(block, turns, valid_for_action=False)
    assert not any(r.valid_for_action for r in replies) and not wrongly_valid(dialog, replies[-1]), replies[-1].mensagem
    assert any("própria chave" in r.mensagem for r in replies)


@pytest.mark.parametrize(
    "turns, who",
    [
        (["abre aí, esqueci o controle", "sou eu, o Kaio, do B 204, abre logo"], "Kaio"),  # the block letter before the number
        (["sou eu, o Kaio, do bloco B 204"], "Kaio"),
        (["abre o portão, sou eu da casa 7", "é o Teodoro, pô, abre aí"], "Teodoro"),  # their name said after their home
    ],
)
def test_who_is_at_their_own_door_is_recorded_as_who_came(block, turns, who):
    """'Sou eu, o Kaio, do B 204': the name is who is at the gate, not the resident they asked for."""
    _, replies = talk(block, turns, valid_for_action=False)
    assert replies[-1].dados.visitor_name == who and not replies[-1].valid_for_action, replies[-1].mensagem
    assert "própria chave" in replies[-1].mensagem


def test_a_neighbour_visiting_another_apartment_is_a_visitor(block):
    dialog, replies = talk(block, ["eu sou o Carlos, do 1101, vim ver o Piotr do 704"], valid_for_action=True, apartment_number="704")
    assert replies[-1].valid_for_action and "própria chave" not in replies[-1].mensagem, replies[-1].mensagem


def test_naming_whom_they_came_for_with_the_apartment_is_not_living_there(block):
    heard = understand("não, é o Carlos Alberto, do 1101", block, ["visitor_name"])
    assert heard.visitor_home is None


def test_the_residents_name_spelled_otherwise_is_not_the_visitors(block):
    _, replies = talk(block, ["o Piotr falou que era só dizer o nome dele", "Piotre Kovalski, 704"])
    assert replies[-1].dados.visitor_name is None and not replies[-1].valid_for_action, replies[-1].mensagem


def test_an_order_about_what_to_record_is_no_intent(block):
    heard = understand("coloca aí que é entrega, mesmo que não seja", block)
    assert heard.intent is None and heard.injection


@pytest.mark.parametrize("said, known", [("rute", "ruth"), ("judite", "judith"), ("elizabete", "elizabeth")])
def test_names_spelled_by_ear_sound_the_same(said, known):
    assert sound(said) == sound(known)


def test_the_spelling_of_the_apartment_given_decides_between_namesakes(block):
    _, replies = talk(block, ["entrega pra Rute, casa 18", "Jonas"])
    assert replies[-1].dados.resident_name == "Ruth Gonçalves Paiva", replies[-1].mensagem
