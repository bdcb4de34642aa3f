"""The monitoring web app (Starlette): the page, its JSON API under /api/ and /metrics for Prometheus.

Live calls come from memory (`LiveCalls`, fed by the call observer); history from the call
records, read in a worker thread so SQLite never blocks the event loop. With a token, everything
but the page's static code needs it: `Authorization: Bearer TOKEN`, or the page's session cookie.
`?token=TOKEN` on the page's own URL is exchanged once for that cookie (HttpOnly, SameSite=Strict)
and the browser is sent on to the same URL without it, so the token stays out of the history,
the links and the page's script.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import io
import math
import re
import time
import wave
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from concierge.call.events import Outcome
from concierge.call.records import INTERRUPTED, STATUSES, CallRecord, CallRecords, CallSearch, RecordsError
from concierge.call.visit import DECISIONS
from concierge.web.live import LiveCalls
from concierge.web.metrics import CONTENT_TYPE, CallMetrics

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"monitor.js": "text/javascript; charset=utf-8", "monitor.css": "text/css; charset=utf-8", "swap.js": "text/javascript; charset=utf-8"}
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000
MAX_SEARCH_TEXT = 80
CALL_ID = re.compile(r"^[0-9a-fA-F-]{1,64}$")
CONDOMINIUM_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
FAILED = (Outcome.ERROR.value, INTERRUPTED)  # the outcomes the page alerts on
FAILED_LOOKBACK_SECONDS = 3600.0  # calls ended since a time are looked for among those started up to this long before: longer than calls last
FAILED_LAG_SECONDS = 60.0  # /api/failed's `next` stays this far behind now (never before the `since` asked with)
PAGE_PATHS = re.compile(r"^/(calls/[^/]+)?$")
SESSION_COOKIE = "apoena_session"
SWAP_PAGE = (
    '<!doctype html><meta charset="utf-8"><title>Apoena</title><script src="/assets/swap.js" defer></script>'
    '<a id="next" href="{target}">Apoena — call monitor</a>'
)
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
    " img-src 'self' data:; media-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def create_app(records: CallRecords, live: LiveCalls, metrics: CallMetrics, token: str | None = None) -> ASGIApp:
    """The ASGI app; `live` and `metrics` must be the observers the call sessions feed."""

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "monitor.html", media_type="text/html; charset=utf-8")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return _error(404, "no such file")
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    async def api_live(request: Request) -> Response:
        try:
            condominium = _condominium(request.query_params)
        except ValueError as error:
            return _error(400, str(error))
        calls = live.snapshot()
        return JSONResponse({"calls": [call for call in calls if condominium in (None, call.get("condominium", "default"))]})

    async def api_calls(request: Request) -> Response:
        try:
            search = _call_search(request.query_params)
        except ValueError as error:
            return _error(400, str(error))
        found = await asyncio.to_thread(records.search, search)
        return JSONResponse(
            {"calls": [call.as_json(with_turns=False) for call in found.calls], "total": found.total, "offset": found.offset, "limit": found.limit}
        )

    async def api_condominiums(request: Request) -> Response:
        """The condominiums the page may filter by: those with calls recorded or live."""
        recorded = await asyncio.to_thread(records.condominiums)
        return JSONResponse({"condominiums": sorted({*recorded, *(call.get("condominium", "default") for call in live.snapshot())})})

    async def api_call(request: Request) -> Response:
        call_id = request.path_params["call_id"]
        call = await asyncio.to_thread(records.get, call_id.lower()) if CALL_ID.match(call_id) else None
        if call is None:
            return _error(404, f"no call {call_id}")
        data = call.as_json()
        data["live"] = live.get(call.call_id)
        return JSONResponse(data)

    async def api_name_audio(request: Request) -> Response:
        call_id = request.path_params["call_id"]
        audio = await asyncio.to_thread(records.name_audio, call_id.lower()) if CALL_ID.match(call_id) else None
        if audio is None:
            return _error(404, f"no recording of the visitor's name in call {call_id}")
        wav = await asyncio.to_thread(_wav, audio.pcm, audio.sample_rate)
        disposition = f'inline; filename="{call_id.lower()}-name.wav"'
        return Response(wav, media_type="audio/wav", headers={"content-disposition": disposition})

    async def api_visit(request: Request) -> Response:
        """A call's visit: the decision and how it was reached. `?format=text` answers one word (for a
        dialplan's CURL()): the decision, `pending` while the resident is being asked, or 404."""
        call_id = request.path_params["call_id"].lower()
        visit = await asyncio.to_thread(records.visit, call_id) if CALL_ID.match(call_id) else None
        if visit is None:
            return _error(404, f"no visit in call {call_id}")
        if request.query_params.get("format") == "text":
            return PlainTextResponse(visit["decision"] or "pending")
        return JSONResponse({"call_id": call_id, **visit})

    async def api_stats(request: Request) -> Response:
        try:
            since = _since(request.query_params.get("since"), "since")
            condominium = _condominium(request.query_params)
        except ValueError as error:
            return _error(400, str(error))
        counts = await asyncio.to_thread(records.stats, since, condominium)
        return JSONResponse({
            "since": None if since is None else _iso(since), "condominium": condominium, "calls": counts,
            "active_here": live.count_here(condominium), "waiting_on_resident": live.waiting_on_resident(condominium),
        })  # fmt: skip

    async def api_failed(request: Request) -> Response:
        """The calls that failed since `since` (for the page's alerts), and `next`: the `since` to ask
        with next time. Without `since` it answers no calls and `next` = now: the page asks so once,
        when it opens, and is told of nothing that failed before.

        An error call counts from its end. `next` lags now by FAILED_LAG_SECONDS (never going back
        before `since`), so a record that arrives late (the writer's lag, a PostgreSQL spool delivered
        after an outage, another node's clock) is still found: a call may be listed more than once —
        alert once per call id. An interrupted call (its node stopped without ending it) has no end
        recorded: it is listed while it is interrupted, if it started at most FAILED_LOOKBACK_SECONDS
        before `since`; the page alerts on those that started after it opened."""
        try:
            since = _since(request.query_params.get("since"), "since")
            condominium = _condominium(request.query_params)
        except ValueError as error:
            return _error(400, str(error))
        now = time.time()
        if since is None:
            return JSONResponse({"since": None, "next": _iso(now), "calls": []})
        found = await asyncio.to_thread(_failed_since, records, since, condominium)
        return JSONResponse({
            "since": _iso(since), "next": _iso(max(since, now - FAILED_LAG_SECONDS)),
            "calls": [call.as_json(with_turns=False) for call in found],
        })  # fmt: skip

    async def prometheus(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/calls/{call_id}", page),
            Route("/assets/{name}", asset),
            Route("/api/live", api_live),
            Route("/api/calls", api_calls),
            Route("/api/calls/{call_id}", api_call),
            Route("/api/calls/{call_id}/name.wav", api_name_audio),
            Route("/api/visits/{call_id}", api_visit),
            Route("/api/stats", api_stats),
            Route("/api/failed", api_failed),
            Route("/api/condominiums", api_condominiums),
            Route("/metrics", prometheus),
        ],
        exception_handlers={404: _not_found, 405: _not_allowed, RecordsError: _records_unavailable},
    )
    return _SecurityHeaders(_TokenGate(app, token) if token else _LoopbackHost(app))


class _LoopbackHost:
    """Without a token the page is served on loopback only, so a request must also *name* a
    loopback host: a web page elsewhere that points its own name at 127.0.0.1 (DNS rebinding)
    sends its own Host header and gets 421 instead of the transcripts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _names_loopback(dict(scope["headers"]).get(b"host", b"").decode("latin-1")):
            await _error(421, "this page answers only to localhost, 127.0.0.1 or [::1] (set web.token to serve it under another name)")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _names_loopback(host: str) -> bool:
    from concierge.web.server import is_loopback

    name = host.strip()
    name = name[1 : name.index("]")] if name.startswith("[") and "]" in name else name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    return bool(name) and is_loopback(name.lower())


class _TokenGate:
    """Answers 401 unless the request carries the token as `Authorization: Bearer TOKEN` or the
    session cookie; `?token=TOKEN` on a page URL is swapped for the cookie. The static /assets/ are
    code, not data: open."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()
        # The cookie holds a value derived from the token, not the token: it opens this page only,
        # and changing web.token logs every browser out.
        self.session = hmac.new(self.token, b"apoena monitoring page session", hashlib.sha256).hexdigest().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/assets/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if "token" in request.query_params and PAGE_PATHS.match(scope["path"]):
            response = self._exchange(request)
        elif self._allowed(request):
            await self.app(scope, receive, send)
            return
        else:
            response = _error(401, "a token is needed: Authorization: Bearer TOKEN (or open the page once with ?token=TOKEN)")
            response.headers["www-authenticate"] = 'Bearer realm="apoena"'
        await response(scope, receive, send)

    def _exchange(self, request: Request) -> Response:
        """The page's URL with the right token: the session cookie, and on to the URL without it.

        On by the page itself (swap.js: location.replace, so Back never returns to the token's URL),
        not by a 303: a browser sends no SameSite=Strict cookie along a redirect chain another site
        started (a link in a chat or an e-mail), but does on a navigation this page starts."""
        if not hmac.compare_digest(request.query_params["token"].strip().encode(), self.token):
            return _error(401, "wrong token: open the page with ?token= set to web.token (APOENA_WEB_TOKEN)")
        rest = [(key, value) for key, value in request.query_params.multi_items() if key != "token"]
        target = html.escape(request.url.path + (f"?{QueryParams(rest)}" if rest else ""))
        response = HTMLResponse(SWAP_PAGE.format(target=target))
        response.set_cookie(
            SESSION_COOKIE, self.session.decode(), path="/", httponly=True, samesite="strict",
            secure=request.url.scheme == "https",  # behind a TLS proxy that says so (X-Forwarded-Proto)
        )  # fmt: skip
        return response

    def _allowed(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return hmac.compare_digest(given.strip().encode(), self.token)
        cookie = request.cookies.get(SESSION_COOKIE)
        return cookie is not None and hmac.compare_digest(cookie.encode(), self.session)


class _SecurityHeaders:
    """No framing, no inline script, no referrer (the page's URL may hold the token), no caching."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def _failed_since(records: CallRecords, since: float, condominium: str | None) -> list[CallRecord]:
    """Error calls ended at or after `since`, and interrupted calls started at most
    FAILED_LOOKBACK_SECONDS before it; by when they ended (or started), oldest first."""
    started = since - FAILED_LOOKBACK_SECONDS  # bounds the scan to the index on started_at
    found = []
    for outcome in FAILED:
        ended_since = None if outcome == INTERRUPTED else since  # an interrupted call never ended
        search = CallSearch(limit=MAX_LIMIT, since=started, ended_since=ended_since, outcome=outcome, condominium=condominium)
        found.extend(records.search(search).calls)
    return sorted(found, key=lambda call: call.ended_at or call.started_at)


def _call_search(query: QueryParams) -> CallSearch:
    """The search /api/calls' query asks for; ValueError with a message for a bad filter."""
    limit, offset = query.get("limit", "20"), query.get("offset", "0")
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise ValueError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    if not offset.isdigit() or int(offset) > MAX_OFFSET:
        raise ValueError(f"offset must be a whole number from 0 to {MAX_OFFSET}")
    outcome = query.get("outcome") or None
    if outcome is not None and outcome not in STATUSES:
        raise ValueError(f"outcome must be one of: {', '.join(STATUSES)}")
    decision = query.get("decision") or None
    if decision is not None and decision not in DECISIONS:
        raise ValueError(f"decision must be one of: {', '.join(DECISIONS)}")
    apartment, name = (query.get(key, "").strip() or None for key in ("apartment", "name"))
    for key, text in (("apartment", apartment), ("name", name)):
        if text is not None and len(text) > MAX_SEARCH_TEXT:
            raise ValueError(f"{key} must be at most {MAX_SEARCH_TEXT} characters")
    since, until = _since(query.get("since"), "since"), _since(query.get("until"), "until")
    return CallSearch(
        limit=int(limit), offset=int(offset), since=since, until=until, outcome=outcome, condominium=_condominium(query),
        apartment=apartment, name=name, decision=decision,
    )  # fmt: skip


def _condominium(query: QueryParams) -> str | None:
    condominium = query.get("condominium") or None
    if condominium is not None and not CONDOMINIUM_ID.fullmatch(condominium):
        raise ValueError("condominium must be a condominium's id, like 'jardins' (lowercase letters, digits, - and _)")
    return condominium


def _since(text: str | None, key: str) -> float | None:
    """Unix seconds, or an ISO 8601 date/time (UTC unless it says otherwise)."""
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"{key} must be a finite number of Unix seconds")
        return seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{key} must be Unix seconds or an ISO 8601 date/time, e.g. 2026-11-01T08:00:00-03:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


async def _not_found(request: Request, error: Exception) -> Response:
    return _error(404, f"nothing at {request.url.path}")


async def _not_allowed(request: Request, error: Exception) -> Response:
    return _error(405, "only GET is served here")


async def _records_unavailable(request: Request, error: Exception) -> Response:
    """The records' database does not answer (PostgreSQL away): 503 with its one line; live calls,
    which never read it, go on being served."""
    return _error(503, str(error))


def _wav(pcm: bytes, rate: int) -> bytes:
    """16-bit mono WAV bytes of `pcm` (s16le at `rate` Hz)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")
