"""Tell systemd how `apoena serve` is doing (the `sd_notify` protocol), so a `Type=notify` unit is
`active` only once calls can be answered, and `systemctl stop` shows it draining.

The protocol is one datagram of `KEY=value` lines to the Unix socket named in `$NOTIFY_SOCKET` (a
path, or an abstract name written with a leading "@"): https://www.freedesktop.org/software/systemd/man/sd_notify.html
Without that variable (not run by systemd, or `Type=exec`) every call does nothing. A failure to
send is logged and never stops the server: being unsupervised is not a reason to drop calls.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(*fields: str) -> bool:
    """Send `fields` ("READY=1", "STATUS=…") to systemd; whether they were sent."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address or not fields:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    elif not address.startswith("/"):
        log.warning("NOTIFY_SOCKET=%r is neither a path nor an abstract name: systemd is not told the state", address)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(fields).encode(), address)
    except OSError as error:
        log.warning("cannot tell systemd the state through NOTIFY_SOCKET (%s): %s", os.environ.get("NOTIFY_SOCKET"), error)
        return False
    return True
