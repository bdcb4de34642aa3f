"""A mailbox or the carrier's message is no resident: over real sockets, the simulated Asterisk
answers an attempt with a recording that talks at once (a rendered pt-BR mailbox greeting), Apoena
recognises it on the resident's leg, hangs that leg up and rings the next dial string, each
attempt with its own leg UUID; every attempt and how it ended is in the decision."""

from __future__ import annotations

import json

import pytest

from concierge.asterisk.simulated import SimulatedResident
from concierge.audio.pcm import read_audio_file
from concierge.brain.decision import Answer, is_voicemail, read_answer
from concierge.brain.directory import Apartment, Directory
from concierge.brain.reply import Intent
from concierge.call.resident import Decision, ResidentDialog, VisitFacts
from concierge.call.visit import ResidentTurnHeard, VisitStarted

from .helpers import ROOT, clip
from .test_visit import VISITOR, VISITOR_CHANNEL, visit

RESIDENT = ROOT / "fixtures" / "resident"
DIALS = ["PJSIP/ap104", "Local/11988887777@celular"]
MAILBOX_SAYS = "Olá, você ligou para a Joana. No momento não posso atender. Deixe sua mensagem após o sinal."


def two_phones() -> Directory:
    return Directory([Apartment(apartment_number="104", residents=["Joana Prado"], dial=DIALS)])


def mailbox(name: str = "caixa_postal") -> SimulatedResident:
    return SimulatedResident(pcm=read_audio_file(RESIDENT / f"{name}.slin"), speaks_first=True)


# -- reading: what a mailbox says is never a person's answer -----------------------------------

MAILBOXES = [
    "Deixe sua mensagem após o sinal.",
    MAILBOX_SAYS,
    "Sua chamada está sendo encaminhada para a caixa postal e estará sujeita a cobrança após o sinal.",
    "O número que você ligou está desligado ou fora da área de cobertura. Por favor, tente ligar mais tarde.",
    "Este número não recebe chamadas.",
    "A caixa postal de 11 98888-7777 está cheia.",
    "Oi, aqui é o Otávio, não posso atender agora, deixa seu recado que eu retorno.",
    "O número chamado não existe. Verifique o número discado.",
    "Após o bip, grave o seu recado.",
]


@pytest.mark.parametrize("said", MAILBOXES)
def test_a_mailbox_or_the_carriers_message_reads_as_voicemail_never_as_an_answer(said):
    assert is_voicemail(said) and read_answer(said) is Answer.VOICEMAIL


@pytest.mark.parametrize("said", ["Pode subir.", "Não conheço.", "Quem é?", "Deixa na portaria.", "Não sei quem é, mas pode subir",
                                  "Não estou esperando ninguém", "Pede pra esperar, que eu já desço."])  # fmt: skip
def test_a_persons_answer_is_no_voicemail(said):
    assert not is_voicemail(said) and read_answer(said) is not Answer.VOICEMAIL


FACTS = VisitFacts(intent=Intent.ENTREGA, visitor_name="Carlos", resident_name="Joana Prado", apartment="104", company="Correios")


def test_a_monologue_before_any_answer_is_a_recording_but_not_after_the_resident_has_spoken():
    dialog = ResidentDialog(FACTS)
    assert dialog.hear("Oi, a gente está viajando essa semana e volta só na segunda, fala o seu nome", monologue=True) == ()
    assert dialog.voicemail and dialog.decision is Decision.NO_ANSWER and dialog.by is None
    talkative = ResidentDialog(FACTS)
    talkative.hear("Quem é?")
    talkative.hear("Ah, o Carlos dos Correios, pode subir, eu estava esperando essa encomenda faz uma semana", monologue=True)
    assert not talkative.voicemail and talkative.decision is Decision.AUTHORIZED


def test_a_monologue_that_says_yes_is_still_no_yes():
    dialog = ResidentDialog(FACTS)
    dialog.hear("Oi, pode deixar o seu nome e telefone, a gente liga assim que puder, tchau", monologue=True)
    assert dialog.voicemail and dialog.decision is Decision.NO_ANSWER


# -- the visit: one leg per attempt --------------------------------------------------------------


def test_a_mailbox_on_the_first_phone_and_a_yes_on_the_second_authorizes_with_both_attempts_recorded(redis_server, tmp_path):
    residents = [mailbox(), SimulatedResident(pcm=clip("bom_dia"))]
    decided, events, _, asterisk, _ = visit(two_phones(), redis_server, tmp_path, [*VISITOR, MAILBOX_SAYS, "Pode subir."], residents=residents)
    assert (decided.decision, decided.by, decided.decided_by) == ("authorized", "voice", "Joana Prado")
    assert decided.visitor_message == "A moradora autorizou. Pode entrar."
    started = next(e for e in events if isinstance(e, VisitStarted))
    first, second = (originate.get_all("Variable") for originate in asterisk.originates)
    legs = [next(v.split("=", 1)[1] for v in variables if v.startswith("APOENA_UUID=")) for variables in (first, second)]
    assert legs[0] == started.leg_id and legs[0] != legs[1], "a fresh UUID for each attempt"
    assert decided.attempts == ((DIALS[0], "voicemail", legs[0]), (DIALS[1], "answered", legs[1]))
    assert decided.leg_id == legs[1]
    assert [report.leg_id for report in asterisk.legs] == legs
    assert asterisk.legs[0].hung_up_by_apoena, "Apoena hung the mailbox up"
    turns = [(t.index, t.answer, t.leg_id, t.reply) for t in events if isinstance(t, ResidentTurnHeard)]
    assert turns[0] == (1, "voicemail", legs[0], "") and turns[-1][:3] == (2, "authorize", legs[1])
    assert asterisk.channels[VISITOR_CHANNEL]["APOENA_DECISION"] == "authorized"
    shown, stored = calls_show(tmp_path, events, decided.call_id)
    assert f"resident leg 1 {DIALS[0]} (voicemail) · AudioSocket UUID {legs[0]}" in shown
    assert f"resident leg 2 {DIALS[1]} (answered) · AudioSocket UUID {legs[1]}" in shown
    assert "voicemail" in shown and MAILBOX_SAYS[:30] in shown, "the mailbox's words are in the resident's turns"
    assert stored["attempts"] == [list(attempt) for attempt in decided.attempts]
    assert stored["resident_leg_id"] == legs[0], "the records keep the first leg (VisitStarted); the attempts hold every one"
    assert [t["answer"] for t in stored["resident_turns"]] == ["voicemail", "authorize"]


def calls_show(tmp_path, events: list, call_id: str) -> tuple[str, dict]:
    """Record the visit's events as `apoena serve` does, then `apoena calls show` it (text, and the --json visit)."""
    from concierge.call.records import CallRecords
    from tests.test_cli import run

    with CallRecords(tmp_path / "calls.db", brain="rules") as records:
        for event in events:
            records.observer(event)
    wide = {"COLUMNS": "250"}
    shown = run(["calls", "show", call_id, "--db", str(tmp_path / "calls.db")], env=wide)
    assert shown.returncode == 0, shown.stderr.decode()
    as_json = run(["calls", "show", call_id, "--json", "--db", str(tmp_path / "calls.db")])
    return shown.stdout.decode(), json.loads(as_json.stdout)["visit"]


def test_a_mailbox_on_every_phone_is_no_answer_with_the_polite_refusal(redis_server, tmp_path):
    short = SimulatedResident(pcm=clip("bom_dia"), speaks_first=True)  # heard as the mailbox's words: a short one, for speed
    decided, _, _, asterisk, _ = visit(two_phones(), redis_server, tmp_path, [*VISITOR, MAILBOX_SAYS, MAILBOX_SAYS], residents=[short, short])
    assert decided.decision == "no_answer" and decided.by is None and decided.decided_by is None
    assert [(dial, how) for dial, how, _ in decided.attempts] == [(DIALS[0], "voicemail"), (DIALS[1], "voicemail")]
    assert decided.reason == f"nobody answered ({DIALS[0]} voicemail, {DIALS[1]} voicemail)"
    assert decided.visitor_message == "Não consegui falar com a moradora. Sinto muito, não posso liberar a entrada agora."
    assert all(leg.hung_up_by_apoena for leg in asterisk.legs)
    assert asterisk.channels[VISITOR_CHANNEL]["APOENA_DECISION"] == "no_answer"


def test_a_long_unbroken_greeting_without_mailbox_words_is_a_mailbox_too(redis_server, tmp_path):
    greeting = "Oi, aqui é a Joana e o Pedro, a gente está viajando essa semana e só volta na segunda-feira"
    decided, events, _, _, _ = visit(
        two_phones(), redis_server, tmp_path, [*VISITOR, greeting, "Sim."], residents=[mailbox("recado_longo"), SimulatedResident(pcm=clip("bom_dia"))]
    )
    assert decided.decision == "authorized"
    assert [how for _, how, _ in decided.attempts] == ["voicemail", "answered"]
    heard = next(t for t in events if isinstance(t, ResidentTurnHeard))
    assert (heard.heard, heard.answer) == (greeting, "voicemail")


def test_a_busy_phone_moves_on_to_the_next_and_a_person_who_hangs_up_ends_the_visit(redis_server, tmp_path):
    three_phones = Directory([Apartment(apartment_number="104", residents=["Joana Prado"], dial=[*DIALS, "PJSIP/ap104b"])])
    residents = [SimulatedResident(line="busy"), SimulatedResident(hang_up_after=1.0, answers=0), SimulatedResident(digits="1")]
    decided, _, _, asterisk, _ = visit(three_phones, redis_server, tmp_path, VISITOR, residents=residents)
    assert decided.decision == "no_answer" and "hung up before deciding" in decided.reason
    assert [how for _, how, _ in decided.attempts] == ["busy", "hung_up"]
    assert len(asterisk.originates) == 2, "the resident who hung up was reached: the third phone is not rung"


class NoisyLine:
    """The visitor's turns in order; then what Whisper writes on long line noise for a long stretch
    of audio, and the resident's yes for a short one."""

    def __init__(self, visitor: list[str]) -> None:
        self.visitor = list(visitor)

    def transcribe(self, pcm8k: bytes, prompt: str | None = None):
        from concierge.speech.base import Transcript

        seconds = len(pcm8k) / 16000
        if self.visitor:
            text = self.visitor.pop(0)
        else:
            text = "Legendas pela comunidade Amara.org" if seconds >= 5 else "Sim, pode."
        return Transcript(text=text, duration_s=seconds, elapsed_ms=0.0)


def test_a_long_stretch_of_line_noise_is_no_monologue_and_the_resident_on_that_line_still_decides(redis_server, tmp_path):
    from .helpers import pink_noise

    # 10 s of street noise that the voice detector takes for speech, then the resident's yes
    noisy = SimulatedResident(pcm=pink_noise(10, -25) + bytes(16000) + clip("bom_dia"), speaks_first=True)
    decided, events, _, _, _ = visit(
        two_phones(), redis_server, tmp_path, [], transcriber=NoisyLine(VISITOR), residents=[noisy, SimulatedResident(digits="1")]
    )
    assert decided.decision == "authorized" and [how for _, how, _ in decided.attempts] == ["answered"]
    assert [(t.heard, t.answer) for t in events if isinstance(t, ResidentTurnHeard)] == [("Sim, pode.", "authorize")]
