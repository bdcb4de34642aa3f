"""`concierge.apps.notify`: the sd_notify datagram, to a path or an abstract socket, and nothing
(no error) when not run by systemd or when the socket is gone."""

from __future__ import annotations

import socket
import uuid

import pytest

from concierge.apps.notify import notify


def test_abstract_socket_gets_the_fields_as_lines(monkeypatch):
    name = f"apoena-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("READY=1", "STATUS=answering calls")
        assert sock.recv(4096) == b"READY=1\nSTATUS=answering calls"


def test_not_run_by_systemd_does_nothing(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not notify("READY=1")


@pytest.mark.parametrize("value", ["relative/path", "/nonexistent/notify"])
def test_a_bad_or_vanished_socket_is_one_warning_not_an_error(monkeypatch, caplog, value):
    monkeypatch.setenv("NOTIFY_SOCKET", value)
    assert not notify("READY=1")
    assert len(caplog.records) == 1 and "systemd" in caplog.records[0].getMessage()
