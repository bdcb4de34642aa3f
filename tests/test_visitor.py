"""The truthful simulated visitor: read-backs, the keypad, and questions asked again after the script."""

from __future__ import annotations

from concierge.apps.visitor import answer, question_answers
from concierge.brain.reply import Dados

DELIVERY = {"intent_type": "entrega", "visitor_name": "Rosa", "apartment_number": "B-43", "resident_name": "Edvaldo Santos", "valid_for_action": True}


def test_questions_are_answered_with_the_visitor_s_own_facts():
    said = question_answers(DELIVERY)
    assert said == {
        "intent": "É uma entrega.",
        "name": "Meu nome é Rosa.",
        "where": "É para Edvaldo Santos, bloco B, apartamento 43.",
        "block": "Bloco B.",
    }


def test_a_visit_that_must_not_happen_gets_no_apartment_and_resident():
    said = question_answers({"intent_type": "visita", "apartment_number": "304", "resident_name": "Ana Lima", "valid_for_action": False})
    assert set(said) == {"intent"}


def test_a_question_is_answered_only_once_the_script_has_run_out():
    if_asked = question_answers(DELIVERY)
    for message, kind in (
        ("Boa tarde! É entrega ou visita?", "intent"),
        ("Qual é o seu nome, por favor?", "name"),
        ("O apartamento 43 é de qual bloco?", "block"),
        ("Para qual apartamento e para quem é a entrega?", "where"),
    ):
        assert answer(message, Dados(), DELIVERY, if_asked) is None, "the script goes on first"
        reply = answer(message, Dados(), DELIVERY, if_asked, script_done=True)
        assert (reply.kind, reply.text) == (kind, if_asked[kind])


def test_without_the_answers_a_dialog_ends_where_its_script_ends():
    assert answer("É entrega ou visita?", Dados(), DELIVERY, {}, script_done=True) is None
