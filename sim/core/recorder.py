"""Rows collected during a run: one per logical request and one per event delivery.

Rows are plain tuples appended to a list (cheap in the event loop) and become a pandas
frame once, at the end (:mod:`sim.results`). With ``run.rows: none`` the runner hands the
recorder a ``tally`` (:class:`sim.results.stream.Tally`) that aggregates each row as it comes
(with a timeline it also keeps each measured request's start, end and status compactly), and
no row is kept. ``in_system``, when the runner sets it, is a
time-weighted gauge of logical requests in the system (for Little's law, L = λW).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sim.core.metrics import Gauge
from sim.core.trace import Trace

if TYPE_CHECKING:  # sim.results imports the engine, which imports this module
    from sim.results.stream import Tally

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

    def __init__(self, tally: Tally | None = None) -> None:
        self.rows: list[RowT] = []
        self.tally = tally
        self.generated = 0
        self.in_flight = 0
        self.traces: dict[int, Trace] = {}
        self.trace_ids: set[int] = set()
        self.in_system: Gauge | None = None

    def arrival_series(self) -> tuple[list[float], list[float]]:
        """(start, latency) of completed requests in arrival order, up to the first one still
        in flight: the complete prefix of the series (request ids are given in arrival order)."""
        if self.tally is not None:  # run.rows: none: the tally keeps the pilot's series
            return self.tally.arrival_series()
        return arrival_prefix((r[1], r[3], r[4]) for r in self.rows if r[0] == "request")

    def begin(self) -> None:
        self.generated += 1
        self.in_flight += 1
        if self.in_system is not None:
            self.in_system.add(1)

    def end(self, tr: Trace, now: float, status: str) -> None:
        self.in_flight -= 1
        if self.in_system is not None:
            self.in_system.add(-1)
        if self.tally is None:
            self.rows.append(_row("request", tr, now, status))
        else:
            self.tally.request(tr, now, status)
        if tr.hops is not None:
            self.traces[tr.id] = tr

    def event(self, tr: Trace, now: float, status: str) -> None:
        if self.tally is None:
            self.rows.append(_row("event", tr, now, status))
        else:
            self.tally.event(tr, now)


def arrival_prefix(done: Iterable[tuple[int, float, float]]) -> tuple[list[float], list[float]]:
    """(start, latency) of completed requests, given as (id, start, end), in arrival order up
    to the first id missing (still in flight): ids are given in arrival order from 0."""
    ordered = sorted(done)
    n = 0
    while n < len(ordered) and ordered[n][0] == n:
        n += 1
    return [d[1] for d in ordered[:n]], [d[2] - d[1] for d in ordered[:n]]


def _row(kind: str, tr: Trace, now: float, status: str) -> RowT:
    return (
        kind,
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
