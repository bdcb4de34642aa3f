"""Several condominiums on one server: each call routed by the code the dialplan folds into its UUID,
greeted with its own greeting and understood against its own directory; directories reloaded when
their file changes, a broken one kept out with one error line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid

import pytest

from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.server import AudioSocketServer
from concierge.brain.directory import Directory
from concierge.call.condominiums import Condominiums, call_uuid, condominium_code, condominium_ids
from concierge.call.events import CallEnded, CallStarted, Outcome, Turn
from concierge.call.records import CallRecords
from concierge.call.session import call_handler
from concierge.speech.base import Transcript
from concierge.web.metrics import CallMetrics

from .helpers import clip, collect, make_services, pace

DIRECTORIES = {
    "default": [{"apartment_number": "11", "residents": ["Diana Rocha"]}],
    "jardins": [{"apartment_number": "104", "residents": ["Joana Prado"]}, {"apartment_number": "201", "residents": ["Marcos Lima"]}],
    "aurora": [{"apartment_number": "12", "residents": ["Bruno Castro"]}, {"apartment_number": "13", "residents": ["Helena Dias"]}],
    "solar": [{"apartment_number": "301", "residents": ["Caio Souza"]}],
}
HEARD = {  # what the visitor says, by a name that only that condominium's Whisper prompt holds
    "Diana Rocha": "Boa tarde, entrega para o Caio Souza.",  # the default condominium: Caio lives at Solar, not here
    "Joana Prado": "Boa tarde, entrega para a Joana Prado.",
    "Bruno Castro": "Boa tarde, entrega para a Joana Prado.",  # Joana lives at Jardins, unknown at Aurora
    "Caio Souza": "Boa tarde, entrega para o Caio Souza.",
}


class PromptTranscriber:
    """Hears what a visitor of the condominium whose names are in the Whisper prompt says; keeps the prompts."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self._lock = threading.Lock()

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        with self._lock:
            self.prompts.append(prompt or "")
        text = next((said for name, said in HEARD.items() if name in (prompt or "")), "")
        return Transcript(text=text, duration_s=len(pcm8k) / 16000, elapsed_ms=0.0)


def write_directories(tmp_path) -> dict[str, str]:
    paths = {}
    for name, entries in DIRECTORIES.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(entries), encoding="utf-8")
        paths[name] = str(path)
    return paths


def condominiums_section(paths: dict[str, str]) -> dict:
    return {
        "asterisk": {"condominium": "Condomínio Central"},
        "condominiums": [
            {"id": "jardins", "code": 1, "name": "Condomínio Jardins", "directory": paths["jardins"]},
            {"id": "aurora", "code": 2, "name": "Residencial Aurora", "directory": paths["aurora"],
             "greeting": "Residencial Aurora, boa tarde. Em que posso ajudar?"},
            {"id": "solar", "code": 42, "name": "Edifício Solar", "directory": paths["solar"]},
        ],
    }  # fmt: skip


def test_the_uuid_names_the_condominium_in_its_last_group():
    assert condominium_code("3f1c2a9e-7b41-4c55-9e0d-000000000042") == 42
    assert condominium_code(call_uuid(7)) == 7 and str(call_uuid(7)).endswith("-000000000007")
    assert condominium_code("3f1c2a9e-7b41-4c55-9e0d-0000000000ab") is None, "hex is no code"
    assert condominium_code("3f1c2a9e-7b41-4c55-9e0d-100000000042") is None, "no 0000 mark"
    assert condominium_code("3f1c2a9e-7b41-4c55-9e0d-000000000000") is None
    assert str(call_uuid(1))[:24] != str(call_uuid(1))[:24], "the start stays random: `calls show` prefixes still work"


def test_three_condominiums_each_call_greeted_and_understood_as_its_own(redis_server, tmp_path, caplog):
    paths = write_directories(tmp_path)
    transcriber = PromptTranscriber()
    services = make_services(
        Directory.load(paths["default"]), redis_server.url, transcriber, tmp_path,
        sections={"directory": {"path": paths["default"]}, **condominiums_section(paths)}, barge_in=False,
    )  # fmt: skip  (no barge-in: a loaded machine must not let the visitor cut a greeting this test compares)
    services.stt_prompt = "Diana Rocha"  # as build_services primes Whisper with the default directory's names
    services.condominiums = Condominiums(services, Directory.load(paths["default"]))
    records = CallRecords(tmp_path / "calls.db")
    metrics = CallMetrics(condominium_ids(services.config))
    events: list = []

    def observe(event) -> None:
        events.append(event)
        records.observer(event)
        metrics.observer(event)

    greetings = {
        "default": "Condomínio Apoena, em que posso ajudar?",
        "jardins": "Portaria do Condomínio Jardins, em que posso ajudar?",
        "aurora": "Residencial Aurora, boa tarde. Em que posso ajudar?",
        "solar": "Portaria do Edifício Solar, em que posso ajudar?",
    }
    calls = {
        "jardins": call_uuid(1), "aurora": call_uuid(2), "solar": call_uuid(42),
        "default": uuid.uuid4(), "unknown code": call_uuid(99),
    }  # fmt: skip

    async def one_call(port: int, call_id: uuid.UUID, greeting_bytes: int) -> bytes:
        client = await AudioSocketClient.connect("127.0.0.1", port, call_id)
        listener = asyncio.create_task(collect(client, 60))
        await pace(client, bytes(greeting_bytes + 8000))  # a phone sends silence while the greeting plays
        await pace(client, clip("entrega") + bytes(16000))
        for _ in range(100):
            if any(isinstance(e, Turn) and e.call_id == str(call_id) for e in events):
                break
            await client.send_audio(bytes(320))
            await asyncio.sleep(0.02)
        await client.close()
        frames, _ = await listener
        return b"".join(pcm for _, pcm in frames)

    async def scenario() -> dict[str, bytes]:
        server = AudioSocketServer(call_handler(services, observe), "127.0.0.1", 0)
        await server.start()
        try:
            lengths = {name: len(services.synthesizer.synthesize(text)) for name, text in greetings.items()}
            lengths["unknown code"] = lengths["default"]
            heard = await asyncio.gather(*(one_call(server.port, calls[name], lengths[name]) for name in calls))
            return dict(zip(calls, heard))
        finally:
            await server.close(2)

    caplog.set_level(logging.INFO, logger="apoena.condominiums")
    heard = asyncio.run(scenario())
    records.flush()

    for name, call_id in calls.items():
        condominium = "default" if name == "unknown code" else name
        expected = services.synthesizer.synthesize(greetings[condominium])
        whole = len(expected) // 320 * 320
        assert heard[name][:whole] == expected[:whole], f"{name}: greeted with its own greeting"
        started = next(e for e in events if isinstance(e, CallStarted) and e.call_id == str(call_id))
        assert started.condominium == condominium
        assert records.get(str(call_id)).condominium == condominium
    residents = {
        name: next(e.reply.dados.resident_name for e in events if isinstance(e, Turn) and e.call_id == str(call_id))
        for name, call_id in calls.items()
    }
    assert residents["jardins"] == "Joana Prado"
    assert residents["aurora"] is None, "a resident of Jardins is unknown at Aurora"
    assert residents["solar"] == "Caio Souza"
    assert residents["default"] is None and residents["unknown code"] is None, "Caio lives at Solar, not in the default directory"
    assert len([e for e in events if isinstance(e, CallEnded)]) == len(calls)
    assert any("no condominium has code 99" in r.getMessage() for r in caplog.records)
    assert any(f"call {calls['default']}: no condominium code in its UUID" in r.getMessage() for r in caplog.records)

    assert [c.call_id for c in records.recent(condominium="aurora")] == [str(calls["aurora"])]
    assert {c.call_id for c in records.recent(condominium="default")} == {str(calls["default"]), str(calls["unknown code"])}
    exposition = metrics.exposition().decode()
    for condominium in ("jardins", "aurora", "solar"):
        assert f'apoena_calls_total{{condominium="{condominium}",outcome="caller_hung_up"}} 1.0' in exposition
    assert 'apoena_calls_total{condominium="default",outcome="caller_hung_up"} 2.0' in exposition
    assert 'apoena_turns_total{condominium="solar",source="speech"} 1.0' in exposition
    records.close()


def test_a_changed_directory_is_used_at_the_next_call_and_a_broken_one_is_kept_out(redis_server, tmp_path, caplog):
    paths = write_directories(tmp_path)
    services = make_services(
        Directory.load(paths["default"]), redis_server.url, PromptTranscriber(), tmp_path,
        sections={"directory": {"path": paths["default"]}, **condominiums_section(paths)},
    )  # fmt: skip
    condominiums = Condominiums(services, Directory.load(paths["default"]))
    jardins = tmp_path / "jardins.json"

    def residents(code: int | None) -> set[str]:
        call_id = call_uuid(code) if code else uuid.uuid4()
        serving = asyncio.run(condominiums.services_for(call_id))
        return {resident.name for resident in serving.directory.residents}

    first = asyncio.run(condominiums.services_for(call_uuid(1)))
    assert residents(1) == {"Joana Prado", "Marcos Lima"}
    assert asyncio.run(condominiums.services_for(call_uuid(1))) is first, "built once, then kept"

    entries = DIRECTORIES["jardins"] + [{"apartment_number": "305", "residents": ["Otávio Reis"]}]
    jardins.write_text(json.dumps(entries), encoding="utf-8")
    os.utime(jardins, ns=(jardins.stat().st_atime_ns, jardins.stat().st_mtime_ns + 1_000_000))
    caplog.set_level(logging.INFO, logger="apoena.condominiums")
    assert residents(1) == {"Joana Prado", "Marcos Lima", "Otávio Reis"}
    reloaded = asyncio.run(condominiums.services_for(call_uuid(1)))
    assert reloaded is not first and "Otávio Reis" in reloaded.stt_prompt
    assert reloaded.concierge.brain.directory is reloaded.directory, "the brain reads the new directory"

    jardins.write_text('[{"apartment_number": "104", "residents": ["Joana Prado"]}, ', encoding="utf-8")  # cut mid-write
    caplog.clear()
    assert residents(1) == {"Joana Prado", "Marcos Lima", "Otávio Reis"}, "the old directory stays in use"
    assert residents(1) == {"Joana Prado", "Marcos Lima", "Otávio Reis"}
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, "one line, not one per call"
    assert errors[0].startswith("condominium jardins: directory not reloaded, the previous one stays in use: ")
    assert "not valid JSON" in errors[0] and "\n" not in errors[0]

    default = tmp_path / "default.json"
    default.write_text(json.dumps([{"apartment_number": "11", "residents": ["Diana Rocha", "Rui Rocha"]}]), encoding="utf-8")
    os.utime(default, ns=(default.stat().st_atime_ns, default.stat().st_mtime_ns + 1_000_000))
    assert residents(None) == {"Diana Rocha", "Rui Rocha"}, "the default condominium's directory reloads too"
    assert residents(2) == {"Bruno Castro", "Helena Dias"}


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"id": "jardins", "code": 1}, "'condominiums.1.id' 'jardins' is listed twice"),
        ({"id": "outro", "code": 1}, "'condominiums.1.code' 1 is listed twice"),
        ({"id": "default", "code": 3}, "'condominiums.1.id' 'default' is the top-level condominium's"),
        ({"id": "Outro Nome", "code": 3}, "'condominiums.1.id' string should match pattern"),
        ({"id": "outro", "code": 123456789}, "'condominiums.1.code' input should be less than or equal to 99999999"),
    ],
)
def test_a_condominium_mistake_in_config_is_one_line(tmp_path, entry, message):
    from concierge.config import load_config
    from concierge.errors import ConfigError

    paths = write_directories(tmp_path)
    section = condominiums_section(paths)
    section["condominiums"] = [section["condominiums"][0], {"name": "Outro", "directory": paths["solar"], **entry}]
    config = tmp_path / "config.json"
    config.write_text(json.dumps(section), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_condominium_keys_left_out_are_the_top_levels(tmp_path):
    from concierge.call.condominiums import condominium_config
    from concierge.config import load_config

    paths = write_directories(tmp_path)
    section = condominiums_section(paths)
    section["condominiums"][0].update({"resident_context": "jardins-resident", "gate": {"channel_variable": None}})
    section["asterisk"]["caller_id"] = '"Central" <100>'
    (tmp_path / "config.json").write_text(json.dumps(section), encoding="utf-8")
    config = load_config(tmp_path / "config.json")
    jardins, aurora = (condominium_config(config, c) for c in config.condominiums[:2])
    assert jardins.asterisk.condominium == "Condomínio Jardins" and jardins.asterisk.resident_context == "jardins-resident"
    assert jardins.gate.channel_variable is None and aurora.gate.channel_variable == "APOENA_DECISION"
    assert aurora.asterisk.resident_context == "apoena-resident" and aurora.asterisk.caller_id == '"Central" <100>'
    assert aurora.greeting.message == "Residencial Aurora, boa tarde. Em que posso ajudar?"
    assert jardins.directory.path == tmp_path / "jardins.json"


def test_calls_cli_and_api_filter_by_condominium(tmp_path):
    from starlette.testclient import TestClient

    from concierge.web.app import create_app
    from concierge.web.live import LiveCalls

    from ..test_cli import run

    paths = write_directories(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**condominiums_section(paths), "directory": {"path": paths["default"]}, "records": {"path": "calls.db"}}))
    ids = {"jardins": str(call_uuid(1)), "aurora": str(call_uuid(2)), "default": str(uuid.uuid4())}
    with CallRecords(tmp_path / "calls.db", brain="rules") as records:
        for at, (condominium, call_id) in enumerate(ids.items()):
            records.observer(CallStarted(call_id, call_id, at=1000.0 + at, condominium=condominium))
            records.observer(CallEnded(call_id, Outcome.CALLER_HUNG_UP, "caller went away", at=1010.0 + at))
        records.flush()
        client = TestClient(create_app(records, LiveCalls("Olá"), CallMetrics()), base_url="http://127.0.0.1:8080")
        listed = client.get("/api/calls", params={"condominium": "aurora"}).json()["calls"]
        assert [(c["call_id"], c["condominium"]) for c in listed] == [(ids["aurora"], "aurora")]
        assert len(client.get("/api/calls").json()["calls"]) == 3
        refused = client.get("/api/calls", params={"condominium": "Aurora!"})
        assert refused.status_code == 400 and "condominium" in refused.json()["error"]
        client.close()

    shown = run(["calls", "--json", "--condominium", "jardins", "--config", str(config)])
    assert shown.returncode == 0, shown.stderr
    assert [c["call_id"] for c in json.loads(shown.stdout)["calls"]] == [ids["jardins"]]
    table = run(["calls", "--config", str(config)], env={"COLUMNS": "200"})
    assert "condominium" in table.stdout.decode() and "aurora" in table.stdout.decode()
    wrong = run(["calls", "--condominium", "jardim", "--config", str(config)])
    assert wrong.returncode == 2
    assert wrong.stderr.decode().strip().endswith("--condominium 'jardim' is not configured — use one of: default, jardins, aurora, solar")
    assert len(wrong.stderr.decode().strip().splitlines()) == 1 and "Traceback" not in wrong.stderr.decode()


def test_a_live_call_shows_its_condominium_and_the_greeting_it_heard():
    from concierge.web.live import LiveCalls

    live = LiveCalls("Condomínio Apoena, em que posso ajudar?")
    call_id = str(call_uuid(2))
    live.observer(CallStarted(call_id, call_id, condominium="aurora", greeting="Residencial Aurora, boa tarde. Em que posso ajudar?"))
    live.observer(CallStarted("plain", "plain"))
    shown = {call["call_id"]: call for call in live.snapshot()}
    assert shown[call_id]["condominium"] == "aurora"
    assert shown[call_id]["lines"][0]["text"] == "Residencial Aurora, boa tarde. Em que posso ajudar?"
    assert (shown["plain"]["condominium"], shown["plain"]["lines"][0]["text"]) == ("default", "Condomínio Apoena, em que posso ajudar?")


def voiced(pcm: bytes, frame: int = 320) -> bytes:
    """`pcm` without its frames of pure silence (what the pacer sends while nothing is ready)."""
    return b"".join(pcm[at : at + frame] for at in range(0, len(pcm), frame) if any(pcm[at : at + frame]))


def envelope_likeness(expected: bytes, heard: bytes, frame: int = 320, lags: int = 10) -> float:
    """How alike two utterances' loudness contours are (Pearson correlation of the RMS of each 20 ms
    frame, best within ±`lags` frames): the same words by the same voice line up whatever a
    line's filter or gain does to the waveform; other words do not."""
    import numpy as np

    def contour(pcm: bytes) -> np.ndarray:
        samples = np.frombuffer(pcm[: len(pcm) // frame * frame], "<i2").astype(float).reshape(-1, frame // 2)
        return np.sqrt((samples * samples).mean(axis=1))

    a, b = contour(expected), contour(heard)
    best = -1.0
    for lag in range(-lags, lags + 1):
        x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
        n = min(len(x), len(y))
        if n > 20 and x[:n].std() and y[:n].std():
            best = max(best, float(np.corrcoef(x[:n], y[:n])[0, 1]))
    return best


def similarity(part: bytes, heard: bytes) -> float:
    """The best normalized cross-correlation of `part` anywhere in `heard` (1.0: the same sound)."""
    import numpy as np

    x = np.frombuffer(part, "<i2").astype(float)
    y = np.frombuffer(heard, "<i2").astype(float)
    n = 1 << int(np.ceil(np.log2(len(x) + len(y))))
    correlation = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)[: len(y) - len(x) + 1]
    energy = np.sqrt(np.convolve(y * y, np.ones(len(x)), "valid")) * np.sqrt(np.sum(x * x))
    loud = energy > 0.01 * energy.max()  # a near-silent stretch would divide rounding noise by nothing
    return float(np.max(np.where(loud, correlation / np.where(loud, energy, 1.0), 0.0)))


def serve_process(tmp_path, config: dict, port: int, web_port: int):
    import subprocess
    import sys

    from ..conftest import ROOT

    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "concierge", "serve", "--config", str(path), "--port", str(port), "--web-port", str(web_port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_serve_refuses_a_broken_condominium_directory_at_start_with_one_line(tmp_path):
    from ..conftest import free_port

    paths = write_directories(tmp_path)
    (tmp_path / "solar.json").write_text('[{"apartment_number": "301", "residents": []}]', encoding="utf-8")
    config = {**condominiums_section(paths), "directory": {"path": paths["default"]}, "redis": {"embedded_path": str(tmp_path / "m.db")}}
    process = serve_process(tmp_path, config, free_port(), free_port())
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert lines[-1].endswith("solar.json: entry 1 (apartment 301): 'residents' list should have at least 1 item after validation, not 0")
    assert "Traceback" not in stderr.decode()


@pytest.mark.slow
def test_apoena_serve_greets_each_condominium_as_its_own_and_labels_its_metrics(tmp_path):
    """The real `apoena serve` process: the UUID the documented dialplan builds picks the greeting."""
    import socket
    import subprocess
    import urllib.request

    from concierge.speech.factory import make_synthesizer

    from ..conftest import free_port
    from ..test_serve import frame, read_frame

    paths = write_directories(tmp_path)
    port, web_port = free_port(), free_port()
    config = {
        **condominiums_section(paths), "directory": {"path": paths["default"]},
        "speech": {"tts_engine": "espeak", "cache_dir": str(tmp_path / "cache")},
        "redis": {"embedded_path": str(tmp_path / "memory.db")}, "records": {"path": str(tmp_path / "calls.db")},
    }  # fmt: skip
    process = serve_process(tmp_path, config, port, web_port)
    try:
        assert b"ready on" in process.stdout.readline(), process.stderr.read().decode()[-2000:]
        synthesizer = make_synthesizer("espeak", cache_dir=tmp_path / "expected")  # as `apoena serve` makes it
        greetings = {
            2: "Residencial Aurora, boa tarde. Em que posso ajudar?", 42: "Portaria do Edifício Solar, em que posso ajudar?",
            1: "Portaria do Condomínio Jardins, em que posso ajudar?", None: "Condomínio Apoena, em que posso ajudar?",
        }  # fmt: skip
        rendered = {code: voiced(synthesizer.synthesize(text)) for code, text in greetings.items()}
        for code, condominium in ((2, "aurora"), (42, "solar")):
            call_id = call_uuid(code)
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(frame(0x01, call_id.bytes))
                sock.settimeout(10)
                received = bytearray()
                started = None  # a loaded machine may send silence before the greeting is ready
                while started is None or len(received) - started < len(rendered[code]):
                    kind, payload = read_frame(sock)
                    assert kind == 0x10
                    if started is None and any(payload):
                        started = len(received)
                    received += voiced(payload)  # a loaded machine may also send silence between the sentences
                live = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/live", timeout=5).read())["calls"]
            card = next(call for call in live if call["call_id"] == str(call_id))
            assert (card["condominium"], card["lines"][0]["text"]) == (condominium, greetings[code])
            likeness = {other: envelope_likeness(pcm, bytes(received)) for other, pcm in rendered.items()}
            assert max(likeness, key=likeness.get) == code, f"code {code}: its own greeting is what was heard most like: {likeness}"
        metrics = b""
        for _ in range(50):  # the calls end as their sockets close
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=5).read()
            if b'apoena_calls_total{condominium="solar",outcome="caller_hung_up"} 1.0' in metrics:
                break
            time.sleep(0.1)
        assert b'apoena_calls_total{condominium="aurora",outcome="caller_hung_up"} 1.0' in metrics
        assert b'apoena_calls_total{condominium="solar",outcome="caller_hung_up"} 1.0' in metrics
        assert b'apoena_active_calls{condominium="jardins"} 0.0' in metrics
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_page_filters_by_condominium_in_a_real_browser(tmp_path):
    """/?condominium=ID shows that condominium's live and recent calls only, and a way back to all of them."""
    from concierge.web.app import create_app
    from concierge.web.live import LiveCalls
    from concierge.web.server import WebServer

    from ..web.browser import chromium_page, skip_without_chromium

    skip_without_chromium()

    records = CallRecords(tmp_path / "calls.db", "rules")
    live = LiveCalls("Olá")
    ids = {"jardins": str(call_uuid(1)), "aurora": str(call_uuid(2))}
    for at, (condominium, call_id) in enumerate(ids.items()):
        for observer in (records.observer, live.observer):
            observer(CallStarted(call_id, call_id, at=time.time() - 60 + at, condominium=condominium))
            observer(CallEnded(call_id, Outcome.CALLER_HUNG_UP, "caller went away"))
    live_ids = {"jardins": str(call_uuid(1)), "aurora": str(call_uuid(2))}
    for condominium, call_id in live_ids.items():
        live.observer(CallStarted(call_id, call_id, condominium=condominium, greeting=f"Portaria {condominium}"))
    records.flush()

    async def scenario() -> dict:
        web = WebServer(create_app(records, live, CallMetrics()), "127.0.0.1", 0)
        await web.start()
        seen: dict = {}
        try:
            async with chromium_page() as page:
                await page.goto(f"{web.url}?condominium=aurora")
                await page.wait_for_selector("#recent tbody tr")
                await page.wait_for_selector("#live article")
                seen["recent"] = await page.locator("#recent tbody tr").evaluate_all("rows => rows.map(r => r.dataset.callId)")
                seen["live"] = await page.locator("#live article").evaluate_all("cards => cards.map(c => c.dataset.callId)")
                seen["filter"] = await page.locator("#filter").inner_text()
                await page.locator("#filter a").click()
                await page.locator(f'#recent tr[data-call-id="{ids["jardins"]}"]').wait_for()
                seen["all"] = await page.locator("#recent td.condominium").all_inner_texts()
                await page.goto(f"{web.url}?condominium=jardins")
                await page.locator(f'#recent tr[data-call-id="{ids["jardins"]}"]').wait_for()
                seen["followed"] = await page.locator("#recent tbody tr").evaluate_all("rows => rows.map(r => r.dataset.callId)")
                seen["url"] = page.url
        finally:
            await web.close()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        records.close()
    assert seen["recent"] == [ids["aurora"]] and seen["live"] == [live_ids["aurora"]]
    assert "aurora" in seen["filter"] and "todos os condomínios" in seen["filter"]
    assert sorted(seen["all"]) == ["aurora", "jardins"], "all condominiums again, each call with its condominium"
    assert seen["followed"] == [ids["jardins"]] and seen["url"].endswith("/?condominium=jardins")


def test_warm_builds_every_condominium_before_its_first_call(redis_server, tmp_path):
    paths = write_directories(tmp_path)
    services = make_services(
        Directory.load(paths["default"]), redis_server.url, PromptTranscriber(), tmp_path,
        sections={"directory": {"path": paths["default"]}, **condominiums_section(paths)},
    )  # fmt: skip
    condominiums = Condominiums(services, Directory.load(paths["default"]))
    assert all(c.services is None for c in condominiums.by_code.values())
    asyncio.run(condominiums.warm())
    built = {c.id: c.services for c in condominiums.by_code.values()}
    assert all(built.values()) and {s.condominium for s in built.values()} == {"jardins", "aurora", "solar"}
    assert asyncio.run(condominiums.services_for(call_uuid(2))) is built["aurora"], "the first call finds it ready"
