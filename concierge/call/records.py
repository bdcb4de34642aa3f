"""Call records: every call and each of its turns kept in SQLite, written while the call goes.

The call's observer only queues plain values (it runs on the event loop and never touches the
disk); one writer thread owns the only writing connection and commits whatever is queued, in
one transaction, as soon as it arrives — so a finished turn is on disk within milliseconds and
a `kill -9` loses at most the turn in flight. Readers (the CLI, the web page) open their own
short-lived connections; WAL mode lets them read while calls are being written.

A call with no end belongs to the process that opened it (`owner`): while that process runs the
call is "live", afterwards it is "interrupted", and `close_interrupted()` (run by `apoena serve`
at start-up) marks it for good as an error, "server stopped mid-call" — as `close()` does for
the calls still open in its own process.

Each call may also keep the visitor's own voice saying their name (`name_audio`: the audio of
the turn in which the name was first given or last changed, 8 kHz slin), so a name speech
recognition cannot spell can still be played to the resident.

Transcripts and voices are personal data (LGPD): the file is created owner-only (0600), and
`purge()` deletes calls past the retention period, their turns and name audio with them, with
`secure_delete` on and the WAL truncated after, so they are overwritten, not just unlinked.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import sqlite3
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from concierge.call.events import (
    CallEnded,
    CallEvent,
    CallStarted,
    DtmfReceived,
    Outcome,
    StateChanged,
    Turn,
    TurnFailed,
    VisitorNameHeard,
)
from concierge.errors import UserError

log = logging.getLogger("apoena.records")

LIVE = "live"
INTERRUPTED = "interrupted"
STATUSES = (*(outcome.value for outcome in Outcome), LIVE, INTERRUPTED)
STOPPED_MID_CALL = "server stopped mid-call"
BUSY_TIMEOUT_SECONDS = 10.0
MAX_BATCH = 500

# MIGRATIONS[n] takes a database from schema version n (PRAGMA user_version) to n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE calls (
            call_id         TEXT PRIMARY KEY,          -- the AudioSocket UUID
            conversation_id TEXT NOT NULL,
            started_at      REAL NOT NULL,             -- Unix seconds
            ended_at        REAL,                      -- NULL while live, or if the process died
            owner           TEXT NOT NULL,             -- host:pid:instance of the process running it
            brain           TEXT NOT NULL DEFAULT '',
            state           TEXT NOT NULL DEFAULT 'STANDBY',
            dtmf            TEXT NOT NULL DEFAULT '',  -- keys the caller pressed, in order
            outcome         TEXT CHECK (outcome IN ('completed', 'caller_hung_up', 'timed_out', 'error')),
            reason          TEXT NOT NULL DEFAULT '',
            failed_turns    INTEGER NOT NULL DEFAULT 0,
            last_error      TEXT NOT NULL DEFAULT '',  -- why the last failed turn failed
            final_reply     TEXT                       -- the last Reply, as JSON
        )""",
        "CREATE INDEX calls_by_start ON calls (started_at)",
        "CREATE INDEX calls_open ON calls (started_at) WHERE ended_at IS NULL",
        """CREATE TABLE turns (
            call_id          TEXT NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
            idx              INTEGER NOT NULL,
            at               REAL NOT NULL,
            source           TEXT NOT NULL,             -- speech | dtmf
            transcript       TEXT NOT NULL,
            reply            TEXT NOT NULL,
            slots            TEXT NOT NULL,             -- the reply's dados after this turn, as JSON
            valid_for_action INTEGER NOT NULL,
            stt_ms           REAL NOT NULL,
            brain_ms         REAL NOT NULL,
            tts_ms           REAL NOT NULL,
            response_ms      REAL,
            speculative      INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (call_id, idx)
        )""",
    ),
    (
        # 'no_input' joins the outcomes. SQLite cannot alter a CHECK: the calls table is rebuilt
        # (foreign keys are off while migrating, so the turns stay as they are).
        """CREATE TABLE calls_v2 (
            call_id         TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            started_at      REAL NOT NULL,
            ended_at        REAL,
            owner           TEXT NOT NULL,
            brain           TEXT NOT NULL DEFAULT '',
            state           TEXT NOT NULL DEFAULT 'STANDBY',
            dtmf            TEXT NOT NULL DEFAULT '',
            outcome         TEXT CHECK (outcome IN ('completed', 'caller_hung_up', 'timed_out', 'no_input', 'error')),
            reason          TEXT NOT NULL DEFAULT '',
            failed_turns    INTEGER NOT NULL DEFAULT 0,
            last_error      TEXT NOT NULL DEFAULT '',
            final_reply     TEXT
        )""",
        "INSERT INTO calls_v2 SELECT call_id, conversation_id, started_at, ended_at, owner, brain, state, dtmf, outcome,"
        " reason, failed_turns, last_error, final_reply FROM calls",
        "DROP TABLE calls",
        "ALTER TABLE calls_v2 RENAME TO calls",
        "CREATE INDEX calls_by_start ON calls (started_at)",
        "CREATE INDEX calls_open ON calls (started_at) WHERE ended_at IS NULL",
        """CREATE TABLE name_audio (
            call_id      TEXT PRIMARY KEY REFERENCES calls (call_id) ON DELETE CASCADE,
            turn         INTEGER NOT NULL,          -- the turn whose audio this is (turns.idx)
            visitor_name TEXT NOT NULL,             -- the name the brain took from it
            sample_rate  INTEGER NOT NULL,
            seconds      REAL NOT NULL,
            pcm          BLOB NOT NULL              -- s16le mono
        )""",
    ),
    (
        # The resident decides: each visit's resident leg, its turns, the decision and the gate actions.
        """CREATE TABLE visits (
            call_id      TEXT PRIMARY KEY REFERENCES calls (call_id) ON DELETE CASCADE,
            leg_id       TEXT,                      -- the resident leg's AudioSocket UUID
            started_at   REAL NOT NULL,             -- the visit complete: the resident is called
            dial_strings TEXT NOT NULL DEFAULT '[]',
            status       TEXT NOT NULL DEFAULT 'calling',  -- calling | ringing | answered | decided
            dialing      TEXT NOT NULL DEFAULT '',  -- the dial string ringing now
            decision     TEXT,                      -- authorized | denied | leave_at_gate | resident_coming | no_answer | not_asked | cancelled
            reason       TEXT NOT NULL DEFAULT '',
            via          TEXT,                      -- voice | keypad: how the resident decided
            decided_by   TEXT,                      -- the resident who decided
            attempts     TEXT NOT NULL DEFAULT '[]',  -- [[dial string, how it went], ...]
            asked_ms     REAL,                      -- visit start -> the resident hears the question
            ringing_ms   REAL,                      -- visit start -> the resident picked up
            decision_ms  REAL,                      -- visit start -> the decision
            decided_at   REAL,
            visitor_message TEXT NOT NULL DEFAULT '',
            gate         TEXT NOT NULL DEFAULT '[]'   -- the gate actions: [{action, ok, detail, attempts, at}]
        )""",
        """CREATE TABLE resident_turns (
            call_id TEXT NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
            idx     INTEGER NOT NULL,
            at      REAL NOT NULL,
            via     TEXT NOT NULL,                  -- voice | keypad | silence
            heard   TEXT NOT NULL,                  -- the transcript or the key
            answer  TEXT NOT NULL,                  -- how it was read (authorize, deny, question, unclear…)
            reply   TEXT NOT NULL,                  -- what the resident was told back
            stt_ms  REAL NOT NULL,
            PRIMARY KEY (call_id, idx)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_NAME_AUDIO = "(SELECT json_array(turn, seconds) FROM name_audio WHERE name_audio.call_id = calls.call_id)"
_VISIT = (
    "(SELECT json_object('status', status, 'decision', decision, 'via', via, 'decided_by', decided_by, 'reason', reason,"
    " 'decision_ms', decision_ms, 'dialing', dialing) FROM visits WHERE visits.call_id = calls.call_id)"
)
_CALL_COLUMNS = (
    "call_id, conversation_id, started_at, ended_at, owner, brain, state, dtmf, outcome, reason, failed_turns, last_error,"
    f" final_reply, {_NAME_AUDIO}, {_VISIT}"
)
_VISIT_COLUMNS = (
    "leg_id, started_at, dial_strings, status, dialing, decision, reason, via, decided_by, attempts, asked_ms, ringing_ms,"
    " decision_ms, decided_at, visitor_message, gate"
)
_TURN_COLUMNS = "idx, at, source, transcript, reply, slots, valid_for_action, stt_ms, brain_ms, tts_ms, response_ms, speculative"
_HOST = socket.gethostname()
_OPEN_HERE: set[str] = set()  # instance ids of the CallRecords open in this process


class RecordsError(UserError):
    """The call records database cannot be opened or is of an unknown schema."""


@dataclass(frozen=True)
class TurnRecord:
    index: int
    at: float
    source: str
    transcript: str
    reply: str
    slots: dict[str, Any]
    valid_for_action: bool
    stt_ms: float
    brain_ms: float
    tts_ms: float
    response_ms: float | None
    speculative: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "at": _iso(self.at),
            "source": self.source,
            "transcript": self.transcript,
            "reply": self.reply,
            "dados": self.slots,
            "valid_for_action": self.valid_for_action,
            "stt_ms": round(self.stt_ms, 1),
            "brain_ms": round(self.brain_ms, 2),
            "tts_ms": round(self.tts_ms, 1),
            "response_ms": None if self.response_ms is None else round(self.response_ms, 1),
            "speculative": self.speculative,
        }


@dataclass(frozen=True)
class CallRecord:
    call_id: str
    conversation_id: str
    started_at: float
    ended_at: float | None
    brain: str
    state: str
    dtmf: str
    outcome: str  # an Outcome value, or "live" / "interrupted" for a call with no end
    reason: str
    failed_turns: int  # turns the concierge could not answer (it apologised and asked again)
    last_error: str  # why the last of them failed
    final_reply: dict[str, Any] | None
    turn_count: int
    response_ms_p50: float | None
    turns: tuple[TurnRecord, ...] = ()
    name_audio: tuple[int, float] | None = None  # (turn, seconds) of the visitor's voice saying their name
    visit: dict[str, Any] | None = None  # the resident's decision (a summary; `get()` adds the resident leg's turns)

    @property
    def decision(self) -> str | None:
        return self.visit.get("decision") if self.visit else None

    @property
    def slots(self) -> dict[str, Any]:
        return dict(self.final_reply["dados"]) if self.final_reply else {}

    @property
    def valid_for_action(self) -> bool:
        return bool(self.final_reply and self.final_reply.get("valid_for_action"))

    def as_json(self, with_turns: bool = True) -> dict[str, Any]:
        data = {
            "call_id": self.call_id,
            "conversation_id": self.conversation_id,
            "started_at": _iso(self.started_at),
            "ended_at": None if self.ended_at is None else _iso(self.ended_at),
            "duration_s": None if self.ended_at is None else round(self.ended_at - self.started_at, 1),
            "brain": self.brain,
            "state": self.state,
            "dtmf": self.dtmf,
            "outcome": self.outcome,
            "reason": self.reason,
            "failed_turns": self.failed_turns,
            "last_error": self.last_error,
            "turn_count": self.turn_count,
            "response_ms_p50": None if self.response_ms_p50 is None else round(self.response_ms_p50, 1),
            "final": self.final_reply,
            "visitor_name_audio": self._name_audio_json(),
            "visit": self.visit,
        }
        if with_turns:
            data["turns"] = [turn.as_json() for turn in self.turns]
        return data

    def _name_audio_json(self) -> dict[str, Any] | None:
        """Whether the visitor's voice saying their name is kept: its turn and length, or None."""
        if self.name_audio is None:
            return None
        turn, seconds = self.name_audio
        return {"turn": turn, "seconds": round(seconds, 2)}


@dataclass(frozen=True)
class NameAudio:
    """The visitor's voice saying their name: the whole audio of turn `turn`, s16le mono."""

    turn: int
    visitor_name: str
    sample_rate: int
    pcm: bytes = field(repr=False)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (2 * self.sample_rate)


@dataclass
class _Job:
    work: Callable[[sqlite3.Connection], Any]
    future: Future
    checkpoint_after: bool = False  # rewrite the WAL afterwards, so purged text leaves it too


_STOP = object()


class CallRecords:
    """The call records database: `observer` writes calls as they go; the other methods read or purge."""

    def __init__(self, path: Path | str, brain: str = "") -> None:
        self.path = Path(path)
        self.brain = brain
        self.instance = uuid.uuid4().hex[:12]
        self.owner = f"{_HOST}:{os.getpid()}:{self.instance}"
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        try:
            _create_private(self.path)
            with closing(_connect(self.path)) as connection:
                migrate(connection)
        except (sqlite3.Error, OSError) as error:
            raise RecordsError(f"{self.path}: cannot open the call records ({error}) — check records.path in config") from None
        _OPEN_HERE.add(self.instance)

    def __enter__(self) -> CallRecords:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def observer(self, event: CallEvent) -> None:
        """Give to CallSession: queues the event's write for the writer thread. Never blocks, never raises."""
        try:
            work = self._work_for(event)
        except Exception:  # a bug here must not reach the call
            log.exception("call records: cannot record %s", type(event).__name__)
            return
        if work is not None:
            self._submit(_Job(work, Future()))

    def flush(self, timeout: float | None = 10.0) -> None:
        """Return once everything queued so far is committed."""
        self._submit(_Job(lambda connection: None, future := Future()))
        future.result(timeout)

    def purge(self, older_than_days: float) -> int:
        """Delete the calls that started more than `older_than_days` ago (their turns go with them)."""
        if older_than_days < 0:
            raise ValueError("older_than_days must be 0 or more")
        cutoff = time.time() - older_than_days * 86400

        def delete(connection: sqlite3.Connection) -> int:
            return connection.execute("DELETE FROM calls WHERE started_at < ?", (cutoff,)).rowcount

        self._submit(_Job(delete, future := Future(), checkpoint_after=True))
        return future.result()

    def close_interrupted(self) -> int:
        """Mark the calls whose process is gone as errors ("server stopped mid-call"); return how many."""
        stale = [call_id for call_id, owner in self._open_calls() if not _is_running(owner)]
        if not stale:
            return 0

        def mark(connection: sqlite3.Connection) -> int:
            return connection.executemany(
                "UPDATE calls SET outcome = 'error', reason = ?, state = 'STANDBY',"
                " ended_at = COALESCE((SELECT MAX(at) FROM turns WHERE turns.call_id = calls.call_id), started_at)"
                " WHERE call_id = ? AND ended_at IS NULL",
                [(STOPPED_MID_CALL, call_id) for call_id in stale],
            ).rowcount

        self._submit(_Job(mark, future := Future()))
        return future.result()

    def close(self) -> None:
        """Commit what is queued, end the calls still open here ("server stopped mid-call"), stop the writer."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            writer = self._writer
            if writer is not None:
                self._queue.put(_Job(self._end_open_calls, Future()))
                self._queue.put(_STOP)
        if writer is not None:
            writer.join()
        _OPEN_HERE.discard(self.instance)

    def _end_open_calls(self, connection: sqlite3.Connection) -> int:
        return connection.execute(
            "UPDATE calls SET outcome = 'error', reason = ?, state = 'STANDBY', ended_at = ? WHERE owner = ? AND ended_at IS NULL",
            (STOPPED_MID_CALL, time.time(), self.owner),
        ).rowcount

    def _work_for(self, event: CallEvent) -> Callable[[sqlite3.Connection], Any] | None:
        """The write an event asks for, with its values taken now (on the event loop)."""
        if isinstance(event, CallStarted):
            row = (event.call_id, event.conversation_id, event.at, self.owner, self.brain)
            return lambda c: c.execute(
                "INSERT INTO calls (call_id, conversation_id, started_at, owner, brain) VALUES (?, ?, ?, ?, ?)", row
            )
        if isinstance(event, TurnFailed):
            failure = (event.error, event.call_id)
            return lambda c: c.execute(
                "UPDATE calls SET failed_turns = failed_turns + 1, last_error = ? WHERE call_id = ?", failure
            )
        if isinstance(event, StateChanged):
            change = (event.state.value, event.call_id)
            return lambda c: c.execute("UPDATE calls SET state = ? WHERE call_id = ?", change)
        if isinstance(event, DtmfReceived):
            key = (event.digit, event.call_id)
            return lambda c: c.execute("UPDATE calls SET dtmf = dtmf || ? WHERE call_id = ?", key)
        if isinstance(event, Turn):
            reply = event.reply
            turn = (
                event.call_id, event.index, time.time(), event.source, event.transcript, reply.mensagem,
                reply.dados.model_dump_json(), reply.valid_for_action, event.stt_ms, event.brain_ms, event.tts_ms,
                event.response_ms, event.speculative,
            )  # fmt: skip
            final = (reply.model_dump_json(), event.call_id)

            def insert_turn(c: sqlite3.Connection) -> None:
                c.execute(f"INSERT INTO turns (call_id, {_TURN_COLUMNS}) VALUES ({', '.join('?' * 13)})", turn)
                c.execute("UPDATE calls SET final_reply = ? WHERE call_id = ?", final)

            return insert_turn
        if isinstance(event, VisitorNameHeard):
            audio = (event.call_id, event.turn, event.visitor_name, event.sample_rate, event.seconds, event.pcm)
            return lambda c: c.execute(
                "INSERT INTO name_audio (call_id, turn, visitor_name, sample_rate, seconds, pcm) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (call_id) DO UPDATE SET turn = excluded.turn, visitor_name = excluded.visitor_name,"
                " sample_rate = excluded.sample_rate, seconds = excluded.seconds, pcm = excluded.pcm",
                audio,
            )
        visit = _visit_work(event)
        if visit is not None:
            return visit
        if isinstance(event, CallEnded):
            end = (event.at, event.outcome.value, event.reason, event.call_id)
            return lambda c: c.execute("UPDATE calls SET ended_at = ?, outcome = ?, reason = ? WHERE call_id = ?", end)
        return None

    def _submit(self, job: _Job) -> None:
        with self._lock:  # held only to queue: the writer thread never takes it
            if self._closed:
                job.future.set_exception(RuntimeError(f"{self.path}: call records already closed"))
                return
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_forever, name="call-records", daemon=True)
                self._writer.start()
            self._queue.put(job)

    def _write_forever(self) -> None:
        try:
            connection: sqlite3.Connection | None = _connect(self.path)
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA secure_delete = ON")
            connection.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as error:
            log.error("call records: cannot write to %s: %s", self.path, error)
            connection = None
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                jobs = [job for job in batch if job is not _STOP]
                if connection is None:
                    for job in jobs:
                        job.future.set_exception(RecordsError(f"{self.path}: call records cannot be written"))
                elif jobs:
                    _commit(connection, jobs)
                if len(jobs) < len(batch):
                    return
        finally:
            if connection is not None:
                connection.close()

    # -- reading ---------------------------------------------------------------------------

    def recent(self, limit: int = 20, since: float | None = None, outcome: str | None = None) -> list[CallRecord]:
        """The latest calls first, optionally only those started at or after `since` (Unix
        seconds) and of one outcome (an Outcome value, "live" or "interrupted")."""
        if outcome is not None and outcome not in STATUSES:
            raise ValueError(f"unknown outcome {outcome!r}: use one of {', '.join(STATUSES)}")
        unended = outcome in (LIVE, INTERRUPTED)
        where, params = ["1"], []
        if since is not None:
            where.append("started_at >= ?")
            params.append(since)
        if unended:
            where.append("outcome IS NULL")  # live or interrupted: told apart below, by the owner
        elif outcome is not None:
            where.append("outcome = ?")
            params.append(outcome)
        sql = f"SELECT {_CALL_COLUMNS} FROM calls WHERE {' AND '.join(where)} ORDER BY started_at DESC"
        with self._reading() as connection:
            rows = connection.execute(sql if unended else f"{sql} LIMIT ?", params if unended else [*params, limit]).fetchall()
            calls = [call for call in map(self._summary, rows) if outcome is None or call[0] == outcome]
            return self._with_turn_figures(connection, calls[:limit])

    def get(self, call_id: str) -> CallRecord | None:
        """One call with all its turns, or None."""
        with self._reading() as connection:
            row = connection.execute(f"SELECT {_CALL_COLUMNS} FROM calls WHERE call_id = ?", (call_id,)).fetchone()
            if row is None:
                return None
            turns = tuple(
                _turn(turn)
                for turn in connection.execute(f"SELECT {_TURN_COLUMNS} FROM turns WHERE call_id = ? ORDER BY idx", (call_id,))
            )
            visit = _full_visit(connection, call_id)
        status, values = self._summary(row)
        values["visit"] = visit
        latencies = [turn.response_ms for turn in turns if turn.response_ms is not None]
        return CallRecord(**values, outcome=status, turn_count=len(turns), response_ms_p50=_median(latencies), turns=turns)

    def visit(self, call_id: str) -> dict[str, Any] | None:
        """One call's visit (decision, who decided, voice or keypad, times, resident turns, gate actions), or None."""
        with self._reading() as connection:
            return _full_visit(connection, call_id)

    def name_audio(self, call_id: str) -> NameAudio | None:
        """The visitor's voice saying their name in call `call_id`, or None."""
        with self._reading() as connection:
            row = connection.execute(
                "SELECT turn, visitor_name, sample_rate, pcm FROM name_audio WHERE call_id = ?", (call_id,)
            ).fetchone()
        return None if row is None else NameAudio(row[0], row[1], row[2], bytes(row[3]))

    def ids_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        """Call ids that begin with `prefix` (at most `limit` of them), to accept a short id."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._reading() as connection:
            rows = connection.execute("SELECT call_id FROM calls WHERE call_id LIKE ? ESCAPE '\\' LIMIT ?", (pattern, limit))
            return [row[0] for row in rows]

    def live(self) -> list[CallRecord]:
        """Calls in progress (in any process using this database), oldest first."""
        with self._reading() as connection:
            rows = connection.execute(f"SELECT {_CALL_COLUMNS} FROM calls WHERE ended_at IS NULL ORDER BY started_at").fetchall()
            calls = [call for call in map(self._summary, rows) if call[0] == LIVE]
            return self._with_turn_figures(connection, calls)

    def stats(self, since: float | None = None) -> dict[str, int]:
        """How many calls ended each way (plus "live" and "interrupted"), since `since` if given."""
        counts = dict.fromkeys(STATUSES, 0)
        start = since if since is not None else 0.0
        with self._reading() as connection:
            for outcome, count in connection.execute(
                "SELECT outcome, COUNT(*) FROM calls WHERE started_at >= ? AND outcome IS NOT NULL GROUP BY outcome", (start,)
            ):
                counts[outcome] = count
            for (owner,) in connection.execute("SELECT owner FROM calls WHERE started_at >= ? AND outcome IS NULL", (start,)):
                counts[LIVE if _is_running(owner) else INTERRUPTED] += 1
        return counts

    def _open_calls(self) -> list[tuple[str, str]]:
        with self._reading() as connection:
            return connection.execute("SELECT call_id, owner FROM calls WHERE ended_at IS NULL").fetchall()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with closing(_connect(self.path)) as connection:
            yield connection

    @staticmethod
    def _summary(row: tuple) -> tuple[str, dict[str, Any]]:
        """(status, the CallRecord fields a calls row holds)."""
        call_id, conversation_id, started, ended, owner, brain, state, dtmf, outcome, reason, failed, error, final, audio, visit = row
        if outcome is None:
            outcome = LIVE if _is_running(owner) else INTERRUPTED
        values = dict(
            call_id=call_id, conversation_id=conversation_id, started_at=started, ended_at=ended, brain=brain,
            state=state, dtmf=dtmf, reason=reason, failed_turns=failed, last_error=error,
            final_reply=json.loads(final) if final else None, name_audio=tuple(json.loads(audio)) if audio else None,
            visit=json.loads(visit) if visit else None,
        )  # fmt: skip
        return outcome, values

    @staticmethod
    def _with_turn_figures(connection: sqlite3.Connection, calls: list[tuple[str, dict[str, Any]]]) -> list[CallRecord]:
        """CallRecords (without their turns) carrying each call's turn count and median response time."""
        counts: dict[str, int] = {}
        latencies: dict[str, list[float]] = {}
        ids = [values["call_id"] for _, values in calls]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for call_id, response_ms in connection.execute(
                f"SELECT call_id, response_ms FROM turns WHERE call_id IN ({', '.join('?' * len(chunk))})", chunk
            ):
                counts[call_id] = counts.get(call_id, 0) + 1
                if response_ms is not None:
                    latencies.setdefault(call_id, []).append(response_ms)
        return [
            CallRecord(
                **values, outcome=status, turn_count=counts.get(values["call_id"], 0),
                response_ms_p50=_median(latencies.get(values["call_id"], [])),
            )  # fmt: skip
            for status, values in calls
        ]


def _visit_work(event: object) -> Callable[[sqlite3.Connection], Any] | None:
    """The write a visit event asks for (see concierge.call.visit), or None for other events."""
    from concierge.call.gate import GateActed
    from concierge.call.visit import ResidentAnswered, ResidentDialing, ResidentTurnHeard, VisitDecided, VisitStarted

    if isinstance(event, VisitStarted):
        row = (event.call_id, event.leg_id, event.at, json.dumps(event.dial_strings))
        return lambda c: c.execute(
            "INSERT OR REPLACE INTO visits (call_id, leg_id, started_at, dial_strings) VALUES (?, ?, ?, ?)", row
        )
    if isinstance(event, ResidentDialing):
        dialing = (event.dial, event.call_id)
        return lambda c: c.execute("UPDATE visits SET status = 'ringing', dialing = ? WHERE call_id = ? AND decision IS NULL", dialing)
    if isinstance(event, ResidentAnswered):
        answered = (event.call_id,)
        return lambda c: c.execute("UPDATE visits SET status = 'answered' WHERE call_id = ? AND decision IS NULL", answered)
    if isinstance(event, ResidentTurnHeard):
        turn = (event.call_id, event.index, event.at, event.by, event.heard, event.answer, event.reply, event.stt_ms)
        return lambda c: c.execute(
            "INSERT OR REPLACE INTO resident_turns (call_id, idx, at, via, heard, answer, reply, stt_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", turn
        )
    if isinstance(event, VisitDecided):
        decided = (
            event.call_id, event.leg_id, event.started_at or event.at, event.decision, event.reason, event.by, event.decided_by,
            json.dumps(event.attempts), event.asked_ms, event.ringing_ms, event.decision_ms, event.at, event.visitor_message,
        )  # fmt: skip
        return lambda c: c.execute(
            "INSERT INTO visits (call_id, leg_id, started_at, status, decision, reason, via, decided_by, attempts, asked_ms,"
            " ringing_ms, decision_ms, decided_at, visitor_message) VALUES (?, ?, ?, 'decided', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (call_id) DO UPDATE SET status = 'decided', dialing = '', decision = excluded.decision,"
            " reason = excluded.reason, via = excluded.via, decided_by = excluded.decided_by, attempts = excluded.attempts,"
            " asked_ms = excluded.asked_ms, ringing_ms = excluded.ringing_ms, decision_ms = excluded.decision_ms,"
            " decided_at = excluded.decided_at, visitor_message = excluded.visitor_message",
            decided,
        )
    if isinstance(event, GateActed):
        action = json.dumps({"action": event.action, "ok": event.ok, "detail": event.detail, "attempts": event.attempts, "at": _iso(event.at)})
        acted = (action, event.call_id)
        return lambda c: c.execute("UPDATE visits SET gate = json_insert(gate, '$[#]', json(?)) WHERE call_id = ?", acted)
    return None


def _full_visit(connection: sqlite3.Connection, call_id: str) -> dict[str, Any] | None:
    row = connection.execute(f"SELECT {_VISIT_COLUMNS} FROM visits WHERE call_id = ?", (call_id,)).fetchone()
    if row is None:
        return None
    (leg_id, started, dials, status, dialing, decision, reason, via, decided_by, attempts, asked, ringing, decision_ms,
     decided_at, message, gate) = row  # fmt: skip
    turns = connection.execute(
        "SELECT idx, at, via, heard, answer, reply, stt_ms FROM resident_turns WHERE call_id = ? ORDER BY idx", (call_id,)
    ).fetchall()
    return {
        "status": status, "decision": decision, "reason": reason, "via": via, "decided_by": decided_by,
        "resident_leg_id": leg_id, "started_at": _iso(started), "decided_at": None if decided_at is None else _iso(decided_at),
        "dial_strings": json.loads(dials), "dialing": dialing, "attempts": json.loads(attempts),
        "asked_ms": asked, "ringing_ms": ringing, "decision_ms": decision_ms, "visitor_message": message,
        "resident_turns": [
            {"index": i, "at": _iso(at), "via": v, "transcript": heard, "answer": answer, "reply": reply, "stt_ms": round(stt, 1)}
            for i, at, v, heard, answer, reply, stt in turns
        ],
        "gate": json.loads(gate),
    }  # fmt: skip


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the schema up to SCHEMA_VERSION, one step per transaction; return the version found."""
    found = connection.execute("PRAGMA user_version").fetchone()[0]
    connection.execute("PRAGMA foreign_keys = OFF")  # rebuilding a table must not cascade into its children
    if found > SCHEMA_VERSION:
        raise RecordsError(f"call records schema {found} is newer than this apoena knows ({SCHEMA_VERSION}) — upgrade apoena")
    for target in range(found + 1, SCHEMA_VERSION + 1):
        connection.execute("BEGIN IMMEDIATE")  # another process may be migrating too: read the version under the lock
        try:
            if connection.execute("PRAGMA user_version").fetchone()[0] < target:
                for statement in MIGRATIONS[target - 1]:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {target}")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    return found


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    return connection


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (SQLite gives the -wal file the same mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _commit(connection: sqlite3.Connection, jobs: list[_Job]) -> None:
    """Run the jobs in one transaction. A failing job is logged and skipped; a failing commit fails them all."""
    results: list[tuple[Future, Any, BaseException | None]] = []
    try:
        connection.execute("BEGIN IMMEDIATE")
        for job in jobs:
            try:
                results.append((job.future, job.work(connection), None))
            except Exception as error:
                log.error("call records: a write failed: %s", error)
                results.append((job.future, None, error))
        connection.execute("COMMIT")
    except sqlite3.Error as error:
        log.error("call records: %d writes lost: %s", len(jobs), error)
        if connection.in_transaction:
            with suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
        for job in jobs:
            job.future.set_exception(error)
        return
    for future, value, error in results:
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)
    if any(job.checkpoint_after for job in jobs):
        with suppress(sqlite3.Error):
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _is_running(owner: str) -> bool:
    """Whether the process that owns a call (host:pid:instance) still runs. Another host's: assume so."""
    try:
        host, pid_text, instance = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != _HOST or os.name != "posix":
        return True
    if pid == os.getpid():
        return instance in _OPEN_HERE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _turn(row: tuple) -> TurnRecord:
    index, at, source, transcript, reply, slots, valid, stt, brain, tts, response, speculative = row
    return TurnRecord(index, at, source, transcript, reply, json.loads(slots), bool(valid), stt, brain, tts, response, bool(speculative))


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")
