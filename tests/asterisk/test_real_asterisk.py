"""The whole visit against a real Asterisk 22.10.1: kept out of CI, run with

    APOENA_ASTERISK=/work/asterisk .venv/bin/python -m pytest tests/asterisk/test_real_asterisk.py -v -s

Asterisk runs the shipped docs/manager.conf and docs/extensions.conf (ports and secret filled in)
plus a test context of "phones": an AMI Originate puts a Local/ channel through [portaria] into
`apoena serve` (a real process with real Whisper and TTS), its other half streams the recorded
delivery call from this test's AudioSocket "visitor phone". When Apoena calls the resident, its
Originate of Local/104@phones runs [apoena-resident] into the same AudioSocket server with the leg's
UUID, and its other half reaches this test's "resident phone", which says "Pode subir" once asked.
The decision comes back to the visitor's leg: [portaria] reads APOENA_DECISION after AudioSocket()
returns and reports it in a UserEvent this test reads on the Manager Interface.

The second test rings a mailbox first (Local/1040@phones: Asterisk answers and plays the rendered
pt-BR greeting "… Deixe sua mensagem após o sinal." and its beep with Playback(), then waits as a
mailbox records): Apoena must hang that leg up and ring Local/104@phones. Its visitor comes in
through [portaria-http], which reads the decision with CURL() from `apoena serve`'s
/api/visits/<call id>?format=text (needs func_curl: Asterisk built with libcurl's headers).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from concierge.audio.pcm import FRAME_BYTES, read_audio_file
from concierge.audiosocket.protocol import Audio, Hangup
from concierge.audiosocket.server import AudioSocketServer, Connection
from tests.conftest import free_port

from .real import (BINARY, CORE_MODULES, CURL_MODULES, PLAYBACK_MODULES, ROOT, RealAsterisk, copy_sound, has_modules, needs_asterisk,
                   originate, shipped_dialplan, stop_process)  # fmt: skip

HAS_CURL = has_modules(*CURL_MODULES)

pytestmark = needs_asterisk

PHONES = """
; test only: the phones Apoena's calls reach, answered into this test's AudioSocket server
[phones]
exten => 104,1,Answer()
 same => n,AudioSocket(${UUID()},127.0.0.1:PHONES_PORT)
 same => n,Hangup()
; a mailbox: it answers, talks at once (the greeting and its beep), then records for 30 s
exten => 1040,1,Answer()
 same => n,Playback(MAILBOX)
 same => n,Wait(30)
 same => n,Hangup()
"""


def loud(pcm: bytes) -> bool:
    samples = memoryview(pcm[: len(pcm) // 2 * 2]).cast("h")
    return any(abs(s) > 200 for s in samples)


class Phones:
    """The visitor's and the resident's phones, answered by Asterisk into this AudioSocket server."""

    def __init__(self, visitor_id: uuid.UUID) -> None:
        self.visitor_id = visitor_id
        self.visitor_pcm = read_audio_file(ROOT / "fixtures" / "calls" / "entrega.slin")
        self.resident_pcm = read_audio_file(ROOT / "fixtures" / "resident" / "pode_subir.slin")
        self.visitor_heard: list[tuple[float, bytes]] = []
        self.visitor_hung_up_at: float | None = None
        self.resident_heard_at: float | None = None  # the first audio from Apoena on the resident's phone
        self.resident_answered = 0

    async def handle(self, connection: Connection) -> None:
        if connection.call_id == self.visitor_id:
            await self._phone(connection, self.visitor_pcm, self.visitor_heard, visitor=True)
        else:
            await self._phone(connection, self.resident_pcm, [], visitor=False)

    async def _phone(self, connection: Connection, speech: bytes, heard: list, visitor: bool) -> None:
        state = {"spoke": False, "last": 0.0}

        async def listen() -> None:
            async for message in connection:
                if isinstance(message, Audio):
                    now = time.time()
                    heard.append((now, message.pcm))
                    if loud(message.pcm):
                        if not visitor and self.resident_heard_at is None:
                            self.resident_heard_at = now
                        state["spoke"], state["last"] = True, now
                elif isinstance(message, Hangup):
                    return

        listening = asyncio.create_task(listen())
        frames = [speech[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0") for i in range(0, len(speech), FRAME_BYTES)] if visitor else []
        loop = asyncio.get_running_loop()
        start, tick = loop.time(), 0
        try:
            while not listening.done() and loop.time() - start < 240:
                if not visitor and not frames and state["spoke"] and time.time() - state["last"] > 0.6 and self.resident_answered < 2:
                    frames = [speech[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0") for i in range(0, len(speech), FRAME_BYTES)]
                    self.resident_answered += 1
                    state["spoke"] = False
                await connection.send_audio(frames.pop(0) if frames else bytes(FRAME_BYTES))
                tick += 1
                await asyncio.sleep(max(0.0, start + tick * 0.02 - loop.time()))
        except ConnectionError:
            pass
        finally:
            if visitor:
                self.visitor_hung_up_at = time.time()
            listening.cancel()


def run_visit(tmp_path: Path, dials: list[str], context: str = "portaria") -> tuple[dict, dict, Phones, list[tuple[float, object]]]:
    """Asterisk, `apoena serve` and the phones; one visitor call through `context`, apartment 104 rung at
    `dials`. Returns the UserEvent's headers (and the whole call's seconds), the call as `apoena calls
    show --json` has it, the phones, and every Manager event seen (time, event)."""
    apoena_port, phones_port, web_port = free_port(), free_port(), free_port()
    mailbox = copy_sound(tmp_path / "asterisk", ROOT / "fixtures" / "resident" / "caixa_postal.slin", "caixa_postal")
    phones_context = PHONES.replace("PHONES_PORT", str(phones_port)).replace("MAILBOX", mailbox)
    modules = CORE_MODULES + PLAYBACK_MODULES + (CURL_MODULES if HAS_CURL else ())
    asterisk = RealAsterisk(tmp_path / "asterisk", shipped_dialplan(apoena_port, web_port) + phones_context, modules)
    directory = json.loads((ROOT / "data" / "apartamentos.json").read_text())
    for unit in directory:
        if unit["apartment_number"] == "104":
            unit["dial"] = dials
    (tmp_path / "apartamentos.json").write_text(json.dumps(directory, ensure_ascii=False))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "directory": {"path": str(tmp_path / "apartamentos.json")},
        "records": {"path": str(tmp_path / "calls.db")},
        "redis": {"embedded_path": str(tmp_path / "memory.db")},
        "asterisk": {"ami": {"port": asterisk.ami_port}, "ring_seconds": 10},
    }))  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "APOENA_ASTERISK__AMI__SECRET": asterisk.secret}
    asterisk.start()
    apoena = None
    seen: list[tuple[float, object]] = []
    try:
        visitor_id = uuid.uuid4()
        phones = Phones(visitor_id)

        async def scenario() -> dict:
            nonlocal apoena
            server = AudioSocketServer(phones.handle, "127.0.0.1", phones_port)
            await server.start()
            ami = await asterisk.manager()
            events = ami.events()
            apoena = subprocess.Popen(
                [sys.executable, "-m", "concierge", "serve", "--config", str(config), "--port", str(apoena_port), "--web-port", str(web_port)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env,
            )  # fmt: skip
            ready = await asyncio.to_thread(apoena.stdout.readline)
            assert b"ready on" in ready, apoena.stderr.read().decode()[-3000:]
            started = time.monotonic()
            await originate(ami, f"Local/s@{context}", "AudioSocket", f"{visitor_id},127.0.0.1:{phones_port}")
            gate = None
            async with asyncio.timeout(240):
                async for event in events:
                    seen.append((time.monotonic(), event))
                    if event.event == "UserEvent" and event.get("UserEvent") == "ApoenaGate":
                        gate = event
                        break
            await ami.close()
            await asyncio.sleep(1.0)
            await server.close(2)
            return {**(dict(gate.headers) if gate is not None else {}), "seconds": time.monotonic() - started}

        gate = asyncio.run(scenario())
    finally:
        if apoena is not None:
            stop_process(apoena)
        log = asterisk.stop()
    assert gate.get("Call"), log[-3000:]
    shown = subprocess.run([sys.executable, "-m", "concierge", "calls", "show", gate["Call"], "--json", "--config", str(config)],
                           capture_output=True, cwd=ROOT, env=env, check=True)  # fmt: skip
    return gate, json.loads(shown.stdout), phones, seen


def longest_quiet_while_waiting(visit: dict, phones: Phones) -> float:
    """The visitor's longest stretch of silence between the visit's start and their hangup, in seconds."""
    from datetime import datetime

    visit_start = datetime.fromisoformat(visit["started_at"]).timestamp()
    quiet = longest = 0.0
    for at, pcm in phones.visitor_heard:
        if visit_start <= at <= (phones.visitor_hung_up_at or at):
            quiet = 0.0 if loud(pcm) else quiet + len(pcm) / 16000
            longest = max(longest, quiet)
    return longest


def test_a_resident_says_pode_subir_through_a_real_asterisk_and_the_visitor_leg_gets_the_decision(tmp_path):
    gate, call, phones, _ = run_visit(tmp_path, ["Local/104@phones"])
    assert (gate.get("Decision"), gate.get("By")) == ("authorized", "voice"), gate
    visit = call["visit"]
    assert call["outcome"] == "completed" and visit["decision"] == "authorized" and visit["decided_by"] == "Joana Prado"
    assert [a[:2] for a in visit["attempts"]] == [["Local/104@phones", "answered"]] and visit["resident_turns"][0]["answer"] == "authorize"
    assert visit["gate"][0]["ok"] and visit["gate"][0]["detail"].startswith("APOENA_DECISION=authorized on Local/s@portaria")
    longest = longest_quiet_while_waiting(visit, phones)
    figures = {
        "ringing_ms": visit["ringing_ms"], "asked_ms": visit["asked_ms"], "decision_ms": visit["decision_ms"],
        "visitor_longest_quiet_s": round(longest, 2), "whole_call_s": round(gate["seconds"], 1),
        "resident_heard": visit["resident_turns"][0]["transcript"],
    }  # fmt: skip
    print("\nreal Asterisk figures:", json.dumps(figures, ensure_ascii=False))
    assert visit["asked_ms"] - visit["ringing_ms"] < 2000, figures
    assert longest < 2.0, figures


@pytest.mark.skipif(os.access(BINARY, os.X_OK) and not HAS_CURL, reason="this Asterisk has no func_curl: apt-get install libcurl4-openssl-dev, then build it again")
def test_a_mailbox_is_hung_up_the_next_phone_says_yes_and_the_dialplan_reads_the_decision_with_curl(tmp_path):
    gate, call, phones, seen = run_visit(tmp_path, ["Local/1040@phones", "Local/104@phones"], context="portaria-http")
    assert (gate.get("Decision"), gate.get("Source")) == ("authorized", "http"), gate
    visit = call["visit"]
    assert call["outcome"] == "completed" and visit["decision"] == "authorized" and visit["decided_by"] == "Joana Prado"
    assert [a[:2] for a in visit["attempts"]] == [["Local/1040@phones", "voicemail"], ["Local/104@phones", "answered"]], visit
    mailbox_leg, resident_leg = (a[2] for a in visit["attempts"])
    assert mailbox_leg != resident_leg
    mailbox_said = visit["resident_turns"][0]
    assert mailbox_said["answer"] == "voicemail" and mailbox_said["reply"] == "", mailbox_said
    assert visit["resident_turns"][-1]["answer"] == "authorize"
    # the mailbox would have recorded for 30 s after its greeting: Apoena hung it up long before
    mailbox = [(at, e) for at, e in seen if (e.get("Channel") or "").startswith("Local/1040@phones-")]
    answered = next((at for at, e in mailbox if e.event == "Newstate" and e.get("ChannelStateDesc") == "Up"), None)
    ended = next((at for at, e in mailbox if e.event == "Hangup"), None)
    assert answered is not None and ended is not None, [(e.event, e.get("Channel"), e.get("ChannelStateDesc")) for _, e in mailbox]
    longest = longest_quiet_while_waiting(visit, phones)
    figures = {
        "mailbox_heard": mailbox_said["transcript"], "mailbox_hung_up_after_s": round(ended - answered, 2),
        "ringing_ms": visit["ringing_ms"], "asked_ms": visit["asked_ms"], "decision_ms": visit["decision_ms"],
        "visitor_longest_quiet_s": round(longest, 2), "whole_call_s": round(gate["seconds"], 1), "curl_decision": gate["Decision"],
    }  # fmt: skip
    print("\nreal Asterisk figures (mailbox, then the resident; CURL):", json.dumps(figures, ensure_ascii=False))
    assert ended - answered < 20, figures
    assert longest < 2.0, figures
