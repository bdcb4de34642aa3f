"""The exit-code rule of concierge/errors.py, one row per case, each a real `apoena` process:
0 it did what was asked, 1 what it ran failed, 2 a mistake the user can fix (one line on stderr,
never a traceback), 130 interrupted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from concierge.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

from .conftest import ROOT, free_port

DIRECTORY = ROOT / "data" / "apartamentos.json"
FIXTURES = ROOT / "fixtures" / "calls"


@dataclass
class Case:
    """`apoena ARGS` in a folder holding config.json (the shipped directory, its own embedded Redis).

    `prepare(folder)` may write files and return extra environment; `{...}` in ARGS are filled from
    it and from `folder`. `within` bounds the seconds the command may take (a start-up mistake is
    found before anything slow loads); with `ready`, SIGINT is sent once stdout has a line holding it."""

    args: list[str]
    code: int
    stderr: str = ""
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[Path], dict[str, str]] | None = None
    stdin: bytes = b""
    within: float = 30.0
    ready: str | None = None


def _busy_port(folder: Path) -> dict[str, str]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    _HELD.append(holder)
    return {"port": str(holder.getsockname()[1])}


def _config_with(section: dict) -> Callable[[Path], dict[str, str]]:
    def prepare(folder: Path) -> dict[str, str]:
        (folder / "custom.json").write_text(json.dumps({"directory": {"path": str(DIRECTORY)}, **section}))
        return {}

    return prepare


def _empty_records(folder: Path) -> dict[str, str]:
    from concierge.call.records import CallRecords

    with CallRecords(folder / "calls.db", brain="rules"):
        pass
    return {}


def _file(name: str, content: bytes) -> Callable[[Path], dict[str, str]]:
    def prepare(folder: Path) -> dict[str, str]:
        (folder / name).write_bytes(content)
        return {}

    return prepare


def _missed_expectations(folder: Path) -> dict[str, str]:
    (folder / "calls").mkdir()
    (folder / "calls" / "entrega.slin").write_bytes((FIXTURES / "entrega.slin").read_bytes())
    expected = json.loads((FIXTURES / "entrega.json").read_text())
    expected["expected"]["apartment_number"] = "202"
    (folder / "calls" / "entrega.json").write_text(json.dumps(expected))
    return {}


_HELD: list[socket.socket] = []
CONFIG = ["--config", "{folder}/config.json"]

CASES = {
    # 0: it did what was asked
    "chat answers": Case(["chat", "--json", *CONFIG], EXIT_OK, stdin="Entrega para a Joana\n".encode()),
    "version": Case(["--version"], EXIT_OK),
    # 2: options
    "port out of range": Case(["serve", "--port", "70000"], EXIT_USAGE, "not in the range 0<=x<=65535", within=5),
    "unknown command": Case(["frobnicate"], EXIT_USAGE, "No such command 'frobnicate'"),
    "missing argument": Case(["calls", "show"], EXIT_USAGE, "Missing argument 'CALL_ID'"),
    "unknown brain": Case(["chat", "--brain", "nope", *CONFIG], EXIT_USAGE, "unknown brain 'nope'"),
    "--speed out of range": Case(["simulate", "x.slin", "--speed", "0", *CONFIG], EXIT_USAGE, "--speed must be"),
    # 2: the configuration and the environment
    "config file missing": Case(["chat", "--config", "{folder}/nope.json"], EXIT_USAGE, "config file not found"),
    "unknown config key": Case(
        ["chat", "--config", "{folder}/custom.json"], EXIT_USAGE, "unknown key 'system.silence'", prepare=_config_with({"system": {"silence": 1}})
    ),
    "variable of the wrong type": Case(
        ["serve", *CONFIG], EXIT_USAGE, "environment variable APOENA_SERVER__PORT: 'server.port'", env={"APOENA_SERVER__PORT": "noventa"}, within=5
    ),
    "misspelt variable": Case(["chat", *CONFIG], EXIT_USAGE, "unknown section 'systm'", env={"APOENA_SYSTM__BARGE_IN": "false"}),
    "public page without a token": Case(
        ["serve", *CONFIG], EXIT_USAGE, "set web.token (APOENA_WEB_TOKEN) to serve the page on 0.0.0.0", env={"APOENA_WEB__HOST": "0.0.0.0"}, within=5
    ),
    "REDIS_URL not a URL": Case(["chat", *CONFIG], EXIT_USAGE, "REDIS_URL is not a Redis URL", env={"REDIS_URL": "notaurl"}),
    "Redis unreachable": Case(["chat", *CONFIG], EXIT_USAGE, "cannot reach Redis at redis://127.0.0.1:", env={"REDIS_URL": "redis://127.0.0.1:{free}/0"}),
    "busy AudioSocket port": Case(
        ["serve", "--port", "{port}", *CONFIG], EXIT_USAGE, "cannot listen on 127.0.0.1:{port}: Address already in use", prepare=_busy_port, within=3
    ),
    # 2: input files and records
    "directory invalid": Case(
        ["chat", *CONFIG, "--directory", "{folder}/dir.json"], EXIT_USAGE, "needs a name", prepare=_file("dir.json", b'[{"apartment_number": "1", "residents": [""]}]')
    ),
    "recording corrupt": Case(["simulate", "{folder}/call.mp3", *CONFIG], EXIT_USAGE, "corrupt MP3 file", prepare=_file("call.mp3", b"garbage"), within=10),
    "recording missing": Case(["simulate", "{folder}/nope.slin", *CONFIG], EXIT_USAGE, "no such file or folder", within=10),
    "calls show of an unknown id": Case(
        ["calls", "show", "deadbeef", "--db", "{folder}/calls.db"], EXIT_USAGE, "no call deadbeef in", prepare=_empty_records
    ),
    "calls show with nothing recorded": Case(["calls", "show", "abc", *CONFIG], EXIT_USAGE, "no call abc: no calls recorded yet"),
    "calls --db missing": Case(["calls", "--db", "{folder}/nope.db"], EXIT_USAGE, "no such file"),
    # 130: interrupted
    "chat interrupted": Case(["chat", "--json", *CONFIG], EXIT_INTERRUPTED, stdin="Entrega para a Joana\n".encode(), ready='"mensagem"'),
}
SLOW_CASES = {
    # 1: what it ran failed (Whisper reads the call: a few seconds)
    "simulated call misses its expectations": Case(
        ["simulate", "{folder}/calls", "--no-wait", "--json", *CONFIG], EXIT_FAILED, prepare=_missed_expectations, within=240
    ),
    # serve runs until stopped: SIGINT ends it with 0 once its calls are done
    "serve stopped by SIGINT": Case(["serve", "--no-web", "--port", "0", *CONFIG], EXIT_OK, ready="apoena serve: ready on", within=90),
}


def run_case(case: Case, folder: Path) -> tuple[subprocess.CompletedProcess, float, dict[str, str]]:
    (folder / "config.json").write_text(json.dumps({"directory": {"path": str(DIRECTORY)}}))
    values = {"folder": str(folder), "free": str(free_port()), **(case.prepare(folder) if case.prepare else {})}
    args = [arg.format(**values) for arg in case.args]
    env = {name: value for name, value in os.environ.items() if not _is_ours(name)}
    env |= {"PYTHONPATH": str(ROOT), **{name: value.format(**values) for name, value in case.env.items()}}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "concierge", *args], cwd=folder, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    if case.ready is not None:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(case.stdin)  # left open: the command is still running when interrupted
        process.stdin.flush()
        seen = b""
        while case.ready.encode() not in seen and process.poll() is None:
            seen += process.stdout.readline()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=case.within)
        stdout = seen + stdout
    else:
        stdout, stderr = process.communicate(case.stdin, timeout=case.within + 30)
    elapsed = time.monotonic() - started
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr), elapsed, values


def _is_ours(name: str) -> bool:
    return name.upper().startswith("APOENA_") or name in ("REDIS_URL", "LLM_MODEL", "LLM_API_KEY", "LLM_BASE_URL")


def check(case: Case, folder: Path) -> None:
    try:
        result, elapsed, values = run_case(case, folder)
    finally:
        while _HELD:
            _HELD.pop().close()
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == case.code, f"exit {result.returncode}, expected {case.code}: {stderr[-1500:]}"
    assert "Traceback" not in stderr, stderr
    if case.code == EXIT_USAGE:
        lines = stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert case.stderr.format(**values) in lines[0], stderr
    if case.code == EXIT_INTERRUPTED:
        assert not stderr.strip(), stderr
    assert elapsed < case.within, f"took {elapsed:.2f} s, more than {case.within} s"


@pytest.mark.parametrize("name", CASES)
def test_exit_code(name, tmp_path):
    check(CASES[name], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_CASES)
def test_exit_code_of_a_run(name, tmp_path):
    check(SLOW_CASES[name], tmp_path)
