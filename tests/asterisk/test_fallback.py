"""The dialplan fallback of docs/asterisk.md ("When Apoena is down") against a real Asterisk 22.10.1;
kept out of CI, run with

    APOENA_ASTERISK=/work/asterisk .venv/bin/pytest tests/asterisk/test_fallback.py -v

Asterisk runs the documented [portaria] block as it is written in docs/asterisk.md, with its
AudioSocket address pointed at each case's port and the doorman's `PJSIP/porteiro` replaced by a
local test phone that reports being rung. An AMI Originate puts a Local/ channel through it:

- nothing listens on the port (Apoena stopped): the doorman is rung, TRYSTATUS=FAILED;
- a server takes the call, talks for half a second and closes without a decision (Apoena killed
  mid-call): the doorman is rung, TRYSTATUS=SUCCESS;
- a server takes the call and never speaks while the caller's audio flows (Apoena stuck): the
  absolute timeout (3 s here) strikes, its `T` extension rings the doorman;
- a server takes the call and hangs up after the decision was set: no doorman, the gate event;
- for contrast, a plain `AudioSocket()` to a closed port: the line after it never runs.
"""

from __future__ import annotations

import asyncio
import re
import struct
from pathlib import Path

from concierge.asterisk.ami import AMIClient
from tests.conftest import free_port

from .real import CORE_MODULES, FALLBACK_MODULES, PLAYBACK_MODULES, ROOT, RealAsterisk, copy_sound, needs_asterisk

pytestmark = needs_asterisk

TEST_CONTEXTS = """
; test only: the doorman's phone, and a plain AudioSocket() with no fallback
[phones]
exten => porteiro,1,UserEvent(PorteiroRang)
 same => n,Answer()
 same => n,Wait(0.5)
 same => n,Hangup()

[plain]
exten => s,1,Answer()
 same => n,AudioSocket(${UUID()},127.0.0.1:APOENA_PORT)
 same => n,UserEvent(AfterPlainAudioSocket)
 same => n,Hangup()
"""


def documented_fallback() -> str:
    """The dialplan block of docs/asterisk.md's "When Apoena is down" section, as written."""
    text = (ROOT / "docs" / "asterisk.md").read_text()
    section = text[text.index("## 6. When Apoena is down") :]
    return re.search(r"```\n(\[portaria\].*?)```", section, re.S).group(1)


def fallback_asterisk(folder: Path, apoena_port: int) -> tuple[RealAsterisk, Path]:
    """Asterisk running the documented block (the doorman a local test phone, the timeout 3 s); the caller's audio file."""
    caller = copy_sound(folder, ROOT / "fixtures" / "resident" / "caixa_postal.slin", "caller")  # the caller's audio, raw slin
    dialplan = documented_fallback().replace("PJSIP/porteiro", "Local/porteiro@phones").replace("TIMEOUT(absolute)=200", "TIMEOUT(absolute)=3")
    assert "TIMEOUT(absolute)=3" in dialplan
    dialplan = dialplan.replace("127.0.0.1:9092", f"127.0.0.1:{apoena_port}") + TEST_CONTEXTS.replace("APOENA_PORT", str(apoena_port))
    return RealAsterisk(folder, dialplan, CORE_MODULES + FALLBACK_MODULES + PLAYBACK_MODULES), Path(caller)


class Apoena:
    """What listens on Apoena's port: nothing, a server that dies mid-call, or one that ends normally."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: asyncio.Server | None = None
        self.hangup_frame = False
        self.stuck = False
        self.calls = 0

    async def listen(self, hangup_frame: bool = False, stuck: bool = False) -> None:
        self.hangup_frame, self.stuck = hangup_frame, stuck
        self.server = await asyncio.start_server(self._call, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.calls += 1
        await reader.readexactly(3 + 16)  # the UUID
        if self.stuck:  # alive, reading the caller's audio, never a word back
            while await reader.read(4096):
                pass
            writer.close()
            return
        for _ in range(25):  # half a second of (quiet) speech
            writer.write(struct.pack(">BH", 0x10, 320) + bytes(320))
            await writer.drain()
            await asyncio.sleep(0.02)
        if self.hangup_frame:
            writer.write(b"\x00\x00\x00")
            await writer.drain()
        writer.close()  # without the hangup frame: as the kernel closes a killed process's socket


async def place(ami: AMIClient, context: str, variables: str = "", caller_audio: Path | None = None) -> dict[str, dict]:
    """Originate a Local/ channel through `context`; the user events it raised, by name (and its Hangup)."""
    seen: dict[str, dict] = {}

    async def watch() -> None:
        async for event in ami.events():
            if event.event == "UserEvent":
                seen[event.get("UserEvent")] = dict(event.headers)
            channel = event.get("Channel", "") or ""
            if event.event == "Hangup" and channel.startswith("Local/s@") and channel.endswith(";1"):
                seen["Hangup"] = dict(event.headers)
                return  # the visitor's leg is over

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)  # subscribed before the Originate: a leg that ends at once is still seen
    fields = {"Channel": f"Local/s@{context}", "Application": "Wait", "Data": "20", "Async": "true", "Timeout": 10000}
    if caller_audio is not None:  # the caller talks all along, as a real one does (no 2 s silence rule)
        fields.update(Application="Playback", Data="&".join([str(caller_audio)] * 4))
    if variables:
        fields["Variable"] = variables
    queued = await ami.action("Originate", fields)
    assert queued.succeeded, queued.headers
    try:
        await asyncio.wait_for(watcher, 12)
    except TimeoutError:
        pass
    return seen


def test_the_documented_fallback_rings_the_doorman_when_apoena_is_down_or_dies_mid_call(tmp_path):
    apoena_port = free_port()
    asterisk, caller = fallback_asterisk(tmp_path / "asterisk", apoena_port)
    results: dict[str, dict[str, dict]] = {}
    apoena = Apoena(apoena_port)
    with asterisk:

        async def scenario() -> None:
            ami = await asterisk.manager()
            results["down"] = await place(ami, "portaria")
            await apoena.listen(hangup_frame=False)
            results["died"] = await place(ami, "portaria")
            await apoena.stop()
            await apoena.listen(stuck=True)
            results["stuck"] = await place(ami, "portaria", caller_audio=caller)
            await apoena.stop()
            await apoena.listen(hangup_frame=True)
            results["decided"] = await place(ami, "portaria", "APOENA_DECISION=authorized")
            await apoena.stop()
            results["plain"] = await place(ami, "plain")
            await ami.close()

        asyncio.run(scenario())
    log = asterisk.log

    down, died, stuck, decided, plain = (results[case] for case in ("down", "died", "stuck", "decided", "plain"))
    assert down.get("ApoenaDown", {}).get("Status") == "FAILED", (results, log[-3000:])
    assert "PorteiroRang" in down, "Apoena stopped: the visitor reaches the doorman"
    assert apoena.calls == 3
    assert died.get("ApoenaDown", {}).get("Status") == "SUCCESS", results
    assert "PorteiroRang" in died, "Apoena killed mid-call, no decision: the doorman"
    assert stuck.get("ApoenaDown", {}).get("Status") == "FAILED", results
    assert "PorteiroRang" in stuck, "Apoena alive but silent while the caller talks: the absolute timeout, then the doorman"
    assert decided.get("ApoenaGate", {}).get("Decision") == "authorized", results
    assert "ApoenaDown" not in decided and "PorteiroRang" not in decided
    assert "Hangup" in plain and "AfterPlainAudioSocket" not in plain, "without TryExec the dialplan stops where AudioSocket() failed"
