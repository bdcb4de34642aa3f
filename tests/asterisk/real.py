"""A real Asterisk 22 for the tests: its configs written into a temporary folder, started, waited for,
calls originated into it, stopped. Used by every test that runs against a real build
(APOENA_ASTERISK=PREFIX, built by ../shared/asterisk/build.sh); without one they are skipped.

    with RealAsterisk(tmp_path / "asterisk", dialplan, modules=CORE_MODULES) as asterisk:
        ami = await asterisk.manager()
        await originate(ami, "Local/s@portaria", "AudioSocket", f"{visitor},127.0.0.1:{port}")
    asterisk.log  # the console, once stopped

Asterisk's console goes to a file, not a pipe: a pipe nobody reads fills up on a long test and
stalls Asterisk.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from concierge.asterisk.ami import AMIClient, AMIError
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
PREFIX = Path(os.environ.get("APOENA_ASTERISK", "/nonexistent"))
BINARY = PREFIX / "sbin" / "asterisk"
MODULES_DIR = PREFIX / "lib" / "asterisk" / "modules"
SECRET = "real-asterisk-test-secret"

# enough for Answer(), AudioSocket(), UserEvent and Local/ channels carrying slin (docs/asterisk.md §4)
CORE_MODULES = ("pbx_config", "func_uuid", "app_audiosocket", "res_audiosocket", "app_userevent", "app_verbose", "bridge_simple",
                "func_strings", "codec_ulaw", "codec_alaw", "codec_a_mu", "res_timing_timerfd")  # fmt: skip
PLAYBACK_MODULES = ("app_playback", "format_sln")
FALLBACK_MODULES = ("app_exec", "func_timeout", "app_dial")  # TryExec(), TIMEOUT(absolute), Dial() (docs/asterisk.md §6)
NODES_MODULES = ("func_cut", "func_global")  # CUT()/FIELDQTY() over the node list, GLOBAL() for the rotation (§7)
CURL_MODULES = ("res_curl", "func_curl")

needs_asterisk = [
    pytest.mark.asterisk,
    pytest.mark.skipif(not os.access(BINARY, os.X_OK), reason="set APOENA_ASTERISK to an Asterisk prefix (../shared/asterisk/build.sh)"),
]


def has_modules(*names: str) -> bool:
    """Whether this Asterisk build has every one of these modules (func_curl is left out without libcurl's headers)."""
    return all((MODULES_DIR / f"{name}.so").is_file() for name in names)


def shipped_dialplan(apoena_port: int, web_port: int = 8080) -> str:
    """docs/extensions.conf with Apoena's AudioSocket and web ports pointed at this test's."""
    dialplan = (ROOT / "docs" / "extensions.conf").read_text().replace("127.0.0.1:9092", f"127.0.0.1:{apoena_port}")
    return dialplan.replace("http://127.0.0.1:8080/", f"http://127.0.0.1:{web_port}/")


class RealAsterisk:
    """One Asterisk process with its own folder, Manager port and dialplan."""

    def __init__(self, folder: Path, dialplan: str, modules: Iterable[str] = CORE_MODULES, secret: str = SECRET) -> None:
        self.folder = folder
        self.ami_port = free_port()
        self.secret = secret
        self.process: subprocess.Popen | None = None
        self.log = ""
        for sub in ("etc", "lib", "run", "log", "spool", "sounds"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        self.conf = self._write_configs(folder / "etc", dialplan, tuple(modules))

    def _write_configs(self, etc: Path, dialplan: str, modules: tuple[str, ...]) -> Path:
        folder = self.folder
        (etc / "asterisk.conf").write_text(
            "[directories]\n"
            f"astetcdir => {etc}\nastmoddir => {MODULES_DIR}\nastvarlibdir => {folder / 'lib'}\n"
            f"astdbdir => {folder / 'lib'}\nastkeydir => {folder / 'lib'}\nastdatadir => {PREFIX / 'var' / 'lib' / 'asterisk'}\n"
            f"astagidir => {folder / 'lib'}\nastspooldir => {folder / 'spool'}\nastrundir => {folder / 'run'}\n"
            f"astlogdir => {folder / 'log'}\nastsbindir => {PREFIX / 'sbin'}\n"
            "[options]\ntransmit_silence = yes\n"
        )  # fmt: skip
        (etc / "modules.conf").write_text("[modules]\nautoload = no\n" + "".join(f"load = {m}.so\n" for m in dict.fromkeys(modules)))
        (etc / "logger.conf").write_text("[logfiles]\nconsole => notice,warning,error,verbose(3)\n")
        manager = (ROOT / "docs" / "manager.conf").read_text()
        manager = manager.replace("port = 5038", f"port = {self.ami_port}").replace("change-me-to-a-long-random-secret", self.secret)
        (etc / "manager.conf").write_text(manager)
        (etc / "extensions.conf").write_text(dialplan)
        return etc / "asterisk.conf"

    def start(self) -> RealAsterisk:
        console = (self.folder / "console.log").open("wb")
        self.process = subprocess.Popen([str(BINARY), "-C", str(self.conf), "-f", "-n"], stdout=console, stderr=subprocess.STDOUT)
        console.close()
        return self

    async def manager(self, timeout: float = 30.0) -> AMIClient:
        """A Manager client logged in as `apoena`, once Asterisk takes logins (it is ready then)."""
        deadline = time.monotonic() + timeout
        while True:
            ami = AMIClient("127.0.0.1", self.ami_port, "apoena", self.secret, timeout=2.0, ping_interval=None)
            try:
                await ami.connect()
                return ami
            except AMIError:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"Asterisk exited ({self.process.returncode}):\n{self.read_log()[-3000:]}") from None
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    def read_log(self) -> str:
        path = self.folder / "console.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> str:
        """Stop Asterisk (SIGTERM, then SIGKILL after 15 s); its console log, also kept as asterisk.log beside its folder."""
        if self.process is not None:
            stop_process(self.process)
        self.log = self.read_log()
        (self.folder.parent / "asterisk.log").write_text(self.log)
        return self.log

    def __enter__(self) -> RealAsterisk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def copy_sound(folder: Path, slin: Path, name: str) -> str:
    """Copy an 8 kHz .slin file into the sounds of the Asterisk whose folder this is, as `name`.sln
    (Asterisk's raw slin: the fixture as it is); the path Playback() takes."""
    target = folder / "sounds" / f"{name}.sln"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(slin, target)
    return str(target.with_suffix(""))


async def originate(ami: AMIClient, channel: str, application: str, data: str, variables: Mapping[str, str] | None = None) -> None:
    """Put `channel` (e.g. Local/s@portaria) through the dialplan, its other half running `application`(`data`); asynchronous."""
    fields: dict[str, object] = {"Channel": channel, "Application": application, "Data": data, "Async": "true", "Timeout": 10000}
    if variables:
        fields["Variable"] = ",".join(f"{name}={value}" for name, value in variables.items())
    queued = await ami.action("Originate", fields)
    assert queued.succeeded, queued.headers


def stop_process(process: subprocess.Popen) -> None:
    """Stop a process the tests started: SIGTERM, then SIGKILL if it is still there after 15 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
