"""The operators' page in a real headless Chromium (Debian's): Portuguese by default and English on
request (remembered), live cards with node, slots, validity and the resident's decision, a tone and a
browser notification when a visit waits on the resident or a call fails (the tone mutable, the
choice remembered), search by condominium, date, apartment and name with paging, and the visitor's
recorded name playable on the call page until the records' retention purges it."""

from __future__ import annotations

import asyncio
import math
import struct
import time
import uuid
from datetime import datetime

import pytest

from concierge.brain.reply import Dados, Intent, Reply
from concierge.call.events import CallEnded, CallStarted, Outcome, Turn, VisitorNameHeard
from concierge.call.records import CallRecords
from concierge.call.resident import VisitFacts
from concierge.call.visit import ResidentDialing, VisitDecided, VisitStarted
from concierge.config import CallState
from concierge.web.app import create_app
from concierge.web.live import LiveCalls
from concierge.web.metrics import CallMetrics
from concierge.web.server import WebServer

from .browser import chromium_page, needs_chromium

pytestmark = needs_chromium

HOSTILE = '<img src=x onerror="window.__xss=1">'
# Counts the tones the page starts and the notifications it shows, around the browser's real APIs.
WATCH_ALERTS = """
window.__tones = 0;
window.__notes = [];
const RealContext = window.AudioContext;
const createOscillator = RealContext.prototype.createOscillator;
RealContext.prototype.createOscillator = function () {
  window.__context = this;
  const oscillator = createOscillator.call(this);
  const start = oscillator.start.bind(oscillator);
  oscillator.start = (...args) => { window.__tones += 1; return start(...args); };
  return oscillator;
};
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options) { super(title, options); window.__notes.push([title, options.body, options.tag]); }
};
"""


def slots(visitor: str | None, apartment: str | None, resident: str | None, valid: bool = False) -> Reply:
    dados = Dados(intent_type=Intent.VISITA, visitor_name=visitor, apartment_number=apartment, resident_name=resident)
    return Reply(mensagem="Um momento, por favor.", dados=dados, valid_for_action=valid, set_call_status=CallState.USER_TURN)


def tone(seconds: float, rate: int = 8000) -> bytes:
    return b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) for n in range(int(seconds * rate)))


async def until(target, script: str, timeout: float = 10.0) -> None:
    """Wait until `script` (a function of the page or of the element) is true. Not wait_for_function:
    the page's CSP forbids the eval it uses."""
    deadline = time.monotonic() + timeout
    while not await target.evaluate(script):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {script}")
        await asyncio.sleep(0.1)


class Central:
    """Records, live calls and metrics fed by one observer, as `apoena serve` wires them, on node `node-a`."""

    def __init__(self, tmp_path) -> None:
        self.records = CallRecords(tmp_path / "calls.db", "rules", node="node-a")
        self.live = LiveCalls("Olá", node="node-a")
        self.metrics = CallMetrics()

    def emit(self, *events, live: bool = True) -> None:
        for event in events:
            for observer in (self.records.observer, *((self.live.observer, self.metrics.observer) if live else ())):
                observer(event)
        self.records.flush()


def test_alerts_sound_and_notify_when_a_visit_waits_or_a_call_fails_and_the_tone_can_be_muted(tmp_path):
    central = Central(tmp_path)
    waiting, failing = str(uuid.uuid4()), str(uuid.uuid4())

    async def scenario() -> dict:
        seen: dict = {}
        web = WebServer(create_app(central.records, central.live, central.metrics), "127.0.0.1", 0)
        await web.start()
        try:
            async with chromium_page(permissions=["notifications"], origin=web.url.rstrip("/"), init_script=WATCH_ALERTS) as page:
                await page.goto(web.url)
                await page.wait_for_selector("#live-empty:visible")
                seen["notify_button"] = await page.locator("#notify").inner_text()
                central.emit(
                    CallStarted(waiting, waiting, condominium="jardins"),
                    Turn(waiting, 1, "speech", "Sou o Carlos, visita para a Joana do 104.",
                         slots(f"Carlos {HOSTILE}", "104", "Joana Prado", valid=True), 300, 2, 40, 800.0),
                )  # fmt: skip
                card = page.locator(f'article[data-call-id="{waiting}"]')
                await card.locator(".slot-apartment", has_text="104").wait_for(timeout=10_000)
                seen["card"] = {
                    key: await card.locator(selector).inner_text()
                    for key, selector in {"node": ".node", "visitor": ".slot-visitor", "apartment": ".slot-apartment",
                                          "resident": ".slot-resident", "intent": ".slot-intent", "validity": ".validity"}.items()
                }  # fmt: skip
                seen["valid"] = await card.locator("[data-valid]").get_attribute("data-valid")
                seen["alerts_before"] = await page.locator("#alerts li").count()
                seen["tones_before"] = await page.evaluate("window.__tones")

                central.emit(
                    VisitStarted(waiting, "leg-1", VisitFacts(Intent.VISITA, "Carlos", "Joana Prado", "104"), ("PJSIP/ap104",)),
                    ResidentDialing(waiting, "PJSIP/ap104"),
                )
                alert = page.locator(f'#alerts li[data-alert="waiting"][data-call-id="{waiting}"]')
                await alert.wait_for(timeout=10_000)
                seen["waiting_alert"] = await alert.inner_text()
                await until(page, "() => window.__tones >= 2")
                await until(page, "() => window.__context.currentTime > 0.3")
                seen["audio_state"] = await page.evaluate("window.__context.state")
                seen["notes"] = await page.evaluate("window.__notes")
                seen["highlighted"] = await card.get_attribute("class")
                seen["system_lines"] = await card.locator('.line[data-role="system"] .text').all_inner_texts()
                await asyncio.sleep(2.5)  # several polls while still waiting: one alert, not one a second
                seen["waiting_alerts"] = await page.locator('#alerts li[data-alert="waiting"]').count()
                seen["tones_after_waiting"] = await page.evaluate("window.__tones")

                await page.locator("#sound").click()
                seen["muted"] = (await page.locator("#sound").get_attribute("aria-pressed"), await page.locator("#sound").inner_text())
                central.emit(CallStarted(failing, failing, condominium="aurora"))
                await page.locator(f'article[data-call-id="{failing}"]').wait_for(timeout=10_000)
                central.emit(CallEnded(failing, Outcome.ERROR, "the brain failed three times"))
                failed = page.locator(f'#alerts li[data-alert="failed"][data-call-id="{failing}"]')
                await failed.wait_for(timeout=10_000)
                seen["failed_alert"] = await failed.inner_text()
                seen["tones_after_failed"] = await page.evaluate("window.__tones")
                seen["notes_after_failed"] = await page.evaluate("window.__notes")

                central.emit(VisitDecided(waiting, "authorized", "the resident decided by keypad", by="keypad", decided_by="Joana Prado"))
                decided = card.locator('[data-visit-status="decided"] [data-decision="authorized"]')
                await decided.wait_for(timeout=10_000)
                seen["decided"] = await decided.inner_text()
                seen["xss"] = await page.evaluate("window.__xss")

                await page.reload()
                await page.wait_for_selector(f'article[data-call-id="{waiting}"]')
                seen["muted_after_reload"] = await page.locator("#sound").get_attribute("aria-pressed")
        finally:
            await web.close()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        central.records.close()
    assert seen["notify_button"] == "Notificações ativas", "permission granted: the page says so"
    assert seen["card"] == {
        "node": "node-a", "visitor": f"Carlos {HOSTILE}", "apartment": "104", "resident": "Joana Prado", "intent": "visita",
        "validity": "dados conferidos",
    }  # fmt: skip
    assert seen["valid"] == "true" and seen["xss"] is None
    assert seen["alerts_before"] == 0 and seen["tones_before"] == 0, "no alert before the resident is called"
    assert "Visita aguardando a decisão do morador" in seen["waiting_alert"] and "jardins" in seen["waiting_alert"]
    assert "ap 104" in seen["waiting_alert"] and "Joana Prado" in seen["waiting_alert"]
    assert seen["audio_state"] == "running", "the tone really played: the audio clock ran"
    (note,) = seen["notes"]
    assert note[0] == "Visita aguardando a decisão do morador" and "jardins" in note[1] and note[2] == f"waiting/{waiting}"
    assert "needs-decision" in seen["highlighted"]
    assert seen["system_lines"] == ["chamando o morador Joana Prado", "tocando PJSIP/ap104"], "system lines in the page's language"
    assert seen["waiting_alerts"] == 1 and seen["tones_after_waiting"] == 2, "each alert once"
    assert seen["muted"] == ("false", "Som desligado")
    assert "Chamada falhou" in seen["failed_alert"] and "aurora" in seen["failed_alert"] and "erro" in seen["failed_alert"]
    assert "the brain failed three times" in seen["failed_alert"]
    assert seen["tones_after_failed"] == 2, "muted: no tone for the failed call"
    assert seen["notes_after_failed"][-1][0] == "Chamada falhou", "muted silences the tone, not the notification"
    assert seen["decided"] == "autorizada"
    assert seen["muted_after_reload"] == "false", "the mute is remembered"


def test_operators_search_page_through_and_switch_language_and_play_the_visitors_name(tmp_path):
    central = Central(tmp_path)
    now = time.time()
    plain = []
    for minute in range(27):
        call_id = str(uuid.uuid4())
        central.emit(CallStarted(call_id, call_id, at=now - 3600 + minute * 60, condominium="jardins"),
                     CallEnded(call_id, Outcome.CALLER_HUNG_UP, "caller went away", at=now - 3590 + minute * 60), live=False)  # fmt: skip
        plain.append(call_id)
    named = str(uuid.uuid4())
    central.emit(
        CallStarted(named, named, at=now - 600, condominium="aurora"),
        Turn(named, 1, "speech", "Carlos, para o Otávio do 604.", slots("Carlos Pereira", "604", "Otávio Reis", True), 300, 2, 40, 800.0),
        VisitorNameHeard(named, 1, "Carlos Pereira", tone(1.25)),
        VisitDecided(named, "authorized", "the resident decided by voice", by="voice", decided_by="Otávio Reis"),
        CallEnded(named, Outcome.COMPLETED, "visit complete", at=now - 540),
        live=False,
    )
    noon_three_days_ago = datetime.fromtimestamp(now - 3 * 86400).replace(hour=12, minute=0, second=0)
    older = str(uuid.uuid4())
    central.emit(CallStarted(older, older, at=noon_three_days_ago.timestamp(), condominium="jardins"),
                 CallEnded(older, Outcome.TIMED_OUT, "too long", at=noon_three_days_ago.timestamp() + 30), live=False)  # fmt: skip
    rows = "#recent tbody tr"

    async def ids(page) -> list[str]:
        return await page.locator(rows).evaluate_all("rows => rows.map(r => r.dataset.callId)")

    async def status(page, text: str) -> None:
        await page.locator("#page-status", has_text=text).wait_for(timeout=10_000)

    async def scenario() -> dict:
        seen: dict = {}
        web = WebServer(create_app(central.records, central.live, central.metrics), "127.0.0.1", 0)
        await web.start()
        try:
            async with chromium_page() as page:
                await page.goto(web.url)
                await status(page, "1–25 de 29")
                seen["lang"] = await page.evaluate("document.documentElement.lang")
                seen["headings"] = await page.locator("h2").all_inner_texts()
                seen["page1"] = await ids(page)
                await page.locator("#next").click()
                await status(page, "26–29 de 29")
                seen["page2"] = await ids(page)
                seen["next_disabled"] = await page.locator("#next").is_disabled()
                await page.locator("#prev").click()
                await status(page, "1–25 de 29")

                await page.locator("#f-name").fill("otavio")
                await page.locator("#search button[type=submit]").click()
                await status(page, "1–1 de 1")
                seen["by_name"] = await ids(page)
                seen["by_name_url"] = page.url
                seen["by_name_row"] = await page.locator(rows).inner_text()
                await page.locator("#f-clear").click()
                await status(page, "1–25 de 29")
                seen["cleared_url"] = page.url

                await page.locator("#f-apartment").fill("604")
                await page.locator("#f-apartment").press("Enter")
                await status(page, "1–1 de 1")
                seen["by_apartment"] = await ids(page)
                await page.locator("#f-clear").click()
                await status(page, "1–25 de 29")

                await page.locator("#f-condominium option[value=aurora]").wait_for(state="attached")
                seen["condominium_options"] = await page.locator("#f-condominium option").evaluate_all("o => o.map(x => x.value)")
                await page.locator("#f-condominium").select_option("aurora")
                await page.locator("#search button[type=submit]").click()
                await status(page, "1–1 de 1")
                seen["by_condominium"] = await ids(page)
                seen["banner"] = await page.locator("#filter").inner_text()
                await page.locator("#f-clear").click()
                await status(page, "1–25 de 29")

                await page.locator("#f-date").fill(noon_three_days_ago.strftime("%Y-%m-%d"))
                await page.locator("#search button[type=submit]").click()
                await status(page, "1–1 de 1")
                seen["by_date"] = await ids(page)
                seen["by_date_outcome"] = await page.locator(f"{rows} [data-outcome]").inner_text()
                await page.locator("#f-name").fill("ninguém")
                await page.locator("#search button[type=submit]").click()
                await page.locator("#recent-empty:visible").wait_for(timeout=10_000)
                seen["nothing"] = await page.locator("#recent-empty").inner_text()

                await page.locator('.lang-choice[data-lang="en"]').click()
                await page.locator("#recent-empty", has_text="No calls match these filters.").wait_for(timeout=10_000)
                seen["en_headings"] = await page.locator("h2").all_inner_texts()
                await page.goto(web.url)  # no ?lang: English is remembered
                await status(page, "1–25 of 29")
                seen["en_remembered"] = (await page.evaluate("document.documentElement.lang"), await page.locator("#sound").inner_text())
                await page.locator('.lang-choice[data-lang="pt-BR"]').click()
                await status(page, "1–25 de 29")

                await page.goto(f"{web.url}calls/{named}")
                player = page.locator("audio.name-audio")
                await player.wait_for(timeout=10_000)
                await until(player, "audio => audio.readyState >= 1")
                seen["duration"] = await player.evaluate("audio => audio.duration")
                await player.evaluate("audio => audio.play()")
                await until(player, "audio => audio.currentTime > 0.2")
                seen["node_fact"] = await page.locator('#detail-meta [data-fact="node"]').inner_text()
                seen["audio_fact"] = await page.locator('#detail-meta [data-fact="nameAudio"]').inner_text()
                seen["detail_labels"] = await page.locator("#detail-meta dt").all_inner_texts()

                assert central.records.purge(0) == 29
                await page.reload()
                await page.locator("#detail-missing:visible").wait_for(timeout=10_000)
                seen["after_purge"] = await page.locator("#detail-missing").inner_text()
                seen["players_after_purge"] = await page.locator("audio").count()
        finally:
            await web.close()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        central.records.close()
    newest_first = [named, *plain[::-1], older]
    assert seen["lang"] == "pt-BR" and "Chamadas recentes" in seen["headings"] and "Alertas" in seen["headings"]
    assert seen["page1"] == newest_first[:25] and seen["page2"] == newest_first[25:] and seen["next_disabled"]
    assert seen["by_name"] == [named] and "name=otavio" in seen["by_name_url"]
    assert "Otávio Reis" in seen["by_name_row"] and "autorizada" in seen["by_name_row"] and "node-a" in seen["by_name_row"]
    assert "name=" not in seen["cleared_url"]
    assert seen["by_apartment"] == [named]
    assert seen["condominium_options"] == ["", "aurora", "jardins"]
    assert seen["by_condominium"] == [named] and "aurora" in seen["banner"]
    assert seen["by_date"] == [older] and seen["by_date_outcome"] == "tempo esgotado"
    assert seen["nothing"] == "Nenhuma chamada com esses filtros."
    assert "Recent calls" in seen["en_headings"] and "Alerts" in seen["en_headings"]
    assert seen["en_remembered"] == ("en", "Sound on")
    assert seen["duration"] == pytest.approx(1.25, abs=0.01), "the browser decoded the visitor's recorded name"
    assert seen["node_fact"] == "node-a" and "1,25 s" in seen["audio_fact"], "pt-BR numbers: a decimal comma"
    assert "nome do visitante, na voz dele" in seen["detail_labels"]
    assert seen["after_purge"] == f"Nenhuma chamada {named} registrada." and seen["players_after_purge"] == 0
