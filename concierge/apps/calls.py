"""`apoena calls`: list, show and purge the recorded calls (a Rich table for people, --json for machines)."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

from dataclasses import dataclass

from concierge.call.records import STATUSES, CallRecord, CallRecords, CallSearch
from concierge.call.visit import DECISIONS
from concierge.config import DEFAULT_CONDOMINIUM
from concierge.errors import UserError

NOTHING_YET = "no calls recorded yet"
SLOTS = ("intent_type", "visitor_name", "apartment_number", "resident_name")
OUTCOME_STYLE = {
    "completed": "green", "caller_hung_up": "yellow", "timed_out": "yellow", "no_input": "yellow", "error": "red", "live": "cyan",
    "interrupted": "red",
}  # fmt: skip
DECISION_STYLE = {
    "authorized": "green", "denied": "red", "no_answer": "yellow", "cancelled": "yellow", "leave_at_gate": "cyan",
    "resident_coming": "cyan", "not_asked": "dim",
}  # fmt: skip
_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhdw])$")
_AGE_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class CallFilters:
    """The list's filters beyond the first ones (the page's search): as the options give them."""

    until: str | None = None
    apartment: str | None = None
    name: str | None = None
    decision: str | None = None
    offset: int = 0

    def any(self) -> bool:
        return bool(self.until or self.apartment or self.name or self.decision)


def run_list(
    config_path: Path | None, db: Path | None, since: str | None, outcome: str | None, limit: int, as_json: bool,
    condominium: str | None = None, filters: CallFilters = CallFilters(),
) -> int:
    start = parse_since(since) if since is not None else None
    end = parse_since(filters.until, option="--until") if filters.until is not None else None
    if outcome is not None and outcome not in STATUSES:
        raise UserError(f"--outcome must be one of: {', '.join(STATUSES)}")
    if filters.decision is not None and filters.decision not in DECISIONS:
        raise UserError(f"--decision must be one of: {', '.join(DECISIONS)}")
    if limit < 1:
        raise UserError("--limit must be 1 or more")
    if filters.offset < 0:
        raise UserError("--offset must be 0 or more")
    if condominium is not None:
        _check_condominium(config_path, db, condominium)
    location, spool = records_location(config_path, db)
    if _nothing_recorded(location):
        return _nothing_yet(as_json, {"calls": [], "total": 0})
    search = CallSearch(
        limit=limit, offset=filters.offset, since=start, until=end, outcome=outcome, condominium=condominium,
        apartment=filters.apartment, name=filters.name, decision=filters.decision,
    )  # fmt: skip
    with CallRecords(location, spool=spool) as records:
        found = records.search(search)
    calls = found.calls
    if as_json:
        print(json.dumps({"calls": [call.as_json(with_turns=False) for call in calls], "total": found.total}, ensure_ascii=False, indent=2))
        return 0
    from rich.console import Console

    console = Console()
    if not calls:
        console.print("no calls match" if since or outcome or condominium or filters.any() or filters.offset else NOTHING_YET)
        return 0
    console.print(_calls_table(calls))
    if found.total > filters.offset + len(calls):
        console.print(f"{filters.offset + 1}–{filters.offset + len(calls)} of {found.total}: --offset {filters.offset + len(calls)} for more")
    return 0


def run_show(config_path: Path | None, db: Path | None, call_id: str, as_json: bool) -> int:
    if not call_id.strip():
        raise UserError("give a call id, or its first characters: `apoena calls` lists them")
    location, spool = records_location(config_path, db)
    if _nothing_recorded(location):
        raise UserError(f"no call {call_id}: {NOTHING_YET}")
    leg = None
    with CallRecords(location, spool=spool) as records:
        matches = records.ids_starting_with(call_id.strip().lower())
        if not matches:  # a resident leg's UUID (Asterisk's logs show it): the visit it belongs to
            legs = records.calls_of_leg(call_id.strip().lower())
            matches, leg = [visit for visit, _ in legs], (legs[0][1] if legs else None)
        if len(matches) > 1:
            raise UserError(f"{call_id} is the start of several call ids — give more of it")
        call = records.get(matches[0]) if matches else None
        where = records.where
    if call is None:
        raise UserError(f"no call {call_id} in {where} — `apoena calls` lists them")
    if as_json:
        print(json.dumps({**call.as_json(), **({"shown_for_resident_leg": leg} if leg else {})}, ensure_ascii=False, indent=2))
        return 0
    from rich.console import Console

    console = Console()
    if leg is not None:
        console.print(f"{leg} is a resident leg of the visit of call {call.call_id}:", highlight=False)
    console.print(_call_header(call), highlight=False)
    if call.turns:
        console.print(_turns_table(call))
    if call.visit and call.visit.get("resident_turns"):
        console.print(_resident_table(call))
    return 0


def run_purge(config_path: Path | None, db: Path | None, older_than_days: float | None) -> int:
    if older_than_days is not None and older_than_days < 0:
        raise UserError("--older-than-days must be 0 or more")
    location, spool = records_location(config_path, db)
    days = older_than_days
    if days is None:
        from concierge.config import load_config

        days = load_config(config_path).records.retention_days
    if _nothing_recorded(location):
        print(NOTHING_YET)
        return 0
    with CallRecords(location, spool=spool) as records:
        purged = records.purge(days)
        where = records.where
    print(f"{purged} call{'' if purged == 1 else 's'} older than {days:g} days deleted from {where}")
    return 0


def _check_condominium(config_path: Path | None, db: Path | None, condominium: str) -> None:
    """A condominium id the configuration knows (with --db alone, any id: the file may be another
    server's); UserError with the known ids otherwise."""
    if db is not None and config_path is None:
        return
    from concierge.call.condominiums import condominium_ids
    from concierge.config import load_config

    known = condominium_ids(load_config(config_path))
    if condominium not in known:
        raise UserError(f"--condominium {condominium!r} is not configured — use one of: {', '.join(known)}")


def records_location(config_path: Path | None, db: Path | None) -> tuple[Path | str, Path | None]:
    """Where the records are, and the spool `apoena serve` keeps beside them: --db when given (it
    must be a records file), else records.url (DATABASE_URL, PostgreSQL) or records.path from the
    configuration (a file that may not exist yet: nothing was recorded)."""
    if db is not None:
        if db.is_dir():
            raise UserError(f"--db {db} is a folder: give the records file itself (records.path in config.json)")
        if not db.is_file():
            raise UserError(f"--db {db}: no such file — give an existing records file, or leave --db out")
        return db, None
    from concierge.config import load_config

    records = load_config(config_path).records
    return records.url or records.path, spool_path(records.path)


def spool_path(records_path: Path) -> Path:
    """Where writes wait while PostgreSQL is unreachable: beside the SQLite records file."""
    return records_path.with_name("records-spool.db")


def _nothing_recorded(location: Path | str) -> bool:
    return isinstance(location, Path) and not location.is_file()


def parse_since(text: str, now: float | None = None, option: str = "--since") -> float:
    """A date (2026-11-01), a date and time (2026-11-01T14:00, local time) or an age (30m, 24h, 7d, 2w): Unix seconds."""
    age = _AGE.match(text.strip().lower())
    if age:
        return (time.time() if now is None else now) - float(age[1]) * _AGE_SECONDS[age[2]]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        hint = "give a date (2026-11-01), a date and time (2026-11-01T14:00) or an age (24h, 7d)"
        raise UserError(f"{option} {text!r}: {hint}") from None


def _nothing_yet(as_json: bool, empty: dict) -> int:
    if as_json:
        print(json.dumps(empty))
    else:
        print(NOTHING_YET)
    return 0


def _when(seconds: float | None) -> str:
    return "—" if seconds is None else datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def _outcome(call: CallRecord) -> str:
    return f"[{OUTCOME_STYLE.get(call.outcome, 'white')}]{call.outcome}[/]"


def _text(value: object) -> str:
    """What callers said (or names they gave) shown as is: brackets are not Rich markup."""
    from rich.markup import escape

    return escape(str(value))


def _slots(slots: dict) -> str:
    return " · ".join(_text(slots.get(slot) or "—") for slot in SLOTS) if slots else "—"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def _calls_table(calls: list[CallRecord]) -> object:
    from rich.table import Table

    table = Table(title="apoena calls")
    several = any(call.condominium != DEFAULT_CONDOMINIUM for call in calls)  # one condominium: no column for it
    columns = ("time", "call", *(("condominium",) if several else ()), "outcome", "turns",
               "slots (intent · visitor · ap · resident)", "valid", "decision", "resp. p50")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right" if column in ("turns", "resp. p50") else "left")
    for call in calls:
        turns = str(call.turn_count) + (f" [red]({call.failed_turns} failed)[/]" if call.failed_turns else "")
        table.add_row(
            _when(call.started_at), _text(call.call_id[:8]), *((_text(call.condominium),) if several else ()), _outcome(call),
            turns, _slots(call.slots), "yes" if call.valid_for_action else "no", _decision(call.visit), _ms(call.response_ms_p50),
        )  # fmt: skip
    table.caption = f"{len(calls)} most recent · `apoena calls show ID` for one call's turns"
    return table


def _call_header(call: CallRecord) -> str:
    duration = "" if call.ended_at is None else f" ({call.ended_at - call.started_at:.1f} s)"
    lines = [
        f"[bold]call[/] {_text(call.call_id)}   [bold]conversation[/] {_text(call.conversation_id)}"
        f"   [bold]condominium[/] {_text(call.condominium)}",
        f"[bold]started[/] {_when(call.started_at)}   [bold]ended[/] {_when(call.ended_at)}{duration}   [bold]brain[/] {call.brain or '—'}",
        f"[bold]outcome[/] {_outcome(call)}" + (f" — {_text(call.reason)}" if call.reason else ""),
        f"[bold]slots[/] {_slots(call.slots)}   [bold]valid for action[/] {'yes' if call.valid_for_action else 'no'}",
    ]
    if call.dtmf:
        lines.append(f"[bold]keys pressed[/] {_text(call.dtmf)}")
    if call.name_audio:
        turn, seconds = call.name_audio
        where = f"GET /api/calls/{_text(call.call_id)}/name.wav"
        lines.append(f"[bold]visitor's name, in their voice[/] {seconds:.1f} s, turn {turn} ({where})")
    if call.visit:
        lines.extend(_visit_lines(call.visit))
    if call.failed_turns:
        lines.append(f"[red]{call.failed_turns} turn(s) failed[/]: the concierge apologised and asked again (see the server log)")
    if not call.turns:
        lines.append("no turns answered")
    return "\n".join(lines)


def _turns_table(call: CallRecord) -> object:
    from rich.table import Table

    table = Table(title=f"turns of {_text(call.call_id[:8])}")
    for column in ("#", "visitor", "concierge", "slots after", "stt", "brain", "tts", "response"):
        table.add_column(column, justify="right" if column in ("#", "stt", "brain", "tts", "response") else "left")
    for turn in call.turns:
        said = _text(turn.transcript) if turn.source == "speech" else f"[dim]keys[/] {_text(turn.transcript)}"
        table.add_row(
            str(turn.index), said, _text(turn.reply), _slots(turn.slots) + (" [green]✓[/]" if turn.valid_for_action else ""),
            _ms(turn.stt_ms), f"{turn.brain_ms:.1f} ms", _ms(turn.tts_ms), _ms(turn.response_ms),
        )  # fmt: skip
    return table


def _decision(visit: dict | None) -> str:
    """The resident's decision, or where the visit is while the resident is being asked."""
    if not visit:
        return "—"
    decision = visit.get("decision")
    if decision is None:
        return f"[cyan]{_text(visit.get('status') or 'calling')}…[/]"
    via = f" ({visit['via']})" if visit.get("via") else ""
    return f"[{DECISION_STYLE.get(decision, 'white')}]{decision}[/]{via}"


def _visit_lines(visit: dict) -> list[str]:
    lines = [f"[bold]resident's decision[/] {_decision(visit)}" + (f" — {_text(visit['reason'])}" if visit.get("reason") else "")]
    if visit.get("decided_by"):
        lines.append(f"[bold]decided by[/] {_text(visit['decided_by'])} by {visit.get('via')}")
    times = [f"{label} {visit[key] / 1000:.1f} s" for key, label in (("ringing_ms", "picked up"), ("asked_ms", "asked"), ("decision_ms", "decided"))
             if visit.get(key) is not None]  # fmt: skip
    if times:
        lines.append(f"[bold]after the visit was complete[/] {' · '.join(times)}")
    for number, (dial, how, *leg) in enumerate(visit.get("attempts") or [], 1):  # older records: no leg UUID
        lines.append(f"[bold]resident leg {number}[/] {_text(dial)} ({how})" + (f" · AudioSocket UUID {_text(leg[0])}" if leg else ""))
    if visit.get("visitor_message"):
        lines.append(f"[bold]visitor told[/] {_text(visit['visitor_message'])}")
    for action in visit.get("gate") or []:
        state = "[green]ok[/]" if action["ok"] else "[red]failed[/]"
        lines.append(f"[bold]gate {action['action']}[/] {state} {_text(action['detail'])} ({action['attempts']} attempt(s))")
    return lines


def _resident_table(call: CallRecord) -> object:
    from rich.table import Table

    table = Table(title=f"the resident's leg of {_text(call.call_id[:8])}")
    for column in ("#", "via", "resident", "read as", "concierge", "stt"):
        table.add_column(column, justify="right" if column in ("#", "stt") else "left")
    for turn in call.visit["resident_turns"]:  # type: ignore[index]
        table.add_row(str(turn["index"]), turn["via"], _text(turn["transcript"]), turn["answer"], _text(turn["reply"]), _ms(turn["stt_ms"]))
    return table
