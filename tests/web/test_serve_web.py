"""`apoena serve` with its monitoring page: the URL in the ready output, the token over real HTTP,
and the refusal to serve the page beyond localhost without a token."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from ..conftest import ROOT, free_port

TOKEN = "serve-test-token-0123456789abcdef"


def apoena_serve(tmp_path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}}))
    return subprocess.Popen(
        [sys.executable, "-m", "concierge", "serve", "--config", str(config), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )  # fmt: skip


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_serve_refuses_a_public_page_without_a_token_before_loading_anything(tmp_path):
    process = apoena_serve(tmp_path, "--port", str(free_port()), env={"APOENA_WEB__HOST": "0.0.0.0", "APOENA_WEB_TOKEN": " "})
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "set web.token (APOENA_WEB_TOKEN) to serve the page on 0.0.0.0" in stderr.decode()
    assert "Traceback" not in stderr.decode()


@pytest.mark.slow
def test_serve_prints_the_page_url_and_guards_it_with_the_token(tmp_path):
    port, web_port = free_port(), free_port()
    process = apoena_serve(tmp_path, "--port", str(port), "--web-port", str(web_port), env={"APOENA_WEB_TOKEN": TOKEN})
    try:
        ready = process.stdout.readline().decode()
        assert f"ready on 127.0.0.1:{port} (AudioSocket)" in ready, process.stderr.read().decode()[-2000:]
        page = process.stdout.readline().decode()
        assert f"monitoring page on http://127.0.0.1:{web_port}/" in page and TOKEN not in page
        base = f"http://127.0.0.1:{web_port}"
        assert get(f"{base}/api/live")[0] == 401
        assert get(f"{base}/api/live", "wrong")[0] == 401
        assert get(f"{base}/api/live", TOKEN) == (200, b'{"calls":[]}')
        assert get(f"{base}/api/calls/nope", TOKEN)[0] == 404
        status, metrics = get(f"{base}/metrics", TOKEN)
        assert status == 200 and b'apoena_active_calls{condominium="default"} 0.0' in metrics
        assert get(f"{base}/?token={TOKEN}")[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert "Traceback" not in process.stderr.read().decode()


@pytest.mark.slow
def test_a_busy_web_port_costs_the_page_not_the_calls(tmp_path):
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        process = apoena_serve(tmp_path, "--port", str(port), "--web-port", str(busy.getsockname()[1]))
        try:
            assert f"ready on 127.0.0.1:{port} (AudioSocket)" in process.stdout.readline().decode()
            assert "monitoring page NOT served" in process.stdout.readline().decode()
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0


@pytest.mark.slow
def test_serve_without_web_prints_only_the_audiosocket_line(tmp_path):
    port = free_port()
    process = apoena_serve(tmp_path, "--port", str(port), "--no-web")
    try:
        assert f"ready on 127.0.0.1:{port}" in process.stdout.readline().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert "monitoring page" not in process.stdout.read().decode()
