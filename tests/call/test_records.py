"""Call records in a real SQLite file: calls over real sockets recorded as they go, many at once,
hang-ups and engine failures, calls left open by a killed process, retention, the schema."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from contextlib import closing

import pytest

from concierge.audiosocket.client import AudioSocketClient
from concierge.brain.reply import Intent
from concierge.call.events import CallEnded, CallStarted, DtmfReceived, Outcome, StateChanged, Turn
from concierge.call.records import _TURN_COLUMNS, MIGRATIONS, SCHEMA_VERSION, STOPPED_MID_CALL, CallRecords, RecordsError
from concierge.config import CallState

from .recorded import name_heard, play_call, reply
from .helpers import ROOT, FailingTranscriber, LengthTranscriber, ScriptedTranscriber, fixture_turns, make_services, pace, running_server

DAY = 86400.0


@pytest.fixture
def records(tmp_path):
    with CallRecords(tmp_path / "records" / "calls.db", brain="rules") as opened:
        yield opened


def recorded_server(services, records: CallRecords, events: list):
    """An AudioSocket server whose calls are recorded, and also collected in `events` for the test to follow."""
    return running_server(services, events, observer=records.observer)


async def until(condition, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def keep_line_alive(client, condition, seconds: float = 15.0) -> None:
    """Send silence, like a phone, until `condition()` holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await client.send_audio(bytes(320))
        await asyncio.sleep(0.02)


def first_turn_audio() -> bytes:
    pcm, turns = fixture_turns("entrega")
    return pcm[int(turns[0]["start_seconds"] * 16000) - 4800 : int(turns[0]["end_seconds"] * 16000) + 3200]


def test_ten_simultaneous_calls_are_each_recorded_whole_and_apart(directory, redis_server, records, tmp_path):
    apartments = ["101", "102", "103", "104", "201", "202", "203", "301", "302", "401"]
    texts = ["Boa tarde, tenho uma entrega."] * 40  # spare copies for transcripts started in a pause
    services = make_services(directory, redis_server.url, ScriptedTranscriber(texts), tmp_path)
    speech = first_turn_audio()
    events: list = []

    def turns_of(call_id: str) -> int:
        return sum(1 for e in events if isinstance(e, Turn) and e.call_id == call_id)

    async def one(port: int, apartment: str) -> str:
        call_id = uuid.uuid4()
        client = await AudioSocketClient.connect("127.0.0.1", port, call_id)
        await pace(client, speech, speed=4.0)
        await keep_line_alive(client, lambda: turns_of(str(call_id)) >= 1)
        for digit in apartment + "#":
            await client.send_dtmf(digit)
        await keep_line_alive(client, lambda: turns_of(str(call_id)) >= 2)
        await client.close()
        await until(lambda: any(isinstance(e, CallEnded) and e.call_id == str(call_id) for e in events))
        return str(call_id)

    async def scenario() -> list[str]:
        async with recorded_server(services, records, events) as server:
            return await asyncio.gather(*(one(server.port, apartment) for apartment in apartments))

    call_ids = asyncio.run(scenario())
    records.flush()
    assert len(records.recent(limit=50)) == 10
    for call_id, apartment in zip(call_ids, apartments):
        call = records.get(call_id)
        assert call.outcome == "caller_hung_up" and call.ended_at > call.started_at
        assert call.brain == "rules" and call.conversation_id == call_id
        assert call.dtmf == apartment + "#"
        assert [(t.index, t.source) for t in call.turns] == [(1, "speech"), (2, "dtmf")]
        assert call.turns[0].transcript == "Boa tarde, tenho uma entrega." and call.turns[0].slots["intent_type"] == "entrega"
        assert call.turns[1].transcript == apartment
        assert call.turns[1].slots["apartment_number"] == apartment and call.turns[1].slots["intent_type"] == "entrega"
        assert call.final_reply["dados"]["apartment_number"] == apartment
        assert all(t.response_ms and t.response_ms > 0 and t.tts_ms >= 0 for t in call.turns)
    assert records.stats()["caller_hung_up"] == 10 and records.live() == []


def test_caller_hanging_up_mid_turn_ends_the_call_and_keeps_finished_turns(directory, redis_server, records, tmp_path):
    slow = ScriptedTranscriber(["Boa tarde, tenho uma entrega."] * 10, delay=1.0)
    services = make_services(directory, redis_server.url, slow, tmp_path)
    speech = first_turn_audio()
    events: list = []
    call_id = uuid.uuid4()

    def waiting_again() -> bool:
        after_turn = [e for e in events[next(i for i, e in enumerate(events) if isinstance(e, Turn)) :]]
        return any(isinstance(e, StateChanged) and e.state == CallState.WAITING for e in after_turn)

    async def scenario() -> None:
        async with recorded_server(services, records, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)
            await pace(client, speech, speed=4.0)
            await keep_line_alive(client, lambda: any(isinstance(e, Turn) for e in events))
            await pace(client, speech, speed=4.0)  # a second turn...
            await keep_line_alive(client, waiting_again)
            await client.close()  # ...that the caller does not wait for
            await until(lambda: any(isinstance(e, CallEnded) for e in events))

    asyncio.run(scenario())
    records.flush()
    call = records.get(str(call_id))
    assert call.outcome == "caller_hung_up" and call.ended_at is not None
    first = next(e for e in events if isinstance(e, Turn))
    assert [(t.index, t.transcript, t.reply) for t in call.turns] == [(1, first.transcript, first.reply.mensagem)]
    assert call.state == "STANDBY" and call.failed_turns == 0


def test_engine_failure_mid_call_is_recorded_as_a_failed_turn(directory, redis_server, records, tmp_path):
    services = make_services(directory, redis_server.url, FailingTranscriber(), tmp_path)
    events: list = []
    call_id = uuid.uuid4()

    def apologised() -> bool:
        states = [e.state for e in events if isinstance(e, StateChanged)]
        return states[-3:] == [CallState.WAITING, CallState.IA_TURN, CallState.USER_TURN]

    async def scenario() -> None:
        async with recorded_server(services, records, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)
            await pace(client, first_turn_audio(), speed=4.0)
            await keep_line_alive(client, apologised)
            await client.close()
            await until(lambda: any(isinstance(e, CallEnded) for e in events))

    asyncio.run(scenario())
    records.flush()
    call = records.get(str(call_id))
    assert call.failed_turns == 1 and call.turns == () and call.final_reply is None
    assert "engine exploded" in call.last_error
    assert call.outcome == "caller_hung_up"
    assert records.recent()[0].failed_turns == 1


def test_a_turn_is_on_disk_before_the_call_ends(records):
    call_id = play_call(records, time.time(), outcome=None)
    records.flush()
    with sqlite3.connect(records.path) as other_process_view:
        rows = other_process_view.execute("SELECT idx, transcript FROM turns WHERE call_id = ?", (call_id,)).fetchall()
    assert rows == [(1, "fala 1")]
    assert [call.call_id for call in records.live()] == [call_id]


def test_the_observer_never_waits_for_the_disk(records):
    records.flush()
    blocker = sqlite3.connect(records.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
    started = time.perf_counter()
    call_ids = [play_call(records, time.time(), turns=3) for _ in range(50)]
    elapsed = time.perf_counter() - started
    blocker.execute("COMMIT")
    blocker.close()
    records.flush()
    # waiting for the locked database even once would take its busy timeout (BUSY_TIMEOUT_SECONDS); a loaded CI
    # machine takes ~0.1-0.7 s for the 250 events themselves
    assert elapsed < 2.0, f"250 events took {elapsed:.2f} s on the caller's side"
    assert {call.call_id for call in records.recent(limit=100)} == set(call_ids)
    assert all(call.turn_count == 3 for call in records.recent(limit=100))


def leave_open_in_a_killed_process(path, call_id: str, started: float | None = None) -> None:
    """Record a call's start, a key and one turn from another process, which is then killed with
    SIGKILL while a second turn is in flight."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from concierge.call.records import CallRecords
        from concierge.call.events import CallStarted, DtmfReceived, Turn
        from concierge.brain.reply import Dados, Reply
        from concierge.config import CallState
        records = CallRecords({str(path)!r}, brain="rules")
        records.observer(CallStarted({call_id!r}, {call_id!r}, **({{"at": {started!r}}} if {started!r} else {{}})))
        records.observer(DtmfReceived({call_id!r}, "4"))
        reply = Reply(mensagem="Para quem?", dados=Dados(apartment_number="104"), valid_for_action=False, set_call_status=CallState.USER_TURN)
        records.observer(Turn({call_id!r}, 1, "dtmf", "104", reply, 0, 1, 5, 90.0))
        records.flush()
        records.observer(Turn({call_id!r}, 2, "speech", "in flight", reply, 0, 1, 5, 90.0))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()


def test_calls_left_open_by_a_killed_process_show_as_interrupted_and_are_closed_at_startup(records):
    leave_open_in_a_killed_process(records.path, "dead-call")
    mine = play_call(records, time.time(), outcome=None)
    records.flush()

    dead = records.get("dead-call")
    assert dead.outcome == "interrupted" and dead.ended_at is None
    assert [t.transcript for t in dead.turns][:1] == ["104"] and dead.dtmf == "4"
    assert [call.call_id for call in records.live()] == [mine]
    assert records.stats()["interrupted"] == 1
    assert [call.call_id for call in records.recent(outcome="interrupted")] == ["dead-call"]

    assert records.close_interrupted() == 1
    dead = records.get("dead-call")
    assert (dead.outcome, dead.reason) == ("error", STOPPED_MID_CALL)
    assert dead.ended_at == dead.turns[-1].at
    assert records.get(mine).outcome == "live", "a call of a running process is left alone"


def test_closing_the_records_ends_the_calls_still_open_there(tmp_path):
    first = CallRecords(tmp_path / "calls.db")
    call_id = play_call(first, time.time(), outcome=None)
    first.close()
    with CallRecords(tmp_path / "calls.db") as second:
        call = second.get(call_id)
    assert (call.outcome, call.reason) == ("error", STOPPED_MID_CALL) and call.ended_at >= call.started_at
    assert [turn.transcript for turn in call.turns] == ["fala 1"]


def test_purge_deletes_calls_past_retention_with_their_turns(records):
    now = time.time()
    old = [play_call(records, now - 45 * DAY, turns=2), play_call(records, now - 31 * DAY, Outcome.ERROR)]
    kept = [play_call(records, now - 29 * DAY, Outcome.CALLER_HUNG_UP), play_call(records, now - 60, turns=3)]
    records.flush()
    assert records.purge(30) == 2
    assert {call.call_id for call in records.recent()} == set(kept)
    assert all(records.get(call_id) is None for call_id in old)
    with sqlite3.connect(records.path) as db:
        assert db.execute("SELECT COUNT(*) FROM turns").fetchone() == (4,), "the purged calls' turns went with them"
    assert records.purge(30) == 0
    assert records.purge(0) == 2 and records.recent() == []


def test_recent_filters_by_time_and_outcome_newest_first(records):
    now = time.time()
    completed = play_call(records, now - 3 * DAY)
    hung_up = play_call(records, now - 2 * DAY, Outcome.CALLER_HUNG_UP, turns=0)
    timed_out = play_call(records, now - 3600, Outcome.TIMED_OUT, turns=3)
    records.flush()
    assert [call.call_id for call in records.recent()] == [timed_out, hung_up, completed]
    assert [call.call_id for call in records.recent(limit=1)] == [timed_out]
    assert [call.call_id for call in records.recent(since=now - 2.5 * DAY)] == [timed_out, hung_up]
    assert [call.call_id for call in records.recent(outcome="completed")] == [completed]
    latest = records.recent()[0]
    assert latest.turn_count == 3 and latest.response_ms_p50 == 402.0 and latest.slots["intent_type"] == "entrega"
    assert records.stats() == {
        "completed": 1, "caller_hung_up": 1, "timed_out": 1, "no_input": 0, "error": 0, "live": 0, "interrupted": 0,
    }  # fmt: skip
    assert records.ids_starting_with(completed[:8]) == [completed]
    with pytest.raises(ValueError):
        records.recent(outcome="exploded")


def test_keys_and_states_are_recorded_as_they_come(records):
    call_id = str(uuid.uuid4())
    records.observer(CallStarted(call_id, "conversa-1"))
    records.observer(StateChanged(call_id, CallState.USER_TURN))
    for digit in "1#":
        records.observer(DtmfReceived(call_id, digit))
    records.flush()
    call = records.get(call_id)
    assert (call.dtmf, call.state, call.conversation_id, call.outcome) == ("1#", "USER_TURN", "conversa-1", "live")
    assert call.as_json()["turns"] == [] and call.as_json()["ended_at"] is None


def test_database_is_versioned_in_wal_mode_and_private(records):
    with sqlite3.connect(records.path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert os.stat(records.path).st_mode & 0o777 == 0o600, "transcripts are personal data"
    with CallRecords(records.path) as again:  # opening a current database changes nothing
        assert again.recent() == []


def test_a_database_from_a_newer_apoena_is_refused_with_one_line(tmp_path):
    path = tmp_path / "calls.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RecordsError, match="newer than this apoena"):
        CallRecords(path)


def test_an_unusable_path_is_one_clear_error(tmp_path):
    (tmp_path / "taken").write_text("a file where a folder should be")
    with pytest.raises(RecordsError, match="cannot open the call records"):
        CallRecords(tmp_path / "taken" / "calls.db")


# -- the visitor's name, in their voice; schema 2 ------------------------------------------------


def test_the_visitors_name_audio_is_kept_with_the_call_and_replaced_when_the_name_changes(records):
    call_id = play_call(records, time.time(), outcome=None, turns=2)
    records.observer(name_heard(call_id, 1, "Patrícia", seconds=1.0))
    records.observer(name_heard(call_id, 2, "Patrícia Lima", seconds=2.5))
    records.observer(CallEnded(call_id, Outcome.NO_INPUT, "no answer to 2 prompts"))
    records.flush()
    audio = records.name_audio(call_id)
    assert (audio.turn, audio.visitor_name, audio.sample_rate, audio.seconds) == (2, "Patrícia Lima", 8000, 2.5)
    assert audio.pcm == name_heard(call_id, 2, "x", seconds=2.5).pcm
    call = records.get(call_id)
    assert call.outcome == "no_input" and call.as_json()["visitor_name_audio"] == {"turn": 2, "seconds": 2.5}
    assert records.recent()[0].as_json(with_turns=False)["visitor_name_audio"] == {"turn": 2, "seconds": 2.5}
    assert [c.call_id for c in records.recent(outcome="no_input")] == [call_id]
    other = play_call(records, time.time())
    records.flush()
    assert records.name_audio(other) is None and records.get(other).as_json()["visitor_name_audio"] is None


def test_purge_deletes_the_name_audio_with_its_call(records):
    old = play_call(records, time.time() - 40 * DAY)
    records.observer(name_heard(old, 1, "Carlos Pereira"))
    records.flush()
    assert records.purge(30) == 1
    with sqlite3.connect(records.path) as db:
        assert db.execute("SELECT COUNT(*) FROM name_audio").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM turns").fetchone() == (0,)


def test_a_failed_name_audio_write_is_logged_and_the_call_is_still_recorded(records, caplog):
    call_id = play_call(records, time.time(), outcome=None)
    records.flush()
    with sqlite3.connect(records.path) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON name_audio BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    records.observer(name_heard(call_id, 1, "Carlos Pereira"))
    records.observer(Turn(call_id, 2, "speech", "fala 2", reply(intent_type=Intent.ENTREGA), 300, 1, 50, 400.0))
    records.observer(CallEnded(call_id, Outcome.COMPLETED, "visit complete"))
    records.flush()
    call = records.get(call_id)
    assert call.outcome == "completed" and call.turn_count == 2
    assert "a write failed: disk says no" in caplog.text
    assert records.name_audio(call_id) is None


def test_a_served_call_keeps_the_audio_of_the_turn_that_gave_the_name(directory, redis_server, records, tmp_path):
    pcm, spoken = fixture_turns("entrega")
    texts = ["Boa tarde, tenho uma entrega dos Correios para a Joana Prado.", "Meu nome é Carlos Pereira."]
    services = make_services(directory, redis_server.url, LengthTranscriber(texts[1], texts[0], seconds=3.3), tmp_path)
    events: list = []
    call_id = uuid.uuid4()

    async def scenario() -> None:
        async with recorded_server(services, records, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)
            for index, turn in enumerate(spoken):
                await keep_line_alive(client, lambda: sum(isinstance(e, Turn) for e in events) == index and (
                    [e.state for e in events if isinstance(e, StateChanged)][-1:] == [CallState.USER_TURN]))
                start, end = int(turn["start_seconds"] * 16000) - 3200, int(turn["end_seconds"] * 16000)
                await pace(client, pcm[start:end], speed=2.0)
            await keep_line_alive(client, lambda: sum(isinstance(e, Turn) for e in events) == 2)
            await client.close()
            await until(lambda: any(isinstance(e, CallEnded) for e in events))

    asyncio.run(scenario())
    records.flush()
    call = records.get(str(call_id))
    assert [t.transcript for t in call.turns] == texts
    assert call.final_reply["dados"]["visitor_name"] == "Carlos Pereira"
    audio = records.name_audio(str(call_id))
    assert audio.turn == 2 and audio.visitor_name == "Carlos Pereira"
    assert abs(audio.seconds - (spoken[1]["end_seconds"] - spoken[1]["start_seconds"])) < 1.0
    assert call.as_json()["visitor_name_audio"]["turn"] == 2


def version_1_database(path) -> None:
    """A call records file as the first release of apoena left it: one ended call with a turn, one open."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO calls (call_id, conversation_id, started_at, ended_at, owner, outcome, reason, final_reply)"
            " VALUES ('aaaa', 'aaaa', 100.0, 120.0, 'elsewhere:1:x', 'timed_out', 'too long', NULL)"
        )
        db.execute(
            f"INSERT INTO turns (call_id, {_TURN_COLUMNS}) VALUES ('aaaa', 1, 110.0, 'speech', 'Entrega', 'Para quem?',"
            " '{\"intent_type\": \"entrega\"}', 0, 300.0, 1.0, 40.0, 700.0, 1)"
        )


def test_a_version_1_database_is_migrated_keeping_every_call_and_turn(tmp_path):
    path = tmp_path / "calls.db"
    version_1_database(path)
    with CallRecords(path) as migrated:
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (6,)
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        old = migrated.get("aaaa")
        assert (old.outcome, old.reason, old.turn_count, old.turns[0].transcript) == ("timed_out", "too long", 1, "Entrega")
        assert old.name_audio is None and old.visit is None and old.as_json()["visit"] is None
        new = play_call(migrated, time.time(), Outcome.NO_INPUT)
        migrated.observer(name_heard(new, 1, "Carlos"))
        migrated.flush()
        assert migrated.get(new).outcome == "no_input" and migrated.name_audio(new).visitor_name == "Carlos"
        assert migrated.purge(1) == 1, "the old call goes, its turns with it (foreign keys still hold)"
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT call_id FROM turns GROUP BY call_id").fetchall() == [(new,)]
