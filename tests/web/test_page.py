"""The monitoring page in a real headless Chromium: a call placed over AudioSocket shows up live with
its state and conversation id, and its transcript lines appear without reloading the page."""

from __future__ import annotations

import asyncio

from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import Hangup
from concierge.audiosocket.server import AudioSocketServer
from concierge.call.records import CallRecords
from concierge.call.session import CallSession
from concierge.web.app import create_app
from concierge.web.live import LiveCalls
from concierge.web.metrics import CallMetrics
from concierge.web.server import WebServer

from ..call.helpers import ROOT, ScriptedTranscriber, fixture_turns, make_services, pace
from .browser import chromium_page, needs_chromium

ARTIFACTS = ROOT / "test-artifacts"
TOKEN = "browser-test-token-0123456789abcdef"
HOSTILE = '<img src=x onerror="window.__xss=1">[música]'
TEXTS = [f"Boa tarde, tenho uma entrega dos Correios para a Joana Prado. {HOSTILE}", "Meu nome é Carlos Pereira."]

pytestmark = needs_chromium


async def call_until_hung_up(client: AudioSocketClient, pcm: bytes, patience_seconds: float = 10.0) -> None:
    """Play the recording in real time, then keep the line open with silence until we are hung up on."""

    async def drain() -> None:
        while not isinstance(await client.receive(), Hangup):
            pass

    listening = asyncio.create_task(drain())
    await pace(client, pcm)
    for _ in range(round(patience_seconds / 0.02)):
        if listening.done():
            break
        await client.send_audio(bytes(320))
        await asyncio.sleep(0.02)
    await asyncio.wait_for(listening, 5)
    await client.close()


def test_page_shows_a_live_call_and_its_transcript_without_reloading(directory, redis_server, tmp_path):
    pcm, _ = fixture_turns("entrega")
    services = make_services(directory, redis_server.url, ScriptedTranscriber(TEXTS), tmp_path)
    records = CallRecords(tmp_path / "calls.db", "rules")
    live, metrics = LiveCalls(services.config.greeting.message), CallMetrics()

    def observe(event) -> None:
        for observer in (records.observer, live.observer, metrics.observer):
            observer(event)

    async def handle(connection) -> None:
        await CallSession(connection, services, observe).run()

    async def scenario() -> dict:
        audiosocket = AudioSocketServer(handle, "127.0.0.1", 0)
        await audiosocket.start()
        web = WebServer(create_app(records, live, metrics, TOKEN), "127.0.0.1", 0, TOKEN)
        await web.start()
        seen: dict = {}
        try:
            async with chromium_page() as page:
                await page.goto(f"{web.url}?token={TOKEN}")
                await page.wait_for_selector("#live-empty:visible")
                await page.evaluate("window.__sameDocument = true")

                client = await AudioSocketClient.connect("127.0.0.1", audiosocket.port)
                call_id = str(client.call_id)
                calling = asyncio.create_task(call_until_hung_up(client, pcm))
                card = page.locator(f'article[data-call-id="{call_id}"]')
                await card.wait_for(timeout=10_000)
                seen["conversation"] = await card.locator(".conversation").inner_text()
                seen["states"] = {await card.locator("[data-state]").get_attribute("data-state")}
                visitor = card.locator('.line[data-role="visitor"] .text')
                await visitor.first.wait_for(timeout=30_000)
                seen["states"].add(await card.locator("[data-state]").get_attribute("data-state"))
                await card.locator('.line[data-role="concierge"]').nth(1).wait_for(timeout=30_000)
                seen["first_lines"] = await card.locator(".line").evaluate_all(
                    "lines => lines.map(l => [l.dataset.role, l.querySelector('.text').textContent])"
                )
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "monitor.png"), full_page=True)

                await asyncio.wait_for(calling, 60)
                await card.wait_for(state="detached", timeout=10_000)
                row = page.locator(f'#recent tr[data-call-id="{call_id}"]', has_text="concluída")
                await row.wait_for(timeout=10_000)
                seen["row"] = await row.inner_text()
                seen["reason"] = await row.locator(".reason").evaluate("span => [span.textContent, span.dataset.reason]")
                seen["same_document"] = await page.evaluate("window.__sameDocument === true")
                seen["xss"] = await page.evaluate("window.__xss")
                seen["injected_images"] = await page.locator(".transcript img").count()

                await row.locator("a").click()
                await page.wait_for_selector("#detail-turns tbody tr")
                seen["detail_turns"] = await page.locator("#detail-turns tbody tr").count()
                seen["detail_text"] = await page.locator("#detail").inner_text()
                await page.screenshot(path=str(ARTIFACTS / "monitor-call.png"), full_page=True)
        finally:
            await web.close()
            await audiosocket.close(2)
        seen["call_id"] = call_id
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        records.close()
    assert seen["conversation"] == seen["call_id"], "the conversation id is shown (it is the call's UUID)"
    assert seen["states"] & {"IA_TURN", "USER_TURN", "WAITING"}, seen["states"]
    assert seen["first_lines"][:3] == [
        ["concierge", services.config.greeting.message],
        ["visitor", TEXTS[0]],
        ["concierge", seen["first_lines"][2][1]],
    ]
    assert seen["first_lines"][2][1], "the concierge's reply is shown"
    assert seen["same_document"], "the transcript updated in place: the page was never reloaded"
    assert seen["xss"] is None and seen["injected_images"] == 0, "transcripts are shown as text, never as HTML"
    assert "concluída" in seen["row"], "pt-BR by default"
    assert seen["reason"] == ["visita completa: morador a avisar", "visit complete: resident to be notified"], "the reason said in Portuguese"
    assert seen["detail_turns"] == 2 and "Carlos Pereira" in seen["detail_text"] and HOSTILE in seen["detail_text"]


def test_page_shows_a_visit_waiting_on_the_resident_live_then_the_decision(directory, redis_server, tmp_path):
    from concierge.asterisk.simulated import SimulatedAsterisk, SimulatedResident

    from ..call.helpers import visit_server

    pcm, _ = fixture_turns("entrega")
    services = make_services(directory, redis_server.url, ScriptedTranscriber(TEXTS[:1] + TEXTS[1:]), tmp_path,
                             sections={"asterisk": {"ring_seconds": 10}})  # fmt: skip
    records = CallRecords(tmp_path / "calls.db", "rules")
    live, metrics = LiveCalls(services.config.greeting.message), CallMetrics()

    def observe(event) -> None:
        for observer in (records.observer, live.observer, metrics.observer):
            observer(event)

    async def scenario() -> dict:
        seen: dict = {}
        async with SimulatedAsterisk(SimulatedResident(digits="1"), ring_seconds=4.0) as asterisk:
            async with visit_server(services, directory, asterisk.port, [], observer=observe) as audiosocket:
                web = WebServer(create_app(records, live, metrics, TOKEN), "127.0.0.1", 0, TOKEN)
                await web.start()
                try:
                    async with chromium_page() as page:
                        await page.goto(f"{web.url}?token={TOKEN}")
                        await page.wait_for_selector("#live-empty:visible")
                        client = await AudioSocketClient.connect("127.0.0.1", audiosocket.port)
                        call_id = str(client.call_id)
                        calling = asyncio.create_task(call_until_hung_up(client, pcm, patience_seconds=60))
                        card = page.locator(f'article[data-call-id="{call_id}"]')
                        ringing = card.locator('[data-visit-status="ringing"]')
                        await ringing.wait_for(timeout=60_000)
                        seen["ringing"] = await ringing.inner_text()
                        seen["state"] = await card.locator(".state").inner_text()
                        seen["waiting_note"] = await page.locator("#waiting-note").inner_text()
                        await page.screenshot(path=str(ARTIFACTS / "monitor-visit.png"), full_page=True)
                        await asyncio.wait_for(calling, 90)
                        row = page.locator(f'#recent tr[data-call-id="{call_id}"] [data-decision="authorized"]')
                        await row.wait_for(timeout=10_000)
                        await page.goto(f"{web.url}calls/{call_id}?token={TOKEN}")
                        await page.wait_for_selector("#detail-resident tbody tr")
                        seen["visit"] = await page.locator("#detail-visit").inner_text()
                        seen["reasons"] = [
                            await page.locator(f'{facts} [data-fact="reason"]').inner_text() for facts in ("#detail-meta", "#detail-visit")
                        ]
                        seen["resident_turn"] = await page.locator("#detail-resident tbody tr").inner_text()
                finally:
                    await web.close()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        records.close()
    assert "aguardando o morador" in seen["ringing"] and "PJSIP/ap104" in seen["ringing"]
    assert "1 aguardando o morador" in seen["waiting_note"]
    assert seen["state"] == "aguardando o morador", "the card's state says who is being waited for, not 'pensando'"
    assert "autorizada" in seen["visit"] and "Joana Prado" in seen["visit"] and "keypad" in seen["visit"]
    assert "channel_variable" in seen["visit"] or "gate" in seen["visit"]
    assert "keypad" in seen["resident_turn"] and "authorize" in seen["resident_turn"]
    assert seen["reasons"] == ["decisão do morador: autorizada (o morador decidiu pelo teclado)", "o morador decidiu pelo teclado"]
