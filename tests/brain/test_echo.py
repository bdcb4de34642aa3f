"""The concierge's own voice heard back in the visitor's turn (blind batch 14: 21 of 61 dialogs
had one; its first run completed a visit for the resident a wrongly echoed read-back named)."""

from __future__ import annotations

import pytest

from concierge.brain.echo import without_echo
from concierge.brain.memory import Conversation

from .dialogs import check_final, directory_of, talk, wrongly_valid


def said_before(*lines: str) -> Conversation:
    conversation = Conversation(id="echo")
    for line in lines:
        conversation.add("concierge", line)
        conversation.add("visitor", "…")
    return conversation


@pytest.mark.parametrize(
    "last, heard, left",
    [
        ("Qual é o seu nome, por favor?", "Qual é o seu nome, por favor? Dejair", "Dejair"),
        ("Qual é o seu nome, por favor?", "qual é o seu nome por favor... Uóshington", "Uóshington"),
        ("Boa tarde! É entrega ou visita?", "entrega ou visita... é visita", "é visita"),
        ("Para qual apartamento e para quem é a entrega?", "para qual apartamento e para quem é a entrega? pro 302", "pro 302"),
        # a read-back heard back before the visitor's answer, even one that was not the last line
        ("Qual é o seu nome?", "Entrega para Paula Reis, no apartamento 803, certo? não, Ana Paula, do 402", "não, Ana Paula, do 402"),
        # the visitor's own words stay: a short run, or one with no word of the concierge's asking
        ("É entrega ou visita?", "é entrega", "é entrega"),
        ("Entrega para Ana Souza, no apartamento 302, certo?", "isso, certo", "isso, certo"),
        ("Qual é o apartamento?", "é o 302, certo?", "é o 302, certo?"),
    ],
)
def test_the_concierge_heard_back_is_cut_from_the_turn(last, heard, left):
    assert without_echo(heard, said_before(last)) == left


def test_only_the_last_two_lines_are_heard_back():
    conversation = said_before("Condomínio Jardins, em que posso ajudar?", "É entrega ou visita?", "Qual é o seu nome, por favor?")
    assert without_echo("em que posso ajudar, Rosa", conversation) == "em que posso ajudar, Rosa"
    assert without_echo("é entrega ou visita? visita", conversation) == "visita"


def test_an_echoed_read_back_does_not_confirm_what_the_visitor_corrects(tmp_path):
    block = directory_of(tmp_path / "d.json", {"803": ["Paula Miranda Reis"], "402": ["Ana Paula Miranda"]})
    turns = ["loggi, entrega pra Paula Miranda", "Entrega para Paula Miranda Reis, no apartamento 803, certo? não não, Ana Paula, do 402", "Sidnei"]
    dialog, replies = talk(block, turns, apartment_number="402", resident_name="Ana Paula Miranda")
    assert not wrongly_valid(dialog, replies[-1]) and check_final(dialog, replies[-1]) == [], replies[-1].mensagem
