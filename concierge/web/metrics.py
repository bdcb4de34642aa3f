"""Prometheus metrics fed by the call observer: calls by outcome and condominium, active calls, per-stage latency;
and, fed by the AudioSocket server, connections refused before any call began.

Each `CallMetrics` has its own registry (not the process-wide default), so several can live in one
process (tests) and /metrics shows only Apoena's figures.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from concierge.config import DEFAULT_CONDOMINIUM
from concierge.call.events import CallEnded, CallEvent, CallStarted, Outcome, Turn, TurnFailed

STAGES = ("stt", "brain", "tts", "response")
REFUSALS = ("not_allowed", "source_limit", "busy", "no_uuid", "protocol_error")
"""Why a connection was refused before a call began (concierge.audiosocket.server.Refused)."""
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class CallMetrics:
    """Calls, active calls and turns carry a `condominium` label, limited to the configured ids
    (`condominiums`; any other value counts as the first, the default); stage latency is the
    node's own, without it, so the series stay few with hundreds of condominiums."""

    def __init__(self, condominiums: list[str] | None = None) -> None:
        self.condominiums = tuple(condominiums or (DEFAULT_CONDOMINIUM,))
        self._of_call: dict[str, str] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        by = ["condominium"]
        self.calls = Counter("apoena_calls", "Calls that ended, by outcome", ["outcome", *by], registry=self.registry)
        self.active = Gauge("apoena_active_calls", "Calls in progress", by, registry=self.registry)
        self.turns = Counter(
            "apoena_turns", "Visitor turns answered, by source (speech or dtmf)", ["source", *by], registry=self.registry
        )
        self.failed_turns = Counter("apoena_failed_turns", "Turns an engine failed to answer", by, registry=self.registry)
        self.latency = Histogram(
            "apoena_turn_stage_seconds",
            "Seconds each stage of a turn took; response = end of the visitor's speech to our first audio byte",
            ["stage"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.refused = Counter(
            "apoena_refused_connections",
            "AudioSocket connections refused before any call began: from an address not in server.allowed_sources "
            "(not_allowed), over server.max_connections_per_source (source_limit), over server.max_calls (busy), no UUID in time (no_uuid), or bad bytes first (protocol_error)",
            ["reason"], registry=self.registry,
        )  # fmt: skip
        for reason in REFUSALS:
            self.refused.labels(reason)
        for condominium in self.condominiums:
            self.active.labels(condominium)
            self.failed_turns.labels(condominium)
            for outcome in Outcome:
                self.calls.labels(outcome.value, condominium)
            for source in ("speech", "dtmf"):
                self.turns.labels(source, condominium)
        for stage in STAGES:
            self.latency.labels(stage)

    def _condominium(self, call_id: str) -> str:
        return self._of_call.get(call_id, self.condominiums[0])

    def observer(self, event: CallEvent) -> None:
        if isinstance(event, CallStarted):
            condominium = event.condominium if event.condominium in self.condominiums else self.condominiums[0]
            self._of_call[event.call_id] = condominium
            self.active.labels(condominium).inc()
        elif isinstance(event, CallEnded):
            condominium = self._of_call.pop(event.call_id, self.condominiums[0])
            self.active.labels(condominium).dec()
            self.calls.labels(event.outcome.value, condominium).inc()
        elif isinstance(event, Turn):
            self.turns.labels(event.source, self._condominium(event.call_id)).inc()
            if event.source == "speech":
                self.latency.labels("stt").observe(event.stt_ms / 1000)
            self.latency.labels("brain").observe(event.brain_ms / 1000)
            self.latency.labels("tts").observe(event.tts_ms / 1000)
            if event.response_ms is not None:
                self.latency.labels("response").observe(event.response_ms / 1000)
        elif isinstance(event, TurnFailed):
            self.failed_turns.labels(self._condominium(event.call_id)).inc()

    def connection_refused(self, reason: str) -> None:
        """The AudioSocket server refused a connection (its `on_refused`)."""
        self.refused.labels(reason if reason in REFUSALS else REFUSALS[-1]).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
