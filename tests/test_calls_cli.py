"""`apoena calls` as a user runs it, over real SQLite files; simulated calls recorded like real ones;
and `apoena serve` killed with -9 mid-call leaving the finished turn on disk."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from concierge.apps.simulate import Recording, Simulator
from concierge.audiosocket.client import AudioSocketClient
from concierge.brain.reply import Dados, Intent, Reply
from concierge.call.events import CallEnded, CallStarted, DtmfReceived, Outcome, Turn
from concierge.call.records import CallRecords
from concierge.config import CallState

from .call.helpers import FIXTURES, ScriptedTranscriber, make_services
from .call.test_records import leave_open_in_a_killed_process
from .conftest import free_port
from .test_cli import ROOT, run

DAY = 86400.0
WIDE = {"COLUMNS": "200"}


@pytest.fixture
def config(tmp_path):
    """A config whose records live next to it, in calls.db (a relative path)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}, "records": {"path": "calls.db"}}))
    return path


def record_call(records: CallRecords, call_id: str, started: float, outcome: Outcome | None, texts: list[str], dtmf: str = "") -> None:
    records.observer(CallStarted(call_id, call_id, at=started))
    for digit in dtmf:
        records.observer(DtmfReceived(call_id, digit))
    dados = Dados(intent_type=Intent.ENTREGA)
    for index, text in enumerate(texts, 1):
        if index == len(texts):
            dados = Dados(intent_type=Intent.ENTREGA, visitor_name="Carlos", apartment_number="104", resident_name="Joana Prado")
        reply = Reply(mensagem=f"resposta {index}", dados=dados, valid_for_action=index == len(texts), set_call_status=CallState.WAITING)
        records.observer(Turn(call_id, index, "speech", text, reply, 250.0, 1.5, 40.0, 500.0 + 100 * index))
    if outcome is not None:
        records.observer(CallEnded(call_id, outcome, "visit complete" if outcome == Outcome.COMPLETED else "caller went away", at=started + 30))


@pytest.fixture
def calls(tmp_path, config):
    """Three calls in the config's database: one completed today, one hung up 3 days ago, one interrupted."""
    now = time.time()
    ids = {"completed": "a1b2c3d4-0000-4000-8000-000000000001", "hung_up": "a1b2ffff-0000-4000-8000-000000000002",
           "interrupted": "c0ffee00-0000-4000-8000-000000000003"}  # fmt: skip
    with CallRecords(tmp_path / "calls.db", brain="rules") as records:
        record_call(records, ids["completed"], now - 3600, Outcome.COMPLETED, ["Entrega para a Joana", "Sou o Carlos [risos]"], dtmf="104#")
        record_call(records, ids["hung_up"], now - 3 * DAY, Outcome.CALLER_HUNG_UP, ["Alô?"])
    leave_open_in_a_killed_process(tmp_path / "calls.db", ids["interrupted"], now - 60)
    return ids


def listed(result) -> list[dict]:
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)["calls"]


def test_list_shows_the_latest_calls_as_a_table(config, calls):
    result = run(["calls", "--config", str(config)], env=WIDE)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert [line.split("│")[2].strip() for line in out.splitlines() if line.count("│") > 5] == ["c0ffee00", "a1b2c3d4", "a1b2ffff"]
    assert "interrupted" in out and "completed" in out and "caller_hung_up" in out
    assert "entrega · Carlos · 104 · Joana Prado" in out and "650 ms" in out


def test_list_as_json_filters_by_outcome_time_and_limit(config, calls):
    everything = listed(run(["calls", "--json", "--config", str(config)]))
    assert [call["call_id"] for call in everything] == [calls["interrupted"], calls["completed"], calls["hung_up"]]
    completed = everything[1]
    assert completed["outcome"] == "completed" and completed["turn_count"] == 2 and completed["dtmf"] == "104#"
    assert completed["response_ms_p50"] == 650.0 and completed["final"]["valid_for_action"] is True and "turns" not in completed
    assert [c["call_id"] for c in listed(run(["calls", "--json", "--outcome", "caller_hung_up", "--config", str(config)]))] == [calls["hung_up"]]
    assert [c["outcome"] for c in listed(run(["calls", "--json", "--since", "24h", "--config", str(config)]))] == ["interrupted", "completed"]
    assert len(listed(run(["calls", "--json", "--since", "2000-01-01", "--limit", "1", "--config", str(config)]))) == 1


def test_list_searches_like_the_page_by_apartment_name_until_and_pages_with_the_total(config, calls):
    def ids(*args: str) -> list[str]:
        return [c["call_id"] for c in listed(run(["calls", "--json", *args, "--config", str(config)]))]

    assert ids("--apartment", "ap 104") == [calls["interrupted"], calls["completed"], calls["hung_up"]]
    assert ids("--apartment", "104", "--outcome", "interrupted") == [calls["interrupted"]]
    assert ids("--apartment", "105") == []
    assert ids("--name", "JOANA") == ids("--name", "joana prado") == [calls["completed"], calls["hung_up"]]
    assert ids("--name", "joana", "--until", "2d") == [calls["hung_up"]], "--until: started before two days ago"
    assert ids("--name", "nobody") == []
    assert ids("--decision", "authorized") == []
    everything = ids()
    assert ids("--limit", "1", "--offset", "1") == everything[1:2]
    page = run(["calls", "--json", "--limit", "1", "--offset", "2", "--config", str(config)])
    assert json.loads(page.stdout)["total"] == 3 and [c["call_id"] for c in listed(page)] == everything[2:]
    table = run(["calls", "--limit", "2", "--config", str(config)], env=WIDE).stdout.decode()
    assert "1–2 of 3: --offset 2 for more" in table


@pytest.mark.parametrize("args, expected", [
    (["--since", "yesterday"], "--since"), (["--outcome", "exploded"], "--outcome"), (["--until", "soon"], "--until"),
    (["--decision", "maybe"], "--decision"), (["--offset", "-1"], "--offset"),
])  # fmt: skip
def test_bad_filters_are_one_line_and_exit_2(config, calls, args, expected):
    result = run(["calls", *args, "--config", str(config)])
    err = result.stderr.decode().strip()
    assert result.returncode == 2 and expected in err and len(err.splitlines()) == 1


def test_show_takes_a_unique_prefix_and_prints_every_turn(config, calls):
    result = run(["calls", "show", "A1B2C3", "--config", str(config)], env=WIDE)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert calls["completed"] in out and "visit complete" in out and "104#" in out
    assert "Entrega para a Joana" in out and "Sou o Carlos [risos]" in out and "resposta 2" in out and "600 ms" in out

    shown = json.loads(run(["calls", "show", calls["completed"], "--json", "--config", str(config)]).stdout)
    assert [turn["transcript"] for turn in shown["turns"]] == ["Entrega para a Joana", "Sou o Carlos [risos]"]
    assert shown["turns"][1]["dados"]["resident_name"] == "Joana Prado" and shown["turns"][1]["response_ms"] == 700.0
    assert shown["brain"] == "rules" and shown["duration_s"] == 30.0


def test_db_and_json_given_before_show_apply_to_it(tmp_path, calls):
    """`apoena calls --db F --json show ID` reads F, as `calls show ID --db F --json` does."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # no config.json here: the default records path would hold no calls
    shown = run(["calls", "--db", str(tmp_path / "calls.db"), "--json", "show", calls["completed"]], cwd=elsewhere)
    assert shown.returncode == 0, shown.stderr.decode()
    assert json.loads(shown.stdout)["call_id"] == calls["completed"]


@pytest.mark.parametrize("prefix, expected", [("deadbeef", "no call deadbeef"), ("a1b2", "several call ids")])
def test_unknown_or_ambiguous_id_is_one_line_and_exit_2(config, calls, prefix, expected):
    result = run(["calls", "show", prefix, "--config", str(config)])
    err = result.stderr.decode().strip()
    assert result.returncode == 2 and expected in err and len(err.splitlines()) == 1 and not result.stdout


def test_purge_deletes_old_calls_and_prints_the_count(config, calls, tmp_path):
    result = run(["calls", "purge", "--older-than-days", "2", "--config", str(config)])
    assert result.returncode == 0 and result.stdout.decode().startswith("1 call older than 2 days deleted")
    assert {c["call_id"] for c in listed(run(["calls", "--json", "--db", str(tmp_path / "calls.db")]))} == {calls["completed"], calls["interrupted"]}
    assert run(["calls", "purge", "--config", str(config)]).stdout.decode().startswith("0 calls older than 30 days")


def test_no_database_yet_is_said_plainly(config):
    listing = run(["calls", "--config", str(config)])
    assert listing.returncode == 0 and listing.stdout.decode().strip() == "no calls recorded yet"
    assert listed(run(["calls", "--json", "--config", str(config)])) == []
    assert run(["calls", "purge", "--config", str(config)]).stdout.decode().strip() == "no calls recorded yet"
    shown = run(["calls", "show", "abc", "--config", str(config)])
    assert shown.returncode == 2 and "no calls recorded yet" in shown.stderr.decode()
    assert not (config.parent / "calls.db").exists(), "looking does not create a database"


def test_simulated_calls_are_recorded_like_served_ones(directory, redis_server, tmp_path):
    pcm = (FIXTURES / "entrega.slin").read_bytes()
    texts = ["Boa tarde, tenho uma entrega dos Correios para a Joana Prado.", "Meu nome é Carlos Pereira."]
    services = make_services(directory, redis_server.url, ScriptedTranscriber(texts), tmp_path)
    database = tmp_path / "simulated.db"

    async def scenario():
        async with Simulator(services, speed=4.0, wait=False, record=records.observer) as simulator:
            return await simulator.call(Recording(FIXTURES / "entrega.slin", pcm, [], None))

    with CallRecords(database, brain="rules") as records:
        report = asyncio.run(scenario())
    shown = json.loads(run(["calls", "show", report.call_id, "--json", "--db", str(database)]).stdout)
    assert report.turns and shown["outcome"] == report.outcome and shown["final"] == report.final
    assert [(t["index"], t["transcript"], t["reply"]) for t in shown["turns"]] == [
        (t.index, t.transcript, t.reply.mensagem) for t in report.turns
    ]


@pytest.mark.slow
def test_serve_killed_mid_call_keeps_the_finished_turn_and_shows_the_call_interrupted(tmp_path):
    database = tmp_path / "calls.db"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "directory": {"path": str(ROOT / "data" / "apartamentos.json")},
        "records": {"path": str(database), "retention_days": 30},
    }))  # fmt: skip
    with CallRecords(database) as records:
        record_call(records, "old-call", time.time() - 45 * DAY, Outcome.COMPLETED, ["antiga"])
        record_call(records, "recent-call", time.time() - DAY, Outcome.COMPLETED, ["recente"])
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "concierge", "serve", "--config", str(config), "--port", str(port), "--no-web"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert f"ready on 127.0.0.1:{port}" in server.stdout.readline().decode(), server.stderr.read().decode()[-2000:]
        with CallRecords(database) as records:
            assert records.get("old-call") is None and records.get("recent-call") is not None, "retention purged at start-up"
            call_id = asyncio.run(call_until_one_turn_is_recorded(port, records, server))
            call = records.get(call_id)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert call.outcome == "interrupted" and call.ended_at is None
    assert call.turns[0].source == "speech" and "entrega" in call.turns[0].transcript.lower()
    assert call.turns[0].slots["intent_type"] == "entrega" and call.turns[0].response_ms > 0
    listing = listed(run(["calls", "--json", "--outcome", "interrupted", "--config", str(config)]))
    assert [c["call_id"] for c in listing] == [call_id]


async def call_until_one_turn_is_recorded(port: int, records: CallRecords, server: subprocess.Popen) -> str:
    """Play the delivery call in real time until its first turn is in the database, then SIGKILL the
    server while the call is still open (no shutdown, no flush, no CallEnded: the caller never hung up)."""
    pcm = (FIXTURES / "entrega.slin").read_bytes()
    client = await AudioSocketClient.connect("127.0.0.1", port, uuid.uuid4())
    call_id = str(client.call_id)
    drain = asyncio.create_task(_drain(client))
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index in range(0, 320 * 50 * 60, 320):
        chunk = pcm[index : index + 320]
        await client.send_audio(chunk.ljust(320, b"\x00"))
        if index % (320 * 10) == 0:
            recorded = records.get(call_id)
            if recorded is not None and recorded.turns:
                server.kill()
                server.wait(timeout=10)
                drain.cancel()
                return call_id
        await asyncio.sleep(max(0.0, start + (index // 320 + 1) * 0.02 - loop.time()))
    raise AssertionError("no turn was recorded within a minute")


async def _drain(client: AudioSocketClient) -> None:
    while True:
        await client.receive()


def test_calls_show_the_residents_decision(tmp_path, config):
    from concierge.brain.reply import Intent as VisitIntent
    from concierge.call.gate import GateActed
    from concierge.call.resident import VisitFacts
    from concierge.call.visit import ResidentDialing, ResidentTurnHeard, VisitDecided, VisitStarted

    call_id = "d3c1d3d0-0000-4000-8000-000000000009"
    facts = VisitFacts(VisitIntent.ENTREGA, "Carlos", "Joana Prado", "104")
    with CallRecords(tmp_path / "calls.db", brain="rules") as records:
        record_call(records, call_id, time.time() - 60, None, ["Entrega para a Joana", "Sou o Carlos"])
        for event in (
            VisitStarted(call_id, "leg-1", facts, ("PJSIP/ap104",)),
            ResidentDialing(call_id, "PJSIP/ap104"),
            ResidentTurnHeard(call_id, 1, "voice", "Quem é?", "question", "Carlos está no portão com uma entrega.", 310.0),
            ResidentTurnHeard(call_id, 2, "keypad", "1", "authorize", "Certo, vou liberar a entrada. Obrigado!", 0.0),
            VisitDecided(call_id, "authorized", "the resident decided by keypad", by="keypad", decided_by="Joana Prado", leg_id="leg-1",
                         attempts=(("PJSIP/ap104", "answered"),), asked_ms=900.0, ringing_ms=400.0, decision_ms=14200.0,
                         visitor_message="A moradora autorizou. Pode entrar."),
            GateActed(call_id, "channel_variable", True, "APOENA_DECISION=authorized on PJSIP/portaria-0001"),
            CallEnded(call_id, Outcome.COMPLETED, "resident decision: authorized"),
        ):  # fmt: skip
            records.observer(event)
    listing = run(["calls", "--config", str(config)], env=WIDE).stdout.decode()
    assert "authorized (keypad)" in listing
    shown = run(["calls", "show", call_id[:8], "--config", str(config)], env=WIDE).stdout.decode()
    assert "resident's decision authorized (keypad)" in shown and "decided by Joana Prado by keypad" in shown
    assert "picked up 0.4 s · asked 0.9 s · decided 14.2 s" in shown and "PJSIP/ap104 (answered)" in shown
    assert "A moradora autorizou. Pode entrar." in shown and "gate channel_variable ok APOENA_DECISION=authorized" in shown
    assert "Quem é?" in shown and "question" in shown
    visit = json.loads(run(["calls", "show", call_id, "--json", "--config", str(config)]).stdout)["visit"]
    assert (visit["decision"], visit["via"], visit["decided_by"], visit["decision_ms"]) == ("authorized", "keypad", "Joana Prado", 14200.0)
    assert [t["transcript"] for t in visit["resident_turns"]] == ["Quem é?", "1"]
    assert listed(run(["calls", "--json", "--config", str(config)]))[0]["visit"]["decision"] == "authorized"


def test_a_resident_legs_uuid_shows_the_visit_it_belongs_to(tmp_path, config):
    """Asterisk logs each resident leg's UUID; `calls show` of it (or its start) finds the visitor's call."""
    from concierge.brain.reply import Intent as VisitIntent
    from concierge.call.resident import VisitFacts
    from concierge.call.visit import ResidentDialing, VisitDecided, VisitStarted

    call_id, first_leg, second_leg = "d3c1d3d0-0000-4000-8000-000000000010", "7a11e9a0-1111-4111-8111-000000000001", "5b0b5b0b-2222-4222-8222-000000000002"
    with CallRecords(tmp_path / "calls.db", brain="rules") as records:
        record_call(records, call_id, time.time() - 60, None, ["Visita para a Joana", "Sou o Carlos"])
        for event in (
            VisitStarted(call_id, first_leg, VisitFacts(VisitIntent.VISITA, "Carlos", "Joana Prado", "104"), ("PJSIP/a", "PJSIP/b")),
            ResidentDialing(call_id, "PJSIP/a", first_leg),
            ResidentDialing(call_id, "PJSIP/b", second_leg),
            VisitDecided(call_id, "denied", "the resident said no", by="voice", decided_by="Joana Prado", leg_id=second_leg,
                         attempts=(("PJSIP/a", "no_answer", first_leg), ("PJSIP/b", "answered", second_leg))),
            CallEnded(call_id, Outcome.COMPLETED, "resident decision: denied"),
        ):  # fmt: skip
            records.observer(event)
    for leg in (first_leg, second_leg[:8]):
        shown = run(["calls", "show", leg, "--config", str(config)], env=WIDE)
        assert shown.returncode == 0, shown.stderr.decode()
        assert f"is a resident leg of the visit of call {call_id}" in shown.stdout.decode() and "denied" in shown.stdout.decode()
    as_json = json.loads(run(["calls", "show", second_leg, "--json", "--config", str(config)]).stdout)
    assert (as_json["call_id"], as_json["shown_for_resident_leg"]) == (call_id, second_leg)
    unknown = run(["calls", "show", "0badc0de", "--config", str(config)])
    assert unknown.returncode == 2 and "no call 0badc0de" in unknown.stderr.decode()


@pytest.mark.parametrize("what", ["missing", "folder", "empty id"])
def test_a_wrong_db_or_an_empty_id_is_one_line_and_exit_2(tmp_path, what):
    args = {
        "missing": ["calls", "--db", str(tmp_path / "nowhere" / "x.db")],
        "folder": ["calls", "--db", str(tmp_path)],
        "empty id": ["calls", "show", "", "--db", str(tmp_path / "x.db")],
    }[what]
    result = run(args)
    err = result.stderr.decode().strip()
    assert result.returncode == 2 and len(err.splitlines()) == 1 and "no calls recorded yet" not in err + result.stdout.decode()
