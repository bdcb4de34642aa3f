"""The reasons the server records (why a call ended, why a visit was decided so) stay in stable English
in the records, the API and the CLI; the operators' page says them in Portuguese unless English was
chosen. Every reason the server code can record (read from its source: tests/web/reasons.py) has a
Portuguese rendering in the page's real script, run in Chromium; an unknown reason is shown as
recorded, never blank."""

from __future__ import annotations

import asyncio
import textwrap
import time
import uuid

import pytest

from concierge.call.events import CallEnded, CallStarted, Outcome
from concierge.call.records import STOPPED_MID_CALL
from concierge.call.visit import VisitDecided
from concierge.web.app import create_app
from concierge.web.server import WebServer

from .browser import chromium_page, needs_chromium
from .reasons import READ, RECORDS, Reader, Untraced, recorded_reasons
from .test_operator_page import Central


def test_the_reader_finds_reasons_wherever_the_server_records_them():
    reasons = recorded_reasons()
    files = {reason.where.split(":")[0] for reason in reasons}
    assert {f"concierge/{relative}" for relative in ("call/session.py", "call/visit.py", "audiosocket/server.py", RECORDS)} <= files, files
    assert files <= {f"concierge/{relative}" for relative in [*READ, RECORDS]}
    assert len(reasons) >= 25, [reason.template for reason in reasons]
    assert all(reason.template.strip() and "{}" != reason.template for reason in reasons)
    templates = {reason.template for reason in reasons}
    assert STOPPED_MID_CALL in templates, "a reason the records write themselves"
    assert any(template.startswith("resident decision: {}") for template in templates), "an f-string's parts are holes"


def test_the_reader_follows_names_tuples_and_attributes_and_fails_on_what_it_cannot_trace():
    source = textwrap.dedent(
        """
        LIMIT = "a limit was reached"

        class Session:
            def __init__(self):
                self.outcome = None
                self.why = None

            def run(self, error):
                reason = "first" if error else f"second: {error}"
                self._finish(Outcome.ERROR, reason)
                self._finish(Outcome.ERROR, self.why or LIMIT)
                self.why = f"{LIMIT} after {error:g} s"
                self.outcome = (Outcome.TIMED_OUT, "a pair")
                outcome, reason = self.outcome or (Outcome.ERROR, "a default")
                emit(CallEnded(self.call_id, outcome, reason))
                emit(CallEnded(self.call_id, outcome, reason="by keyword " + ("plus" if error else "")))

            def _finish(self, outcome, reason):
                self.outcome = (outcome, reason)
        """
    )
    found = {reason.template for reason in Reader().read_source("call/session.py", source)}
    assert found == {
        "first", "second: {}", "a limit was reached", "a limit was reached after {} s", "a pair", "a default", "by keyword plus",
        "by keyword ",
    }  # fmt: skip
    for made in ("describe(error)", "REASONS[kind]", "self.nowhere", "error.args[0]"):
        with pytest.raises(Untraced, match="concierge/call/session.py:3"):
            Reader().read_source("call/session.py", f"class S:\n    def f(self, error):\n        self._finish(Outcome.ERROR, {made})\n"
                                 "    def _finish(self, outcome, reason):\n        pass\n")  # fmt: skip


# -- in the page's own script ---------------------------------------------------------------------


@needs_chromium
def test_every_reason_the_server_can_record_reads_in_portuguese_and_as_recorded_in_english(tmp_path):
    reasons = recorded_reasons()
    samples = [reason.sample() for reason in reasons]
    unknown = ["a reason nobody has translated", "resident decision: maybe (the resident mumbled)", "nobody answered (PJSIP/x rang)"]
    central = Central(tmp_path)

    async def scenario() -> dict:
        web = WebServer(create_app(central.records, central.live, central.metrics), "127.0.0.1", 0)
        await web.start()
        try:
            async with chromium_page() as page:
                said = {}
                for lang in ("pt-BR", "en"):
                    await page.goto(f"{web.url}?lang={lang}")
                    await page.wait_for_selector("#live-empty:visible")
                    said[lang] = await page.evaluate("texts => texts.map(reasonText)", [text for text, _ in samples] + unknown + [""])
                return said
        finally:
            await web.close()

    try:
        said = asyncio.run(scenario())
    finally:
        central.records.close()
    texts = [text for text, _ in samples] + unknown + [""]
    assert said["en"] == texts, "English: as recorded"
    portuguese = dict(zip(texts, said["pt-BR"], strict=True))
    untranslated = [
        f"{reason.where}: {reason.template!r} -> {portuguese[text]!r}"
        for reason, (text, values) in zip(reasons, samples, strict=True)
        if portuguese[text] == text or not all(value in portuguese[text] for value in values)
    ]
    assert not untranslated, "reasons the server can record with no pt-BR rendering (monitor.js REASONS_PT):\n" + "\n".join(untranslated)
    assert portuguese["a reason nobody has translated"] == "a reason nobody has translated", "unknown: as recorded, never blank"
    assert portuguese["resident decision: maybe (the resident mumbled)"] == "decisão do morador: maybe (the resident mumbled)"
    assert portuguese["nobody answered (PJSIP/x rang)"] == "ninguém atendeu (PJSIP/x rang)"
    assert portuguese[""] == ""


@needs_chromium
def test_recorded_reasons_read_in_portuguese_on_the_page_and_in_english_on_request(tmp_path):
    central = Central(tmp_path)
    now = time.time()
    decided_reason = "the resident decided by keypad"
    nobody = "nobody answered (PJSIP/ap104 no_answer, PJSIP/ap104b busy)"
    ended = {
        "visit complete: resident to be notified": ("visita completa: morador a avisar", Outcome.COMPLETED),
        "caller hung up": ("o visitante desligou", Outcome.CALLER_HUNG_UP),
        "caller went away": ("o visitante saiu da linha", Outcome.CALLER_HUNG_UP),
        "no answer to 2 prompts": ("sem resposta após 2 avisos", Outcome.NO_INPUT),
        "max_transaction_time_seconds reached: more than 180 s of the caller's audio received": (
            "tempo máximo da chamada atingido (max_transaction_time_seconds): mais de 180 s de áudio do visitante recebidos",
            Outcome.TIMED_OUT,
        ),
        STOPPED_MID_CALL: ("o servidor parou no meio da chamada", Outcome.ERROR),
        f"resident decision: authorized ({decided_reason})": (
            "decisão do morador: autorizada (o morador decidiu pelo teclado)", Outcome.COMPLETED),
        f"resident decision: no_answer ({nobody})": (
            "decisão do morador: morador não atendeu (ninguém atendeu (PJSIP/ap104 não atendeu, PJSIP/ap104b ocupado))", Outcome.COMPLETED),
        "a reason nobody has translated": ("a reason nobody has translated", Outcome.COMPLETED),
    }  # fmt: skip
    ids = {}
    for minute, (reason, (_, outcome)) in enumerate(ended.items()):
        call_id = ids[reason] = str(uuid.uuid4())
        events = [CallStarted(call_id, call_id, at=now - 3600 + minute * 60, condominium="jardins")]
        if reason.startswith("resident decision:"):
            decision, why = reason.removeprefix("resident decision: ").split(" ", 1)
            events.append(VisitDecided(call_id, decision, why[1:-1], by="keypad" if decision == "authorized" else None, decided_by="Joana Prado"))
        central.emit(*events, CallEnded(call_id, outcome, reason, at=now - 3590 + minute * 60), live=False)
    decided = ids[f"resident decision: authorized ({decided_reason})"]
    live = str(uuid.uuid4())

    async def scenario() -> dict:
        seen: dict = {}
        web = WebServer(create_app(central.records, central.live, central.metrics), "127.0.0.1", 0)
        await web.start()
        try:
            async with chromium_page() as page:
                reasons = "#recent tbody tr .reason"
                await page.goto(web.url)
                await page.locator(reasons).nth(len(ended) - 1).wait_for(timeout=10_000)
                seen["pt"] = await page.locator(reasons).evaluate_all("spans => spans.map(s => [s.dataset.reason, s.textContent])")

                central.emit(CallStarted(live, live, condominium="jardins"), VisitDecided(live, "denied", "the resident decided by voice", by="voice"))
                line = page.locator(f'article[data-call-id="{live}"] .line[data-role="system"] .text')
                await line.first.wait_for(timeout=10_000)
                seen["live_line"] = await line.last.inner_text()

                await page.goto(f"{web.url}calls/{decided}")
                await page.locator('#detail-visit [data-fact="reason"]').wait_for(timeout=10_000)
                seen["detail"] = (
                    await page.locator('#detail-meta [data-fact="reason"]').inner_text(),
                    await page.locator('#detail-visit [data-fact="reason"]').inner_text(),
                )

                await page.goto(f"{web.url}?lang=en")
                await page.locator(reasons).nth(len(ended) - 1).wait_for(timeout=10_000)
                seen["en"] = await page.locator(reasons).all_inner_texts()
                await page.goto(f"{web.url}calls/{decided}")
                await page.locator('#detail-visit [data-fact="reason"]').wait_for(timeout=10_000)
                seen["en_detail"] = await page.locator('#detail-visit [data-fact="reason"]').inner_text()
        finally:
            await web.close()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        central.records.close()
    assert dict(seen["pt"]) == {reason: portuguese for reason, (portuguese, _) in ended.items()}
    assert seen["live_line"] == "decisão: recusada (o morador decidiu por voz)", "the live transcript's decision line too"
    assert seen["detail"] == ("decisão do morador: autorizada (o morador decidiu pelo teclado)", "o morador decidiu pelo teclado")
    assert sorted(seen["en"]) == sorted(ended), "English: the reasons as recorded"
    assert seen["en_detail"] == decided_reason
