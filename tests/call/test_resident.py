"""The resident leg's dialog as a pure state machine: facts out, answers in, one decision."""

from __future__ import annotations

import pytest

from concierge.brain.reply import Intent
from concierge.call.resident import Decision, PlayVisitorName, ResidentDialog, Say, VisitFacts

DELIVERY = VisitFacts(
    intent=Intent.ENTREGA, visitor_name="Carlos Pereira", resident_name="Joana Prado", apartment="104",
    company="Correios", visitor_name_audio=True,
)
VISIT = VisitFacts(
    intent=Intent.VISITA, visitor_name="Marcos", resident_name="Otávio Reis", apartment="604", visitor_name_audio=False,
)


def said(prompts) -> str:
    return " ".join(p.text for p in prompts if isinstance(p, Say))


def test_opening_tells_who_is_at_the_gate_plays_their_voice_then_asks():
    prompts = ResidentDialog(DELIVERY).start()
    assert prompts[0] == Say(
        "Olá, aqui é a portaria do Condomínio Apoena. Carlos Pereira está no portão com uma entrega dos Correios."
    )
    assert prompts[1] == PlayVisitorName()
    assert prompts[2] == Say("Posso liberar? Diga sim ou não, ou tecle 1 para sim e 2 para não.")


def test_a_visit_without_recorded_name_is_announced_in_words_only():
    prompts = ResidentDialog(VISIT).start()
    assert not any(isinstance(p, PlayVisitorName) for p in prompts)
    assert "Marcos está no portão para uma visita" in said(prompts)


def test_the_condominium_name_is_configurable():
    prompts = ResidentDialog(VISIT, condominium="Condomínio Jardim das Flores").start()
    assert said(prompts).startswith("Olá, aqui é a portaria do Condomínio Jardim das Flores.")


@pytest.mark.parametrize(
    "answer, decision, tells_visitor",
    [
        ("Pode subir", Decision.AUTHORIZED, "A moradora autorizou. Pode entrar."),
        ("Não conheço", Decision.DENIED, "não autorizou"),
        ("Deixa na portaria", Decision.LEAVE_AT_GATE, "Pode deixar a encomenda na portaria"),
        ("Manda esperar que eu desço", Decision.RESIDENT_COMING, "já vai descer"),
    ],
)
def test_a_spoken_answer_ends_with_a_decision_and_the_visitor_message(answer, decision, tells_visitor):
    dialog = ResidentDialog(DELIVERY)
    dialog.start()
    closing = dialog.hear(answer)
    assert dialog.decision is decision and dialog.done
    assert tells_visitor in dialog.visitor_message
    assert said(closing)  # the resident hears a short acknowledgement before the line ends


def test_keypad_one_authorizes_and_two_denies():
    yes, no = ResidentDialog(VISIT), ResidentDialog(VISIT)
    yes.start(), no.start()
    yes.press("1"), no.press("2")
    assert yes.decision is Decision.AUTHORIZED and yes.by == "keypad"
    assert no.decision is Decision.DENIED and no.by == "keypad"
    assert "O morador autorizou. Pode entrar." == yes.visitor_message


def test_a_spoken_decision_is_recorded_as_by_voice():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    dialog.hear("sim")
    assert dialog.by == "voice"


def test_a_question_repeats_the_facts_and_keeps_listening():
    dialog = ResidentDialog(DELIVERY)
    dialog.start()
    again = dialog.hear("Quem é?")
    assert not dialog.done
    assert "Carlos Pereira está no portão" in said(again) and PlayVisitorName() in again
    assert "Posso liberar?" in said(again)
    dialog.hear("Ah, pode subir")
    assert dialog.decision is Decision.AUTHORIZED


def test_nothing_understood_is_asked_again_once_then_no_entry():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    again = dialog.hear("tá chovendo aí?")
    assert not dialog.done and "Posso liberar?" in said(again)
    dialog.hear("hmm")
    assert dialog.decision is Decision.NO_ANSWER
    assert "Não consegui falar com o morador" in dialog.visitor_message


def test_a_yes_and_a_no_together_are_asked_again_never_taken_as_yes():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    dialog.hear("Não, pode subir")
    assert not dialog.done
    dialog.hear("Sim... não, espera. Não deixa, não.")  # the last word that decides is a no
    assert dialog.decision is Decision.DENIED


def test_silence_counts_as_not_understood():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    dialog.silence()
    assert not dialog.done
    dialog.silence()
    assert dialog.decision is Decision.NO_ANSWER


def test_endless_questions_end_without_entry():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    for _ in range(5):
        if dialog.done:
            break
        dialog.hear("Quem?")
    assert dialog.decision is Decision.NO_ANSWER


def test_resident_hanging_up_before_deciding_is_no_answer():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    dialog.hung_up()
    assert dialog.decision is Decision.NO_ANSWER and dialog.done


def test_never_picked_up_is_no_answer_with_a_polite_visitor_message():
    dialog = ResidentDialog(DELIVERY)
    dialog.unreachable()
    assert dialog.decision is Decision.NO_ANSWER
    assert dialog.visitor_message.startswith("Não consegui falar com a moradora")


def test_hanging_up_after_deciding_keeps_the_decision():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    dialog.hear("pode")
    dialog.hung_up()
    assert dialog.decision is Decision.AUTHORIZED


def test_answers_after_the_decision_change_nothing():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    dialog.hear("não")
    assert dialog.hear("pode subir") == () and dialog.press("1") == ()
    assert dialog.decision is Decision.DENIED


def test_leave_at_gate_for_a_visit_is_worded_without_a_parcel():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    dialog.hear("deixa na portaria")
    assert dialog.decision is Decision.LEAVE_AT_GATE
    assert "encomenda" not in dialog.visitor_message and "portaria" in dialog.visitor_message


def test_every_turn_is_kept_with_how_it_was_read():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    dialog.hear("quem é?")
    dialog.silence()
    dialog.press("1")
    assert [(t.by, t.heard, t.answer.value) for t in dialog.turns] == [
        ("voice", "quem é?", "question"), ("silence", "", "unclear"), ("keypad", "1", "authorize"),
    ]


def test_no_answer_is_decided_by_nobody():
    dialog = ResidentDialog(VISIT)
    dialog.start()
    dialog.silence(), dialog.silence()
    assert dialog.decision is Decision.NO_ANSWER and dialog.by is None
