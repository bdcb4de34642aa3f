"""The resident decides, end to end over real sockets: a visitor's call on the AudioSocket server, a
Manager Interface (the package's simulated Asterisk) that rings the resident, the resident's leg
arriving on the same server with the UUID Apoena chose, the decision back on the visitor's leg,
the channel variable set on the visitor's channel, and every failure ending politely and recorded."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from concierge.asterisk.simulated import SimulatedAsterisk, SimulatedResident
from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import Audio, Hangup
from concierge.call.events import CallEnded, Outcome
from concierge.call.gate import GateActed
from concierge.call.visit import ResidentTurnHeard, VisitDecided, VisitStarted

from .helpers import ScriptedTranscriber, clip, fixture_turns, make_services, pace, visit_server

VISITOR = ["Boa tarde, tenho uma entrega dos Correios para a Joana Prado.", "Meu nome é Carlos Pereira."]
VISITOR_CHANNEL = "PJSIP/portaria-00000001"
FAST = {"asterisk": {"ring_seconds": 5, "leg_arrival_seconds": 2, "visit_timeout_seconds": 30, "resident_silence_seconds": 3}}


def loud(pcm: bytes) -> bool:
    samples = memoryview(pcm[: len(pcm) // 2 * 2]).cast("h")
    return any(abs(s) > 200 for s in samples)


def longest_quiet(frames: list[tuple[float, bytes]], start: float, end: float) -> float:
    """The longest stretch of silent frames received between `start` and `end` (wall clock), in seconds."""
    longest = run = 0.0
    for at, pcm in frames:
        if not start <= at <= end:
            continue
        run = 0.0 if loud(pcm) else run + len(pcm) / 16000
        longest = max(longest, run)
    return longest


def visit(directory, redis_server, tmp_path, texts, sections=None, dial=None, channel=True, leave_when=None, transcriber=None, **asterisk_settings):
    """Play the recorded delivery as the visitor until hung up; the resident as `asterisk_settings` say.
    Speech is heard as `texts` say, in order (or by `transcriber`)."""
    transcriber = ScriptedTranscriber(texts) if transcriber is None else transcriber
    services = make_services(directory, redis_server.url, transcriber, tmp_path, sections={**FAST, **(sections or {})})
    pcm, _ = fixture_turns("entrega")
    events: list = []
    frames: list[tuple[float, bytes]] = []

    async def main():
        call_id = uuid.uuid4()
        async with SimulatedAsterisk(**asterisk_settings) as asterisk:
            if channel:
                asterisk.add_channel(VISITOR_CHANNEL, APOENA_CALL=str(call_id))
            async with visit_server(services, directory, asterisk.port, events, dial) as server:
                client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)

                async def listen():
                    while True:
                        message = await client.receive()
                        if isinstance(message, Hangup):
                            return
                        if isinstance(message, Audio):
                            frames.append((time.time(), message.pcm))

                listening = asyncio.create_task(listen())
                await pace(client, pcm, speed=4)
                while not listening.done():
                    if leave_when is not None and any(isinstance(e, leave_when) for e in events):
                        break  # the visitor gives up and hangs up
                    await client.send_audio(bytes(320))
                    await asyncio.sleep(0.02)
                hung_up_at = time.time()
                await client.close()
                for _ in range(100):
                    if any(isinstance(e, CallEnded) for e in events):
                        break
                    await asyncio.sleep(0.05)
                for _ in range(100):
                    if all(leg.ended_at for leg in asterisk.legs):
                        break
                    await asyncio.sleep(0.05)
            return asterisk, hung_up_at

    asterisk, hung_up_at = asyncio.run(asyncio.wait_for(main(), 90))
    decided = [e for e in events if isinstance(e, VisitDecided)]
    assert len(decided) == 1, events
    return decided[0], events, frames, asterisk, hung_up_at


def test_a_keypad_yes_authorizes_tells_the_visitor_and_sets_the_channel_variable(directory, redis_server, tmp_path):
    decided, events, frames, asterisk, hung_up_at = visit(directory, redis_server, tmp_path, VISITOR, resident=SimulatedResident(digits="1"))
    assert (decided.decision, decided.by, decided.decided_by) == ("authorized", "keypad", "Joana Prado")
    assert decided.visitor_message == "A moradora autorizou. Pode entrar."
    started = next(e for e in events if isinstance(e, VisitStarted))
    assert started.dial_strings == ("PJSIP/ap104",) and asterisk.originates[0].get("Channel") == "PJSIP/ap104"
    assert f"APOENA_UUID={started.leg_id}" in asterisk.originates[0].get_all("Variable")
    assert asterisk.legs[0].leg_id == started.leg_id and asterisk.legs[0].answered == 1
    assert asterisk.channels[VISITOR_CHANNEL]["APOENA_DECISION"] == "authorized"
    assert asterisk.channels[VISITOR_CHANNEL]["APOENA_DECISION_BY"] == "keypad"
    assert [g.ok for g in events if isinstance(g, GateActed)] == [True]
    ended = next(e for e in events if isinstance(e, CallEnded))
    assert ended.outcome is Outcome.COMPLETED and "authorized" in ended.reason
    # the resident heard the question within 2 s of the visit being complete, ringing (0.3 s here) included
    assert decided.asked_ms is not None and decided.asked_ms - decided.ringing_ms < 2000, decided
    # the visitor heard the waiting sound, then the decision, never 2 s of dead air
    assert longest_quiet(frames, started.at, hung_up_at) < 2.0
    assert any(loud(pcm) for at, pcm in frames if at >= decided.at), "the decision was spoken to the visitor"


def test_a_node_at_max_calls_still_takes_the_resident_leg_of_its_own_visit(directory, redis_server, tmp_path):
    """server.max_calls = 1 and the visitor's call is that one: the resident's leg is part of it, not a new call."""
    decided, *_ = visit(directory, redis_server, tmp_path, VISITOR, sections={"server": {"max_calls": 1}}, resident=SimulatedResident(digits="1"))
    assert (decided.decision, decided.by) == ("authorized", "keypad")


def test_a_spoken_no_denies_and_the_visitor_is_refused_politely(directory, redis_server, tmp_path):
    decided, events, _, asterisk, _ = visit(
        directory, redis_server, tmp_path, [*VISITOR, "Não conheço, pode mandar embora."], resident=SimulatedResident(pcm=clip("bom_dia"))
    )
    assert (decided.decision, decided.by) == ("denied", "voice")
    assert "não autorizou" in decided.visitor_message
    turns = [e for e in events if isinstance(e, ResidentTurnHeard)]
    assert [(t.by, t.heard, t.answer) for t in turns] == [("voice", "Não conheço, pode mandar embora.", "deny")]
    assert asterisk.channels[VISITOR_CHANNEL]["APOENA_DECISION"] == "denied"


def test_nobody_answering_any_dial_string_ends_as_no_answer(directory, redis_server, tmp_path):
    decided, events, _, _, _ = visit(directory, redis_server, tmp_path, VISITOR, resident=None)
    assert decided.decision == "no_answer" and decided.by is None
    started = next(e for e in events if isinstance(e, VisitStarted))
    assert decided.attempts == (("PJSIP/ap104", "no_answer", started.leg_id),)
    assert "Não consegui falar com a moradora" in decided.visitor_message
    assert 5000 <= decided.decision_ms < 5000 + 2000, "it rang for asterisk.ring_seconds (5 s here), then gave up"


def test_a_resident_who_hangs_up_mid_question_is_no_answer(directory, redis_server, tmp_path):
    decided, events, _, _, _ = visit(directory, redis_server, tmp_path, VISITOR, resident=SimulatedResident(hang_up_after=1.0, answers=0))
    assert decided.decision == "no_answer" and "hung up" in decided.reason
    assert next(e for e in events if isinstance(e, CallEnded)).outcome is Outcome.COMPLETED


@pytest.mark.parametrize(
    "settings, reason",
    [
        ({"refuse_login": True, "resident": SimulatedResident(digits="1")}, "refused the login"),
        ({"drop_on_originate": True, "resident": SimulatedResident(digits="1")}, "Manager failed"),
        ({"connect_leg": False, "resident": SimulatedResident(digits="1")}, "never reached the AudioSocket server"),
    ],
)
def test_a_broken_manager_or_a_lost_leg_ends_politely_and_is_recorded(directory, redis_server, tmp_path, settings, reason):
    decided, events, _, _, _ = visit(directory, redis_server, tmp_path, VISITOR, **settings)
    assert decided.decision == "no_answer" and reason in decided.reason, decided.reason
    assert "Não consegui falar com a moradora" in decided.visitor_message
    assert next(e for e in events if isinstance(e, CallEnded)).outcome is Outcome.COMPLETED


def test_an_apartment_without_dial_strings_is_not_rung(directory, redis_server, tmp_path):
    from concierge.brain.directory import Apartment, Directory

    bare = Directory([Apartment(apartment_number="104", residents=["Joana Prado"])])
    services_directory = bare
    decided, _, _, asterisk, _ = visit(services_directory, redis_server, tmp_path, VISITOR, resident=SimulatedResident(digits="1"))
    assert decided.decision == "no_answer" and "no dial string for apartment 104" in decided.reason
    assert asterisk.originates == []


def test_a_visitor_who_hangs_up_while_the_resident_is_on_the_line_cancels_the_visit(directory, redis_server, tmp_path):
    from concierge.call.visit import ResidentAnswered

    decided, events, _, asterisk, _ = visit(
        directory, redis_server, tmp_path, VISITOR, leave_when=ResidentAnswered, resident=SimulatedResident(answers=0)
    )
    assert decided.decision == "cancelled" and "visitor hung up" in decided.reason and decided.by is None
    assert [how for _, how, _ in decided.attempts] == ["cancelled"], "the attempt under way is recorded as cut short"
    assert next(e for e in events if isinstance(e, CallEnded)).outcome is Outcome.CALLER_HUNG_UP
    assert asterisk.legs[0].ended_at is not None, "the resident's leg was hung up too"
    assert "APOENA_DECISION" not in asterisk.channels[VISITOR_CHANNEL], "nothing is opened for a visit nobody decided"


def test_a_resident_leg_arriving_after_its_visit_gave_up_is_hung_up_not_greeted(directory, redis_server, tmp_path):
    from concierge.call.events import CallStarted

    decided, events, _, asterisk, _ = visit(
        directory, redis_server, tmp_path, VISITOR, leg_delay=3.0, resident=SimulatedResident(digits="1")
    )
    assert decided.decision == "no_answer" and "never reached the AudioSocket server" in decided.reason
    assert [e.call_id for e in events if isinstance(e, CallStarted)] == [decided.call_id], "the late leg was no visitor call"
    assert asterisk.legs[0].ended_at is not None and not asterisk.legs[0].received, "hung up without a word"
