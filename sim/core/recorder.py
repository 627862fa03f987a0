"""Rows collected during a run: one per logical request and one per event delivery.

Rows are plain tuples appended to a list (cheap in the event loop) and become a pandas
frame once, at the end (:mod:`sim.results`).
"""

from __future__ import annotations

from sim.core.trace import Trace

COLUMNS = (
    "kind",
    "request_id",
    "flow",
    "start",
    "end",
    "status",
    "network",
    "queueing",
    "cpu",
    "infra",
    "handshake",
)

RowT = tuple[str, int, str, float, float, str, float, float, float, float, float]


class Recorder:
    """Collects request and event rows, and keeps the books of requests in flight."""

    def __init__(self) -> None:
        self.rows: list[RowT] = []
        self.generated = 0
        self.in_flight = 0
        self.traces: dict[int, Trace] = {}
        self.trace_ids: set[int] = set()

    def begin(self) -> None:
        self.generated += 1
        self.in_flight += 1

    def end(self, tr: Trace, now: float, status: str) -> None:
        self.in_flight -= 1
        self.rows.append(
            (
                "request",
                tr.id,
                tr.flow,
                tr.start,
                now,
                status,
                tr.network,
                tr.queueing,
                tr.cpu,
                tr.infra,
                tr.handshake,
            )
        )
        if tr.hops is not None:
            self.traces[tr.id] = tr

    def event(self, tr: Trace, now: float, status: str) -> None:
        self.rows.append(
            (
                "event",
                tr.id,
                tr.flow,
                tr.start,
                now,
                status,
                tr.network,
                tr.queueing,
                tr.cpu,
                tr.infra,
                tr.handshake,
            )
        )
