"""Call records: every call and each of its turns, written while the call goes, in SQLite (a local
file, the default) or PostgreSQL (one server for every node of a central: `records.url` /
`DATABASE_URL`). The same code and SQL serve both (`concierge.store.sql`).

The call's observer only queues plain values (it runs on the event loop and never touches the
disk or the network); one writer thread owns the only writing connection and commits whatever is
queued, in one transaction, as soon as it arrives — so a finished turn is stored within
milliseconds and a `kill -9` loses at most the turn in flight. Readers (the CLI, the web page)
use their own connections.

Each event becomes idempotent writes (upserts, absolute values), so a write can be replayed.
When PostgreSQL stops answering mid-call, the call is not disturbed: the writes go, in order, to
a local SQLite spool (`concierge.store.spool`) and the writer retries the server (1 s, 2 s, 4 s …
up to 15 s apart), delivering the spool before anything newer once it answers. A spool left by a
killed process is delivered when the records are next opened.

Every writing process registers itself in `owners` and beats every `heartbeat_seconds` (5 s). A
call with no end belongs to the process that opened it (`owner`): while that process runs the
call is "live", afterwards it is "interrupted". On this host, "runs" is asked of the operating
system; on another host (a central's other nodes), it is the owner's heartbeat being fresh
(within three beats). `close_interrupted()` (run by `apoena serve` at start-up) then marks such a
call for good as an error, "server stopped mid-call", ended at its owner's last heartbeat (or its
last turn, if later): when the server died, to within one beat, not when it was restarted.
`close()` does the same, at once, for the calls still open in its own process.

Each call may also keep the visitor's own voice saying their name (`name_audio`: the audio of
the turn in which the name was first given or last changed, 8 kHz slin), so a name speech
recognition cannot spell can still be played to the resident.

Transcripts and voices are personal data (LGPD). A SQLite file (and the spool) is created
owner-only (0600), and `purge()` deletes calls past the retention period, their turns and name
audio with them, with `secure_delete` on and the WAL truncated after, so they are overwritten,
not just unlinked. In PostgreSQL, deleted rows are reclaimed by autovacuum.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import statistics
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field, replace
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
from concierge.store.schema import SCHEMA_VERSION, SQLITE_MIGRATIONS
from concierge.store.search import CallSearch, apartment_key, search_names
from concierge.store.spool import Spool, Write
from concierge.store.sql import Connection, DatabaseError, PostgresDatabase, SqliteDatabase, connected, describe_unreachable, open_database

log = logging.getLogger("apoena.records")

LIVE = "live"
INTERRUPTED = "interrupted"
STATUSES = (*(outcome.value for outcome in Outcome), LIVE, INTERRUPTED)
STOPPED_MID_CALL = "server stopped mid-call"
MAX_BATCH = 500
HEARTBEAT_SECONDS = 5.0
STALE_BEATS = 3  # an owner on another host whose heartbeat is older than this many beats (+ slack) is gone
STALE_SLACK_SECONDS = 2.0  # clocks of two hosts differ a little
MAX_HELD = 200_000  # writes kept in memory while the disk is full; past it the oldest go (and are logged)
RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0)  # how long to wait before asking an unreachable server again
DEFAULT_SPOOL = Path(".apoena/records-spool.db")
SEARCH_COLUMNS_VERSION = 6  # the schema that keeps calls.apartment and calls.search_names
MIGRATIONS = SQLITE_MIGRATIONS  # kept under its old name: MIGRATIONS[n] takes a SQLite file from version n to n + 1

RecordsError = DatabaseError  # the call records cannot be reached, opened or understood: one line, exit code 2

_TURN_COLUMNS = "idx, at, source, transcript, reply, slots, valid_for_action, stt_ms, brain_ms, tts_ms, response_ms, speculative"
_CALL_COLUMNS = (
    "calls.call_id, calls.conversation_id, calls.started_at, calls.ended_at, calls.owner, calls.brain, calls.state,"
    " calls.dtmf, calls.outcome, calls.reason, calls.failed_turns, calls.last_error, calls.final_reply, calls.condominium,"
    " name_audio.turn, name_audio.seconds,"
    " visits.status, visits.decision, visits.via, visits.decided_by, visits.reason, visits.decision_ms, visits.dialing,"
    " owners.node, owners.heartbeat_at, owners.beat_seconds, owners.stopped_at"
)
_CALLS = (
    "calls LEFT JOIN name_audio ON name_audio.call_id = calls.call_id LEFT JOIN visits ON visits.call_id = calls.call_id"
    " LEFT JOIN owners ON owners.owner = calls.owner"
)
_OWNER_COLUMNS = "calls.owner, owners.heartbeat_at, owners.beat_seconds, owners.stopped_at"
_VISIT_COLUMNS = (
    "leg_id, started_at, dial_strings, status, dialing, decision, reason, via, decided_by, attempts, asked_ms, ringing_ms,"
    " decision_ms, decided_at, visitor_message, gate"
)
_HOST = socket.gethostname()
_OPEN_HERE: set[str] = set()  # instance ids of the CallRecords open in this process
_GATE_CALLS_KEPT = 1000  # calls whose gate actions are remembered (to write the whole list each time)


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
    node: str | None = None  # the node that answered the call (None: recorded before nodes were)
    condominium: str = "default"  # the id of the condominium the call belonged to

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
            "node": self.node,
            "condominium": self.condominium,
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
class CallPage:
    """One page of a search: its calls (without turns), and how many calls match in all."""

    calls: list[CallRecord]
    total: int
    offset: int
    limit: int


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
    """Writes an event asked for (kept in the spool if the server is unreachable), or a request
    (`work`: purge, close interrupted calls) whose result or error goes to `future`."""

    future: Future
    writes: Sequence[Write] = ()
    work: Callable[[Connection], Any] | None = None
    compact_after: bool = False  # rewrite the WAL afterwards, so purged text leaves it too

    def run(self, connection: Connection) -> Any:
        for sql, params in self.writes:
            connection.execute(sql, params)
        return None if self.work is None else self.work(connection)


class _JobFailed(Exception):
    """One job's statement was refused (not the connection): the batch is retried job by job."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


_STOP = object()


class CallRecords:
    """The call records: `observer` writes calls as they go; the other methods read or purge.

    `location` is a SQLite file's path or a `postgresql://` URL. `node` names this process's node
    beside its calls; `spool` is the local file that keeps writes PostgreSQL could not take.
    """

    def __init__(
        self,
        location: Path | str,
        brain: str = "",
        *,
        node: str | None = None,
        spool: Path | str | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.database = open_database(location)
        self.path: Path | None = self.database.path if isinstance(self.database, SqliteDatabase) else None
        self.where = self.database.where
        self.brain = brain
        self.node = node or _HOST
        self.instance = uuid.uuid4().hex[:12]
        self.owner = f"{_HOST}:{os.getpid()}:{self.instance}"
        self.heartbeat_seconds = heartbeat_seconds
        self.spool = Spool(Path(spool or DEFAULT_SPOOL)) if isinstance(self.database, PostgresDatabase) else None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._beating = threading.Event()  # set: stop beating
        self._lock = threading.Lock()
        self._closed = False
        self._per_call = threading.Lock()
        self._dtmf: dict[str, str] = {}
        self._failed: dict[str, int] = {}
        self._gate: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._reader: Connection | None = None
        self._reader_lock = threading.Lock()
        # the writer thread's own state
        self._connection: Connection | None = None
        self._spooled = False
        self._held: list[Write] = []  # refused by a full disk, in order: stored before anything newer
        self._retry_at = 0.0
        self._failures = 0
        self._open()
        _OPEN_HERE.add(self.instance)

    def _open(self) -> None:
        """Create or upgrade the schema, and deliver what a previous process left in the spool."""
        try:
            if isinstance(self.database, SqliteDatabase):
                self.database.create()
            with connected(self.database) as connection:
                found = self.database.migrate(connection)
                if 0 < found < SEARCH_COLUMNS_VERSION:
                    _fill_search_columns(connection)
                if self.spool is not None and self.spool.pending():
                    delivered = self.spool.drain(lambda writes: self._apply(connection, writes))
                    log.info("call records: %d writes kept in %s while %s was unreachable delivered", delivered, self.spool.path, self.where)
        except self.database.errors() as error:
            raise RecordsError(self._cannot_open(error)) from None

    def _cannot_open(self, error: Exception) -> str:
        if isinstance(self.database, SqliteDatabase):
            return f"{self.where}: cannot open the call records ({error}) — check records.path in config"
        if self.database.is_unreachable(error):
            return (
                f"cannot reach PostgreSQL at {self.where} ({describe_unreachable(error)}) — start it, fix DATABASE_URL / "
                "records.url, or unset it to keep the records in SQLite (records.path)"
            )
        return f"cannot set up the call records in PostgreSQL at {self.where} ({describe_unreachable(error)})"

    def __enter__(self) -> CallRecords:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def observer(self, event: CallEvent) -> None:
        """Give to CallSession: queues the event's writes for the writer thread. Never blocks, never raises."""
        try:
            writes = self._writes_for(event)
        except Exception:  # a bug here must not reach the call
            log.exception("call records: cannot record %s", type(event).__name__)
            return
        if writes:
            self._submit(_Job(Future(), writes))

    def flush(self, timeout: float | None = 10.0) -> None:
        """Return once everything queued so far is stored (in the database, or in the spool)."""
        self._submit(marker := _Job(Future()))
        marker.future.result(timeout)

    def purge(self, older_than_days: float) -> int:
        """Delete the calls that started more than `older_than_days` ago (their turns go with them)."""
        if older_than_days < 0:
            raise ValueError("older_than_days must be 0 or more")
        cutoff = time.time() - older_than_days * 86400

        def delete(connection: Connection) -> int:
            purged = connection.execute("DELETE FROM calls WHERE started_at < ?", (cutoff,)).rowcount
            connection.execute(
                "DELETE FROM owners WHERE heartbeat_at < ? AND NOT EXISTS (SELECT 1 FROM calls WHERE calls.owner = owners.owner)",
                (cutoff,),
            )
            return purged

        self._submit(job := _Job(Future(), work=delete, compact_after=True))
        return job.future.result()

    def close_interrupted(self) -> int:
        """Mark the calls whose process is gone as errors ("server stopped mid-call"), ended when
        their process was last known alive; return how many."""
        now = time.time()
        with self._reading() as connection:
            rows = connection.execute(
                f"SELECT calls.call_id, calls.started_at, (SELECT MAX(at) FROM turns WHERE turns.call_id = calls.call_id),"
                f" {_OWNER_COLUMNS} FROM calls LEFT JOIN owners ON owners.owner = calls.owner WHERE calls.ended_at IS NULL"
            ).fetchall()
        stale = [
            (STOPPED_MID_CALL, max(t for t in (started, last_turn, beat) if t is not None), call_id)
            for call_id, started, last_turn, owner, beat, every, stopped in rows
            if not _is_running(owner, beat, every, stopped, now)
        ]
        if not stale:
            return 0

        def mark(connection: Connection) -> int:
            return connection.executemany(
                "UPDATE calls SET outcome = 'error', reason = ?, state = 'STANDBY', ended_at = ? WHERE call_id = ? AND ended_at IS NULL",
                stale,
            )

        self._submit(job := _Job(Future(), work=mark))
        return job.future.result()

    def close(self) -> None:
        """Store what is queued, end the calls still open here ("server stopped mid-call"), stop the writer."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            writer = self._writer
            self._beating.set()
            if writer is not None:
                now = time.time()
                self._queue.put(_Job(Future(), self._closing_writes(now)))
                self._queue.put(_STOP)
        if writer is not None:
            writer.join()
        with self._reader_lock:
            if self._reader is not None:
                with suppress(Exception):
                    self._reader.close()
                self._reader = None
        _OPEN_HERE.discard(self.instance)
        if self._held:
            log.error("call records: %s still full at stop: %d writes kept in memory are lost", self.where, len(self._held))
        if self._spooled and self.spool is not None:
            log.warning("call records: %s still unreachable; %d writes wait in %s for the next start", self.where, self.spool.pending(), self.spool.path)

    def _closing_writes(self, now: float) -> list[Write]:
        return [
            (
                "UPDATE calls SET outcome = 'error', reason = ?, state = 'STANDBY', ended_at = ? WHERE owner = ? AND ended_at IS NULL",
                (STOPPED_MID_CALL, now, self.owner),
            ),
            ("UPDATE owners SET stopped_at = ?, heartbeat_at = ? WHERE owner = ?", (now, now, self.owner)),
        ]

    def _beat(self) -> list[Write]:
        """This process is alive (and registered, the first time)."""
        now = time.time()
        return [
            (
                "INSERT INTO owners (owner, node, started_at, heartbeat_at, beat_seconds) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (owner) DO UPDATE SET heartbeat_at ="
                " CASE WHEN excluded.heartbeat_at > owners.heartbeat_at THEN excluded.heartbeat_at ELSE owners.heartbeat_at END",
                (self.owner, self.node, now, now, self.heartbeat_seconds),
            )
        ]

    def _beat_forever(self) -> None:
        while not self._beating.wait(self.heartbeat_seconds):
            self._submit(_Job(Future(), self._beat()))

    def _writes_for(self, event: CallEvent) -> list[Write]:
        """The writes an event asks for, with its values taken now (on the event loop)."""
        if isinstance(event, CallStarted):
            return [(
                "INSERT INTO calls (call_id, conversation_id, started_at, owner, brain, condominium) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (call_id) DO NOTHING",
                (event.call_id, event.conversation_id, event.at, self.owner, self.brain, event.condominium),
            )]  # fmt: skip
        if isinstance(event, TurnFailed):
            with self._per_call:
                failed = self._failed[event.call_id] = self._failed.get(event.call_id, 0) + 1
            return [("UPDATE calls SET failed_turns = ?, last_error = ? WHERE call_id = ?", (failed, event.error, event.call_id))]
        if isinstance(event, StateChanged):
            return [("UPDATE calls SET state = ? WHERE call_id = ?", (event.state.value, event.call_id))]
        if isinstance(event, DtmfReceived):
            with self._per_call:
                keys = self._dtmf[event.call_id] = self._dtmf.get(event.call_id, "") + event.digit
            return [("UPDATE calls SET dtmf = ? WHERE call_id = ?", (keys, event.call_id))]
        if isinstance(event, Turn):
            reply = event.reply
            turn = (
                event.call_id, event.index, time.time(), event.source, event.transcript, reply.mensagem,
                reply.dados.model_dump_json(), int(reply.valid_for_action), event.stt_ms, event.brain_ms, event.tts_ms,
                event.response_ms, int(event.speculative),
            )  # fmt: skip
            searched = (apartment_key(reply.dados.apartment_number), search_names(reply.dados.visitor_name, reply.dados.resident_name))
            return [
                (_UPSERT_TURN, turn),
                ("UPDATE calls SET final_reply = ?, apartment = ?, search_names = ? WHERE call_id = ?", (reply.model_dump_json(), *searched, event.call_id)),
            ]  # fmt: skip
        if isinstance(event, VisitorNameHeard):
            return [(
                "INSERT INTO name_audio (call_id, turn, visitor_name, sample_rate, seconds, pcm) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (call_id) DO UPDATE SET turn = excluded.turn, visitor_name = excluded.visitor_name,"
                " sample_rate = excluded.sample_rate, seconds = excluded.seconds, pcm = excluded.pcm",
                (event.call_id, event.turn, event.visitor_name, event.sample_rate, event.seconds, event.pcm),
            )]  # fmt: skip
        if isinstance(event, CallEnded):
            with self._per_call:
                self._dtmf.pop(event.call_id, None)
                self._failed.pop(event.call_id, None)
            return [("UPDATE calls SET ended_at = ?, outcome = ?, reason = ? WHERE call_id = ?", (event.at, event.outcome.value, event.reason, event.call_id))]
        return self._visit_writes(event) or []

    def _visit_writes(self, event: object) -> list[Write] | None:
        """The writes a visit event asks for (see concierge.call.visit), or None for other events."""
        from concierge.call.gate import GateActed
        from concierge.call.visit import ResidentAnswered, ResidentDialing, ResidentTurnHeard, VisitDecided, VisitStarted

        if isinstance(event, VisitStarted):
            return [(
                "INSERT INTO visits (call_id, leg_id, started_at, dial_strings) VALUES (?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE"
                " SET leg_id = excluded.leg_id, started_at = excluded.started_at, dial_strings = excluded.dial_strings",
                (event.call_id, event.leg_id, event.at, json.dumps(event.dial_strings)),
            )]  # fmt: skip
        if isinstance(event, ResidentDialing):
            return [("UPDATE visits SET status = 'ringing', dialing = ? WHERE call_id = ? AND decision IS NULL", (event.dial, event.call_id))]
        if isinstance(event, ResidentAnswered):
            return [("UPDATE visits SET status = 'answered' WHERE call_id = ? AND decision IS NULL", (event.call_id,))]
        if isinstance(event, ResidentTurnHeard):
            return [(
                "INSERT INTO resident_turns (call_id, idx, at, via, heard, answer, reply, stt_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (call_id, idx) DO UPDATE SET at = excluded.at, via = excluded.via, heard = excluded.heard,"
                " answer = excluded.answer, reply = excluded.reply, stt_ms = excluded.stt_ms",
                (event.call_id, event.index, event.at, event.by, event.heard, event.answer, event.reply, event.stt_ms),
            )]  # fmt: skip
        if isinstance(event, VisitDecided):
            decided = (
                event.call_id, event.leg_id, event.started_at or event.at, event.decision, event.reason, event.by, event.decided_by,
                json.dumps(event.attempts), event.asked_ms, event.ringing_ms, event.decision_ms, event.at, event.visitor_message,
            )  # fmt: skip
            return [(
                "INSERT INTO visits (call_id, leg_id, started_at, status, decision, reason, via, decided_by, attempts, asked_ms,"
                " ringing_ms, decision_ms, decided_at, visitor_message) VALUES (?, ?, ?, 'decided', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (call_id) DO UPDATE SET status = 'decided', dialing = '', decision = excluded.decision,"
                " reason = excluded.reason, via = excluded.via, decided_by = excluded.decided_by, attempts = excluded.attempts,"
                " asked_ms = excluded.asked_ms, ringing_ms = excluded.ringing_ms, decision_ms = excluded.decision_ms,"
                " decided_at = excluded.decided_at, visitor_message = excluded.visitor_message",
                decided,
            )]  # fmt: skip
        if isinstance(event, GateActed):
            action = {"action": event.action, "ok": event.ok, "detail": event.detail, "attempts": event.attempts, "at": _iso(event.at)}
            with self._per_call:
                actions = self._gate.setdefault(event.call_id, [])
                actions.append(action)
                self._gate.move_to_end(event.call_id)
                while len(self._gate) > _GATE_CALLS_KEPT:
                    self._gate.popitem(last=False)
                gate = json.dumps(actions)
            return [("UPDATE visits SET gate = ? WHERE call_id = ?", (gate, event.call_id))]
        return None

    def _submit(self, job: _Job) -> None:
        with self._lock:  # held only to queue: the writer thread never takes it
            if self._closed:
                job.future.set_exception(RuntimeError(f"{self.where}: call records already closed"))
                return
            if self._writer is None:
                self._queue.put(_Job(Future(), self._beat()))  # registered before its first call
                self._writer = threading.Thread(target=self._write_forever, name="call-records", daemon=True)
                self._writer.start()
                threading.Thread(target=self._beat_forever, name="call-records-heartbeat", daemon=True).start()
            self._queue.put(job)

    def _write_forever(self) -> None:
        try:
            while True:
                timeout = max(0.0, self._retry_at - time.monotonic()) if self._spooled or self._held else None
                try:
                    batch = [self._queue.get(timeout=timeout)]
                except queue.Empty:
                    batch = []
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                jobs = [job for job in batch if job is not _STOP]
                if len(jobs) < len(batch):
                    self._retry_at = 0.0  # stopping: one last try for what a full disk held back
                try:
                    self._deliver(jobs)
                except Exception as error:  # a bug here must not stop the recording of later calls
                    log.exception("call records: %d writes lost", len(jobs))
                    for job in jobs:
                        if not job.future.done():
                            job.future.set_exception(error)
                if len(jobs) < len(batch):
                    return
        finally:
            if self._connection is not None:
                with suppress(Exception):
                    self._connection.close()

    def _deliver(self, jobs: list[_Job]) -> None:
        """Commit the jobs, after anything spooled or held; keep them in the spool if the server is
        unreachable, in memory if the disk is full."""
        held = len(self._held)
        if held:
            if time.monotonic() < self._retry_at:
                self._hold(jobs)
                return
            jobs, self._held = [_Job(Future(), self._held), *jobs], []
        connection = self._writing_connection()
        if connection is not None and self._spooled:
            try:
                delivered = self.spool.drain(lambda writes: self._apply(connection, writes))  # type: ignore[union-attr]
            except Exception as error:
                if self.database.is_unreachable(error):
                    self._lost(error)
                else:
                    self._stuck(error)
                connection = None
            else:
                self._spooled = False
                log.warning("call records: %s answers again; %d spooled writes delivered", self.where, delivered)
        if connection is None or self._spooled:
            self._keep_for_later(jobs)
            return
        try:
            self._commit(connection, jobs)
        except Exception as error:
            if self.database.is_full(error):
                self._full(error, jobs)
                return
            if not self.database.is_unreachable(error):
                raise
            self._lost(error)
            self._keep_for_later(jobs)
        else:
            if held:
                log.warning("call records: %s has room again; %d writes kept in memory stored", self.where, held)

    def _full(self, error: BaseException, jobs: list[_Job]) -> None:
        """The disk is full: keep the writes in memory, in order, and try again later (1 s … 15 s)."""
        if not self._held:
            log.error(
                "call records: cannot write to %s: %s — calls go on and their records are kept in memory "
                "until it has room; free some space on that disk", self.where, error,
            )  # fmt: skip
        self._hold(jobs)
        self._schedule_retry()

    def _hold(self, jobs: list[_Job]) -> None:
        """Keep the jobs' writes in memory (a full disk); requests fail, as they could not run."""
        self._held += [write for job in jobs if job.work is None for write in job.writes]
        if len(self._held) > MAX_HELD:
            log.error("call records: %d writes dropped: the disk is still full after %d held", len(self._held) - MAX_HELD, MAX_HELD)
            del self._held[: len(self._held) - MAX_HELD]
        full = RecordsError(f"{self.where}: the disk is full — free some space, then try again")
        for job in jobs:
            if job.future.done():
                continue
            if job.work is None:
                job.future.set_result(None)
            else:
                job.future.set_exception(full)

    def _writing_connection(self) -> Connection | None:
        """The writer's connection, reconnecting when the retry is due; None while the server is unreachable."""
        if self._connection is not None:
            return self._connection
        if time.monotonic() < self._retry_at:
            return None
        try:
            self._connection = self.database.connect_for_writing()  # type: ignore[attr-defined]
        except Exception as error:
            if isinstance(self.database, SqliteDatabase) or not self.database.is_unreachable(error):
                log.error("call records: cannot write to %s: %s", self.where, error)
            self._schedule_retry()
            return None
        self._failures = 0
        return self._connection

    def _lost(self, error: BaseException) -> None:
        """The server went away: drop the connection, say so once, ask again later."""
        if self._connection is not None:
            with suppress(Exception):
                self._connection.close()
        self._connection = None
        if not self._spooled:
            where = "" if self.spool is None else f"; calls are recorded in {self.spool.path} until it answers"
            log.error("call records: %s does not answer (%s)%s", self.where, describe_unreachable(error), where)
        self._schedule_retry()

    def _stuck(self, error: BaseException) -> None:
        """The spool could not be read or delivered for another reason than the server: try again later."""
        log.error("call records: the spool %s cannot be delivered yet: %s", self.spool.path if self.spool else "", error)
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        self._retry_at = time.monotonic() + RETRY_SECONDS[min(self._failures, len(RETRY_SECONDS) - 1)]
        self._failures += 1

    def _keep_for_later(self, jobs: list[_Job]) -> None:
        """The server is unreachable: event writes go to the spool (in order), requests fail."""
        writes = [write for job in jobs if job.work is None for write in job.writes]
        try:
            if self.spool is None:
                raise RecordsError(f"{self.where}: call records cannot be written")
            self.spool.append(writes)
            self._spooled = self._spooled or bool(writes)
        except Exception as error:
            log.error("call records: %d writes lost: %s", len(writes), error)
            for job in jobs:
                job.future.set_exception(error)
            return
        unreachable = RecordsError(f"cannot reach PostgreSQL at {self.where} — try again once it answers")
        for job in jobs:
            if job.work is None:
                job.future.set_result(None)
            else:
                job.future.set_exception(unreachable)

    def _commit(self, connection: Connection, jobs: list[_Job]) -> None:
        """Run the jobs in one transaction. If one is refused, each runs alone: that one is logged
        and skipped. If the transaction itself fails (not the server's absence), all fail."""
        results: list[tuple[_Job, Any, Exception | None]] = []
        try:
            try:
                results = [(job, value, None) for job, value in self._transact(connection, jobs)]
            except _JobFailed:
                for job in jobs:
                    try:
                        results += [(job, value, None) for job, value in self._transact(connection, [job])]
                    except _JobFailed as failed:
                        log.error("call records: a write failed: %s", failed)
                        results.append((job, None, failed.error))
        except Exception as error:
            if self.database.is_unreachable(error) or self.database.is_full(error):
                raise
            log.error("call records: %d writes lost: %s", len(jobs), error)
            for job in jobs:
                job.future.set_exception(error)
            return
        for job, value, error in results:
            if error is None:
                job.future.set_result(value)
            else:
                job.future.set_exception(error)
        if any(job.compact_after for job in jobs):
            self.database.compact(connection)

    def _transact(self, connection: Connection, jobs: list[_Job]) -> list[tuple[_Job, Any]]:
        """Run the jobs in one transaction; raise _JobFailed if a statement is refused. Writes alone
        are pipelined (a request's result is read as it runs, so requests are not)."""
        done = []
        try:
            with connection.pipelined() if all(job.work is None for job in jobs) else nullcontext(), connection.transaction():
                for job in jobs:
                    done.append((job, job.run(connection)))
        except Exception as error:
            if self.database.is_unreachable(error) or self.database.is_full(error):
                raise
            raise _JobFailed(error) from error
        return done

    def _apply(self, connection: Connection, writes: list[Write]) -> None:
        """Replay spooled writes in one transaction; if one is refused, each alone, skipping (and logging) it."""
        try:
            self._transact(connection, [_Job(Future(), writes)])
        except _JobFailed:
            for write in writes:
                try:
                    self._transact(connection, [_Job(Future(), [write])])
                except _JobFailed as failed:
                    log.error("call records: a spooled write failed: %s", failed)

    # -- reading ---------------------------------------------------------------------------

    def recent(
        self, limit: int = 20, since: float | None = None, outcome: str | None = None, condominium: str | None = None
    ) -> list[CallRecord]:
        """The latest calls first, optionally only those started at or after `since` (Unix
        seconds), of one outcome (an Outcome value, "live" or "interrupted") and of one condominium (its id)."""
        return self.search(CallSearch(limit=limit, since=since, outcome=outcome, condominium=condominium)).calls

    def search(self, search: CallSearch) -> CallPage:
        """One page of the calls `search` asks for, latest first, and how many there are in all."""
        if search.outcome is not None and search.outcome not in STATUSES:
            raise ValueError(f"unknown outcome {search.outcome!r}: use one of {', '.join(STATUSES)}")
        unended = search.outcome in (LIVE, INTERRUPTED)
        where, params = (replace(search, outcome=None) if unended else search).where()
        if unended:
            where += " AND calls.outcome IS NULL"  # live or interrupted: told apart below, by the owner
        sql = f"SELECT {_CALL_COLUMNS} FROM {_CALLS} WHERE {where} ORDER BY calls.started_at DESC, calls.call_id"
        with self._reading() as connection:
            if unended:  # few: the open calls, read whole and told apart here
                now = time.time()
                calls = [call for call in (_summary(row, now) for row in connection.execute(sql, params).fetchall()) if call[0] == search.outcome]
                total, calls = len(calls), calls[search.offset : search.offset + search.limit]
            else:
                total = connection.execute(f"SELECT COUNT(*) FROM {_CALLS} WHERE {where}", params).fetchone()[0]
                rows = connection.execute(f"{sql} LIMIT ? OFFSET ?", [*params, search.limit, search.offset]).fetchall()
                now = time.time()
                calls = [_summary(row, now) for row in rows]
            return CallPage(_with_turn_figures(connection, calls), total, search.offset, search.limit)

    def get(self, call_id: str) -> CallRecord | None:
        """One call with all its turns, or None."""
        with self._reading() as connection:
            row = connection.execute(f"SELECT {_CALL_COLUMNS} FROM {_CALLS} WHERE calls.call_id = ?", (call_id,)).fetchone()
            if row is None:
                return None
            turns = tuple(
                _turn(turn)
                for turn in connection.execute(f"SELECT {_TURN_COLUMNS} FROM turns WHERE call_id = ? ORDER BY idx", (call_id,)).fetchall()
            )
            visit = _full_visit(connection, call_id)
        status, values = _summary(row, time.time())
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
            rows = connection.execute("SELECT call_id FROM calls WHERE call_id LIKE ? ESCAPE '\\' LIMIT ?", (pattern, limit)).fetchall()
            return [row[0] for row in rows]

    def calls_of_leg(self, prefix: str, limit: int = 2) -> list[tuple[str, str]]:
        """(visitor's call id, leg id) of resident legs whose UUID begins with `prefix`: a leg has no
        call of its own (Asterisk logs its UUID), its turns are its visit's, under the visitor's call."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT call_id, leg_id, attempts FROM visits WHERE leg_id LIKE ? ESCAPE '\\' OR attempts LIKE ? ESCAPE '\\'",
                (pattern + "%", '%"' + pattern + "%"),
            ).fetchall()
        found = []
        for call_id, leg_id, attempts in rows:
            legs = [leg_id, *(attempt[2] for attempt in json.loads(attempts) if len(attempt) > 2)]
            found += [(call_id, leg) for leg in dict.fromkeys(legs) if leg and leg.startswith(prefix)]
        return found[:limit]

    def live(self) -> list[CallRecord]:
        """Calls in progress (in any process using this database), oldest first."""
        with self._reading() as connection:
            rows = connection.execute(f"SELECT {_CALL_COLUMNS} FROM {_CALLS} WHERE calls.ended_at IS NULL ORDER BY calls.started_at").fetchall()
            now = time.time()
            calls = [call for call in (_summary(row, now) for row in rows) if call[0] == LIVE]
            return _with_turn_figures(connection, calls)

    def stats(self, since: float | None = None, condominium: str | None = None) -> dict[str, int]:
        """How many calls ended each way (plus "live" and "interrupted"), since `since` and of one condominium if given."""
        counts = dict.fromkeys(STATUSES, 0)
        where = "calls.started_at >= ?" + (" AND calls.condominium = ?" if condominium else "")
        params = (since if since is not None else 0.0, *((condominium,) if condominium else ()))
        with self._reading() as connection:
            for outcome, count in connection.execute(
                f"SELECT outcome, COUNT(*) FROM calls WHERE {where} AND outcome IS NOT NULL GROUP BY outcome", params
            ).fetchall():
                counts[outcome] = count
            open_calls = connection.execute(
                f"SELECT {_OWNER_COLUMNS} FROM calls LEFT JOIN owners ON owners.owner = calls.owner"
                f" WHERE {where} AND calls.outcome IS NULL",
                params,
            ).fetchall()
        now = time.time()
        for owner, beat, every, stopped in open_calls:
            counts[LIVE if _is_running(owner, beat, every, stopped, now) else INTERRUPTED] += 1
        return counts

    def condominiums(self) -> list[str]:
        """The ids of the condominiums that have calls recorded, sorted."""
        with self._reading() as connection:
            return [row[0] for row in connection.execute("SELECT DISTINCT condominium FROM calls ORDER BY condominium").fetchall()]

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection to read with: a fresh one per read for SQLite; one kept (and re-made when
        the server drops it) for PostgreSQL, where connecting costs a round trip or three."""
        if isinstance(self.database, SqliteDatabase):
            with connected(self.database) as connection:
                yield connection
            return
        with self._reader_lock:
            try:
                if self._reader is None:
                    self._reader = self.database.connect()
                yield self._reader
            except Exception as error:
                if not self.database.is_unreachable(error):
                    raise
                if self._reader is not None:
                    with suppress(Exception):
                        self._reader.close()
                    self._reader = None
                raise RecordsError(f"cannot read the call records: PostgreSQL at {self.where} does not answer ({describe_unreachable(error)})") from None


_UPSERT_TURN = (
    f"INSERT INTO turns (call_id, {_TURN_COLUMNS}) VALUES ({', '.join('?' * 13)}) ON CONFLICT (call_id, idx) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _TURN_COLUMNS.split(", ")[1:])
)


def _summary(row: tuple, now: float) -> tuple[str, dict[str, Any]]:
    """(status, the CallRecord fields a row of _CALL_COLUMNS holds)."""
    (call_id, conversation_id, started, ended, owner, brain, state, dtmf, outcome, reason, failed, error, final, condominium,
     audio_turn, audio_seconds, visit_status, decision, via, decided_by, visit_reason, decision_ms, dialing,
     node, beat, every, stopped) = row  # fmt: skip
    if outcome is None:
        outcome = LIVE if _is_running(owner, beat, every, stopped, now) else INTERRUPTED
    visit = None
    if visit_status is not None:
        visit = {
            "status": visit_status, "decision": decision, "via": via, "decided_by": decided_by, "reason": visit_reason,
            "decision_ms": decision_ms, "dialing": dialing,
        }  # fmt: skip
    values = dict(
        call_id=call_id, conversation_id=conversation_id, started_at=started, ended_at=ended, brain=brain,
        state=state, dtmf=dtmf, reason=reason, failed_turns=failed, last_error=error,
        final_reply=json.loads(final) if final else None,
        name_audio=None if audio_turn is None else (audio_turn, audio_seconds), visit=visit, node=node,
        condominium=condominium,
    )  # fmt: skip
    return outcome, values


def _with_turn_figures(connection: Connection, calls: list[tuple[str, dict[str, Any]]]) -> list[CallRecord]:
    """CallRecords (without their turns) carrying each call's turn count and median response time."""
    counts: dict[str, int] = {}
    latencies: dict[str, list[float]] = {}
    ids = [values["call_id"] for _, values in calls]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for call_id, response_ms in connection.execute(
            f"SELECT call_id, response_ms FROM turns WHERE call_id IN ({', '.join('?' * len(chunk))})", chunk
        ).fetchall():
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


def _fill_search_columns(connection: Connection) -> None:
    """Calls recorded before schema 6 get their apartment and folded names from their last reply."""
    rows = connection.execute("SELECT call_id, final_reply FROM calls WHERE final_reply IS NOT NULL").fetchall()
    filled = []
    for call_id, final in rows:
        dados = json.loads(final).get("dados") or {}
        filled.append((apartment_key(dados.get("apartment_number")), search_names(dados.get("visitor_name"), dados.get("resident_name")), call_id))
    with connection.transaction():
        connection.executemany("UPDATE calls SET apartment = ?, search_names = ? WHERE call_id = ?", filled)


def _full_visit(connection: Connection, call_id: str) -> dict[str, Any] | None:
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


def _is_running(owner: str, heartbeat_at: float | None, beat_seconds: float | None, stopped_at: float | None, now: float) -> bool:
    """Whether the process that owns a call (host:pid:instance) still runs. On this host the
    operating system says; on another, its heartbeat (a process from before heartbeats: assume so)."""
    if stopped_at is not None:
        return False
    try:
        host, pid_text, instance = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host == _HOST and os.name == "posix":
        if pid == os.getpid():
            return instance in _OPEN_HERE
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if heartbeat_at is None or beat_seconds is None:
        return True
    return now - heartbeat_at <= STALE_BEATS * beat_seconds + STALE_SLACK_SECONDS


def _turn(row: tuple) -> TurnRecord:
    index, at, source, transcript, reply, slots, valid, stt, brain, tts, response, speculative = row
    return TurnRecord(index, at, source, transcript, reply, json.loads(slots), bool(valid), stt, brain, tts, response, bool(speculative))


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


__all__ = [
    "INTERRUPTED", "LIVE", "SCHEMA_VERSION", "STATUSES", "STOPPED_MID_CALL", "CallPage", "CallRecord", "CallRecords", "CallSearch", "NameAudio",
    "RecordsError", "TurnRecord",
]  # fmt: skip
