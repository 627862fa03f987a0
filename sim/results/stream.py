"""Streaming aggregation (``run.rows: none``): what the summary needs, built while the run goes.

By default every request and event delivery keeps a row until the frames are built at the
end (:mod:`sim.results.frames`), a few hundred bytes each. With ``run.rows: none`` the
recorder hands each measured row to an :class:`Aggregate` instead (its
:class:`sim.core.recorder.Sink`), which keeps only:

- the latency of every measured request and delivery, 8 bytes each, in an ``array('d')``
  per (flow, batch): quantiles stay exact (no sketch), and the batch-means intervals
  (:mod:`sim.results.batches`) get the same per-batch values as from the rows;
- per (flow, batch) the number of successful requests;
- per batch the exact sum of each time bucket (network, queueing, cpu, infra, handshake):
  a short buffer collapsed now and then into a few floats whose sum is exactly the sum of
  everything added (:func:`exact_terms`, on the correctly rounded ``math.fsum``;
  Shewchuk 1997), so a mean is the correctly rounded sum over n whatever the order;
- the request timeseries (:func:`series_points`), streamed: rows are recorded at ``env.now``
  so completion times arrive in order and only the current interval's latencies are kept.

Batch ``j`` holds the rows whose start lies in ``[warmup + j·L, warmup + (j+1)·L)`` with
``L = duration / k``, the same floats :func:`sim.results.batches.batch_table` compares
against; a row at or past the last edge (a rounding sliver) counts for the whole run only.
Rows that start before the warm-up are dropped as they come. With ``warmup: auto`` the
warm-up is not known when the run starts: until the engine fixes it (:meth:`Aggregate.measure_from`,
at the end of the pilot that settles) the aggregate keeps the pilot's series instead — request
id, start and end, 24 bytes per completed request (:class:`Pilot`) — from which MSER-5 gets
the same arrival series as from the rows (:meth:`Aggregate.arrival_series`); measuring starts at
the pilot's end, so no measured request has started before it, and the pilot's series is
dropped then.

With a ``timeline:`` the disturbance measures (:mod:`sim.faults.measures`) need every measured
request's start, latency and status, so the aggregate then also keeps :class:`Outcomes`: start
and end (8 bytes each, ``array('d')``) and a status code (1 byte, ``array('B')``, into a list
of status names) per measured request — 17 bytes, events not included — from which
:meth:`Outcomes.frame` builds the small frame those measures read, with the values of the
rows (latency = end − start, as the rows compute it). Whenever faults are scheduled (a
timeline, autoscaling or failover) it also keeps :class:`Answered`, the books of the fault
log (:mod:`sim.faults.timeline`): one bit per request id answered and the count of failures,
warm-up included. Neither exists otherwise.

Whole-run and per-batch metrics are computed from :class:`Window` by one code path
(:func:`sim.results.summary.run_metrics`), whichever mode built it; the row mode builds its
:class:`Window` from the requests frame (:func:`window_of_frame`).

Reference: J. R. Shewchuk, "Adaptive precision floating-point arithmetic and fast robust
geometric predicates", *Discrete & Computational Geometry* 18, 1997 (the algorithm behind
Python's ``math.fsum``).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.core.recorder import RowT, arrival_prefix
from sim.core.trace import BUCKETS

if TYPE_CHECKING:
    from sim.core.trace import Trace

COLLAPSE = 256  # requests whose bucket values a batch buffers before folding them into exact terms
NB = len(BUCKETS)
SERIES_COLUMNS = ["t", "metric", "kind", "value"]


def exact_terms(values: list[float]) -> list[float]:
    """A few floats whose exact sum is the exact sum of ``values`` (finite floats).

    Each term is the correctly rounded remainder (``math.fsum`` is exact before its final
    rounding), so the remainder shrinks by about 2⁻⁵³ per term and reaches 0 exactly: the
    sum of floats is a multiple of the smallest subnormal."""
    vals = list(values)
    terms: list[float] = []
    while True:
        s = math.fsum(vals)
        if s == 0.0:
            return terms
        terms.append(s)
        vals.append(-s)


def mean_ms(total: float, n: int) -> float:
    """Mean in milliseconds of n values (seconds) whose exact sum, rounded, is ``total``."""
    return total / n * 1e3 if n else math.nan


@dataclass
class Window:
    """The measured rows of one run or one batch, reduced to what the summary needs."""

    requests: dict[str, np.ndarray]  # latencies (s) of the successful requests, by flow
    ok: dict[str, int]  # successful requests by flow
    buckets: dict[str, float]  # exact sum (s) of each time bucket over successful requests
    events: dict[str, np.ndarray]  # delivery latencies (s) by flow
    # latencies (s) of the failed requests by flow: kept apart, so that a fast failure
    # (a pool overflow answered in microseconds) never makes the latency look better
    failed: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_requests(self) -> int:
        """Requests measured, successful or not."""
        return self.n_ok + sum(len(v) for v in self.failed.values())

    @property
    def n_ok(self) -> int:
        """Successful requests: the latency sample."""
        return sum(len(v) for v in self.requests.values())

    @property
    def n_events(self) -> int:
        return sum(len(v) for v in self.events.values())


def window_of_frame(req: pd.DataFrame) -> Window:
    """The :class:`Window` of a requests frame (row mode)."""
    reqs = req[req["kind"] == "request"]
    lat: dict[str, np.ndarray] = {}
    ok: dict[str, int] = {}
    failed: dict[str, np.ndarray] = {}
    for flow, g in reqs.groupby("flow", sort=True):
        good = (g["status"] == "ok").to_numpy()
        latency = g["latency"].to_numpy(dtype=float)
        lat[str(flow)], failed[str(flow)] = latency[good], latency[~good]
        ok[str(flow)] = int(good.sum())
    done = reqs[reqs["status"] == "ok"]
    buckets = {b: math.fsum(done[b].to_numpy(dtype=float)) for b in BUCKETS}
    ev = req[req["kind"] == "event"]
    events = {str(f): g["latency"].to_numpy(dtype=float) for f, g in ev.groupby("flow", sort=True)}
    return Window(lat, ok, buckets, events, failed)


def series_points(
    b: int, interval: float, end: float, n: int, ok_latencies: np.ndarray
) -> list[tuple[float, str, str, float]]:
    """Throughput, error rate and p99 of the ``n`` requests that completed in interval ``b``
    (``ok_latencies``: those that succeeded); nothing for an interval past the run's end."""
    t = (b + 1) * interval
    if t > end + 1e-9:
        return []
    k = len(ok_latencies)
    out = [(t, "throughput", "all", k / interval), (t, "error_rate", "all", float((n - k) / n))]
    if k:
        out.append((t, "p99_latency", "all", float(np.percentile(ok_latencies, 99))))
    return out


def _flat(parts: list[array]) -> np.ndarray:
    n = sum(len(p) for p in parts)
    out = np.empty(n, dtype=float)
    i = 0
    for p in parts:
        out[i : i + len(p)] = np.frombuffer(p, dtype=float) if len(p) else ()
        i += len(p)
    return out


class Outcomes:
    """Start, end and status of every measured request (kind "request"), in typed arrays:
    what the disturbance measures read, 17 bytes a request (see the module docstring)."""

    def __init__(self) -> None:
        self.start = array("d")
        self.end = array("d")
        self.status = array("B")  # an index into ``names``
        self.names: list[str] = []
        self._code: dict[str, int] = {}

    def add(self, start: float, end: float, status: str) -> None:
        code = self._code.get(status)
        if code is None:
            code = self._code[status] = len(self.names)
            self.names.append(status)
            if code == 256:  # more statuses than a byte holds
                self.status = array("H", self.status)
        self.start.append(start)
        self.end.append(end)
        self.status.append(code)

    def __len__(self) -> int:
        return len(self.start)

    def frame(self) -> pd.DataFrame:
        """kind, start, end, latency and status, one row per request in completion order (as
        the requests frame has them, :mod:`sim.results.frames`)."""
        start = np.frombuffer(self.start, dtype=float) if len(self) else np.empty(0)
        end = np.frombuffer(self.end, dtype=float) if len(self) else np.empty(0)
        codes = np.frombuffer(self.status, dtype=np.dtype(self.status.typecode))
        names = np.asarray(self.names, dtype=object)
        return pd.DataFrame(
            {
                "kind": np.full(len(self), "request", dtype=object),
                "start": start,  # copied into the frame's block (the arrays stay as they are)
                "end": end,
                "latency": end - start,
                "status": names[codes] if len(self) else np.empty(0, dtype=object),
            }
        )

    def nbytes(self) -> int:
        """Bytes held in the three arrays."""
        return sum(a.buffer_info()[1] * a.itemsize for a in (self.start, self.end, self.status))


class Pilot:
    """Request id, start and end of every completed request while ``warmup: auto`` is still
    being chosen (24 bytes a request): the arrival series MSER-5 reads."""

    def __init__(self) -> None:
        self.rid = array("q")
        self.start = array("d")
        self.end = array("d")

    def add(self, rid: int, start: float, end: float) -> None:
        self.rid.append(rid)
        self.start.append(start)
        self.end.append(end)

    def arrival_series(self) -> tuple[list[float], list[float]]:
        """As :meth:`sim.core.recorder.Recorder.arrival_series` gives it from the rows."""
        return arrival_prefix(zip(self.rid, self.start, self.end, strict=True))


class Answered:
    """Which requests were answered (one bit per request id) and how many of them failed,
    warm-up included: the books of the fault log (:mod:`sim.faults.timeline`)."""

    CHUNK = 4096  # bytes the bitmap grows by (32,768 request ids)

    def __init__(self) -> None:
        self.bits = bytearray()
        self.failed = 0

    def add(self, rid: int, ok: bool) -> None:
        if not ok:
            self.failed += 1
        if rid < 0:
            return
        i = rid >> 3
        if i >= len(self.bits):
            self.bits.extend(bytes(max(self.CHUNK, i + 1 - len(self.bits))))
        self.bits[i] |= 1 << (rid & 7)

    def missing(self, generated: int) -> np.ndarray:
        """The ids below ``generated`` never answered, in increasing order."""
        bits = np.unpackbits(np.frombuffer(self.bits, dtype=np.uint8), bitorder="little")
        done = np.zeros(generated, dtype=bool)
        n = min(generated, len(bits))
        done[:n] = bits[:n].astype(bool)
        return np.flatnonzero(~done)


@dataclass
class _Flow:
    """One flow's rows, per batch (index k: past the last edge, whole run only)."""

    latency: list[array]  # successful requests
    ok: list[int] = field(default_factory=list)
    failed: list[array] = field(default_factory=list)  # failed requests, apart


class Aggregate:
    """The streaming aggregate of one run's measured rows (see the module docstring): the
    :class:`sim.core.recorder.Sink` of ``run.rows: none``."""

    def __init__(
        self,
        warmup: float | None,
        duration: float,
        interval: float,
        k: int,
        outcomes: bool = False,
        answered: bool = False,
    ):
        self.k = k
        self.duration = duration
        self.interval = interval
        # warmup None (warmup: auto, still being chosen): no edge yet, so nothing is measured
        self.edges = [math.inf] * (k + 1)
        self.end = math.inf
        self.pilot: Pilot | None = None
        if warmup is None:
            self.pilot = Pilot()
        else:
            self.measure_from(warmup)
        self.rows: list[RowT] = []  # none kept: this sink aggregates them
        self.completed = 0  # every completed request, warm-up included (metadata)
        self._failed = 0
        self.first: tuple[int, float] | None = None  # first measured request: (id, end)
        self._req: dict[str, _Flow] = {}
        self._ev: dict[str, list[array]] = {}
        self._buf = [array("d") for _ in range(k + 1)]  # bucket values, NB per request
        self._terms: list[list[list[float]]] = [[[] for _ in BUCKETS] for _ in range(k + 1)]
        self._bin = -1  # the timeseries interval being filled
        self._bin_n = 0
        self._bin_ok = array("d")
        self._series: list[tuple[float, str, str, float]] = []
        self.outcomes = Outcomes() if outcomes else None  # a timeline: its measures read them
        self.answered = Answered() if answered else None  # faults scheduled: their books

    def measure_from(self, warmup: float) -> None:
        """Measure the requests that start from ``warmup`` on (the pilot's series is dropped)."""
        length = self.duration / self.k
        self.edges = [warmup + j * length for j in range(self.k + 1)]  # as batches.batch_table
        self.end = warmup + self.duration
        self.pilot = None

    def arrival_series(self) -> tuple[list[float], list[float]]:
        """The pilot's (start, latency) series in arrival order (``warmup: auto`` only)."""
        if self.pilot is None:
            raise RuntimeError("no arrival series: the warm-up is already fixed")
        return self.pilot.arrival_series()

    def request(self, tr: Trace, now: float, status: str) -> None:
        self.completed += 1
        if self.pilot is not None:
            self.pilot.add(tr.id, tr.start, now)
        ok = status == "ok"
        if not ok:
            self._failed += 1
        if self.answered is not None:
            self.answered.add(tr.id, ok)
        j = bisect_right(self.edges, tr.start) - 1
        if j < 0:
            return
        if self.outcomes is not None:
            self.outcomes.add(tr.start, now, status)
        latency = now - tr.start
        f = self._req.get(tr.flow)
        if f is None:
            f = self._req[tr.flow] = _Flow([array("d") for _ in range(self.k + 1)])
            f.ok = [0] * (self.k + 1)
            f.failed = [array("d") for _ in range(self.k + 1)]
        if ok:
            f.latency[j].append(latency)
            buf = self._buf[j]
            buf.extend((tr.network, tr.queueing, tr.cpu, tr.infra, tr.handshake))
            if len(buf) >= COLLAPSE * NB:
                self._collapse(j)
        else:
            f.failed[j].append(latency)
        if self.first is None or tr.id < self.first[0]:
            self.first = (tr.id, now)
        b = math.floor(now / self.interval)
        if b != self._bin:
            self._flush()
            self._bin = b
        self._bin_n += 1
        if ok:
            f.ok[j] += 1
            self._bin_ok.append(latency)

    def failed(self) -> int:
        """Requests finished so far with a status other than ok, warm-up included."""
        return self._failed

    def unanswered(self, generated: int) -> np.ndarray:
        """The ids below ``generated`` never answered (kept only when faults are scheduled)."""
        if self.answered is None:
            raise RuntimeError("no books of answered requests: no faults were scheduled")
        return self.answered.missing(generated)

    def event(self, tr: Trace, now: float, status: str = "ok") -> None:
        j = bisect_right(self.edges, tr.start) - 1
        if j < 0:
            return
        parts = self._ev.get(tr.flow)
        if parts is None:
            parts = self._ev[tr.flow] = [array("d") for _ in range(self.k + 1)]
        parts[j].append(now - tr.start)

    def _collapse(self, j: int) -> None:
        buf = self._buf[j]
        for i, terms in enumerate(self._terms[j]):
            terms[:] = exact_terms([*terms, *buf[i::NB]])
        self._buf[j] = array("d")

    def _flush(self) -> None:
        if self._bin_n:
            ok = np.frombuffer(self._bin_ok, dtype=float) if len(self._bin_ok) else np.empty(0)
            self._series += series_points(self._bin, self.interval, self.end, self._bin_n, ok)
        self._bin_n = 0
        self._bin_ok = array("d")

    def series(self) -> pd.DataFrame:
        """The request timeseries (as :func:`sim.results.frames` builds it from rows)."""
        self._flush()
        self._bin = -1
        return pd.DataFrame(self._series, columns=SERIES_COLUMNS)

    def window(self, batch: int | None = None) -> Window:
        """Whole run (``batch=None``) or one batch."""
        js = range(self.k + 1) if batch is None else (batch,)
        lat, ok, failed = {}, {}, {}
        for flow in sorted(self._req):
            f = self._req[flow]
            a = _flat([f.latency[j] for j in js])
            bad = _flat([f.failed[j] for j in js])
            if len(a) or len(bad):
                lat[flow], ok[flow], failed[flow] = a, sum(f.ok[j] for j in js), bad
        buckets = {
            b: math.fsum([t for j in js for t in (*self._terms[j][i], *self._buf[j][i::NB])])
            for i, b in enumerate(BUCKETS)
        }
        events = {}
        for flow in sorted(self._ev):
            a = _flat([self._ev[flow][j] for j in js])
            if len(a):
                events[flow] = a
        return Window(lat, ok, buckets, events, failed)

    def latency_arrays(self) -> list[array]:
        """The per-row storage: every (flow, batch) latency array, requests then events."""
        arrays = [a for f in self._req.values() for a in f.latency]
        return arrays + [a for parts in self._ev.values() for a in parts]

    def bucket_storage(self) -> tuple[list[array], list[list[float]]]:
        """Per batch, the bucket values buffered, and the exact terms per (batch, bucket)."""
        return list(self._buf), [t for per in self._terms for t in per]

    def series_pending(self) -> tuple[int, int]:
        """Latencies held for the timeseries interval being filled, and its requests so far."""
        return len(self._bin_ok), self._bin_n

    def nbytes(self) -> int:
        """Bytes held in the per-row arrays (latencies and buffered bucket values; not the
        :class:`Outcomes`, see :meth:`Outcomes.nbytes`)."""
        arrays = self.latency_arrays() + [a for f in self._req.values() for a in f.failed]
        arrays += self._buf
        return sum(a.buffer_info()[1] * a.itemsize for a in arrays)
