"""`apoena serve` holding a call with a hand-written AudioSocket client (plain socket, not our codec),
surviving garbage on another connection, and shutting down cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid

import pytest

from .conftest import free_port
from .test_cli import ROOT

FIXTURES = ROOT / "fixtures" / "calls"


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    header = b""
    while len(header) < 3:
        chunk = sock.recv(3 - len(header))
        if not chunk:
            return -1, b""
        header += chunk
    kind, length = struct.unpack(">BH", header)
    payload = b""
    while len(payload) < length:
        payload += sock.recv(length - len(payload))
    return kind, payload


@pytest.fixture
def systemd(tmp_path):
    """A stand-in for systemd's notification socket (a real Unix datagram socket), as $NOTIFY_SOCKET."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(20)
        yield sock


@pytest.fixture
def server(tmp_path, systemd):
    port = free_port()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}}))
    process = subprocess.Popen(
        [sys.executable, "-m", "concierge", "serve", "--config", str(config), "--port", str(port), "--no-web"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": systemd.getsockname()},
    )  # fmt: skip
    ready = process.stdout.readline().decode()
    assert f"ready on 127.0.0.1:{port}" in ready, process.stderr.read().decode()[-2000:]
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_serve_tells_systemd_it_is_ready_only_once_it_answers_and_when_it_stops(server, systemd):
    """Type=notify: systemd marks the unit active on READY=1, so it must come after the models
    loaded and the port listens (a call is answered at once), and STOPPING=1 on SIGTERM."""
    process, port = server
    ready = systemd.recv(4096).decode().splitlines()
    assert ready[0] == "READY=1" and ready[1] == f"STATUS=answering calls on 127.0.0.1:{port}"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as call:
        call.sendall(frame(0x01, uuid.uuid4().bytes))
        call.settimeout(10)
        kind, greeting = read_frame(call)
        assert kind == 0x10 and greeting, "the greeting starts as soon as systemd is told ready"
    process.send_signal(signal.SIGTERM)
    stopping = systemd.recv(4096).decode().splitlines()
    assert stopping[0] == "STOPPING=1" and stopping[1].startswith("STATUS=stopping")
    assert process.wait(timeout=20) == 0


@pytest.mark.slow
def test_serve_holds_a_call_with_a_raw_socket_client_and_stops_cleanly(server):
    process, port = server
    garbage = socket.create_connection(("127.0.0.1", port))
    garbage.sendall(frame(0x01, uuid.uuid4().bytes) + b"\x42\xff\xff" + os.urandom(64))

    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(frame(0x01, uuid.uuid4().bytes))
    audio = (FIXTURES / "entrega.slin").read_bytes()
    received, hung_up = bytearray(), False
    start = time.monotonic()
    sock.settimeout(0.001)
    index = 0
    while time.monotonic() - start < 90 and not hung_up:
        chunk = audio[index : index + 320] if index < len(audio) else bytes(320)
        sock.sendall(frame(0x10, chunk.ljust(320, b"\x00")))
        index += 320
        while True:
            try:
                kind, payload = read_frame(sock)
            except (TimeoutError, BlockingIOError):
                break
            if kind == 0x10:
                received += payload
            elif kind in (0x00, -1):
                hung_up = True
                break
        time.sleep(max(0.0, start + index / 16000 - time.monotonic()))
    sock.close()
    garbage.close()
    assert hung_up, "the concierge hangs up once the visit is complete"
    assert len(received) > 16000 * 4 and any(received)

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    log = process.stderr.read().decode()
    assert "ended: completed" in log
    assert "Traceback" not in log
