"""`apoena simulate` as a user runs it: bad input is refused fast; recorded calls run end to end;
the reactive caller speaks turn by turn and answers read-backs and keypad requests."""

from __future__ import annotations

import asyncio
import json
import shutil
import wave

import pytest

from concierge.apps.simulate import Simulator, _Keys, _Speech, group_by_directory, load_recording, script_of
from concierge.audio.pcm import read_audio_file
from concierge.brain.reply import Reply
from concierge.call.services import CallServices, waiting_tone
from concierge.config import Config
from concierge.errors import UserError
from concierge.speech.base import Transcript
from concierge.speech.cache import CachedSynthesizer
from concierge.speech.espeak import EspeakSynthesizer

from .test_cli import ROOT, run

FIXTURES = ROOT / "fixtures" / "calls"


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}}))
    return path


def make_file(name: str, content: bytes):
    def make(folder):
        (folder / name).write_bytes(content)
        return folder / name

    return make


def make_empty_folder(folder):
    (folder / "empty").mkdir()
    return folder / "empty"


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda folder: folder / "missing.slin", "no such file"),
        (make_empty_folder, "no .slin or .wav"),
        (make_file("odd.slin", b"\x00\x01\x02"), "odd.slin"),
        (make_file("bad.wav", b"RIFFnot really a wav"), "bad.wav"),
    ],
)
def test_bad_recordings_are_refused_with_exit_2(tmp_path, config, make, expected):
    result = run(["simulate", str(make(tmp_path)), "--config", str(config)])
    assert result.returncode == 2, result.stderr
    err = result.stderr.decode()
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unreadable_expectations_are_refused(tmp_path, config):
    shutil.copy(FIXTURES / "entrega.slin", tmp_path / "call.slin")
    (tmp_path / "call.json").write_text('{"dtmf": [{"at": 1}]}')
    result = run(["simulate", str(tmp_path / "call.slin"), "--config", str(config)])
    assert result.returncode == 2 and "call.json" in result.stderr.decode()


@pytest.mark.slow
def test_entrega_call_passes_and_reports_every_turn(tmp_path, config):
    out = tmp_path / "out"
    result = run(["simulate", str(FIXTURES / "entrega.slin"), "--json", "--out", str(out), "--config", str(config)], timeout=180)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    report = json.loads(result.stdout)
    call = report["calls"][0]
    assert call["passed"] is True and call["outcome"] == "completed"
    assert len(call["turns"]) == 2
    assert {"transcript", "reply", "stt_ms", "brain_ms", "tts_ms", "response_ms"} <= set(call["turns"][0])
    assert call["final"]["dados"]["resident_name"] == "Joana Prado" and call["final"]["valid_for_action"]
    with wave.open(str(out / "entrega.concierge.wav")) as saved:
        assert saved.getframerate() == 8000 and saved.getnframes() > 8000 * 3


@pytest.mark.slow
def test_unmet_expectations_exit_1(tmp_path, config):
    shutil.copy(FIXTURES / "entrega.slin", tmp_path / "entrega.slin")
    expected = json.loads((FIXTURES / "entrega.json").read_text())
    expected["expected"]["apartment_number"] = "202"
    (tmp_path / "entrega.json").write_text(json.dumps(expected))
    result = run(["simulate", str(tmp_path), "--json", "--no-wait", "--config", str(config)], timeout=180)
    assert result.returncode == 1
    call = json.loads(result.stdout)["calls"][0]
    assert call["passed"] is False and any("apartment_number" in m for m in call["mismatches"])


# -- the reactive caller ------------------------------------------------------------------------
#
# A recording with timed turns and "yes"/"no" answer segments, played against a scripted
# concierge (what it hears is told by which recorded segment the utterance holds), so the
# caller's behaviour is tested without a speech model: real server, session, endpointer,
# AudioSocket and espeak-ng voice.

RATE = 8000


def seconds(pcm: bytes) -> float:
    return len(pcm) / (2 * RATE)


def quiet(duration: float) -> bytes:
    return bytes(int(duration * RATE) * 2)


class SegmentTranscriber:
    """Hears the text of each recorded segment whose audio the utterance holds (in order)."""

    def __init__(self, segments: dict[str, bytes]) -> None:
        self.marks = {text: pcm[len(pcm) // 4 * 2 :][:240] for text, pcm in segments.items()}  # 15 ms from the middle

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        found = sorted((pcm8k.find(mark), text) for text, mark in self.marks.items() if pcm8k.find(mark) >= 0)
        return Transcript(text=" ".join(text for _, text in found), duration_s=seconds(pcm8k), elapsed_ms=0.0)


class ScriptedConcierge:
    """Answers each text it hears with a scripted reply; anything else gets a re-ask."""

    def __init__(self, replies: dict[str, tuple[str, dict, bool]]) -> None:
        self.replies = replies
        self.heard: list[str] = []

    def respond(self, conversation_id: str, text: str, alternatives: tuple[str, ...] = ()) -> Reply:
        self.heard.append(text)
        message, dados, valid = self.replies.get(text, ("Pode repetir, por favor?", {}, False))
        return Reply.model_validate({"mensagem": message, "dados": dados, "valid_for_action": valid, "set_call_status": "USER_TURN"})

    def note(self, conversation_id: str, text: str, role: str = "system") -> None:
        pass


def reactive_call(tmp_path, answers: bool = True, dtmf: list | None = None):
    """turn A, turn B, then the answers "Sim" and "NAO", each 0.4 s apart: played as one stream,
    A and B would be one utterance (the end-of-turn silence is 0.5 s)."""
    entrega = read_audio_file(FIXTURES / "entrega.slin")
    segments = {
        "A": entrega[int(0.6 * RATE) * 2 : int(4.4 * RATE) * 2],
        "B": entrega[int(6.5 * RATE) * 2 : int(8.21 * RATE) * 2],
        "Sim": read_audio_file(ROOT / "tests" / "audio" / "data" / "bom_dia.slin"),
        "NAO": read_audio_file(ROOT / "tests" / "audio" / "data" / "entrega.slin"),
    }
    pcm, spans = quiet(0.5), {}
    for text, audio in segments.items():
        spans[text] = {"start_seconds": round(seconds(pcm), 3), "end_seconds": round(seconds(pcm) + seconds(audio), 3)}
        pcm += audio + quiet(0.4)
    sidecar = {
        "turns": [{"text": text, **spans[text]} for text in ("A", "B")],
        "expected": {"intent_type": "entrega", "visitor_name": "Carlos Pereira", "apartment_number": "104",
                     "resident_name": "Joana Prado", "valid_for_action": True},
    }  # fmt: skip
    if answers:
        sidecar["answers"] = {"yes": spans["Sim"], "no": spans["NAO"]}
    if dtmf:
        sidecar["dtmf"] = dtmf
    (tmp_path / "call.slin").write_bytes(pcm)
    (tmp_path / "call.json").write_text(json.dumps(sidecar))
    return load_recording(tmp_path / "call.slin"), SegmentTranscriber(segments)


def play(tmp_path, recording, transcriber, replies):
    concierge = ScriptedConcierge(replies)
    config = Config.model_validate({"greeting": {"message": "Pois não?"}, "system": {"silence_threshold_seconds": 0.5}})
    synthesizer = CachedSynthesizer(EspeakSynthesizer(), tmp_path / "tts")
    services = CallServices(config, concierge, transcriber, synthesizer, "", synthesizer.synthesize("Pois não?"), waiting_tone())  # type: ignore[arg-type]

    async def scenario():
        async with Simulator(services, speed=2.0) as simulator:  # the caller's side at twice real time
            return await asyncio.wait_for(simulator.call(recording), 90)

    try:
        return asyncio.run(scenario()), concierge.heard
    finally:
        services.close()


ASKED = {"intent_type": "entrega", "apartment_number": "104", "resident_name": "Joana Prado"}
DONE = ("Certo. Vou avisar a moradora.", {**ASKED, "visitor_name": "Carlos Pereira"}, True)


@pytest.mark.parametrize("read_back, answered, said", [("104", "yes", "Sim"), ("105", "no", "NAO")])
def test_the_caller_speaks_turn_by_turn_and_answers_a_read_back(tmp_path, read_back, answered, said):
    recording, transcriber = reactive_call(tmp_path)
    replies = {
        "A": (f"Apartamento {read_back}, da Joana Prado, certo?", {**ASKED, "apartment_number": read_back}, False),
        said: ("Qual é o seu nome?", ASKED, False),
        "B": DONE,
    }
    report, heard = play(tmp_path, recording, transcriber, replies)
    assert heard == ["A", said, "B"]  # one turn at a time, the answer between them
    assert report.mode == "turns" and report.script_played == 2
    assert [(a["kind"], a["after_turn"], a["reply_index"], a["sent"]) for a in report.answers] == [(answered, 1, 1, True)]
    assert report.outcome == "completed" and report.passed, report.mismatches
    assert report.as_json()["answers"][0]["reply"].endswith("certo?")


def test_a_keypad_request_is_answered_with_dtmf(tmp_path):
    recording, transcriber = reactive_call(tmp_path)
    replies = {
        "A": ("Não entendi o apartamento. Por favor, digite o número do apartamento.", {"intent_type": "entrega"}, False),
        "104": ("Qual é o seu nome?", ASKED, False),
        "B": DONE,
    }
    report, heard = play(tmp_path, recording, transcriber, replies)
    assert heard == ["A", "104", "B"]
    assert [t.source for t in report.turns] == ["speech", "dtmf", "speech"]
    assert [(a["kind"], a["digits"], a["after_turn"]) for a in report.answers] == [("keypad", "104#", 1)]
    assert report.passed, report.mismatches


def test_without_recorded_answers_the_caller_goes_on_with_the_script(tmp_path):
    recording, transcriber = reactive_call(tmp_path, answers=False)
    replies = {"A": ("Apartamento 104, da Joana Prado, certo?", ASKED, False), "B": DONE}
    report, heard = play(tmp_path, recording, transcriber, replies)
    assert heard == ["A", "B"]
    assert [(a["kind"], a["sent"]) for a in report.answers] == [("yes", False)]
    assert report.outcome == "completed"


def test_script_steps_keys_between_turns_and_inside_them(tmp_path):
    recording, _ = reactive_call(tmp_path, dtmf=[{"at_seconds": 4.5, "digits": "1001"}, {"at_seconds": 1.0, "digits": "9"}])
    steps = script_of(recording)
    assert [type(s) for s in steps] == [_Speech, _Keys, _Speech]
    assert steps[0].dtmf == ((1.0, "9"),) and steps[1] == _Keys("1001")


def test_sidecar_directory_and_answers_are_read(tmp_path):
    recording, _ = reactive_call(tmp_path)
    assert recording.reactive and set(recording.answers) == {"yes", "no"} and recording.directory is None
    sidecar = json.loads((tmp_path / "call.json").read_text())
    (tmp_path / "dirs").mkdir()
    shutil.copy(ROOT / "data" / "apartamentos.json", tmp_path / "dirs" / "small.json")
    (tmp_path / "call.json").write_text(json.dumps({**sidecar, "directory": "dirs/small.json"}))
    other = load_recording(tmp_path / "call.slin")
    assert other.directory == (tmp_path / "dirs" / "small.json").resolve()
    assert group_by_directory([recording, other, recording]) == {None: [0, 2], other.directory: [1]}
    for bad in ({"directory": "dirs/missing.json"}, {"answers": {"maybe": sidecar["turns"][0]}}):
        (tmp_path / "call.json").write_text(json.dumps({**sidecar, **bad}))
        with pytest.raises(UserError):
            load_recording(tmp_path / "call.slin")


def test_without_turn_times_the_recording_is_one_stream(tmp_path):
    recording, transcriber = reactive_call(tmp_path)
    sidecar = json.loads((tmp_path / "call.json").read_text())
    sidecar["turns"] = [{"text": turn["text"]} for turn in sidecar["turns"]]  # no times: the old continuous caller
    (tmp_path / "call.json").write_text(json.dumps(sidecar))
    recording = load_recording(tmp_path / "call.slin")
    report, heard = play(tmp_path, recording, transcriber, {"A": ("Apartamento 104, da Joana Prado, certo?", ASKED, False)})
    assert report.mode == "stream" and not recording.reactive
    assert heard == ["A B Sim NAO"] and report.answers == []  # 0.4 s gaps: one utterance, nobody answers


# -- the resident decides: --resident / --resident-no-answer, the visit report, the webhook ---------

RESIDENT = ROOT / "fixtures" / "resident"


class WebhookReceiver:
    """A real HTTP server on a loopback port that keeps every JSON body POSTed to it; answers
    `statuses` in turn (then 200)."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        import http.server
        import threading

        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.bodies.append(json.loads(body))
                receiver.headers.append(dict(self.headers))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gate"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def resident_config(tmp_path, webhook_url: str) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "directory": {"path": str(ROOT / "data" / "apartamentos.json")},
        "asterisk": {"ring_seconds": 5},
        "gate": {"webhook": {"url": webhook_url, "token": "gate-controller-token", "timeout_seconds": 2}},
    }))  # fmt: skip
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "answer, decision, told",
    [
        (["--resident", str(RESIDENT / "pode_subir.slin")], "authorized", "A moradora autorizou. Pode entrar."),
        (["--resident", str(RESIDENT / "nao_conheco.slin")], "denied", "a moradora não autorizou a entrada"),
        (["--resident-no-answer"], "no_answer", "Não consegui falar com a moradora."),
    ],
)
def test_simulate_asks_the_resident_and_the_webhook_reaches_a_local_server(tmp_path, webhook, answer, decision, told):
    config = resident_config(tmp_path, webhook.url)
    result = run(["simulate", str(FIXTURES / "entrega.slin"), *answer, "--json", "--config", str(config)], timeout=240)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    call = json.loads(result.stdout)["calls"][0]
    visit = call["visit"]
    assert call["outcome"] == "completed" and call["passed"] is True, call["mismatches"]
    assert visit["decision"] == decision, visit
    assert told in visit["visitor_turns_after"][0]["reply"]
    assert visit["decision_ms"] > 0 and [a[:2] for a in visit["attempts"]] == [["PJSIP/ap104", "answered" if answer[0] == "--resident" else "no_answer"]]
    if decision == "no_answer":
        assert visit["resident_turns"] == [] and 5000 <= visit["decision_ms"] < 8000, "rang asterisk.ring_seconds (5 s), then gave up"
    else:
        assert visit["resident_turns"][0]["via"] == "voice" and visit["resident_turns"][0]["transcript"]
        assert visit["asked_ms"] - visit["ringing_ms"] < 2000, "the resident hears the question within 2 s of picking up"
        assert {"action": "channel_variable", "ok": True, "detail": f"APOENA_DECISION={decision} on SIM/visitor-0001", "attempts": 1} in visit["gate"]
    [body] = webhook.bodies
    assert body["call_id"] == call["call_id"] and body["decision"] == decision
    assert body["authorized"] is (decision == "authorized")
    assert body["visit"] == {"intent_type": "entrega", "visitor_name": "Carlos Pereira", "apartment_number": "104", "resident_name": "Joana Prado"}
    assert body["by"] == (None if decision == "no_answer" else "voice") and body["decided_at"] and body["visit_started_at"]
    assert webhook.headers[0]["Authorization"] == "Bearer gate-controller-token"


def test_resident_and_no_answer_together_are_refused(tmp_path, config):
    result = run(["simulate", str(FIXTURES / "entrega.slin"), "--resident", str(RESIDENT / "sim.slin"), "--resident-no-answer", "--config", str(config)])
    err = result.stderr.decode()
    assert result.returncode == 2 and "exclude each other" in err and len(err.strip().splitlines()) == 1


def test_a_keypad_yes_in_simulate_authorizes_and_a_failing_webhook_is_retried(tmp_path, directory):
    from concierge.apps.simulate import load_resident

    failing_first = WebhookReceiver(statuses=(500,))
    recording, transcriber = reactive_call(tmp_path)
    concierge = ScriptedConcierge({"A": ("Qual é o seu nome?", ASKED, False), "B": DONE})
    config = Config.model_validate({
        "greeting": {"message": "Pois não?"}, "system": {"silence_threshold_seconds": 0.5},
        "gate": {"webhook": {"url": failing_first.url, "attempts": 3, "timeout_seconds": 2}},
    })  # fmt: skip
    synthesizer = CachedSynthesizer(EspeakSynthesizer(), tmp_path / "tts")
    services = CallServices(config, concierge, transcriber, synthesizer, "", synthesizer.synthesize("Pois não?"), waiting_tone())  # type: ignore[arg-type]
    resident = load_resident(RESIDENT / "keypad_1.slin")

    async def scenario():
        async with Simulator(services, speed=2.0, resident=resident, directory=directory) as simulator:
            return await asyncio.wait_for(simulator.call(recording), 90)

    try:
        report = asyncio.run(scenario())
    finally:
        services.close()
        failing_first.close()
    visit = report.as_json()["visit"]
    assert resident.resident.digits == "1" and resident.expected == "authorized"
    assert (visit["decision"], visit["via"], visit["decided_by"]) == ("authorized", "keypad", "Joana Prado")
    assert visit["resident_turns"][0]["via"] == "keypad" and visit["resident_turns"][0]["transcript"] == "1"
    assert report.passed, report.mismatches
    assert {"action": "webhook", "ok": True, "detail": f"HTTP 200 from {failing_first.url}", "attempts": 2} in visit["gate"]
    assert [body["decision"] for body in failing_first.bodies] == ["authorized", "authorized"]


def test_a_folder_runs_every_recording_format_and_nothing_else(tmp_path):
    from concierge.apps.simulate import find_recordings

    for name in ("a.slin", "b.mp3", "c.ulaw", "d.WAV", "a.json", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in find_recordings([tmp_path])] == ["a.slin", "b.mp3", "c.ulaw", "d.WAV"]


def condominium_config(tmp_path):
    """The default directory lacks Joana Prado; condominium 'vila' (code 5) has her in 104."""
    default, vila = tmp_path / "default.json", tmp_path / "vila.json"
    default.write_text(json.dumps([{"apartment_number": "11", "residents": ["Diana Rocha"]}]))
    vila.write_text(json.dumps([{"apartment_number": "104", "residents": ["Joana Prado"]}]))
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "directory": {"path": str(default)},
        "condominiums": [{"id": "vila", "code": 5, "name": "Vila Serena", "directory": str(vila),
                          "greeting": "Vila Serena, boa tarde. Em que posso ajudar?"}],
    }))  # fmt: skip
    return path


def test_an_unknown_condominium_is_refused_with_the_ones_there_are(tmp_path):
    result = run(["simulate", str(FIXTURES / "entrega.slin"), "--config", str(condominium_config(tmp_path)), "--condominium", "aurora"])
    err = result.stderr.decode()
    assert result.returncode == 2 and "'aurora'" in err and "vila" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_simulate_calls_as_a_gate_of_the_condominium_chosen(tmp_path):
    """--condominium folds its code into the call's UUID, as the dialplan does: the call is routed,
    understood and recorded as that condominium's (Joana Prado lives only there)."""
    db = tmp_path / "calls.db"
    config = condominium_config(tmp_path)
    result = run(["simulate", str(FIXTURES / "entrega.slin"), "--json", "--config", str(config), "--condominium", "vila",
                  "--record", str(db)], timeout=180)  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    call = json.loads(result.stdout)["calls"][0]
    assert call["passed"] is True and call["final"]["dados"]["apartment_number"] == "104"
    listed = json.loads(run(["calls", "--db", str(db), "--json"]).stdout)["calls"]
    assert [(c["condominium"], c["call_id"][-12:]) for c in listed] == [("vila", "000000000005")]
