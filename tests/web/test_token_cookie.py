"""The page's token is exchanged once for an HttpOnly, SameSite=Strict cookie: over plain HTTP against
a real server, and in a real headless Chromium (the address bar, the links and the script never hold
the token; a link from another site still gets in). A token on a non-loopback address is warned
about once, at start."""

from __future__ import annotations

import asyncio
import http.client
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from concierge.call.records import CallRecords
from concierge.web.app import SESSION_COOKIE, create_app
from concierge.web.live import LiveCalls
from concierge.web.metrics import CallMetrics
from concierge.web.server import WebServer

from .browser import chromium_page, needs_chromium

TOKEN = "cookie-test-token-0123456789abcdef"


@asynccontextmanager
async def page_server(tmp_path: Path, host: str = "127.0.0.1", token: str | None = TOKEN) -> AsyncIterator[WebServer]:
    records = CallRecords(tmp_path / "calls.db", "rules")
    web = WebServer(create_app(records, LiveCalls("Olá"), CallMetrics(), token), host, 0, token)
    await web.start()
    try:
        yield web
    finally:
        await web.close()
        records.close()


def request(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """One plain HTTP GET, redirects not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.body = response.read().decode()
    connection.close()
    return response


def over_http(tmp_path: Path, check) -> None:
    async def scenario() -> None:
        async with page_server(tmp_path) as web:
            await asyncio.to_thread(check, web.port)

    asyncio.run(scenario())


def test_the_token_in_the_url_is_swapped_for_an_httponly_strict_cookie_and_dropped_from_the_url(tmp_path):
    def check(port: int) -> None:
        swapped = request(port, f"/calls/abc?token={TOKEN}&tab=visit")
        assert swapped.status == 200 and TOKEN not in swapped.body
        assert '<a id="next" href="/calls/abc?tab=visit">' in swapped.body, "on to the same URL, without the token"
        cookie = swapped.getheader("set-cookie")
        name, _, rest = cookie.partition("=")
        value = rest.split(";")[0]
        flags = {flag.strip().lower() for flag in rest.split(";")[1:]}
        assert name == SESSION_COOKIE and value and TOKEN not in cookie, "the cookie is not the token itself"
        assert {"httponly", "samesite=strict", "path=/"} <= flags and "secure" not in flags, cookie
        with_cookie = {"Cookie": f"{SESSION_COOKIE}={value}"}
        assert request(port, "/calls/abc", with_cookie).status == 200
        assert request(port, "/api/live", with_cookie).status == 200
        assert request(port, "/api/calls/abc", with_cookie).status == 404, "past the gate: the call is simply unknown"
        assert request(port, "/metrics", with_cookie).status == 200
        assert '<a id="next" href="/">' in request(port, f"/?token={TOKEN}").body
        assert 'href="/calls/x?a=%3C%22%3E"' in request(port, f'/calls/x?token={TOKEN}&a=<">').body, "the target is escaped"

    over_http(tmp_path, check)


def test_without_the_cookie_or_the_bearer_token_nothing_but_assets_is_served(tmp_path):
    def check(port: int) -> None:
        assert request(port, "/api/live").status == 401
        assert request(port, "/").status == 401
        assert request(port, "/api/live", {"Cookie": f"{SESSION_COOKIE}=forged"}).status == 401
        assert request(port, "/api/live", {"Cookie": f"{SESSION_COOKIE}={TOKEN}"}).status == 401, "the token is not the cookie"
        assert request(port, "/api/live", {"Authorization": f"Bearer {TOKEN}"}).status == 200
        assert request(port, "/api/live", {"Authorization": "Bearer wrong"}).status == 401
        assert request(port, f"/api/live?token={TOKEN}").status == 401, "the API never takes the token in its URL"
        wrong = request(port, "/?token=wrong")
        assert wrong.status == 401 and wrong.getheader("set-cookie") is None
        assert request(port, "/assets/monitor.js").status == 200

    over_http(tmp_path, check)


def test_a_tls_proxy_gets_a_secure_cookie(tmp_path):
    """Behind a reverse proxy on this machine that terminates HTTPS (uvicorn trusts X-Forwarded-Proto
    from 127.0.0.1), the cookie is marked Secure."""

    def check(port: int) -> None:
        swapped = request(port, f"/?token={TOKEN}", {"X-Forwarded-Proto": "https"})
        assert "secure" in {flag.strip().lower() for flag in swapped.getheader("set-cookie").split(";")}

    over_http(tmp_path, check)


@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("127.0.0.1", False)])
def test_a_token_over_plain_http_beyond_loopback_is_warned_about_once(tmp_path, caplog, host, warned):
    async def scenario() -> None:
        async with page_server(tmp_path, host):
            pass

    with caplog.at_level(logging.WARNING, logger="apoena.web"):
        asyncio.run(scenario())
    lines = [record.getMessage() for record in caplog.records if record.name == "apoena.web"]
    if warned:
        assert len(lines) == 1 and "token travels in plain HTTP on 0.0.0.0" in lines[0] and TOKEN not in lines[0]
    else:
        assert lines == []


chromium = needs_chromium


@chromium
def test_in_chromium_the_token_leaves_the_address_bar_links_and_script(tmp_path):
    async def scenario() -> dict:
        seen: dict = {}
        async with page_server(tmp_path) as web, chromium_page() as page:
            context = page.context
            await page.goto(f"{web.url}?token={TOKEN}")
            await page.locator("#connection", has_text=re.compile(r"^atualizado")).wait_for(timeout=15_000)
            seen["url"] = page.url
            seen["script_cookie"] = await page.evaluate("document.cookie")
            seen["storage"] = await page.evaluate("JSON.stringify({...sessionStorage, ...localStorage})")
            seen["hrefs"] = await page.evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
            seen["cookies"] = await context.cookies()
            await page.go_back()
            seen["back"] = page.url
            await page.goto(f"{web.url}calls/0000dead")  # no token: the cookie opens the call page
            await page.locator("#detail-missing").wait_for(timeout=15_000)
            seen["detail"] = await page.locator("body").inner_text()
        return seen

    seen = asyncio.run(scenario())
    assert "token" not in seen["url"] and seen["url"].endswith("/")
    assert seen["back"] == "about:blank", "the token's URL was replaced in the tab's history: Back skips it"
    assert seen["script_cookie"] == "" and TOKEN not in seen["storage"], "HttpOnly: the page's script cannot read it"
    assert seen["hrefs"] and not any("token" in href for href in seen["hrefs"])
    (cookie,) = seen["cookies"]
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["value"] != TOKEN) == (SESSION_COOKIE, True, "Strict", True)
    assert "token de acesso" not in seen["detail"] and "Nenhuma chamada 0000dead registrada." in seen["detail"]


@chromium
def test_in_chromium_a_link_from_another_site_still_gets_in(tmp_path):
    """SameSite=Strict cookies are not sent on a navigation another site started, redirects included:
    the operator who clicks the page's link in a chat or an e-mail must still see the page."""

    async def scenario() -> dict:
        async with page_server(tmp_path) as web, chromium_page() as page:
            link = f'<a id="go" href="{web.url}?token={TOKEN}">Apoena</a>'
            await page.route("http://portal.example/", lambda route: route.fulfill(body=link, content_type="text/html"))
            await page.goto("http://portal.example/")
            await page.click("#go")
            await page.locator("#connection", has_text=re.compile(r"^(atualizado|sem conexão)")).wait_for(timeout=15_000)
            seen = {"url": page.url, "connection": await page.locator("#connection").inner_text()}
        return seen

    seen = asyncio.run(scenario())
    assert "token" not in seen["url"]
    assert seen["connection"].startswith("atualizado"), seen["connection"]
