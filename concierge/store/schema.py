"""The call records' schema, one list of migrations per database, step n taking version n to n + 1.

Both lists give the same tables, columns, keys and indexes at every version (a test compares
them). The CREATE statements are written once, in SQLite's words, and given to PostgreSQL with
its types (`REAL` is SQLite's 8-byte float: `DOUBLE PRECISION` there, not PostgreSQL's 4-byte
`REAL`, which would round Unix times to minutes; `BLOB` is `BYTEA`). Where the two cannot take
the same step (SQLite cannot alter a CHECK), each has its own.

Version 1: calls and turns. 2: the `no_input` outcome, the visitor's name audio. 3: visits and
the resident's turns. 4: the processes that write calls (`owners`), with a heartbeat, so another
node can tell a live call from one whose server died, and when it died. 5: each call's
condominium (calls recorded before it were the one condominium's: `default`), indexed for the
per-condominium views. 6: what the page's search looks for, kept beside each call as its last reply
left it: the apartment, and the visitor's and resident's names folded for search (lowercase, no
accents), so both databases search alike; the caller fills in the calls recorded before it.
"""

from __future__ import annotations

import re

_CALLS_V1 = """CREATE TABLE calls (
    call_id         TEXT PRIMARY KEY,          -- the AudioSocket UUID
    conversation_id TEXT NOT NULL,
    started_at      REAL NOT NULL,             -- Unix seconds
    ended_at        REAL,                      -- NULL while live, or if the process died
    owner           TEXT NOT NULL,             -- host:pid:instance of the process running it (owners.owner)
    brain           TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL DEFAULT 'STANDBY',
    dtmf            TEXT NOT NULL DEFAULT '',  -- keys the caller pressed, in order
    outcome         TEXT CHECK (outcome IN ('completed', 'caller_hung_up', 'timed_out', 'error')),
    reason          TEXT NOT NULL DEFAULT '',
    failed_turns    INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',  -- why the last failed turn failed
    final_reply     TEXT                       -- the last Reply, as JSON
)"""
_OUTCOMES_V2 = "('completed', 'caller_hung_up', 'timed_out', 'no_input', 'error')"
_CALLS_BY_START = "CREATE INDEX calls_by_start ON calls (started_at)"
_CALLS_OPEN = "CREATE INDEX calls_open ON calls (started_at) WHERE ended_at IS NULL"
_TURNS = """CREATE TABLE turns (
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
)"""
_NAME_AUDIO = """CREATE TABLE name_audio (
    call_id      TEXT PRIMARY KEY REFERENCES calls (call_id) ON DELETE CASCADE,
    turn         INTEGER NOT NULL,          -- the turn whose audio this is (turns.idx)
    visitor_name TEXT NOT NULL,             -- the name the brain took from it
    sample_rate  INTEGER NOT NULL,
    seconds      REAL NOT NULL,
    pcm          BLOB NOT NULL              -- s16le mono
)"""
_VISITS = """CREATE TABLE visits (
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
)"""
_RESIDENT_TURNS = """CREATE TABLE resident_turns (
    call_id TEXT NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    idx     INTEGER NOT NULL,
    at      REAL NOT NULL,
    via     TEXT NOT NULL,                  -- voice | keypad | silence
    heard   TEXT NOT NULL,                  -- the transcript or the key
    answer  TEXT NOT NULL,                  -- how it was read (authorize, deny, question, unclear…)
    reply   TEXT NOT NULL,                  -- what the resident was told back
    stt_ms  REAL NOT NULL,
    PRIMARY KEY (call_id, idx)
)"""
_CONDOMINIUM = "ALTER TABLE calls ADD COLUMN condominium TEXT NOT NULL DEFAULT 'default'"  # its id (config condominiums)
_CALLS_BY_CONDOMINIUM = "CREATE INDEX calls_by_condominium ON calls (condominium, started_at)"
_APARTMENT = "ALTER TABLE calls ADD COLUMN apartment TEXT NOT NULL DEFAULT ''"  # the last reply's apartment_number
_SEARCH_NAMES = "ALTER TABLE calls ADD COLUMN search_names TEXT NOT NULL DEFAULT ''"  # visitor and resident, folded, one a line
_CALLS_BY_APARTMENT = "CREATE INDEX calls_by_apartment ON calls (apartment, started_at)"
_OWNERS = """CREATE TABLE owners (
    owner        TEXT PRIMARY KEY,          -- host:pid:instance, as in calls.owner
    node         TEXT NOT NULL,             -- the node's name, shown beside its calls
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL,             -- the last time the process said it was alive
    beat_seconds REAL NOT NULL,             -- how often it says so
    stopped_at   REAL                       -- set when it closed cleanly
)"""


def _sqlite_v2() -> tuple[str, ...]:
    """'no_input' joins the outcomes. SQLite cannot alter a CHECK: the calls table is rebuilt
    (foreign keys are off while migrating, so the turns stay as they are)."""
    rebuilt = _CALLS_V1.replace("CREATE TABLE calls (", "CREATE TABLE calls_v2 (").replace(
        "('completed', 'caller_hung_up', 'timed_out', 'error')", _OUTCOMES_V2
    )
    columns = "call_id, conversation_id, started_at, ended_at, owner, brain, state, dtmf, outcome, reason, failed_turns, last_error, final_reply"
    return (
        rebuilt,
        f"INSERT INTO calls_v2 SELECT {columns} FROM calls",
        "DROP TABLE calls",
        "ALTER TABLE calls_v2 RENAME TO calls",
        _CALLS_BY_START,
        _CALLS_OPEN,
        _NAME_AUDIO,
    )


def postgres_ddl(statement: str) -> str:
    """A CREATE statement written for SQLite, in PostgreSQL's types."""
    return re.sub(r"\bBLOB\b", "BYTEA", re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement))


SQLITE_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (_CALLS_V1, _CALLS_BY_START, _CALLS_OPEN, _TURNS),
    _sqlite_v2(),
    (_VISITS, _RESIDENT_TURNS),
    (_OWNERS,),
    (_CONDOMINIUM, _CALLS_BY_CONDOMINIUM),
    (_APARTMENT, _SEARCH_NAMES, _CALLS_BY_APARTMENT),
)

POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    tuple(map(postgres_ddl, (_CALLS_V1, _CALLS_BY_START, _CALLS_OPEN, _TURNS))),
    (
        "ALTER TABLE calls DROP CONSTRAINT calls_outcome_check",  # PostgreSQL's name for the column's CHECK
        f"ALTER TABLE calls ADD CONSTRAINT calls_outcome_check CHECK (outcome IN {_OUTCOMES_V2})",
        postgres_ddl(_NAME_AUDIO),
    ),
    tuple(map(postgres_ddl, (_VISITS, _RESIDENT_TURNS))),
    (postgres_ddl(_OWNERS),),
    (_CONDOMINIUM, _CALLS_BY_CONDOMINIUM),
    (_APARTMENT, _SEARCH_NAMES, _CALLS_BY_APARTMENT),
)

SCHEMA_VERSION = len(SQLITE_MIGRATIONS)
assert len(POSTGRES_MIGRATIONS) == SCHEMA_VERSION
