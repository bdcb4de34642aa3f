"""What one peer may cost the server, as pure bookkeeping (no I/O, no clock of its own).

`RealTimeBudget` says how long to hold a connection's next message back so that the audio
taken from it never runs ahead of the wall clock (plus a burst for network jitter);
`SourceLimit` counts open connections per peer address against a cap; `AcceptRate` says how many
new connections the server may take now. The server applies them.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

MIN_MESSAGE_SECONDS = 0.005
"""What any message costs at least: a flood of tiny frames or keypad digits is bounded too. Below
every real frame (Asterisk's are 10–20 ms; a prompt's short last frame, 4.9 ms, costs 0.1 ms more)."""


class RealTimeBudget:
    """A peer may send `speed` seconds of audio per second of wall time since it connected, plus
    `burst_seconds` ahead of that. `hold(seconds, now)` charges one message and returns how long to
    wait before taking it: 0 for a peer at (or behind) real time.

    Credit is counted from the start, not capped like a token bucket: a backlog left by our own
    stall (the event loop busy, a handler that started late) is read at once when we come back,
    so an honest caller never ends up behind; a peer can never get more than `speed` × its call's
    length + the burst."""

    def __init__(self, started: float, speed: float = 1.0, burst_seconds: float = 2.0) -> None:
        if speed <= 0 or burst_seconds < 0:
            raise ValueError("speed must be positive and burst_seconds not negative")
        self.started = started
        self.speed = speed
        self.burst_seconds = burst_seconds
        self.charged_seconds = 0.0

    def hold(self, seconds: float, now: float) -> float:
        """Charge a message of `seconds` of audio (at least MIN_MESSAGE_SECONDS); seconds to wait before taking it."""
        self.charged_seconds += max(seconds, MIN_MESSAGE_SECONDS)
        ahead = self.charged_seconds - self.burst_seconds - (now - self.started) * self.speed
        return max(0.0, ahead / self.speed)


class AcceptRate:
    """At most `per_second` new connections a second, `burst` of them at once (a token bucket; 0: no
    limit). The server stops accepting while `wait(now)` is positive: connections beyond the rate
    wait in the kernel's listen queue, and a flood past that queue is refused by the kernel, so a
    flood of connections costs the calls in progress a bounded share of the event loop."""

    def __init__(self, per_second: float = 0.0, burst: int | None = None) -> None:
        if per_second < 0 or (burst is not None and burst < 1):
            raise ValueError("per_second must not be negative and burst must be at least 1")
        self.per_second = per_second
        self.burst = float(burst if burst is not None else max(1, round(per_second)))
        self._tokens = self.burst
        self._updated: float | None = None

    def wait(self, now: float) -> float:
        """Seconds until one more connection may be taken (0: now)."""
        if not self.per_second:
            return 0.0
        if self._updated is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.per_second)
        self._updated = now
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.per_second

    def take(self) -> None:
        """One connection was taken (after `wait` said 0)."""
        if self.per_second:
            self._tokens -= 1


class SourceLimit:
    """Open connections per source address, at most `cap` each (`0`: no cap, only counted)."""

    def __init__(self, cap: int = 0) -> None:
        if cap < 0:
            raise ValueError("cap must be 0 (no cap) or positive")
        self.cap = cap
        self._open: Counter[str] = Counter()

    def admit(self, source: str) -> bool:
        """Count a new connection from `source`; False (and not counted) when it would pass the cap."""
        if self.cap and self._open[source] >= self.cap:
            return False
        self._open[source] += 1
        return True

    def release(self, source: str) -> None:
        """A connection admitted from `source` has ended."""
        self._open[source] -= 1
        if self._open[source] <= 0:
            del self._open[source]

    def open_from(self, source: str) -> int:
        """Connections from `source` open now."""
        return self._open[source]


class SourceAllowList:
    """The addresses connections may come from: IPs and networks ('10.0.0.5', '10.0.1.0/24'); none
    listed allows every address."""

    def __init__(self, allowed: list[str] | tuple[str, ...] = ()) -> None:
        self.networks = tuple(ipaddress.ip_network(item, strict=False) for item in allowed)

    def allows(self, source: str) -> bool:
        """Whether `source` (as `source_of` gives it) may connect."""
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(source)
        except ValueError:
            return False  # a Unix socket or something unnamed: not a listed address
        return any(address in network for network in self.networks)


def source_of(peer: object) -> str:
    """The address a peer connects from, for counting: its IP (an IPv4-mapped IPv6 as IPv4)."""
    if not isinstance(peer, tuple) or not peer:
        return str(peer)
    host = str(peer[0])
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
