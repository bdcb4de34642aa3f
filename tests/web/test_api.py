"""The monitoring app's JSON API and /metrics over HTTP (Starlette's TestClient): what each endpoint
returns, live state and metrics fed by call events, the token gate and the localhost-only rule."""

from __future__ import annotations

import io
import time
import uuid
import wave

import numpy as np
import pytest
from starlette.testclient import TestClient

from concierge.brain.reply import Reply
from concierge.call.events import CallEnded, CallStarted, DtmfReceived, Outcome, StateChanged, Turn, TurnFailed, VisitorNameHeard
from concierge.call.records import CallRecords
from concierge.config import CallState
from concierge.errors import UserError
from concierge.web.app import create_app
from concierge.web.live import LiveCalls
from concierge.web.metrics import CallMetrics
from concierge.web.server import WebServer, check_exposure

TOKEN = "s3cret-token-for-tests-0123456789"
GREETING = "Condomínio Apoena, em que posso ajudar?"


def reply(message: str, **dados: str) -> Reply:
    return Reply.model_validate({"mensagem": message, "dados": dados, "valid_for_action": False, "set_call_status": "USER_TURN"})


def turn(call_id: str, index: int, text: str, answer: str, response_ms: float | None = 900.0) -> Turn:
    return Turn(call_id, index, "speech", text, reply(answer, intent_type="entrega"), 310.0, 4.0, 55.0, response_ms)


class Monitor:
    """Records, live state and metrics fed by one observer, as `apoena serve` wires them."""

    def __init__(self, tmp_path, token: str | None = None) -> None:
        self.records = CallRecords(tmp_path / "calls.db", "rules")
        self.live = LiveCalls(GREETING)
        self.metrics = CallMetrics()
        self.client = TestClient(create_app(self.records, self.live, self.metrics, token), base_url="http://127.0.0.1:8080")

    def emit(self, *events) -> None:
        for event in events:
            for observer in (self.records.observer, self.live.observer, self.metrics.observer):
                observer(event)
        self.records.flush()

    def close(self) -> None:
        self.client.close()
        self.records.close()


@pytest.fixture
def monitor(tmp_path):
    monitor = Monitor(tmp_path)
    yield monitor
    monitor.close()


@pytest.fixture
def guarded(tmp_path):
    monitor = Monitor(tmp_path, TOKEN)
    yield monitor
    monitor.close()


def finished_call(monitor: Monitor, outcome: Outcome = Outcome.COMPLETED, started: float | None = None) -> str:
    call_id = str(uuid.uuid4())
    monitor.emit(
        CallStarted(call_id, call_id, at=started or time.time()),
        StateChanged(call_id, CallState.USER_TURN),
        turn(call_id, 1, "Tenho uma entrega para a Joana Prado.", "Qual é o seu nome?"),
        CallEnded(call_id, outcome, "visit complete"),
    )
    return call_id


def test_live_shows_state_conversation_and_transcript_lines_until_the_call_ends(monitor):
    call_id = str(uuid.uuid4())
    monitor.emit(
        CallStarted(call_id, "conversa-1"),
        StateChanged(call_id, CallState.WAITING),
        turn(call_id, 1, "Tenho uma entrega para a Joana Prado.", "Qual é o seu nome?"),
        DtmfReceived(call_id, "5"),
        TurnFailed(call_id, "RuntimeError: engine exploded"),
        StateChanged(call_id, CallState.USER_TURN),
    )
    (call,) = monitor.client.get("/api/live").json()["calls"]
    assert (call["call_id"], call["conversation_id"], call["state"], call["turn_count"]) == (call_id, "conversa-1", "USER_TURN", 1)
    assert [(line["role"], line["text"]) for line in call["lines"]] == [
        ("concierge", GREETING),
        ("visitor", "Tenho uma entrega para a Joana Prado."),
        ("concierge", "Qual é o seu nome?"),
        ("system", "keypad: 5"),
        ("system", "error: RuntimeError: engine exploded"),
    ]
    monitor.emit(CallEnded(call_id, Outcome.CALLER_HUNG_UP, "caller went away"))
    assert monitor.client.get("/api/live").json() == {"calls": []}


def test_calls_lists_recent_calls_newest_first_with_outcome_and_latency(monitor):
    older = finished_call(monitor, Outcome.CALLER_HUNG_UP, started=time.time() - 3600)
    newer = finished_call(monitor)
    calls = monitor.client.get("/api/calls").json()["calls"]
    assert [call["call_id"] for call in calls] == [newer, older]
    assert calls[0]["outcome"] == "completed" and calls[0]["response_ms_p50"] == 900.0 and calls[0]["turn_count"] == 1
    assert "turns" not in calls[0]
    assert [c["call_id"] for c in monitor.client.get("/api/calls?outcome=caller_hung_up").json()["calls"]] == [older]
    assert [c["call_id"] for c in monitor.client.get("/api/calls?limit=1").json()["calls"]] == [newer]
    since = time.time() - 60
    assert [c["call_id"] for c in monitor.client.get(f"/api/calls?since={since}").json()["calls"]] == [newer]
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(since))
    assert [c["call_id"] for c in monitor.client.get("/api/calls", params={"since": iso}).json()["calls"]] == [newer]


@pytest.mark.parametrize("query", ["limit=0", "limit=many", "limit=100000", "outcome=exploded", "since=yesterday-ish"])
def test_bad_filters_are_400_with_a_message(monitor, query):
    response = monitor.client.get(f"/api/calls?{query}")
    assert response.status_code == 400 and response.json()["error"]


def test_one_call_has_its_turns_and_slots(monitor):
    call_id = finished_call(monitor)
    call = monitor.client.get(f"/api/calls/{call_id}").json()
    assert call["call_id"] == call_id and call["outcome"] == "completed" and call["live"] is None
    (only,) = call["turns"]
    assert only["transcript"] == "Tenho uma entrega para a Joana Prado." and only["reply"] == "Qual é o seu nome?"
    assert only["dados"]["intent_type"] == "entrega"
    assert (only["stt_ms"], only["brain_ms"], only["tts_ms"], only["response_ms"]) == (310.0, 4.0, 55.0, 900.0)


def test_a_live_call_carries_its_live_lines(monitor):
    call_id = str(uuid.uuid4())
    monitor.emit(CallStarted(call_id, call_id), StateChanged(call_id, CallState.IA_TURN))
    call = monitor.client.get(f"/api/calls/{call_id}").json()
    assert call["outcome"] == "live" and call["live"]["state"] == "IA_TURN"


@pytest.mark.parametrize("bad", ["5d0c1a7e-9b1f-4a52-8e1d-3f0c2b7a9e64", "not-a-call", "%3Cscript%3E", "'%20OR%201=1", "0" * 200, "..%2F..%2Fetc"])
def test_unknown_or_malformed_call_ids_are_404(monitor, bad):
    finished_call(monitor)
    response = monitor.client.get(f"/api/calls/{bad}")
    assert response.status_code == 404 and "error" in response.json()


def test_stats_count_calls_by_outcome(monitor):
    finished_call(monitor)
    finished_call(monitor)
    finished_call(monitor, Outcome.TIMED_OUT)
    stats = monitor.client.get("/api/stats").json()
    assert stats["calls"]["completed"] == 2 and stats["calls"]["timed_out"] == 1 and stats["calls"]["error"] == 0
    assert stats["active_here"] == 0 and stats["since"] is None


def test_metrics_count_outcomes_active_calls_and_stage_latencies(monitor):
    finished_call(monitor)
    live = str(uuid.uuid4())
    monitor.emit(CallStarted(live, live), turn(live, 1, "Olá", "Em que posso ajudar?", response_ms=None))
    response = monitor.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'apoena_calls_total{condominium="default",outcome="completed"} 1.0' in text
    assert 'apoena_calls_total{condominium="default",outcome="error"} 0.0' in text
    assert 'apoena_active_calls{condominium="default"} 1.0' in text
    assert 'apoena_turn_stage_seconds_count{stage="stt"} 2.0' in text
    assert 'apoena_turn_stage_seconds_count{stage="response"} 1.0' in text
    assert 'apoena_turn_stage_seconds_bucket{le="1.0",stage="response"} 1.0' in text
    assert 'apoena_turn_stage_seconds_sum{stage="brain"} 0.008' in text


def test_each_app_has_its_own_metrics(tmp_path):
    first, second = Monitor(tmp_path / "a"), Monitor(tmp_path / "b")
    try:
        finished_call(first)
        assert 'apoena_calls_total{condominium="default",outcome="completed"} 1.0' in first.client.get("/metrics").text
        assert 'apoena_calls_total{condominium="default",outcome="completed"} 0.0' in second.client.get("/metrics").text
    finally:
        first.close()
        second.close()


def test_page_and_assets_are_served_with_a_strict_content_security_policy(monitor):
    call_id = finished_call(monitor)
    for path in ("/", f"/calls/{call_id}"):
        response = monitor.client.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert "textContent" in monitor.client.get("/assets/monitor.js").text
    assert monitor.client.get("/assets/passwd").status_code == 404


@pytest.mark.parametrize("path", ["/", "/calls/abc", "/api/live", "/api/calls", "/api/calls/abc", "/api/stats", "/metrics"])
def test_with_a_token_everything_but_assets_needs_it(guarded, path):
    assert guarded.client.get(path).status_code == 401
    assert guarded.client.get(path, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert guarded.client.get(path, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    response = guarded.client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code in (200, 404)
    assert guarded.client.get("/assets/monitor.js").status_code == 200


def test_token_in_the_query_opens_the_page_but_not_the_api(guarded):
    assert guarded.client.get("/?token=wrong").status_code == 401
    assert guarded.client.get(f"/api/live?token={TOKEN}").status_code == 401
    assert guarded.client.get(f"/metrics?token={TOKEN}").status_code == 401
    assert guarded.client.get("/api/live").headers["www-authenticate"].startswith("Bearer")
    assert guarded.client.get(f"/?token={TOKEN}").status_code == 200, "swapped for the session cookie (tests/web/test_token_cookie.py)"
    assert guarded.client.get("/api/live").status_code == 200, "the cookie opens the API"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.0.10", "portaria.local"])
def test_without_a_token_only_localhost_may_be_served(host):
    with pytest.raises(UserError, match=r"set web.token \(APOENA_WEB_TOKEN\) to serve the page on"):
        check_exposure(host, None)
    check_exposure(host, TOKEN)
    for loopback in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_exposure(loopback, None)


def test_web_server_refuses_a_public_address_without_a_token(monitor):
    with pytest.raises(UserError, match="0.0.0.0"):
        WebServer(monitor.client.app, "0.0.0.0", 0)


def named_call(monitor: Monitor, outcome: Outcome = Outcome.COMPLETED, seconds: float = 1.25) -> tuple[str, bytes]:
    """A finished call whose first turn gave the visitor's name: its id and the turn's audio."""
    call_id = str(uuid.uuid4())
    pcm = (np.sin(np.arange(int(seconds * 8000)) * 2 * np.pi * 440 / 8000) * 8000).astype("<i2").tobytes()
    monitor.emit(
        CallStarted(call_id, call_id),
        Turn(call_id, 1, "speech", "Meu nome é Carlos Pereira.", reply("Para quem é?", visitor_name="Carlos Pereira"), 300, 2, 40, 800.0),
        VisitorNameHeard(call_id, 1, "Carlos Pereira", pcm),
        CallEnded(call_id, outcome, "test"),
    )
    return call_id, pcm


def test_the_visitors_name_audio_is_served_as_wav(monitor):
    call_id, pcm = named_call(monitor)
    response = monitor.client.get(f"/api/calls/{call_id}/name.wav")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        assert wav.readframes(wav.getnframes()) == pcm
    assert monitor.client.get(f"/api/calls/{call_id.upper()}/name.wav").status_code == 200
    call = monitor.client.get(f"/api/calls/{call_id}").json()
    assert call["visitor_name_audio"] == {"turn": 1, "seconds": 1.25}
    assert monitor.client.get("/api/calls").json()["calls"][0]["visitor_name_audio"] == {"turn": 1, "seconds": 1.25}


@pytest.mark.parametrize("bad", [None, "5d0c1a7e-9b1f-4a52-8e1d-3f0c2b7a9e64", "not-a-call", "..%2F..%2Fetc"])
def test_no_name_audio_is_404(monitor, bad):
    call_id = finished_call(monitor)
    response = monitor.client.get(f"/api/calls/{bad or call_id}/name.wav")
    assert response.status_code == 404 and "error" in response.json()
    assert monitor.client.get(f"/api/calls/{call_id}").json()["visitor_name_audio"] is None


def test_the_name_audio_needs_the_token_like_the_rest_of_the_api(guarded):
    call_id, _ = named_call(guarded)
    path = f"/api/calls/{call_id}/name.wav"
    assert guarded.client.get(path).status_code == 401
    assert guarded.client.get(f"{path}?token={TOKEN}").status_code == 401
    assert guarded.client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_page_may_play_the_name_audio_it_fetched_and_nothing_else(monitor):
    policy = monitor.client.get("/").headers["content-security-policy"]
    assert "media-src blob:;" in policy and "default-src 'none'" in policy


def test_calls_that_ended_for_want_of_input_are_listed_and_counted(monitor):
    call_id, _ = named_call(monitor, Outcome.NO_INPUT)
    finished_call(monitor)
    assert [c["call_id"] for c in monitor.client.get("/api/calls?outcome=no_input").json()["calls"]] == [call_id]
    assert monitor.client.get("/api/stats").json()["calls"]["no_input"] == 1
    assert 'apoena_calls_total{condominium="default",outcome="no_input"} 1.0' in monitor.client.get("/metrics").text


def test_a_visit_is_live_while_the_resident_is_asked_and_its_decision_is_served_for_the_dialplan(monitor):
    from concierge.brain.reply import Intent
    from concierge.call.gate import GateActed
    from concierge.call.resident import VisitFacts
    from concierge.call.visit import ResidentAnswered, ResidentDialing, ResidentTurnHeard, VisitDecided, VisitStarted

    call_id = str(uuid.uuid4())
    monitor.emit(CallStarted(call_id, call_id), turn(call_id, 1, "Entrega para a Joana", "Qual é o seu nome?"))
    assert monitor.client.get(f"/api/visits/{call_id}").status_code == 404, "no visit before the visit is complete"
    monitor.emit(VisitStarted(call_id, "leg-1", VisitFacts(Intent.ENTREGA, "Carlos", "Joana Prado", "104"), ("PJSIP/ap104",)),
                 ResidentDialing(call_id, "PJSIP/ap104"))  # fmt: skip
    live = monitor.client.get("/api/live").json()["calls"][0]
    assert live["visit"]["status"] == "ringing" and live["visit"]["dialing"] == "PJSIP/ap104"
    assert monitor.client.get("/api/stats").json()["waiting_on_resident"] == 1
    assert monitor.client.get(f"/api/visits/{call_id}?format=text").text == "pending"
    monitor.emit(
        ResidentAnswered(call_id, "leg-1"),
        ResidentTurnHeard(call_id, 1, "voice", "Pode subir", "authorize", "Certo, vou liberar a entrada. Obrigado!", 300.0),
        VisitDecided(call_id, "authorized", "the resident decided by voice", by="voice", decided_by="Joana Prado", leg_id="leg-1",
                     decision_ms=9000.0, visitor_message="A moradora autorizou. Pode entrar."),
        GateActed(call_id, "webhook", False, "http://127.0.0.1:9/gate: Connection refused", 3),
    )  # fmt: skip
    lines = monitor.client.get("/api/live").json()["calls"][0]["lines"]
    assert {"role": "resident", "text": "Pode subir"} in [{k: line[k] for k in ("role", "text")} for line in lines]
    assert monitor.client.get("/api/stats").json()["waiting_on_resident"] == 0
    visit = monitor.client.get(f"/api/visits/{call_id}").json()
    assert (visit["call_id"], visit["decision"], visit["via"], visit["decided_by"]) == (call_id, "authorized", "voice", "Joana Prado")
    assert visit["gate"][0]["ok"] is False and visit["gate"][0]["attempts"] == 3, "a failed webhook is audited, not hidden"
    text = monitor.client.get(f"/api/visits/{call_id.upper()}?format=text")
    assert text.status_code == 200 and text.text == "authorized" and text.headers["content-type"].startswith("text/plain")
    assert monitor.client.get("/api/visits/not-a-call").status_code == 404


@pytest.mark.parametrize("host, status", [
    ("127.0.0.1:8080", 200), ("localhost:8080", 200), ("[::1]:8080", 200), ("localhost", 200),
    ("evil.example", 421), ("evil.example:8080", 421), ("127.0.0.1.evil.example", 421), ("", 421),
])  # fmt: skip
def test_without_a_token_the_page_answers_only_to_a_loopback_name(monitor, host, status):
    response = monitor.client.get("/api/live", headers={"host": host})
    assert response.status_code == status


def test_with_a_token_any_host_name_may_be_used(guarded):
    response = guarded.client.get("/api/live", headers={"host": "portaria.example:8080", "authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
