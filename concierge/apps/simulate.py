"""`apoena simulate`: play recorded calls through the real server code over a loopback AudioSocket.

The simulated caller is a real AudioSocket client. By default it waits its turn like a person:
it stays silent during the greeting and while the concierge thinks and speaks, then goes on
with the recording. `--no-wait` streams the recording blindly in real time instead. Its calls
are recorded like served ones, in a temporary database unless `--record PATH` names one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import statistics
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from concierge.apps.common import configure_logging, load_setup, tune_for_real_time
from concierge.audio.pcm import FRAME_BYTES, FRAME_SECONDS, AudioFileError, read_audio_file, write_wav
from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import Audio, Hangup
from concierge.audiosocket.server import AudioSocketServer, Connection
from concierge.brain.text import fold
from concierge.call.events import CallEnded, CallEvent, Observer, StateChanged, Turn
from concierge.call.records import CallRecords
from concierge.call.services import CallServices, build_services
from concierge.call.session import CallSession
from concierge.config import CallState
from concierge.errors import UserError

AUDIO_SUFFIXES = (".slin", ".wav")
TAIL_SECONDS = 4.0  # after the recording ends, the caller listens this long before hanging up
SLOTS = ("intent_type", "visitor_name", "apartment_number", "resident_name")


@dataclass
class Recording:
    path: Path
    pcm: bytes
    dtmf: list[tuple[float, str]]
    expected: dict | None


@dataclass
class CallReport:
    """What happened on one simulated call."""

    recording: Recording
    call_id: str
    turns: list[Turn] = field(default_factory=list)
    outcome: str = ""
    received: bytearray = field(default_factory=bytearray)
    first_audio_ms: float | None = None  # UUID sent -> first audio frame from the concierge
    frame_times: tuple[float, float, int] | None = None  # first and last arrival, frames received

    @property
    def pacing_drift(self) -> float | None:
        """How far the concierge's audio ran from 50 frames a second, as a fraction (+ = late)."""
        if self.frame_times is None or self.frame_times[2] < 100:
            return None
        first, last, count = self.frame_times
        expected = (count - 1) * FRAME_SECONDS
        return (last - first - expected) / expected
    state: CallState = CallState.STANDBY
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # the server side reported the end

    @property
    def final(self) -> dict | None:
        return self.turns[-1].reply.model_dump(mode="json") if self.turns else None

    @property
    def mismatches(self) -> list[str]:
        if self.recording.expected is None:
            return []
        final = self.final or {"dados": dict.fromkeys(SLOTS), "valid_for_action": False}
        got = {**final["dados"], "valid_for_action": final["valid_for_action"]}
        return [
            f"{key}: expected {want!r}, got {got.get(key)!r}"
            for key, want in self.recording.expected.items()
            if key in got and not _same(key, want, got.get(key))
        ]

    @property
    def passed(self) -> bool | None:
        return None if self.recording.expected is None else not self.mismatches

    def as_json(self) -> dict:
        return {
            "file": str(self.recording.path),
            "call_id": self.call_id,
            "outcome": self.outcome,
            "first_audio_ms": None if self.first_audio_ms is None else round(self.first_audio_ms, 1),
            "turns": [
                {
                    "source": t.source,
                    "transcript": t.transcript,
                    "reply": t.reply.mensagem,
                    "dados": t.reply.dados.model_dump(mode="json"),
                    "stt_ms": round(t.stt_ms, 1),
                    "brain_ms": round(t.brain_ms, 2),
                    "tts_ms": round(t.tts_ms, 1),
                    "response_ms": None if t.response_ms is None else round(t.response_ms, 1),
                }
                for t in self.turns
            ],
            "final": self.final,
            "expected": self.recording.expected,
            "passed": self.passed,
            "mismatches": self.mismatches,
        }


def _same(key: str, want: object, got: object) -> bool:
    """Names are compared as speech recognition spells them ('Pedro Enrique' is 'Pedro Henrique')."""
    if key == "visitor_name" and isinstance(want, str) and isinstance(got, str):
        return fuzz.ratio(fold(want), fold(got)) >= 85
    return want == got


def find_recordings(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise UserError(f"{path}: no .slin or .wav recordings in this folder", exit_code=2)
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or folder", exit_code=2)
    return files


def load_recording(path: Path) -> Recording:
    try:
        pcm = read_audio_file(path)
    except AudioFileError as error:
        raise UserError(str(error), exit_code=2) from None
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return Recording(path, pcm, [], None)
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        dtmf = sorted((float(d["at_seconds"]), str(d["digits"])) for d in data.get("dtmf", []))
        expected = data.get("expected")
        if expected is not None and not isinstance(expected, dict):
            raise ValueError("'expected' must be an object")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UserError(f"{sidecar}: unreadable expectations ({error}) — see fixtures/calls/README.md", exit_code=2) from None
    return Recording(path, pcm, dtmf, expected)


class Simulator:
    """A loopback AudioSocket server running the real call sessions, and callers that play recordings."""

    def __init__(
        self, services: CallServices, speed: float = 1.0, wait: bool = True, on_event=None, record: Observer | None = None
    ) -> None:
        self.services = services
        self.speed = speed
        self.wait = wait
        self.on_event = on_event
        self.record = record
        self.calls: dict[str, CallReport] = {}
        self.server: AudioSocketServer | None = None

    async def __aenter__(self) -> Simulator:
        self.server = AudioSocketServer(self._handle, "127.0.0.1", 0)
        await self.server.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.server is not None:
            await self.server.close(5)

    async def _handle(self, connection: Connection) -> None:
        await CallSession(connection, self.services, self._observe).run()

    def _observe(self, event: CallEvent) -> None:
        if self.record is not None:
            self.record(event)
        report = self.calls.get(event.call_id)
        if report is None:
            return
        if isinstance(event, StateChanged):
            report.state = event.state
        elif isinstance(event, Turn):
            report.turns.append(event)
        elif isinstance(event, CallEnded):
            report.outcome = event.outcome.value
            report.ended.set()
        if self.on_event is not None:
            self.on_event(report, event)

    async def call(self, recording: Recording) -> CallReport:
        """Place one call and play `recording` into it; return when the call is over."""
        call_id = uuid.uuid4()
        report = CallReport(recording, str(call_id))
        self.calls[report.call_id] = report
        assert self.server is not None
        connected = asyncio.get_running_loop().time()
        client = await AudioSocketClient.connect("127.0.0.1", self.server.port, call_id)
        listener = asyncio.create_task(self._listen(client, report, connected))
        try:
            await self._play(client, report, listener)
        finally:
            await client.close()
            await asyncio.wait_for(listener, 5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(report.ended.wait(), 2)  # the server side records the end
        return report

    async def _listen(self, client: AudioSocketClient, report: CallReport, connected: float) -> None:
        while True:
            message = await client.receive()
            if isinstance(message, Audio):
                now = asyncio.get_running_loop().time()
                if report.frame_times is None:
                    report.first_audio_ms = (now - connected) * 1000
                    report.frame_times = (now, now, 1)
                else:
                    report.frame_times = (report.frame_times[0], now, report.frame_times[2] + 1)
                report.received += message.pcm
            elif isinstance(message, Hangup):
                return

    async def _play(self, client: AudioSocketClient, report: CallReport, listener: asyncio.Task) -> None:
        recording = report.recording
        frames = [recording.pcm[i : i + FRAME_BYTES] for i in range(0, len(recording.pcm), FRAME_BYTES)]
        frames = [f + bytes(FRAME_BYTES - len(f)) if len(f) < FRAME_BYTES else f for f in frames]
        dtmf = list(recording.dtmf)
        silence = bytes(FRAME_BYTES)
        loop = asyncio.get_running_loop()
        start, tick, position, tail = loop.time(), 0, 0, 0.0
        interval = FRAME_SECONDS / self.speed
        while not listener.done():
            my_turn = not self.wait or report.state == CallState.USER_TURN
            if my_turn and position < len(frames):
                await client.send_audio(frames[position])
                position += 1
                while dtmf and dtmf[0][0] <= position * FRAME_SECONDS:
                    for digit in dtmf.pop(0)[1]:
                        await client.send_dtmf(digit)
            else:
                await client.send_audio(silence)
                if position >= len(frames) and (not self.wait or report.state == CallState.USER_TURN):
                    tail += FRAME_SECONDS
                    if tail >= TAIL_SECONDS:
                        return
            tick += 1
            delay = start + tick * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)


def run_simulate(
    paths: list[Path],
    config_path: Path | None,
    directory_path: Path | None,
    speed: float,
    no_wait: bool,
    as_json: bool,
    out_dir: Path | None,
    record: Path | None = None,
) -> int:
    from rich.console import Console

    configure_logging(logging.WARNING)
    tune_for_real_time()
    if speed <= 0 or speed > 100:
        raise UserError("--speed must be between 0 and 100 (1 = real time)", exit_code=2)
    recordings = [load_recording(path) for path in find_recordings(paths)]
    console = Console(stderr=as_json)
    setup = load_setup(config_path, directory_path, None)
    with tempfile.TemporaryDirectory(prefix="apoena-simulate-") as scratch:
        records = CallRecords(record or Path(scratch) / "calls.db", setup.concierge.brain.name)
        try:
            with console.status("loading speech engines…"):
                services = build_services(setup.config, setup.directory, setup.concierge)
            try:
                reports = asyncio.run(_simulate(services, recordings, speed, not no_wait, console, records.observer))
            finally:
                services.close()
        finally:
            records.close()
            setup.concierge.store.close()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for report in reports:
            if report.received:
                write_wav(out_dir / f"{report.recording.path.stem}.concierge.wav", bytes(report.received))
    if as_json:
        print(json.dumps(_summary(reports), ensure_ascii=False, indent=2))
    else:
        console.print(_table(reports))
    if record is not None:
        console.print(f"[dim]calls recorded in {record} — see them with `apoena calls --db {record}`[/]", highlight=False)
    return 0 if all(r.passed is not False and r.outcome != "error" for r in reports) else 1


async def _simulate(
    services: CallServices, recordings: list[Recording], speed: float, wait: bool, console, record: Observer | None = None
) -> list[CallReport]:
    def show(report: CallReport, event: CallEvent) -> None:
        if isinstance(event, Turn):
            d = event.reply.dados
            latency = "" if event.response_ms is None else f" · resposta {event.response_ms:.0f} ms"
            console.print(
                f"[dim]{report.recording.path.name} #{event.index}[/] [bold]visitante:[/] {event.transcript}\n"
                f"    [bold cyan]concierge:[/] {event.reply.mensagem}\n"
                f"    [dim]{d.intent_type.value} · {d.visitor_name or '—'} · ap {d.apartment_number or '—'} · "
                f"{d.resident_name or '—'} · stt {event.stt_ms:.0f} ms · brain {event.brain_ms:.1f} ms · "
                f"tts {event.tts_ms:.0f} ms{latency}[/]",
                highlight=False,
            )

    async with Simulator(services, speed, wait, show, record) as simulator:
        return [await simulator.call(recording) for recording in recordings]


def _latencies(reports: list[CallReport]) -> list[float]:
    return [t.response_ms for r in reports for t in r.turns if t.response_ms is not None]


def _summary(reports: list[CallReport]) -> dict:
    latencies = sorted(_latencies(reports))
    judged = [r for r in reports if r.passed is not None]
    return {
        "calls": [r.as_json() for r in reports],
        "summary": {
            "calls": len(reports),
            "passed": sum(1 for r in judged if r.passed),
            "judged": len(judged),
            "response_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
            "response_ms_p95": round(latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))], 1) if latencies else None,
        },
    }


def _table(reports: list[CallReport]) -> object:
    from rich.table import Table

    table = Table(title="apoena simulate")
    for column in ("call", "turns", "outcome", "slots (intent · visitor · ap · resident)", "valid", "resp. p50", "result"):
        table.add_column(column)
    for report in reports:
        final = report.final
        d = final["dados"] if final else dict.fromkeys(SLOTS)
        slots = " · ".join(str(d.get(slot) or "—") for slot in SLOTS)
        latencies = [t.response_ms for t in report.turns if t.response_ms is not None]
        result = {None: "[dim]no expectations[/]", True: "[green]pass[/]", False: "[red]fail[/]"}[report.passed]
        if report.passed is False:
            result += "\n[red]" + "\n".join(report.mismatches) + "[/]"
        table.add_row(
            report.recording.path.name, str(len(report.turns)), report.outcome, slots,
            "yes" if final and final["valid_for_action"] else "no",
            f"{statistics.median(latencies):.0f} ms" if latencies else "—", result,
        )  # fmt: skip
    summary = _summary(reports)["summary"]
    table.caption = (
        f"{summary['passed']}/{summary['judged']} passed · response p50 {summary['response_ms_p50']} ms, "
        f"p95 {summary['response_ms_p95']} ms"
    )
    return table
