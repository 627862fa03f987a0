"""Turning a finished run into frames, once, at the end.

``requests``: one row per logical request that started in the measured window and one per
event delivery (``kind``), with latency and its breakdown (seconds) — empty when the run kept
no rows (``run.rows: none``), whose summary comes from ``aggregate``
(:mod:`sim.results.stream`; with a timeline, ``RunResult.outcomes`` has each measured
request's start, end, latency and status for the disturbance measures). ``components``: one row
per component instance; CPU, utilisation and memory are over the measured window (for a
component created mid-run, the part of it after its birth: ``present_seconds``),
connections opened and closed and handshakes too (``*_run`` columns: the whole run, warm-up
included, where most handshakes of a steady state happen). ``timeseries``: tidy per-interval gauges
by component kind, plus throughput, errors and p99 per interval from the requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.architectures import ARCHITECTURES
from sim.core.io import COUNTERS as IO_COUNTERS
from sim.core.raw import RawRun
from sim.core.recorder import COLUMNS
from sim.core.trace import BUCKETS, Trace
from sim.results.stream import SERIES_COLUMNS, Aggregate, series_points


@dataclass
class RunResult:
    """One replication of one architecture."""

    architecture: str
    requests: pd.DataFrame
    components: pd.DataFrame
    timeseries: pd.DataFrame
    metadata: dict[str, Any]
    traces: dict[int, Trace] = field(default_factory=dict)
    links: pd.DataFrame = field(default_factory=pd.DataFrame)  # who opened connections to whom
    # the architecture's own books, (scope, name, metric, value): messaging per server, route,
    # account and client; HTTP the wire's failure counters and each kind of picker's
    transport: pd.DataFrame = field(default_factory=pd.DataFrame)
    aggregate: Aggregate | None = None  # run.rows: none — the streaming aggregate instead of rows
    batch: int | None = None  # a batch-means view of ``aggregate`` (sim.results.batches)

    @property
    def broker(self) -> pd.DataFrame:
        """The former name of :attr:`transport` (``broker.csv`` in an output folder)."""
        return self.transport

    @property
    def outcomes(self) -> pd.DataFrame:
        """The requests as the disturbance measures read them (:mod:`sim.faults.measures`):
        ``requests`` when the run kept its rows; with ``run.rows: none`` and a timeline, a
        frame of kind, start, end, latency and status built from the aggregate's compact
        storage (:class:`sim.results.stream.Outcomes`), with the same values; else
        ``requests`` (empty)."""
        kept = self.aggregate.outcomes if self.aggregate is not None else None
        return self.requests if kept is None else kept.frame()

    @property
    def latencies(self) -> pd.DataFrame:
        """architecture, replication, flow and latency of every measured successful request
        (failures are counted apart, :func:`sim.results.summary.request_metrics`): from the
        rows, or with ``run.rows: none`` from the aggregate's exact latencies (by flow)."""
        if self.aggregate is None:
            r = self.requests[
                (self.requests["kind"] == "request") & (self.requests["status"] == "ok")
            ]
            return r[["architecture", "replication", "flow", "latency"]].reset_index(drop=True)
        by_flow = self.aggregate.window().requests  # sorted by flow
        n = sum(len(v) for v in by_flow.values())
        # codes, not strings: ~14 bytes a request (runs concatenate into one frame as long as
        # their categories agree, and into strings otherwise)
        codes = np.repeat(np.arange(len(by_flow)), [len(v) for v in by_flow.values()])
        archs = list(ARCHITECTURES)
        return pd.DataFrame(
            {
                "architecture": pd.Categorical.from_codes(
                    np.full(n, archs.index(self.architecture), dtype=np.int8), categories=archs
                ),
                "replication": np.full(n, int(self.metadata.get("replication", 0)), np.int32),
                "flow": pd.Categorical.from_codes(codes, categories=list(by_flow)),
                "latency": np.concatenate(list(by_flow.values())) if by_flow else np.empty(0),
            }
        )

    @property
    def summary(self) -> pd.DataFrame:
        """Headline metrics of this run (see :func:`sim.results.summarize`)."""
        from sim.results.summary import summarize

        return summarize([self])


def frames_from_raw(raw: RawRun, meta: dict[str, Any]) -> RunResult:
    """Build the frames of one run."""
    sc = raw.scenario
    warmup = raw.warmup  # chosen by the run when run.warmup is auto
    rec = raw.recorder
    rows = rec.rows
    req = (
        pd.DataFrame.from_records(rows, columns=list(COLUMNS))
        if rows
        else pd.DataFrame(columns=list(COLUMNS))
    )
    req = req[req["start"] >= warmup].reset_index(drop=True)
    req["latency"] = req["end"] - req["start"]
    req.insert(0, "replication", raw.replication)
    req.insert(0, "architecture", raw.architecture)
    for col in (*BUCKETS, "start", "end", "latency"):
        req[col] = req[col].astype(float)

    duration = sc.run.duration
    comp_rows = []
    for c in raw.components:
        # the part of the measured window this component existed (scaled-out instances and
        # their proxies are born mid-run); CPU is its busy area there, utilisation that area
        # over its own capacity, and the means are over the whole window (zero before its
        # birth), so they add up across components to the time-average of the total
        present = max(0.0, raw.end - max(warmup, c.born))
        cpu_seconds = c.cpu.busy.window_area() if c.cpu is not None else 0.0
        opened, closed, tcp, tls, mtls = c.window_counters()
        comp_rows.append(
            {
                "architecture": raw.architecture,
                "replication": raw.replication,
                "name": c.name,
                "kind": c.kind,
                "service": c.service,
                "region": c.place.region,
                "zone": c.place.zone,
                "host": c.place.host,
                "cores": c.cpu.cores if c.cpu is not None else 0,
                "present_seconds": present,
                "cpu_seconds": cpu_seconds,
                "utilisation": (
                    cpu_seconds / (c.cpu.cores * present) if c.cpu is not None and present else 0.0
                ),
                "memory_mean": c.memory.gauge.window_area() / duration,
                "memory_peak": c.memory.gauge.peak,
                "connections_opened": opened,
                "connections_closed": closed,
                "connections_opened_run": c.conns_opened,
                "connections_closed_run": c.conns_closed,
                "connections_peak": c.conns_open.peak,
                "connections_open_end": c.conns_open.value,
                "connections_mean": c.conns_open.window_area() / duration,
                "tcp_handshakes": tcp,
                "tls_handshakes": tls,
                "mtls_handshakes": mtls,
                "tls_handshakes_run": c.handshakes_tls,
                "bytes_out": c.bytes_out,
                "handled": c.handled,
                **_io_columns(c),
            }
        )
    comps = pd.DataFrame(comp_rows)

    extra_ts = raw.observations.get("timeseries", [])  # e.g. connections per broker server
    ts = pd.DataFrame([*raw.samples, *extra_ts], columns=["t", "metric", "kind", "value"])
    agg = rec.sink if isinstance(rec.sink, Aggregate) else None  # run.rows: none
    if agg is None:
        series = _request_series(req, sc.run.timeseries_interval, raw.end)
    else:
        series = agg.series()
    ts = pd.concat([ts, series], ignore_index=True).astype({"t": float, "value": float})
    ts.insert(0, "replication", raw.replication)
    ts.insert(0, "architecture", raw.architecture)

    md = dict(meta)
    if agg is not None:
        md.update(rows="none", first_request=agg.first)
    md.update(
        architecture=raw.architecture,
        replication=raw.replication,
        seed=raw.seed,
        wall_time=raw.wall_time,
        generated=rec.generated,
        completed=rec.sink.completed,
        in_flight=rec.in_flight,
        simulated_time=raw.end,
        warmup=raw.warmup,
        arrivals_measured=rec.generated - raw.extra.get("generated_at_warmup", 0),
        in_system_mean=rec.in_system.mean() if rec.in_system is not None else float("nan"),
        in_system_end=rec.in_system.value if rec.in_system is not None else float("nan"),
        **{k: v for k, v in raw.extra.items() if k != "generated_at_warmup"},
    )
    kinds = {c.name: c.kind for c in raw.components}
    links = pd.DataFrame(
        [
            (raw.architecture, raw.replication, c.name, c.kind, peer, kinds.get(peer, ""), n)
            for c in raw.components
            for peer, n in sorted(c.peers.items())
        ],
        columns=[
            "architecture",
            "replication",
            "source",
            "source_kind",
            "target",
            "target_kind",
            "opened",
        ],
    )
    books = pd.DataFrame(
        raw.observations.get("rows", []), columns=["scope", "name", "metric", "value"]
    )
    books.insert(0, "replication", raw.replication)
    books.insert(0, "architecture", raw.architecture)
    res = RunResult(raw.architecture, req, comps, ts, md, dict(rec.traces), links, books)
    res.aggregate = agg
    return res


def _io_columns(c: Any) -> dict[str, float]:
    """The component's I/O counters over the measured window (sim.core.io), zero without:
    ``protocol_cpu_seconds`` is the CPU its message moving took (for a service, the part of
    its CPU spent in its NATS client library or HTTP stack)."""
    w = c.io.window() if c.io is not None else dict.fromkeys(IO_COUNTERS, 0.0)
    return {("protocol_cpu_seconds" if k == "seconds" else f"io_{k}"): w[k] for k in IO_COUNTERS}


def _request_series(req: pd.DataFrame, interval: float, end: float) -> pd.DataFrame:
    """Throughput and p99 of successful requests, and the error rate, per interval of completion
    time (requests only): as in the summary, a failure is not throughput, and fast failures
    must not make the latency look better."""
    r = req[req["kind"] == "request"]
    out: list[tuple[float, str, str, float]] = []
    if r.empty:
        return pd.DataFrame(out, columns=SERIES_COLUMNS)
    bins = np.floor(r["end"].to_numpy() / interval).astype(int)
    for b, grp in r.assign(bin=bins).groupby("bin"):
        ok = grp["status"] == "ok"
        out += series_points(int(b), interval, end, len(grp), grp["latency"][ok].to_numpy())
    return pd.DataFrame(out, columns=SERIES_COLUMNS)
