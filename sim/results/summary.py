"""Headline metrics per run, intervals across replications, and the paired comparison.

Each run is reduced to one value per (flow, metric). Across replications a metric gets a
Student-t interval (the replication method, Law 2015 ch. 9 — also for quantiles such as
p99: one p99 per replication). Because both architectures run replication *r* on the same
random streams, the comparison is paired: the interval of ``messaging − http`` comes from
the per-replication differences (:func:`sim.stats.paired_comparison`). With a single
replication the intervals come from batch means over the run (:mod:`sim.results.batches`;
paired batch by batch in a comparison); the frame's ``attrs["interval"]`` names the method.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.core.trace import BUCKETS
from sim.results import batches
from sim.results.cost import cost_metrics
from sim.results.stream import Window, mean_ms, window_of_frame
from sim.stats import paired_comparison, replication_interval

if TYPE_CHECKING:
    from sim.results.frames import RunResult

INFRA_EXCLUDE = ("service", "client")
MB = 2.0**20


def run_metrics(r: RunResult, w: Window | None = None) -> list[tuple[str, str, str, float]]:
    """(flow, metric, unit, value) for one run (or one batch of it, :mod:`~sim.results.batches`);
    ``w``: its :func:`window`, when the caller has it already."""
    md = r.metadata
    duration = md["duration"]
    out = request_metrics(window(r) if w is None else w, duration)
    c = r.components
    infra = c[~c["kind"].isin(INFRA_EXCLUDE)]
    app = c[c["kind"] == "service"]
    conns = r.timeseries[r.timeseries["metric"] == "connections"].groupby("t")["value"].sum()
    inside = app["protocol_cpu_seconds"].sum() if "protocol_cpu_seconds" in app else 0.0
    protocol = float(inside / duration)
    sysrows = [
        ("connections_mean", "count", float(c["connections_mean"].sum() / 2)),
        ("connections_peak", "count", float(conns.max() / 2) if len(conns) else math.nan),
        ("tls_handshakes", "count", float(c["tls_handshakes"].sum() / 2)),  # measured window
        ("tls_handshakes_run", "count", float(_col(c, "tls_handshakes_run").sum() / 2)),
        ("cpu_cores_infra", "cores", float(infra["cpu_seconds"].sum() / duration)),
        ("cpu_cores_app", "cores", float(app["cpu_seconds"].sum() / duration)),
        # the part of the services' CPU spent in their NATS client library or HTTP stack, and
        # with the infrastructure's: what the transport costs, comparable across architectures
        ("cpu_cores_protocol", "cores", protocol),
        ("cpu_cores_transport", "cores", float(infra["cpu_seconds"].sum() / duration) + protocol),
        ("cpu_cores_total", "cores", float(c["cpu_seconds"].sum() / duration)),
        ("memory_infra", "MiB", float(infra["memory_mean"].sum() / MB)),
        ("memory_app", "MiB", float(app["memory_mean"].sum() / MB)),
        ("infra_processes", "count", float(len(infra))),
        ("warmup", "s", float(md.get("warmup", math.nan))),
    ]
    if len(c):  # a batch view has no components (and its system rows are not used)
        sysrows += cost_metrics(c, duration, md.get("cost"))  # sim.results.cost: both bills
    busy = c[(c["kind"] != "client") & (c["cores"] > 0)] if len(c) else c
    if len(busy):
        for kind, g in busy.groupby("kind", sort=True):
            # capacity only while each existed (instances scaled out mid-run are born later)
            present = g.get("present_seconds", duration)
            u = float(g["cpu_seconds"].sum() / (g["cores"] * present).sum())
            sysrows.append((f"utilisation_{kind}", "fraction", u))
        sysrows.append(("utilisation_max", "fraction", float(busy["utilisation"].max())))
    out.extend(("system", m, u, v) for m, u, v in sysrows)
    return out


def _col(c: pd.DataFrame, name: str) -> pd.Series:
    """A components column (results saved before it existed: the measured-window one)."""
    return c[name] if name in c else c[name.removesuffix("_run")]


def window(r: RunResult) -> Window:
    """The measured rows of a run as the summary needs them: from the streaming aggregate
    when the run kept no rows (``run.rows: none``), else from the requests frame."""
    if r.aggregate is not None:
        return r.aggregate.window(r.batch)
    return window_of_frame(r.requests)


def request_metrics(w: Window, duration: float) -> list[tuple[str, str, str, float]]:
    """Counts, throughput, error rate, latency mean and quantiles per flow (and ``all``), the
    time-bucket means, and per event flow the deliveries. Means are the correctly rounded sum
    over n (``math.fsum``), so they do not depend on the order rows were kept in."""
    out: list[tuple[str, str, str, float]] = []
    empty = np.empty(0)
    every = np.concatenate([empty, *w.requests.values()])
    failed = np.concatenate([empty, *w.failed.values()])
    flows = [
        ("all", every, failed),
        *((f, a, w.failed.get(f, empty)) for f, a in w.requests.items()),
    ]
    for flow, lat_s, bad_s in flows:
        # latency of the successful requests only: a failure answered fast (a pool
        # overflow) is not a fast request; failures get their own latency below
        lat, bad = lat_s * 1e3, bad_s * 1e3
        n_ok = len(lat)
        n = n_ok + len(bad)
        out.append((flow, "requests", "count", float(n)))
        out.append((flow, "throughput", "rps", float(n_ok) / duration))
        out.append((flow, "error_rate", "fraction", float(len(bad) / n) if n else math.nan))
        out.append((flow, "latency_mean", "ms", math.fsum(lat) / n_ok if n_ok else math.nan))
        for q, name in ((50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p99.9")):
            out.append(
                (flow, f"latency_{name}", "ms", float(np.percentile(lat, q)) if n_ok else math.nan)
            )
        out.append((flow, "failed", "count", float(len(bad))))
        out.append(
            (flow, "failed_latency_mean", "ms", math.fsum(bad) / len(bad) if len(bad) else math.nan)
        )
        if flow == "all":
            for b in BUCKETS:
                out.append((flow, f"time_{b}", "ms", mean_ms(w.buckets[b], n_ok)))
    for flow, lat_s in w.events.items():
        lat = lat_s * 1e3
        out.append((flow, "deliveries", "count", float(len(lat))))
        out.append((flow, "delivery_mean", "ms", math.fsum(lat) / len(lat)))
        out.append((flow, "delivery_p99", "ms", float(np.percentile(lat, 99))))
    return out


def _long(results: Sequence[RunResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        for flow, metric, unit, value in run_metrics(r):
            rows.append((r.architecture, r.metadata["replication"], flow, metric, unit, value))
    return pd.DataFrame(
        rows, columns=["architecture", "replication", "flow", "metric", "unit", "value"]
    )


def summarize(results: Sequence[RunResult]) -> pd.DataFrame:
    """Per architecture, flow and metric: the mean over replications with a 95 % interval
    (batch means when an architecture has a single replication)."""
    df = _long(results)
    counts = df.groupby("architecture")["replication"].nunique()
    single = [r for r in results if counts.get(r.architecture, 0) == 1]
    table = batches.batch_table(single) if single else None
    out = []
    for (arch, flow, metric, unit), g in df.groupby(
        ["architecture", "flow", "metric", "unit"], sort=False
    ):
        vals = g["value"].to_numpy(dtype=float)
        est = interval_across(vals)
        if table is not None and counts[arch] == 1 and math.isfinite(est[0]):
            hw = batches.half_width(batches.batch_values(table, arch, flow, metric))
            est = (est[0], est[0] - hw, est[0] + hw)
        out.append((arch, flow, metric, unit, est[0], est[1], est[2], len(vals)))
    frame = pd.DataFrame(
        out, columns=["architecture", "flow", "metric", "unit", "value", "low", "high", "n"]
    )
    frame.attrs["interval"] = _method(counts.max() if len(counts) else 0)
    return frame


def _method(n: int) -> str:
    return batches.METHOD if n == 1 else f"independent replications ({n}, Student t)"


def interval_across(vals: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) across replications; no interval from one value, none needed when
    every value is the same."""
    finite = vals[np.isfinite(vals)]
    if len(finite) == 0:
        return (math.nan, math.nan, math.nan)
    if len(finite) < 2 or np.all(finite == finite[0]):
        v = float(finite.mean())
        return (v, math.nan, math.nan) if len(finite) < 2 else (v, v, v)
    e = replication_interval(finite)
    return (e.value, e.low, e.high)


def _mean(v: np.ndarray) -> float:
    """Mean of the finite values; NaN, without a warning, when there are none (an
    architecture that completed no request has no latency)."""
    finite = v[np.isfinite(v)]
    return float(finite.mean()) if len(finite) else math.nan


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, bool]:
    """(mean of b − a, low, high, significant) over the replications where both are finite:
    a paired-t interval; a zero-width one when every replication gave the same difference;
    none from a single replication."""
    ok = np.isfinite(a) & np.isfinite(b)
    d = b[ok] - a[ok]
    if len(d) == 0:
        return (math.nan, math.nan, math.nan, False)
    diff = float(d.mean())
    if len(d) < 2:
        return (diff, math.nan, math.nan, False)
    if np.all(d == d[0]):
        return (diff, diff, diff, diff != 0)
    pr = paired_comparison(a[ok], b[ok])
    return (pr.difference.value, pr.difference.low, pr.difference.high, bool(pr.significant))


@dataclass
class Comparison:
    """Both architectures, replication by replication on common random numbers."""

    http: list[RunResult]
    messaging: list[RunResult]
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    metadata: dict[str, Any] = field(default_factory=dict)

    def results(self) -> list[RunResult]:
        return [*self.http, *self.messaging]

    def frame(self, name: str) -> pd.DataFrame:
        """All runs' `requests`, `components` or `timeseries` in one frame."""
        return pd.concat([getattr(r, name) for r in self.results()], ignore_index=True)


def compare_summaries(http: Sequence[RunResult], messaging: Sequence[RunResult]) -> pd.DataFrame:
    """Wide comparison: each metric for both sides with intervals, and messaging − http paired."""
    df = _long([*http, *messaging])
    single = len(http) == 1 and len(messaging) == 1
    table = batches.batch_table([*http, *messaging]) if single else None
    rows = []
    keys = df[["flow", "metric", "unit"]].drop_duplicates().itertuples(index=False)
    for flow, metric, unit in keys:
        sel = df[(df["flow"] == flow) & (df["metric"] == metric)]
        a = sel[sel["architecture"] == "http"].set_index("replication")["value"]
        b = sel[sel["architecture"] == "messaging"].set_index("replication")["value"]
        idx = a.index.intersection(b.index)
        ha, hl, hh = interval_across(a.to_numpy(dtype=float)) if len(a) else (math.nan,) * 3
        ma, ml, mh = interval_across(b.to_numpy(dtype=float)) if len(b) else (math.nan,) * 3
        diff = dlo = dhi = ratio = math.nan
        significant = False
        if len(idx):
            av, bv = a.loc[idx].to_numpy(dtype=float), b.loc[idx].to_numpy(dtype=float)
            diff = _mean(bv - av)
            ratio = _mean(bv) / _mean(av) if _mean(av) not in (0.0,) else math.nan
            _, dlo, dhi, significant = paired_difference(av, bv)
        if table is not None:  # one run each: batch means, paired batch by batch
            hb = batches.batch_values(table, "http", flow, metric)
            mb = batches.batch_values(table, "messaging", flow, metric)
            hw = batches.half_width(hb), batches.half_width(mb)
            hl, hh, ml, mh = ha - hw[0], ha + hw[0], ma - hw[1], ma + hw[1]
            dw = batches.half_width(mb - hb) if len(hb) == len(mb) else math.nan
            dlo, dhi = diff - dw, diff + dw
            significant = bool(dlo > 0 or dhi < 0)
        if len(a) and bool((a >= 0).all()):  # a latency, a count or cores: never below 0
            hl = max(hl, 0.0)
        if len(b) and bool((b >= 0).all()):
            ml = max(ml, 0.0)
        rows.append(
            (
                flow,
                metric,
                unit,
                ha,
                hl,
                hh,
                ma,
                ml,
                mh,
                diff,
                dlo,
                dhi,
                ratio,
                significant,
                len(idx),
            )
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "flow",
            "metric",
            "unit",
            "http",
            "http_low",
            "http_high",
            "messaging",
            "messaging_low",
            "messaging_high",
            "difference",
            "difference_low",
            "difference_high",
            "ratio",
            "significant",
            "n",
        ],
    )
    frame.attrs["interval"] = _method(1 if single else max(len(http), len(messaging)))
    return frame
