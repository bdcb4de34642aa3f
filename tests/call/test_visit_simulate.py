"""`apoena simulate --resident …` once per dial attempt: a mailbox on the first, a person on the
second. In process with the real rules brain and a scripted transcriber (fast), and through the
command line with real Whisper on the rendered pt-BR mailbox greeting (slow)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from concierge.apps.simulate import Simulator, expected_visit, load_recording, load_resident
from concierge.errors import UserError

from .helpers import ROOT, ScriptedTranscriber, make_services

RESIDENT = ROOT / "fixtures" / "resident"
CALL = ROOT / "fixtures" / "calls" / "entrega.slin"
VISITOR = ["Boa tarde, tenho uma entrega dos Correios para a Joana Prado.", "Meu nome é Carlos Pereira."]
MAILBOX_SAYS = json.loads((RESIDENT / "caixa_postal.json").read_text())["text"]
FAST = {"asterisk": {"ring_seconds": 5, "leg_arrival_seconds": 2, "visit_timeout_seconds": 60, "resident_silence_seconds": 3}}


def test_a_mailbox_fixture_answers_at_once_and_expects_to_be_passed_over():
    answer = load_resident(RESIDENT / "caixa_postal.slin")
    assert answer.resident is not None and answer.resident.speaks_first and answer.resident.pcm
    assert (answer.attempt, answer.expected) == ("voicemail", "no_answer")
    assert load_resident(Path("busy")).resident.line == "busy"  # type: ignore[union-attr]
    assert load_resident(Path("no-answer")).attempt == "no_answer"


@pytest.mark.parametrize(
    "attempts, decision, ended",
    [
        (["caixa_postal", "sim"], "authorized", ["voicemail", "answered"]),
        (["busy", "fora_de_area", "nao_conheco", "sim"], "denied", ["busy", "voicemail", "answered"]),
        (["caixa_postal", "no-answer"], "no_answer", ["voicemail", "no_answer"]),
    ],
)
def test_the_expected_decision_is_the_first_persons_and_every_attempt_until_then_must_end_as_said(attempts, decision, ended):
    answers = [load_resident(RESIDENT / f"{name}.slin" if (RESIDENT / f"{name}.slin").exists() else Path(name)) for name in attempts]
    assert expected_visit(answers) == (decision, ended)


def test_a_resident_value_that_is_neither_a_recording_nor_a_line_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="no-answer or busy"):
        load_resident(tmp_path / "missing.slin")


def test_simulate_rings_a_mailbox_then_the_resident_who_says_yes(directory, redis_server, tmp_path):
    services = make_services(directory, redis_server.url, ScriptedTranscriber([*VISITOR, MAILBOX_SAYS, "Sim, pode."]), tmp_path, sections=FAST)
    residents = [load_resident(RESIDENT / "caixa_postal.slin"), load_resident(RESIDENT / "sim.slin")]

    async def scenario():
        async with Simulator(services, speed=4.0, directory=directory, residents=residents) as simulator:
            return await asyncio.wait_for(simulator.call(load_recording(CALL)), 120)

    try:
        report = asyncio.run(scenario())
    finally:
        services.close()
    visit = report.as_json()["visit"]
    assert report.passed, report.mismatches
    assert visit["decision"] == "authorized" and visit["dial_strings"] == ["PJSIP/ap104", "Local/104@simulated"]
    assert [attempt[:2] for attempt in visit["attempts"]] == [["PJSIP/ap104", "voicemail"], ["Local/104@simulated", "answered"]]
    assert visit["attempts"][0][2] != visit["attempts"][1][2]
    assert [(t["answer"], t["leg_id"]) for t in visit["resident_turns"]] == [
        ("voicemail", visit["attempts"][0][2]), ("authorize", visit["attempts"][1][2])
    ]  # fmt: skip


def test_a_wrong_attempt_fails_the_call_even_when_the_decision_is_right():
    """A mailbox heard as a person saying yes decides on the first attempt: the decision matches the
    second answer's, but the first attempt did not end as a mailbox, so the call fails."""
    from concierge.apps.simulate import CallReport, Recording

    expected = {"intent_type": "entrega", "valid_for_action": True}
    report = CallReport(Recording(CALL, b"", [], expected), "call-1", expected_decision="authorized", expected_attempts=["voicemail", "answered"])
    report.visit = {"decision": "authorized", "attempts": [["PJSIP/ap104", "answered", "leg-1"]]}
    assert report.mismatches[-1:] == ["attempts: expected voicemail → answered, got answered"]
    report.visit["attempts"] = [["PJSIP/ap104", "voicemail", "leg-1"], ["PJSIP/ap104b", "answered", "leg-2"]]
    assert not [m for m in report.mismatches if m.startswith(("attempts", "decision"))]


@pytest.mark.slow
def test_simulate_cli_with_whisper_hears_the_mailbox_and_then_the_resident(tmp_path):
    from tests.test_cli import run

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}, "asterisk": {"ring_seconds": 5}}))
    result = run(["simulate", str(CALL), "--resident", str(RESIDENT / "caixa_postal.slin"), "--resident", str(RESIDENT / "pode_subir.slin"),
                  "--json", "--config", str(config)], timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    call = json.loads(result.stdout)["calls"][0]
    visit = call["visit"]
    assert call["passed"] is True, call["mismatches"]
    assert visit["decision"] == "authorized" and [a[1] for a in visit["attempts"]] == ["voicemail", "answered"]
    mailbox = visit["resident_turns"][0]
    assert mailbox["answer"] == "voicemail" and mailbox["reply"] == "", mailbox
    print("\nWhisper heard the mailbox as:", mailbox["transcript"], "· decision_ms", visit["decision_ms"])
