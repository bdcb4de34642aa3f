"""The real browser the page's tests drive: Debian's headless Chromium through Playwright.

`chromium_page()` opens one page in a fresh browser (its own profile: no cookies, no localStorage
from another test) and closes the browser after; a test that cannot have one is skipped with the
package to install. Audio may start without a click (the operators' first click unlocks it in a
real browser), so the page's alert tone can be observed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (/usr/bin/chromium): apt-get install chromium")


def playwright_api() -> Any:
    """playwright.async_api, or a skip naming what to install."""
    return pytest.importorskip("playwright.async_api", reason="Playwright for Python is not installed (pip install -e '.[dev]')")


def skip_without_chromium() -> None:
    playwright_api()
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium): apt-get install chromium")


@asynccontextmanager
async def chromium_page(
    viewport: dict[str, int] | None = None, permissions: Sequence[str] = (), origin: str | None = None, init_script: str | None = None
) -> AsyncIterator[Any]:
    """A page in a fresh headless Chromium; `permissions` (e.g. "notifications") granted to `origin`;
    `init_script` runs in every document before the page's own scripts."""
    skip_without_chromium()
    async with playwright_api().async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=viewport or {"width": 1280, "height": 960})
            if permissions:
                await context.grant_permissions(list(permissions), origin=origin)
            if init_script:
                await context.add_init_script(init_script)
            yield await context.new_page()
        finally:
            await browser.close()
