"""What a run records of its requests: one :class:`Sink`, two ways of keeping it.

The recorder keeps the books every run needs (requests generated, in flight, the
``in_system`` gauge for Little's law L = λW, traced requests) and hands each finished request
and event delivery to its :class:`Sink`. The sink is where the two row modes differ, and the
only place:

* :class:`Rows` (``run.rows: all``, the default) keeps one plain tuple per request and
  delivery (cheap in the event loop); they become a pandas frame once, at the end
  (:mod:`sim.results`).
* ``run.rows: none``: the runner hands in :class:`sim.results.stream.Aggregate`, which
  aggregates each row as it comes (with a timeline it also keeps each measured request's
  start, end and status compactly) and keeps no row.

Whoever reads the books during the run — the automatic warm-up (the arrival series), the
fault log (requests answered and failed so far, those never answered) — asks the sink,
whichever it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np

from sim.core.metrics import Gauge
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


class Sink(Protocol):
    """Where finished requests and event deliveries go."""

    rows: list[RowT]  # the rows kept (none when the sink aggregates)
    completed: int  # requests finished so far, warm-up included

    def request(self, tr: Trace, now: float, status: str) -> None:
        """A logical request finished at ``now`` with ``status``."""

    def event(self, tr: Trace, now: float, status: str) -> None:
        """An event delivery finished at ``now``."""

    def arrival_series(self) -> tuple[list[float], list[float]]:
        """(start, latency) of finished requests in arrival order, up to the first one still
        in flight (for the automatic warm-up)."""
        ...

    def measure_from(self, warmup: float) -> None:
        """The measured window starts at ``warmup`` (chosen during the run)."""

    def failed(self) -> int:
        """Requests finished so far with a status other than ok, warm-up included."""
        ...

    def unanswered(self, generated: int) -> np.ndarray:
        """The request ids below ``generated`` never answered, in increasing order."""
        ...


class Rows:
    """The row mode: every request and event delivery kept as a tuple."""

    def __init__(self) -> None:
        self.rows: list[RowT] = []
        self.completed = 0
        self._failed = 0

    def request(self, tr: Trace, now: float, status: str) -> None:
        self.completed += 1
        if status != "ok":
            self._failed += 1
        self.rows.append(_row("request", tr, now, status))

    def event(self, tr: Trace, now: float, status: str) -> None:
        self.rows.append(_row("event", tr, now, status))

    def arrival_series(self) -> tuple[list[float], list[float]]:
        return arrival_prefix((r[1], r[3], r[4]) for r in self.rows if r[0] == "request")

    def measure_from(self, warmup: float) -> None:
        """Nothing to do: the frames drop the rows that started before the warm-up."""

    def failed(self) -> int:
        return self._failed

    def unanswered(self, generated: int) -> np.ndarray:
        done = np.zeros(generated, dtype=bool)
        ids = np.asarray([r[1] for r in self.rows if r[0] == "request"], dtype=int)
        done[ids[ids < generated]] = True
        return np.flatnonzero(~done)


class Recorder:
    """The books of requests in flight, and the sink their rows go to."""

    def __init__(self, sink: Sink | None = None) -> None:
        self.sink: Sink = Rows() if sink is None else sink
        self.generated = 0
        self.in_flight = 0
        self.traces: dict[int, Trace] = {}
        self.trace_ids: set[int] = set()
        self.in_system: Gauge | None = None

    @property
    def rows(self) -> list[RowT]:
        """The rows kept (empty when the sink aggregates them instead)."""
        return self.sink.rows

    def arrival_series(self) -> tuple[list[float], list[float]]:
        """(start, latency) of completed requests in arrival order, up to the first one still
        in flight: the complete prefix of the series (request ids are given in arrival order)."""
        return self.sink.arrival_series()

    def begin(self) -> None:
        self.generated += 1
        self.in_flight += 1
        if self.in_system is not None:
            self.in_system.add(1)

    def end(self, tr: Trace, now: float, status: str) -> None:
        self.in_flight -= 1
        if self.in_system is not None:
            self.in_system.add(-1)
        self.sink.request(tr, now, status)
        if tr.hops is not None:
            self.traces[tr.id] = tr

    def event(self, tr: Trace, now: float, status: str) -> None:
        self.sink.event(tr, now, status)


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
