"""Batch means: confidence intervals from ONE long run.

With a single replication there is nothing to vary across, so the measured window is cut
into ``k = 20`` consecutive batches of equal length (Schmeiser 1982: 10 to 30 batches) and
every metric is computed per batch as it is for a whole run: latency mean and quantiles,
throughput and error rate from the requests that *start* in the batch, and CPU, utilisation,
memory and connections from the per-interval gauges of the timeseries. The point estimate
stays the whole-run value; its half-width is ``t_{k-1, 0.975} · s / √k`` with ``s`` the
standard deviation of the ``k`` batch values (non-overlapping batch means, Law 2015
§9.5.3). For a mean over equal batches this is exactly the batch-means interval; for a
quantile it is the batching estimate of the quantile's standard error (Seila 1982;
Heidelberger & Lewis 1984). A batch quantile that rests on fewer than 5 expected
observations beyond it (``n · (1 - q) < 5``) is essentially a batch maximum and says little
about the whole run's quantile, so such a metric gets no interval. Counts (requests,
handshakes, peaks) get none either.

Two architectures run on common random numbers see the same arrivals in batch ``j``, so
their difference gets a paired interval from the ``k`` batch differences.

Batch edges are multiples of ``duration / k`` after the warm-up; gauge samples are
attributed to the batch their interval ends in, which is exact when the batch edges fall on
multiples of ``run.timeseries_interval`` (they do for the default 1 s interval, a whole
warm-up and a duration that is a multiple of 20 s) and approximate at the edges otherwise.
When a batch is shorter than the sampling interval, some batches hold no sample and the
gauges (CPU, utilisation, memory, connections) get no batch interval.

References: A. M. Law, *Simulation Modeling and Analysis*, 5th ed., 2015, §9.5.3;
B. Schmeiser, *Operations Research* 30(3), 1982; A. F. Seila, "A batching approach to
quantile estimation in regenerative simulations", *Management Science* 28(5), 1982;
P. Heidelberger & P. A. W. Lewis, "Quantile estimation in dependent sequences",
*Operations Research* 32(1), 1984.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.stats.intervals import t_quantile

if TYPE_CHECKING:
    from sim.results.frames import RunResult
    from sim.results.stream import Window

BATCHES = 20
METHOD = f"batch means ({BATCHES} batches)"
MIN_TAIL = 5.0  # expected observations beyond a quantile in every batch
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p99.9": 0.999}
INFRA_EXCLUDE = ("service", "client")
MB = 2.0**20


def batch_table(results: Sequence[RunResult], k: int = BATCHES) -> pd.DataFrame:
    """Per run and batch, every metric that has a batch value: long frame."""
    from sim.results.summary import run_metrics, window

    rows = []
    for r in results:
        warmup = float(r.metadata.get("warmup", 0.0))
        length = float(r.metadata["duration"]) / k
        if r.aggregate is not None and r.aggregate.k != k:
            raise ValueError(f"a run that kept no rows has {r.aggregate.k} batches, not {k}")
        cores = r.components.groupby("kind")["cores"].sum() if len(r.components) else None
        gauges = []
        for j in range(k):
            lo, hi = warmup + j * length, warmup + (j + 1) * length
            view = _view(r, j, lo, hi)
            w = window(view)
            for flow, metric, _unit, value in run_metrics(view, w):
                if flow == "system" or metric in ("requests", "deliveries", "failed"):
                    continue
                rows.append((r.architecture, j, flow, metric, _screen(w, metric, value)))
            gauges.append(_gauges(r.timeseries, lo, hi, cores))
        if all(gauges):  # batches shorter than the sampling interval: no gauge intervals
            for j, values in enumerate(gauges):
                rows.extend((r.architecture, j, "system", m, v) for m, v in values)
    return pd.DataFrame(rows, columns=["architecture", "batch", "flow", "metric", "value"])


def _view(r: RunResult, j: int, lo: float, hi: float) -> RunResult:
    """Batch ``j``, the rows that start in [lo, hi): from the requests frame, or the streaming
    aggregate's batch ``j`` (:mod:`sim.results.stream`, built on the same edges)."""
    from sim.results.frames import RunResult

    req = r.requests[(r.requests["start"] >= lo) & (r.requests["start"] < hi)]
    md = {**r.metadata, "duration": hi - lo}
    empty = r.components.iloc[0:0]
    view = RunResult(r.architecture, req, empty, r.timeseries.iloc[0:0], md)
    if r.aggregate is not None:
        view.aggregate, view.batch = r.aggregate, j
    return view


def _screen(w: Window, metric: str, value: float) -> float:
    """NaN for a batch quantile with fewer than MIN_TAIL expected observations beyond it."""
    name = metric.rsplit("_", 1)[-1]
    if metric.startswith(("latency_p", "delivery_p")) and name in QUANTILES:
        n = w.n_ok if metric.startswith("latency") else w.n_events
        if n * (1 - QUANTILES[name]) < MIN_TAIL:
            return math.nan
    return value


def _gauges(
    ts: pd.DataFrame, lo: float, hi: float, cores: pd.Series | None
) -> list[tuple[str, float]]:
    """CPU, utilisation, memory and connections averaged over the samples ending in (lo, hi]."""
    eps = 1e-9
    s = ts[(ts["t"] > lo + eps) & (ts["t"] <= hi + eps)]
    if s.empty:
        return []
    out: list[tuple[str, float]] = []
    cpu = s[s["metric"] == "cpu_cores"].pivot_table(index="t", columns="kind", values="value")
    mem = s[s["metric"] == "memory_bytes"].pivot_table(index="t", columns="kind", values="value")
    con = s[s["metric"] == "connections"].pivot_table(index="t", columns="kind", values="value")
    pro = s[s["metric"] == "protocol_cores"].pivot_table(index="t", columns="kind", values="value")
    if not pro.empty:
        inside = float(pro["service"].mean()) if "service" in pro else 0.0
        out.append(("cpu_cores_protocol", inside))
        if not cpu.empty:
            infra = [c for c in cpu.columns if c not in INFRA_EXCLUDE]
            both = float(cpu[infra].sum(axis=1).mean()) if infra else 0.0
            out.append(("cpu_cores_transport", both + inside))
    if not cpu.empty:
        infra = [c for c in cpu.columns if c not in INFRA_EXCLUDE]
        out.append(("cpu_cores_infra", float(cpu[infra].sum(axis=1).mean()) if infra else 0.0))
        app = cpu["service"].mean() if "service" in cpu else 0.0
        out.append(("cpu_cores_app", float(app)))
        out.append(("cpu_cores_total", float(cpu.sum(axis=1).mean())))
        if cores is not None:
            for kind in cpu.columns:
                if kind != "client" and cores.get(kind, 0) > 0:
                    out.append((f"utilisation_{kind}", float(cpu[kind].mean() / cores[kind])))
    if not mem.empty:
        infra = [c for c in mem.columns if c not in INFRA_EXCLUDE]
        out.append(("memory_infra", float(mem[infra].sum(axis=1).mean() / MB) if infra else 0.0))
        out.append(("memory_app", float(mem["service"].mean() / MB) if "service" in mem else 0.0))
    if not con.empty:
        out.append(("connections_mean", float(con.sum(axis=1).mean() / 2)))
    return out


def half_width(values: np.ndarray, level: float = 0.95) -> float:
    """``t_{k-1} · s / √k`` over k batch values; NaN unless every batch has a finite value."""
    v = np.asarray(values, dtype=float)
    if v.size < 2 or not np.all(np.isfinite(v)):
        return math.nan
    return t_quantile(level, v.size - 1) * float(np.std(v, ddof=1)) / math.sqrt(v.size)


def batch_values(table: pd.DataFrame, architecture: str, flow: str, metric: str) -> np.ndarray:
    """The k batch values of one metric of one architecture, in batch order."""
    sel = table[
        (table["architecture"] == architecture)
        & (table["flow"] == flow)
        & (table["metric"] == metric)
    ]
    return sel.sort_values("batch")["value"].to_numpy(dtype=float)
