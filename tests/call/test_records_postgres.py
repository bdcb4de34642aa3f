"""Call records in a real PostgreSQL server (a throwaway cluster from Debian's binaries): two nodes
writing into one database, the schema the same as SQLite's at every version, upgrades, a server
that is down at start or goes away mid-call, and calls whose process died, told by heartbeat."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from concierge.call.events import CallEnded, CallStarted, DtmfReceived, Outcome, Turn
from concierge.call.records import STOPPED_MID_CALL, CallRecords, RecordsError
from concierge.store.schema import POSTGRES_MIGRATIONS, SCHEMA_VERSION, SQLITE_MIGRATIONS
from tests.servers import free_port, own_postgres, postgres_cluster, postgres_url  # noqa: F401 (fixtures)
from tests.test_cli import run

from .recorded import ROOT, name_heard, play_call, reply

DAY = 86400.0


def node_process(script: str, **popen: object) -> subprocess.Popen:
    """Another process running `script` with the project importable, as another node would."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path) -> str:
    """Where the records go: a SQLite file, or a fresh database in the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "calls.db")
    return request.getfixturevalue("postgres_url")


# -- two nodes, one database ----------------------------------------------------------------------


@pytest.fixture
def config(tmp_path) -> Path:
    """A config of its own (records.path, and so the spool, in tmp_path)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}, "records": {"path": "calls.db"}}))
    return path


def test_two_nodes_record_into_one_postgres_and_one_listing_shows_both(postgres_url, tmp_path, config):
    other = node_process(
        f"""
        import time
        from concierge.call.events import Outcome
        from concierge.call.records import CallRecords
        from tests.call.recorded import play_call
        with CallRecords({postgres_url!r}, "rules", node="node-b", spool={str(tmp_path / "b.db")!r}) as records:
            ids = [play_call(records, time.time() - 60 * i, Outcome.CALLER_HUNG_UP, turns=2) for i in range(1, 4)]
            records.flush()
        print(" ".join(ids))
        """
    )
    with CallRecords(postgres_url, "rules", node="node-a", spool=tmp_path / "a.db") as node_a:
        mine = [play_call(node_a, time.time() - 60 * i - 30, turns=3) for i in range(1, 4)]
        node_a.flush()
        out, err = other.communicate(timeout=60)
    assert other.returncode == 0, err
    theirs = out.split()

    with CallRecords(postgres_url) as reader:
        calls = reader.recent(limit=10)
        assert {call.call_id for call in calls} == set(mine + theirs)
        assert [call.started_at for call in calls] == sorted((call.started_at for call in calls), reverse=True)
        by_node = {call.call_id: (call.node, call.outcome, call.turn_count) for call in calls}
        assert all(by_node[call_id] == ("node-a", "completed", 3) for call_id in mine)
        assert all(by_node[call_id] == ("node-b", "caller_hung_up", 2) for call_id in theirs)
        assert reader.stats()["completed"] == 3 and reader.stats()["caller_hung_up"] == 3
        assert reader.get(theirs[0]).as_json()["node"] == "node-b"

    listing = run(["calls", "--json", "--config", str(config)], env={"DATABASE_URL": postgres_url})
    assert listing.returncode == 0, listing.stderr.decode()
    listed = json.loads(listing.stdout)["calls"]
    assert {(call["call_id"], call["node"]) for call in listed} == {*((c, "node-a") for c in mine), *((c, "node-b") for c in theirs)}
    shown = run(["calls", "show", theirs[0][:8], "--config", str(config)], env={"DATABASE_URL": postgres_url, "COLUMNS": "200"})
    assert shown.returncode == 0 and theirs[0] in shown.stdout.decode() and "fala 2" in shown.stdout.decode()
    purged = run(["calls", "purge", "--older-than-days", "0", "--config", str(config)], env={"DATABASE_URL": postgres_url})
    assert purged.returncode == 0 and purged.stdout.decode().startswith("6 calls older than 0 days deleted from postgresql://")
    assert not (tmp_path / "calls.db").exists(), "nothing went to SQLite"


def test_everything_a_call_keeps_reads_back_the_same_from_postgres(postgres_url, tmp_path):
    with CallRecords(postgres_url, "rules", spool=tmp_path / "spool.db") as records:
        call_id = play_call(records, time.time(), outcome=None, turns=2)
        for digit in "10":
            records.observer(DtmfReceived(call_id, digit))
        records.observer(name_heard(call_id, 2, "Patrícia Lima", seconds=2.5))
        records.observer(CallEnded(call_id, Outcome.NO_INPUT, "no answer to 2 prompts"))
        records.flush()
        call = records.get(call_id)
        assert (call.outcome, call.dtmf, call.turn_count, call.response_ms_p50) == ("no_input", "10", 2, 401.5)
        assert call.turns[1].slots["intent_type"] == "entrega" and call.turns[0].valid_for_action is False
        audio = records.name_audio(call_id)
        assert (audio.turn, audio.visitor_name, audio.seconds) == (2, "Patrícia Lima", 2.5)
        assert audio.pcm == name_heard(call_id, 2, "x", seconds=2.5).pcm
        assert records.ids_starting_with(call_id[:6]) == [call_id] and records.ids_starting_with("%") == []
        assert [c.call_id for c in records.recent(outcome="no_input")] == [call_id]
        assert records.purge(1) == 0 and records.purge(0) == 1
        assert records.get(call_id) is None and records.name_audio(call_id) is None


# -- the schema ----------------------------------------------------------------------------------


def sqlite_shape(path: Path) -> dict:
    """Tables → columns (name, type, not null, default), primary key, foreign keys, indexes."""
    kinds = {"TEXT": "text", "REAL": "float", "INTEGER": "integer", "BLOB": "bytes"}
    shape = {}
    with closing(sqlite3.connect(path)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            info = db.execute(f"PRAGMA table_info({table})").fetchall()
            columns = [(name, kinds[kind], bool(notnull or pk), _default(default)) for _, name, kind, notnull, default, pk in info]
            primary = [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]]
            foreign = sorted((f"{row[3]}->{row[2]}.{row[4]}", row[6]) for row in db.execute(f"PRAGMA foreign_key_list({table})"))
            indexes = {}
            for _, name, _, origin, partial in db.execute(f"PRAGMA index_list({table})"):
                if origin == "c":
                    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
                    where = sql.split(" WHERE ", 1)[1] if partial else None
                    indexes[name] = ([row[2] for row in db.execute(f"PRAGMA index_info({name})")], _predicate(where))
            shape[table] = {"columns": columns, "primary": primary, "foreign": foreign, "indexes": indexes}
    return shape


def postgres_shape(url: str) -> dict:
    kinds = {"text": "text", "double precision": "float", "integer": "integer", "bytea": "bytes"}
    shape = {}
    with psycopg.connect(url) as db:
        tables = [row[0] for row in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            " AND table_name <> 'apoena_schema'"
        )]  # fmt: skip
        for table in tables:
            columns = [
                (name, kinds[kind], nullable == "NO", _default(default))
                for name, kind, nullable, default in db.execute(
                    "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
            ]
            primary = [row[0] for row in db.execute(
                "SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)"
                " JOIN pg_attribute a ON a.attnum = k.attnum WHERE i.indrelid = %s::regclass AND a.attrelid = i.indrelid"
                " AND i.indisprimary ORDER BY k.n",
                (table,),
            )]  # fmt: skip
            foreign = []
            for (definition,) in db.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'", (table,)):
                match = re.match(r"FOREIGN KEY \((\w+)\) REFERENCES (\w+)\((\w+)\)(?: ON DELETE (\w+))?", definition)
                foreign.append((f"{match[1]}->{match[2]}.{match[3]}", match[4] or "NO ACTION"))
            indexes = {}
            for name, definition in db.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%_pkey'", (table,)):
                match = re.search(r"USING \w+ \(([^)]*)\)(?: WHERE (.*))?$", definition)
                indexes[name] = ([column.strip() for column in match[1].split(",")], _predicate(match[2]))
            shape[table] = {"columns": columns, "primary": primary, "foreign": sorted(foreign), "indexes": indexes}
    return shape


def _default(text: str | None) -> str | None:
    return None if text is None else re.sub(r"::\w+$", "", text)


def _predicate(text: str | None) -> str | None:
    return None if text is None else re.sub(r"[()\s]+", " ", text).strip().lower()


def test_sqlite_and_postgres_have_the_same_schema_at_every_version(postgres_url, tmp_path):
    path = tmp_path / "calls.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as lite, psycopg.connect(postgres_url, autocommit=True) as pg:
        lite.execute("PRAGMA foreign_keys = OFF")
        for version in range(1, SCHEMA_VERSION + 1):
            for statement in SQLITE_MIGRATIONS[version - 1]:
                lite.execute(statement)
            for statement in POSTGRES_MIGRATIONS[version - 1]:
                pg.execute(statement)
            sqlite, postgres = sqlite_shape(path), postgres_shape(postgres_url)
            assert sqlite == postgres, f"schema version {version} differs"
    assert set(sqlite) == {"calls", "turns", "name_audio", "visits", "resident_turns", "owners"}
    assert sqlite["calls"]["indexes"] == {
        "calls_by_start": (["started_at"], None),
        "calls_open": (["started_at"], "ended_at is null"),
        "calls_by_condominium": (["condominium", "started_at"], None),
        "calls_by_apartment": (["apartment", "started_at"], None),
    }
    assert ("call_id->calls.call_id", "CASCADE") in sqlite["turns"]["foreign"]


def test_a_resident_leg_is_found_under_its_visit_on_both_databases(location, tmp_path):
    from concierge.brain.reply import Intent
    from concierge.call.resident import VisitFacts
    from concierge.call.visit import VisitDecided, VisitStarted

    with CallRecords(location, "rules", spool=tmp_path / "spool.db") as records:
        call_id = play_call(records, time.time(), outcome=None, turns=1)
        records.observer(VisitStarted(call_id, "leg-a1", VisitFacts(Intent.VISITA, "Rui", "Joana Prado", "104"), ("PJSIP/a",)))
        records.observer(VisitDecided(call_id, "no_answer", "nobody", leg_id="leg-b2", attempts=(("PJSIP/a", "no_answer", "leg-a1"), ("PJSIP/b", "busy", "leg-b2"))))
        records.flush()
        assert records.calls_of_leg("leg-b") == [(call_id, "leg-b2")] and records.calls_of_leg("leg-a1") == [(call_id, "leg-a1")]
        assert sorted(records.calls_of_leg("leg-")) == [(call_id, "leg-a1"), (call_id, "leg-b2")]
        assert records.calls_of_leg("%") == [] and records.calls_of_leg("leg_") == []  # LIKE's wildcards are literal


@pytest.mark.parametrize("outcome, accepted", [("no_input", True), ("exploded", False)])
def test_both_databases_accept_and_refuse_the_same_outcomes(location, outcome, accepted):
    with CallRecords(location) as records, closing(records.database.connect()) as db:
        insert = "INSERT INTO calls (call_id, conversation_id, started_at, owner, outcome) VALUES (?, ?, ?, ?, ?)"
        if accepted:
            db.execute(insert, ("x", "x", 1.0, "h:1:i", outcome))
        else:
            with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
                db.execute(insert, ("x", "x", 1.0, "h:1:i", outcome))


def version_1_postgres(url: str) -> None:
    """A database as an apoena of schema version 1 would have left it: one ended call with a turn."""
    with psycopg.connect(url, autocommit=True) as db:
        for statement in POSTGRES_MIGRATIONS[0]:
            db.execute(statement)
        db.execute("CREATE TABLE apoena_schema (version INTEGER NOT NULL)")
        db.execute("INSERT INTO apoena_schema VALUES (1)")
        db.execute(
            "INSERT INTO calls (call_id, conversation_id, started_at, ended_at, owner, outcome, reason)"
            " VALUES ('aaaa', 'aaaa', 100.0, 120.0, 'elsewhere:1:x', 'timed_out', 'too long')"
        )
        db.execute(
            "INSERT INTO turns VALUES ('aaaa', 1, 110.0, 'speech', 'Entrega', 'Para quem?', '{\"intent_type\": \"entrega\"}',"
            " 0, 300.0, 1.0, 40.0, 700.0, 1)"
        )


def test_an_older_postgres_schema_is_upgraded_keeping_every_call(postgres_url, tmp_path):
    version_1_postgres(postgres_url)
    with CallRecords(postgres_url, spool=tmp_path / "spool.db") as migrated:
        with psycopg.connect(postgres_url) as db:
            assert db.execute("SELECT version FROM apoena_schema").fetchall() == [(SCHEMA_VERSION,)]
        old = migrated.get("aaaa")
        assert (old.outcome, old.reason, old.turn_count, old.turns[0].transcript, old.node) == ("timed_out", "too long", 1, "Entrega", None)
        new = play_call(migrated, time.time(), Outcome.NO_INPUT)
        migrated.observer(name_heard(new, 1, "Carlos"))
        migrated.flush()
        assert migrated.get(new).outcome == "no_input" and migrated.name_audio(new).visitor_name == "Carlos"
        assert migrated.purge(1) == 1, "the old call goes, its turns with it"
        with psycopg.connect(postgres_url) as db:
            assert db.execute("SELECT DISTINCT call_id FROM turns").fetchall() == [(new,)]
    with CallRecords(postgres_url, spool=tmp_path / "spool.db") as again:  # a current schema is left as it is
        assert [call.call_id for call in again.recent()] == [new]


def test_a_postgres_schema_from_a_newer_apoena_is_refused_with_one_line(postgres_url):
    with CallRecords(postgres_url):
        pass
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("UPDATE apoena_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(RecordsError, match="newer than this apoena") as refused:
        CallRecords(postgres_url)
    assert refused.value.exit_code == 2 and len(str(refused.value).splitlines()) == 1


def test_two_nodes_starting_together_migrate_once(postgres_url, tmp_path):
    starters = [
        node_process(f"from concierge.call.records import CallRecords\nCallRecords({postgres_url!r}, spool={str(tmp_path / f'{n}.db')!r}).close()")
        for n in range(3)
    ]
    for starter in starters:
        _, err = starter.communicate(timeout=60)
        assert starter.returncode == 0, err
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT version FROM apoena_schema").fetchall() == [(SCHEMA_VERSION,)]


# -- a server that is not there, or goes away ------------------------------------------------------


def test_an_unreachable_postgres_at_start_is_one_clear_line_exit_2():
    url = f"postgresql://apoena:secret@127.0.0.1:{free_port()}/calls"
    started = time.monotonic()
    with pytest.raises(RecordsError) as refused:
        CallRecords(url)
    message = str(refused.value)
    assert refused.value.exit_code == 2 and len(message.splitlines()) == 1
    assert message.startswith("cannot reach PostgreSQL at postgresql://apoena:***@127.0.0.1:") and "secret" not in message
    assert "Connection refused" in message and "DATABASE_URL" in message
    assert time.monotonic() - started < 6


@pytest.mark.parametrize("command", [["calls"], ["calls", "show", "abc"], ["calls", "purge"], ["serve", "--port", "0", "--no-web"]])
def test_an_unreachable_database_url_stops_the_command_with_one_line_exit_2(config, command):
    url = f"postgresql://apoena:secret@127.0.0.1:{free_port()}/calls"
    result = run([*command, "--config", str(config)], env={"DATABASE_URL": url}, timeout=120)
    err = result.stderr.decode().strip()
    assert result.returncode == 2, err
    assert err.splitlines()[-1].startswith("error: cannot reach PostgreSQL at postgresql://apoena:***@127.0.0.1:") and "secret" not in err
    assert "Traceback" not in err and len([line for line in err.splitlines() if "PostgreSQL" in line]) == 1


def test_a_records_url_of_another_kind_is_one_clear_line():
    with pytest.raises(RecordsError, match="only postgresql:// URLs") as refused:
        CallRecords("mysql://root:pw@localhost/calls")
    assert "pw" not in str(refused.value)


def test_postgres_going_away_mid_call_spools_the_call_and_delivers_it_when_back(own_postgres, tmp_path, caplog):
    url = own_postgres.create_database()
    spool = tmp_path / "spool.db"
    with CallRecords(url, "rules", spool=spool) as records:
        call_id = str(uuid.uuid4())
        records.observer(CallStarted(call_id, call_id))
        records.observer(Turn(call_id, 1, "speech", "Boa tarde, entrega", reply(intent_type="entrega"), 300, 1, 50, 400.0))
        records.flush()

        own_postgres.pause()
        started = time.perf_counter()
        for digit in "104#":
            records.observer(DtmfReceived(call_id, digit))
        records.observer(Turn(call_id, 2, "dtmf", "104", reply(apartment_number="104"), 0, 1, 50, 90.0))
        records.observer(name_heard(call_id, 2, "Carlos"))
        records.observer(CallEnded(call_id, Outcome.COMPLETED, "visit complete"))
        assert time.perf_counter() - started < 0.05, "the call never waits for the database"
        records.flush(timeout=20)
        assert "does not answer" in caplog.text
        with closing(sqlite3.connect(spool)) as kept:
            assert kept.execute("SELECT COUNT(*) FROM writes").fetchone()[0] >= 7
        with pytest.raises(RecordsError, match="cannot read the call records"):
            records.get(call_id)

        own_postgres.resume()
        deadline = time.monotonic() + 30
        while True:
            try:
                call = records.get(call_id)
            except RecordsError:
                call = None
            if call is not None and call.outcome == "completed":
                break
            assert time.monotonic() < deadline, "the spool was not delivered"
            time.sleep(0.2)
        assert (call.dtmf, [t.transcript for t in call.turns], call.reason) == ("104#", ["Boa tarde, entrega", "104"], "visit complete")
        assert records.name_audio(call_id).visitor_name == "Carlos"
        records.flush()
        with closing(sqlite3.connect(spool)) as kept:
            assert kept.execute("SELECT COUNT(*) FROM writes").fetchone()[0] == 0
    assert "answers again" in caplog.text


def test_a_process_killed_while_postgres_is_down_loses_nothing_of_its_call(own_postgres, tmp_path):
    url = own_postgres.create_database()
    spool = tmp_path / "spool.db"
    node = node_process(
        f"""
        import os, signal, sys
        from concierge.call.events import CallStarted, DtmfReceived, Turn
        from concierge.call.records import CallRecords
        from tests.call.recorded import reply
        records = CallRecords({url!r}, "rules", spool={str(spool)!r})
        records.observer(CallStarted("dead-call", "dead-call"))
        records.observer(Turn("dead-call", 1, "speech", "Entrega", reply(intent_type="entrega"), 300, 1, 50, 400.0))
        records.flush()
        print("recorded", flush=True)
        sys.stdin.readline()  # the server is down now
        records.observer(DtmfReceived("dead-call", "7"))
        records.observer(Turn("dead-call", 2, "dtmf", "7", reply(apartment_number="7"), 0, 1, 5, 90.0))
        records.flush(timeout=20)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        stdin=subprocess.PIPE,
    )
    assert node.stdout.readline().strip() == "recorded"
    own_postgres.pause()
    node.stdin.write("go\n")
    node.stdin.flush()
    assert node.wait(timeout=60) == -signal.SIGKILL, node.stderr.read()

    own_postgres.resume()
    with CallRecords(url, "rules", spool=spool) as restarted:  # the next start delivers the spool first
        dead = restarted.get("dead-call")
        assert (dead.outcome, dead.dtmf, [t.transcript for t in dead.turns]) == ("interrupted", "7", ["Entrega", "7"])
        assert restarted.close_interrupted() == 1
        dead = restarted.get("dead-call")
        assert (dead.outcome, dead.reason) == ("error", STOPPED_MID_CALL) and dead.ended_at >= dead.turns[-1].at


# -- calls whose process died: on this host and on another -------------------------------------


def test_a_killed_calls_end_is_its_owners_last_heartbeat_not_the_restart(location, tmp_path):
    node = node_process(
        f"""
        import os, signal, time
        from concierge.call.events import CallStarted, Turn
        from concierge.call.records import CallRecords
        from tests.call.recorded import reply
        records = CallRecords({location!r}, "rules", spool={str(tmp_path / "spool.db")!r}, heartbeat_seconds=0.2)
        records.observer(CallStarted("dead-call", "dead-call"))
        records.observer(Turn("dead-call", 1, "speech", "Entrega", reply(intent_type="entrega"), 300, 1, 50, 400.0))
        records.flush()
        time.sleep(2.5)  # the call goes on (a resident being rung, say) with no new turn
        print(time.time(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    out, err = node.communicate(timeout=60)
    assert node.returncode == -signal.SIGKILL, err
    killed_at = float(out)
    time.sleep(1.0)  # the server is restarted a while later
    with CallRecords(location, spool=tmp_path / "spool.db") as restarted:
        assert restarted.get("dead-call").outcome == "interrupted"
        reopened_at = time.time()
        assert restarted.close_interrupted() == 1
        dead = restarted.get("dead-call")
    last_turn = dead.turns[-1].at
    assert (dead.outcome, dead.reason) == ("error", STOPPED_MID_CALL)
    assert killed_at - 1.0 <= dead.ended_at <= killed_at, "ended at the last heartbeat, within a beat (and a busy machine's delay) of the kill"
    assert dead.ended_at > last_turn + 1.0, "not at the last turn"
    assert dead.ended_at < reopened_at - 0.9, "not at the restart"


def test_another_hosts_call_is_live_while_its_heartbeat_is_fresh_then_interrupted(location, tmp_path):
    now = time.time()
    with CallRecords(location, spool=tmp_path / "spool.db") as records, closing(records.database.connect()) as db:
        for owner, beat in (("node-b.central:4242:aaaa", now - 2), ("node-c.central:4242:bbbb", now - 60)):
            db.execute(
                "INSERT INTO owners (owner, node, started_at, heartbeat_at, beat_seconds) VALUES (?, ?, ?, ?, 5.0)",
                (owner, owner.split(".")[0], now - 3600, beat),
            )
            db.execute("INSERT INTO calls (call_id, conversation_id, started_at, owner) VALUES (?, ?, ?, ?)", (owner[-4:], owner[-4:], now - 90, owner))
        db.execute("INSERT INTO turns VALUES ('bbbb', 1, ?, 'speech', 'Oi', 'Olá', '{}', 0, 1.0, 1.0, 1.0, 1.0, 0)", (now - 80,))
        assert {call.call_id: (call.outcome, call.node) for call in records.recent()} == {
            "aaaa": ("live", "node-b"), "bbbb": ("interrupted", "node-c"),
        }  # fmt: skip
        assert [call.call_id for call in records.live()] == ["aaaa"]
        assert records.stats()["live"] == 1 and records.stats()["interrupted"] == 1
        assert records.close_interrupted() == 1
        closed = records.get("bbbb")
        assert (closed.outcome, closed.ended_at) == ("error", pytest.approx(now - 60)), "ended at its node's last heartbeat"
        assert records.get("aaaa").outcome == "live"


def test_the_observer_never_waits_for_an_unreachable_server(own_postgres, tmp_path):
    url = own_postgres.create_database()
    with CallRecords(url, spool=tmp_path / "spool.db") as records:
        records.flush()
        own_postgres.pause()
        started = time.perf_counter()
        call_ids = [play_call(records, time.time(), turns=3) for _ in range(50)]
        elapsed = time.perf_counter() - started
        records.flush(timeout=20)
        assert elapsed < 0.5, f"250 events took {elapsed:.2f} s on the caller's side"
        own_postgres.resume()
        deadline = time.monotonic() + 30
        while True:
            try:
                if len(records.recent(limit=100)) == 50:
                    break
            except RecordsError:
                pass
            assert time.monotonic() < deadline, "the spool was not delivered"
            time.sleep(0.2)
        assert all(call.turn_count == 3 and call.outcome == "completed" for call in records.recent(limit=100))
        assert {call.call_id for call in records.recent(limit=100)} == set(call_ids)


def test_a_refused_write_is_logged_and_skipped_and_the_rest_of_its_batch_kept(postgres_url, tmp_path, caplog):
    with CallRecords(postgres_url, spool=tmp_path / "spool.db") as records:
        call_id = play_call(records, time.time(), outcome=None)
        records.flush()
        with psycopg.connect(postgres_url, autocommit=True) as db:
            db.execute("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk says no'; END $$ LANGUAGE plpgsql")
            db.execute("CREATE TRIGGER refuse BEFORE INSERT ON name_audio FOR EACH ROW EXECUTE FUNCTION refuse()")
        records.observer(name_heard(call_id, 1, "Carlos Pereira"))  # queued together, committed as one pipelined batch
        records.observer(Turn(call_id, 2, "speech", "fala 2", reply(intent_type="entrega"), 300, 1, 50, 400.0))
        records.observer(CallEnded(call_id, Outcome.COMPLETED, "visit complete"))
        records.flush()
        call = records.get(call_id)
        assert call.outcome == "completed" and call.turn_count == 2
        assert "a write failed: disk says no" in caplog.text
        assert records.name_audio(call_id) is None
        assert not (tmp_path / "spool.db").exists(), "a refused write is not the server's absence: nothing spooled"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_version_4_schema_is_upgraded_with_every_old_call_in_the_default_condominium(database, tmp_path, request):
    """Schema 5 adds calls.condominium: calls recorded before it were the one condominium's, `default`."""
    insert = "INSERT INTO calls (call_id, conversation_id, started_at, ended_at, owner, outcome, reason) VALUES (?, ?, ?, ?, ?, ?, ?)"
    old = ("aaaa", "aaaa", 100.0, 120.0, "elsewhere:1:x", "timed_out", "too long")
    if database == "sqlite":
        location: str = str(tmp_path / "calls.db")
        with closing(sqlite3.connect(location, isolation_level=None)) as db:
            db.execute("PRAGMA foreign_keys = OFF")
            for step in SQLITE_MIGRATIONS[:4]:
                for statement in step:
                    db.execute(statement)
            db.execute("PRAGMA user_version = 4")
            db.execute(insert, old)
    else:
        location = request.getfixturevalue("postgres_url")
        with psycopg.connect(location, autocommit=True) as db:
            for step in POSTGRES_MIGRATIONS[:4]:
                for statement in step:
                    db.execute(statement)
            db.execute("CREATE TABLE apoena_schema (version INTEGER NOT NULL)")
            db.execute("INSERT INTO apoena_schema VALUES (4)")
            db.execute(insert.replace("?", "%s"), old)
    with CallRecords(location, spool=tmp_path / "spool.db") as migrated:
        assert SCHEMA_VERSION == 6
        assert migrated.get("aaaa").condominium == "default" and migrated.get("aaaa").reason == "too long"
        migrated.observer(CallStarted("bbbb", "bbbb", at=time.time(), condominium="jardins"))
        migrated.observer(CallEnded("bbbb", Outcome.CALLER_HUNG_UP, "caller went away"))
        migrated.flush()
        assert [c.call_id for c in migrated.recent(condominium="jardins")] == ["bbbb"]
        assert [c.call_id for c in migrated.recent(condominium="default")] == ["aaaa"]
    with CallRecords(location, spool=tmp_path / "spool.db") as again, closing(again.database.connect()) as db:
        version = db.execute("PRAGMA user_version" if database == "sqlite" else "SELECT version FROM apoena_schema").fetchone()
    assert version == (6,)
