"""What a resident's decision does beyond the call: a channel variable and/or a webhook, each audited.

- **Channel variable** (`gate.channel_variable`, default ``APOENA_DECISION``): through the Manager
  Interface, Apoena finds the visitor's channel by the ``APOENA_CALL`` variable the dialplan set
  to the call's UUID (AMI ``Status``) and sets ``APOENA_DECISION`` (``authorized``, ``denied``…)
  and ``APOENA_DECISION_BY`` (``voice``/``keypad``) on it, before it hangs up, so the dialplan
  after ``AudioSocket()`` can open the gate on ``authorized`` only.
- **Webhook** (`gate.webhook.url`): one JSON POST per decision, with a timeout per attempt and a
  few retries 1 s, 2 s, 4 s… apart, in the background: it never blocks or breaks the call.

Each action reports a `GateActed` event (what was done, whether it worked, how many tries), so
the call records show what the gate was told.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from concierge.asterisk.ami import AMIClient, AMIError
from concierge.config import GateConfig

log = logging.getLogger("apoena.gate")
CALL_VARIABLE = "APOENA_CALL"
"""The visitor channel's variable holding the call's UUID: `Set(APOENA_CALL=${UUID()})` in the dialplan."""
SETVAR_SECONDS = 2.0
"""The channel variable must be set before the visitor is hung up; never wait longer than this for it."""


@dataclass(frozen=True)
class GateActed:
    """One gate action and how it went: `action` is "channel_variable" or "webhook"."""

    call_id: str
    action: str
    ok: bool
    detail: str
    attempts: int = 1
    at: float = field(default_factory=time.time)


class Gate:
    """Carries a decision to the dialplan and/or a webhook, as configured."""

    def __init__(self, config: GateConfig, ami: AMIClient | None = None) -> None:
        self.config = config
        self.ami = ami
        self._deliveries: set[asyncio.Task] = set()

    @property
    def sets_variable(self) -> bool:
        return self.ami is not None and self.config.channel_variable is not None

    async def set_variable(self, call_id: str, decision: str, by: str | None) -> GateActed | None:
        """Set the decision on the visitor's channel; at most SETVAR_SECONDS. None when not configured."""
        if not self.sets_variable:
            return None
        assert self.ami is not None and self.config.channel_variable is not None
        variable = self.config.channel_variable
        try:
            async with asyncio.timeout(SETVAR_SECONDS):
                if not self.ami.connected:
                    await self.ami.connect()
                channel = await self.ami.find_channel(CALL_VARIABLE, call_id)
                if channel is None:
                    return GateActed(call_id, "channel_variable", False, f"no channel has {CALL_VARIABLE}={call_id}: set it in the dialplan")
                await self.ami.setvar(variable, decision, channel)
                await self.ami.setvar(f"{variable}_BY", by or "", channel)
        except TimeoutError:
            return GateActed(call_id, "channel_variable", False, f"Asterisk did not answer within {SETVAR_SECONDS:g} s")
        except AMIError as error:
            return GateActed(call_id, "channel_variable", False, str(error))
        return GateActed(call_id, "channel_variable", True, f"{variable}={decision} on {channel}")

    def post(self, call_id: str, payload: dict[str, Any], report) -> asyncio.Task | None:
        """POST `payload` in the background; `report(GateActed)` once it is delivered or given up on."""
        if self.config.webhook.url is None:
            return None
        task = asyncio.create_task(self._deliver(call_id, payload, report), name=f"webhook-{call_id}")
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
        return task

    async def drain(self, timeout: float) -> None:
        """Wait for webhooks still being delivered (at shutdown), at most `timeout`."""
        if self._deliveries:
            await asyncio.wait(set(self._deliveries), timeout=timeout)

    async def _deliver(self, call_id: str, payload: dict[str, Any], report) -> None:
        hook = self.config.webhook
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        error = ""
        for attempt in range(1, hook.attempts + 1):
            try:
                status = await asyncio.to_thread(_post, hook.url, body, hook.token, hook.timeout_seconds)
            except (OSError, ValueError) as failure:  # URLError, HTTPError, timeouts and refused connections are OSErrors
                error = _describe(failure)
            else:
                report(GateActed(call_id, "webhook", True, f"HTTP {status} from {hook.url}", attempt))
                return
            log.warning("call %s: webhook attempt %d/%d failed: %s", call_id, attempt, hook.attempts, error)
            if attempt < hook.attempts:
                await asyncio.sleep(2 ** (attempt - 1))
        report(GateActed(call_id, "webhook", False, f"{hook.url}: {error}", hook.attempts))


def _post(url: str | None, body: bytes, token: str | None, timeout: float) -> int:
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "apoena"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(str(url), data=body, headers=headers, method="POST")
    with _OPENER.open(request, timeout=timeout) as response:
        return response.status


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Straight to the gate controller: an http_proxy in the environment is not for it."""


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__
