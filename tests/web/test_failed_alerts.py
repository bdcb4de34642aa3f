"""A call that fails after the operators' page opened raises its alert even if the page never saw it
live: it failed between two polls, or on another node whose live calls this page is not shown, or its
node died mid-call. Each failure is alerted once; nothing that failed before the page opened is.
The page learns of them from /api/failed (a cursor it keeps); a real headless Chromium, and over
AudioSocket a real call cut by the server's shutdown while the page's poll is held."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from starlette.testclient import TestClient

from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.server import AudioSocketServer
from concierge.call.events import CallEnded, CallStarted, Outcome, Turn
from concierge.call.records import STOPPED_MID_CALL, CallRecords
from concierge.call.session import CallSession
from concierge.web import app as web_app
from concierge.web.app import create_app
from concierge.web.live import LiveCalls
from concierge.web.metrics import CallMetrics
from concierge.web.server import WebServer

from ..call.helpers import ScriptedTranscriber, make_services
from .browser import chromium_page, needs_chromium
from .test_operator_page import WATCH_ALERTS, Central, slots

ROOT = Path(__file__).resolve().parent.parent.parent
FAILED_ALERTS = '#alerts li[data-alert="failed"]'


def failed_at_once(call_id: str, reason: str, outcome: Outcome = Outcome.ERROR, condominium: str = "aurora", at: float | None = None) -> list:
    """A call that starts and ends in the same instant: no poll of the live list can see it."""
    at = time.time() if at is None else at
    return [
        CallStarted(call_id, call_id, at=at - 0.5, condominium=condominium),
        Turn(call_id, 1, "speech", "Visita para o 604.", slots("Carlos", "604", "Otávio Reis"), 300, 2, 40, 800.0),
        CallEnded(call_id, outcome, reason, at=at),
    ]


def die_mid_call(path: Path, call_id: str, condominium: str = "aurora") -> None:
    """Another process of the central (a node on this host) starts a call and is killed mid-call."""
    script = (
        "import os, signal\n"
        "from concierge.call.records import CallRecords\n"
        "from concierge.call.events import CallStarted\n"
        f"records = CallRecords({str(path)!r}, 'rules', node='node-b')\n"
        f"records.observer(CallStarted({call_id!r}, {call_id!r}, condominium={condominium!r}))\n"
        "records.flush()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()


async def first_poll_done(page) -> None:
    """The page has been through one whole poll (so it holds its cursor): it says when it updated."""
    await page.locator("#connection", has_text="atualizado").wait_for(timeout=10_000)


async def failed_alerts(page) -> dict[str, str]:
    return dict(await page.locator(FAILED_ALERTS).evaluate_all("items => items.map(i => [i.dataset.callId, i.textContent])"))


@needs_chromium
def test_calls_that_fail_unseen_between_two_polls_or_on_another_node_are_alerted_once_and_earlier_ones_never(tmp_path):
    central = Central(tmp_path)
    before, dead_before = str(uuid.uuid4()), str(uuid.uuid4())
    central.emit(*failed_at_once(before, "server shutting down", at=time.time() - 5))
    die_mid_call(central.records.path, dead_before)
    between, elsewhere, seen_live, completed, dead = (str(uuid.uuid4()) for _ in range(5))

    async def scenario() -> dict:
        seen: dict = {}
        web = WebServer(create_app(central.records, central.live, central.metrics), "127.0.0.1", 0)
        await web.start()
        try:
            async with chromium_page(permissions=["notifications"], origin=web.url.rstrip("/"), init_script=WATCH_ALERTS) as page:
                await page.goto(web.url)
                await first_poll_done(page)
                await asyncio.sleep(1.5)  # polls go by: what failed before the page opened stays quiet
                seen["before"] = await failed_alerts(page)

                central.emit(*failed_at_once(between, STOPPED_MID_CALL))  # between two polls of this node's live calls
                alert = page.locator(f'{FAILED_ALERTS}[data-call-id="{between}"]')
                await alert.wait_for(timeout=10_000)
                seen["between"] = await alert.inner_text()
                seen["link"] = await alert.locator("a").get_attribute("href")

                central.emit(*failed_at_once(elsewhere, "server shutting down", condominium="jardins"), live=False)  # recorded by another node
                await page.locator(f'{FAILED_ALERTS}[data-call-id="{elsewhere}"]').wait_for(timeout=10_000)

                central.emit(CallStarted(seen_live, seen_live, condominium="aurora"))
                await page.locator(f'article[data-call-id="{seen_live}"]').wait_for(timeout=10_000)
                central.emit(CallEnded(seen_live, Outcome.ERROR, "server shutting down"))
                await page.locator(f'{FAILED_ALERTS}[data-call-id="{seen_live}"]').wait_for(timeout=10_000)

                await asyncio.to_thread(die_mid_call, central.records.path, dead)  # its node died: interrupted, never ended
                await page.locator(f'{FAILED_ALERTS}[data-call-id="{dead}"]').wait_for(timeout=10_000)

                central.emit(*failed_at_once(completed, "caller hung up", Outcome.CALLER_HUNG_UP))
                await page.locator(f'#recent tr[data-call-id="{completed}"]').wait_for(timeout=10_000)
                await asyncio.sleep(3.5)  # more polls, each listing the same failures again (the cursor lags)
                seen["alerts"] = await failed_alerts(page)
                seen["items"] = await page.locator(FAILED_ALERTS).count()
                seen["tones"] = await page.evaluate("window.__tones")
                seen["notes"] = await page.evaluate("window.__notes")
        finally:
            await web.close()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        central.records.close()
    assert seen["before"] == {}, "no alert for calls that failed before the page opened"
    assert "Chamada falhou" in seen["between"] and "aurora" in seen["between"] and "erro" in seen["between"]
    assert "o servidor parou no meio da chamada" in seen["between"] and "ap 604" in seen["between"], "details, the reason in Portuguese"
    assert seen["link"] == f"/calls/{between}"
    assert set(seen["alerts"]) == {between, elsewhere, seen_live, dead}, "the completed call raised none"
    assert seen["items"] == 4, "each failure alerted once"
    assert "interrompida" in seen["alerts"][dead]
    assert "o servidor estava sendo desligado" in seen["alerts"][elsewhere] and "jardins" in seen["alerts"][elsewhere]
    assert seen["tones"] == 4 * 2, "one two-note tone per alert"
    assert [note[2] for note in seen["notes"]] == [f"failed/{call}" for call in (between, elsewhere, seen_live, dead)]


@needs_chromium
def test_a_real_call_that_fails_while_the_page_waits_for_its_poll_raises_the_alert(directory, redis_server, tmp_path):
    services = make_services(directory, redis_server.url, ScriptedTranscriber([]), tmp_path)
    records = CallRecords(tmp_path / "calls.db", "rules")
    live, metrics = LiveCalls(services.config.greeting.message), CallMetrics()

    def observe(event) -> None:
        for observer in (records.observer, live.observer, metrics.observer):
            observer(event)

    async def handle(connection) -> None:
        await CallSession(connection, services, observe).run()

    async def scenario() -> dict:
        seen: dict = {}
        audiosocket = AudioSocketServer(handle, "127.0.0.1", 0)
        await audiosocket.start()
        web = WebServer(create_app(records, live, metrics), "127.0.0.1", 0)
        await web.start()
        try:
            async with chromium_page(init_script=WATCH_ALERTS) as page:
                await page.goto(web.url)
                await first_poll_done(page)
                held, release = asyncio.Event(), asyncio.Event()

                async def hold(route) -> None:  # the page's next look at the live calls waits for the call to be over
                    held.set()
                    await release.wait()
                    await route.fallback()

                await page.route("**/api/live*", hold)
                await asyncio.wait_for(held.wait(), 10)
                client = await AudioSocketClient.connect("127.0.0.1", audiosocket.port)
                call_id = str(client.call_id)
                deadline = time.monotonic() + 10
                while live.get(call_id) is None:  # the call is under way...
                    assert time.monotonic() < deadline, "the call never started"
                    await asyncio.sleep(0.02)
                await audiosocket.close(0)  # ...and the server stops under it
                records.flush()
                seen["record"] = records.get(call_id)
                release.set()
                alert = page.locator(f'{FAILED_ALERTS}[data-call-id="{call_id}"]')
                await alert.wait_for(timeout=10_000)
                seen["alert"] = await alert.inner_text()
                seen["live_cards"] = await page.locator("article.call").count()
                await client.close()
        finally:
            await web.close()
            await audiosocket.close(0)
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        records.close()
    assert (seen["record"].outcome, seen["record"].reason) == ("error", "server shutting down")
    assert seen["live_cards"] == 0, "the page never showed the call live"
    assert "Chamada falhou" in seen["alert"] and "o servidor estava sendo desligado" in seen["alert"]


# -- the API the page asks ----------------------------------------------------------------------


def test_api_failed_lists_calls_failed_since_a_cursor_it_hands_out(tmp_path):
    central = Central(tmp_path)
    client = TestClient(create_app(central.records, central.live, central.metrics), base_url="http://127.0.0.1:8080")
    try:
        old = str(uuid.uuid4())
        central.emit(*failed_at_once(old, "server shutting down", at=time.time() - 30))
        first = client.get("/api/failed").json()
        assert first["calls"] == [] and first["since"] is None, "the first look only takes the cursor"
        assert abs(_seconds(first["next"]) - time.time()) < 5

        error, hung_up, jardins, long_call = (str(uuid.uuid4()) for _ in range(4))
        central.emit(*failed_at_once(error, STOPPED_MID_CALL), *failed_at_once(hung_up, "caller hung up", Outcome.CALLER_HUNG_UP))
        central.emit(*failed_at_once(jardins, "server shutting down", condominium="jardins"))
        central.emit(CallStarted(long_call, long_call, at=time.time() - 1200), CallEnded(long_call, Outcome.ERROR, "server shutting down"))
        second = client.get("/api/failed", params={"since": first["next"]}).json()
        assert [call["call_id"] for call in second["calls"]] == [error, jardins, long_call], "errors ended since, oldest first"
        assert second["calls"][0]["reason"] == STOPPED_MID_CALL and second["calls"][0]["outcome"] == "error", "as recorded, in English"
        assert second["next"] == first["next"], "the cursor lags behind now, never before the one asked with"
        only = client.get("/api/failed", params={"since": first["next"], "condominium": "jardins"}).json()
        assert [call["call_id"] for call in only["calls"]] == [jardins]

        lag = web_app.FAILED_LAG_SECONDS
        later = client.get("/api/failed", params={"since": time.time() - 2 * lag}).json()
        assert abs(_seconds(later["next"]) - (time.time() - lag)) < 5
        assert old in [call["call_id"] for call in later["calls"]]

        dead = str(uuid.uuid4())
        die_mid_call(central.records.path, dead, condominium="jardins")
        interrupted = client.get("/api/failed", params={"since": time.time()}).json()
        assert [(call["call_id"], call["outcome"]) for call in interrupted["calls"]] == [(dead, "interrupted")], "while it is interrupted"

        assert client.get("/api/failed", params={"since": "yesterday"}).status_code == 400
        assert client.get("/api/failed", params={"condominium": "Not An Id"}).status_code == 400
    finally:
        client.close()
        central.records.close()


def test_api_failed_finds_a_long_call_ended_since_behind_a_page_of_calls_that_ended_before(tmp_path):
    """The filter on when calls ended is in the query: 500 errors that started later but ended
    before `since` (a page's worth, MAX_LIMIT) do not push out the one that ended after it."""
    central = Central(tmp_path)
    client = TestClient(create_app(central.records, central.live, central.metrics), base_url="http://127.0.0.1:8080")
    try:
        now = time.time()
        long_call = str(uuid.uuid4())
        central.emit(CallStarted(long_call, long_call, at=now - 3000, condominium="aurora"))
        for _ in range(web_app.MAX_LIMIT):
            central.emit(*failed_at_once(str(uuid.uuid4()), "server shutting down", at=now - 100))
        central.emit(CallEnded(long_call, Outcome.ERROR, "server shutting down", at=now - 10))
        central.records.flush()
        found = client.get("/api/failed", params={"since": now - 50}).json()
        assert [call["call_id"] for call in found["calls"]] == [long_call]
    finally:
        client.close()
        central.records.close()


def test_api_failed_needs_the_token(tmp_path):
    records = CallRecords(tmp_path / "calls.db", "rules")
    client = TestClient(create_app(records, LiveCalls(), CallMetrics(), "t0ken-for-the-failed-calls-0123456789"), base_url="http://127.0.0.1:8080")
    try:
        assert client.get("/api/failed").status_code == 401
        assert client.get("/api/failed", headers={"authorization": "Bearer t0ken-for-the-failed-calls-0123456789"}).status_code == 200
    finally:
        client.close()
        records.close()


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
