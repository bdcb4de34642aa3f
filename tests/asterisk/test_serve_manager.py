"""`apoena serve` with the Manager Interface configured: a refused login stops the start with one line;
an Asterisk that is not up yet is only a warning (each visit tries again)."""

from __future__ import annotations

import asyncio
import json
import threading

from concierge.asterisk.simulated import SimulatedAsterisk
from tests.conftest import free_port
from tests.test_cli import ROOT, run


class ManagerInThread:
    """A simulated Asterisk Manager served from its own event loop, for a CLI test's subprocess to reach."""

    def __init__(self, **settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.asterisk = SimulatedAsterisk(**settings)
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.asterisk.start(), self.loop).result(5)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.asterisk.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)


def config_for(tmp_path, ami_port: int):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "directory": {"path": str(ROOT / "data" / "apartamentos.json")}, "records": {"path": str(tmp_path / "calls.db")},
        "asterisk": {"ami": {"port": ami_port}},
    }))  # fmt: skip
    return path


def test_serve_stops_at_start_when_the_manager_refuses_the_login(tmp_path):
    manager = ManagerInThread(refuse_login=True)
    try:
        config = config_for(tmp_path, manager.asterisk.port)
        result = run(["serve", "--config", str(config), "--port", str(free_port()), "--no-web"],
                     env={"APOENA_ASTERISK__AMI__SECRET": "wrong"}, timeout=60)  # fmt: skip
    finally:
        manager.close()
    err = result.stderr.decode()
    assert result.returncode == 2, err[-2000:]
    [last] = [line for line in err.splitlines() if line.startswith("error:")]
    assert "refused user 'apoena'" in last and "APOENA_ASTERISK__AMI__SECRET" in last and "Traceback" not in err
