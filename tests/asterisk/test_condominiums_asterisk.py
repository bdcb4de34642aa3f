"""Two condominiums through a real Asterisk 22.10.1 and the documented dialplan; kept out of CI, run with

    APOENA_ASTERISK=/work/asterisk .venv/bin/pytest tests/asterisk/test_condominiums_asterisk.py -v -s

Asterisk runs the shipped docs/extensions.conf: an AMI Originate puts one Local/ channel through
[condominio-jardins] and one through [condominio-aurora], each of which folds its code into the call's
UUID in [portaria-condominio] before `AudioSocket()` reaches `apoena serve` (a real process, real
Whisper). The other half of each Local channel is this test's visitor phone: it listens through the
greeting, then plays the recorded delivery for Joana Prado. Joana lives at Jardins; Aurora's
directory has other residents. Each call must be greeted with its condominium's greeting, recorded
under its condominium, and understood against its own directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

from concierge.audio.pcm import FRAME_BYTES, read_audio_file
from concierge.audiosocket.protocol import Audio, Hangup
from concierge.audiosocket.server import AudioSocketServer, Connection
from concierge.call.condominiums import condominium_code
from tests.call.test_condominiums import similarity
from tests.conftest import free_port

from .real import CORE_MODULES, ROOT, RealAsterisk, needs_asterisk, originate, shipped_dialplan, stop_process

pytestmark = needs_asterisk

GREETINGS = {"jardins": "Portaria do Condomínio Jardins, em que posso ajudar?", "aurora": "Residencial Aurora, boa tarde. Em que posso ajudar?"}
AURORA = [{"apartment_number": "12", "residents": ["Bruno Castro"]}, {"apartment_number": "13", "residents": ["Helena Dias"]}]
GREETING_SECONDS = 4.5  # the visitor listens this long before speaking (no barge-in over the greeting)


class VisitorPhones:
    """Each visitor's phone: hears the greeting, then says the recorded delivery, then hangs up."""

    def __init__(self) -> None:
        self.speech = read_audio_file(ROOT / "fixtures" / "calls" / "entrega.slin")
        self.heard: dict[uuid.UUID, bytearray] = {}
        self.finished = 0

    async def handle(self, connection: Connection) -> None:
        heard = self.heard.setdefault(connection.call_id, bytearray())

        async def listen() -> None:
            async for message in connection:
                if isinstance(message, Audio):
                    heard.extend(message.pcm)
                elif isinstance(message, Hangup):
                    return

        listening = asyncio.create_task(listen())
        audio = bytes(int(GREETING_SECONDS * 16000)) + self.speech + bytes(6 * 16000)
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            for tick, index in enumerate(range(0, len(audio), FRAME_BYTES), start=1):
                if listening.done():
                    break
                await connection.send_audio(audio[index : index + FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))
                await asyncio.sleep(max(0.0, start + tick * 0.02 - loop.time()))
        except ConnectionError:
            pass
        finally:
            listening.cancel()
            connection.close()
            self.finished += 1


def test_the_documented_dialplan_routes_two_condominiums_each_to_its_own_greeting_and_directory(tmp_path):
    from concierge.speech.espeak import EspeakSynthesizer

    apoena_port, phones_port = free_port(), free_port()
    asterisk = RealAsterisk(tmp_path / "asterisk", shipped_dialplan(apoena_port), CORE_MODULES)
    (tmp_path / "aurora.json").write_text(json.dumps(AURORA))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "directory": {"path": str(ROOT / "data" / "apartamentos.json")},
        "records": {"path": str(tmp_path / "calls.db")},
        "redis": {"embedded_path": str(tmp_path / "memory.db")},
        "speech": {"tts_engine": "espeak", "cache_dir": str(tmp_path / "cache")},
        "condominiums": [
            {"id": "jardins", "code": 1, "name": "Condomínio Jardins", "directory": str(ROOT / "data" / "apartamentos.json")},
            {"id": "aurora", "code": 2, "name": "Residencial Aurora", "directory": str(tmp_path / "aurora.json"),
             "greeting": GREETINGS["aurora"]},
        ],
    }))  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("APOENA_ASTERISK__AMI__SECRET", None)  # nobody is called: the visit ends not_asked
    asterisk.start()
    apoena = None
    phones = VisitorPhones()
    visitors = {"jardins": uuid.uuid4(), "aurora": uuid.uuid4()}
    try:

        async def scenario() -> None:
            nonlocal apoena
            server = AudioSocketServer(phones.handle, "127.0.0.1", phones_port)
            await server.start()
            ami = await asterisk.manager()
            apoena = subprocess.Popen(
                [sys.executable, "-m", "concierge", "serve", "--config", str(config), "--port", str(apoena_port), "--no-web"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env,
            )  # fmt: skip
            ready = await asyncio.to_thread(apoena.stdout.readline)
            assert b"ready on" in ready, apoena.stderr.read().decode()[-3000:]
            for name, visitor in visitors.items():
                await originate(ami, f"Local/s@condominio-{name}", "AudioSocket", f"{visitor},127.0.0.1:{phones_port}")
            async with asyncio.timeout(90):
                while phones.finished < 2:
                    await asyncio.sleep(0.2)
            await ami.close()
            await server.close(2)

        asyncio.run(scenario())
    finally:
        if apoena is not None:
            stop_process(apoena)
        asterisk.stop()
    apoena_log = apoena.stderr.read().decode(errors="replace") if apoena is not None else ""
    listed = subprocess.run([sys.executable, "-m", "concierge", "calls", "--json", "--config", str(config)],
                            capture_output=True, cwd=ROOT, env=env, check=True)  # fmt: skip
    calls = {call["condominium"]: call for call in json.loads(listed.stdout)["calls"]}
    assert set(calls) == {"jardins", "aurora"}, apoena_log[-3000:]
    assert condominium_code(calls["jardins"]["call_id"]) == 1 and condominium_code(calls["aurora"]["call_id"]) == 2
    assert calls["jardins"]["final"]["dados"]["resident_name"] == "Joana Prado", calls["jardins"]["final"]
    assert calls["aurora"]["final"]["dados"]["resident_name"] is None, "Joana lives at Jardins, not at Aurora"
    synthesizer = EspeakSynthesizer()
    greetings = {name: synthesizer.synthesize(text) for name, text in GREETINGS.items()}
    likeness = {}
    for name, visitor in visitors.items():
        heard = bytes(phones.heard[visitor])[: int(GREETING_SECONDS * 16000)]
        likeness[name] = {other: round(similarity(pcm[:24000], heard), 3) for other, pcm in greetings.items()}
    for name, scores in likeness.items():  # not byte for byte (the server's voice build, Asterisk's path): alike
        other = next(n for n in scores if n != name)
        assert scores[name] > 0.5 and scores[name] > scores[other] + 0.3, f"{name}: its own greeting reached the visitor: {likeness}"
    for name in visitors:
        only = subprocess.run([sys.executable, "-m", "concierge", "calls", "--json", "--condominium", name, "--config", str(config)],
                              capture_output=True, cwd=ROOT, env=env, check=True)  # fmt: skip
        assert [c["call_id"] for c in json.loads(only.stdout)["calls"]] == [calls[name]["call_id"]]
    figures = {n: {"call_id": c["call_id"], "dados": c["final"]["dados"], "greeting_likeness": likeness[n]} for n, c in calls.items()}
    print("\nreal Asterisk, two condominiums:", json.dumps(figures, ensure_ascii=False))
