"""Plots: pure functions from result frames to matplotlib Figures.

Each function takes the tidy frames of :mod:`sim.results` (both architectures, any number
of replications) and returns a :class:`matplotlib.figure.Figure` built without pyplot, so
nothing global changes: the figure renders with the Agg canvas when saved, and a notebook
displays it as it is. Replications are pooled for distributions (every request counts
once) and averaged for gauges (one mean curve per architecture).

Colours are fixed per architecture and per component kind, so the same thing has the same
colour in every figure of a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter, ScalarFormatter

from sim.core.trace import BUCKETS

ARCH_COLORS = {"http": "#3b6ea8", "messaging": "#d1782c"}
# equal series (the same throughput on common random numbers) must not hide each other:
# http drawn wide and solid underneath, messaging thin and dotted on top (dashed lines
# mark events)
LINE_STYLES: dict[str, dict[str, Any]] = {
    "http": {"color": ARCH_COLORS["http"], "lw": 2.4, "ls": "-", "zorder": 2},
    "messaging": {"color": ARCH_COLORS["messaging"], "lw": 1.6, "ls": ":", "zorder": 3},
}
KIND_COLORS = {
    "client": "#9e9e9e",
    "gateway": "#6a51a3",
    "sidecar": "#3b6ea8",
    "control-plane": "#31a354",
    "discovery": "#74c476",
    "broker": "#d1782c",
    "bridge": "#9e7cc1",  # the messaging side's HTTP front door: a lighter gateway purple
    "service": "#636363",
}
BUCKET_COLORS = {
    "network": "#4c78a8",
    "queueing": "#e45756",
    "cpu": "#54a24b",
    "infra": "#f58518",
    "handshake": "#b279a2",
}
BUCKET_LABELS = {
    "network": "network",
    "queueing": "queueing",
    "cpu": "service CPU",
    "infra": "proxy / broker",
    "handshake": "handshakes",
}
PERCENTILES = (50, 90, 99, 99.9)
INFRA_EXCLUDE = ("service", "client")


def _figure(width: float = 8.0, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig


def _archs(df: pd.DataFrame) -> list[str]:
    present = set(df["architecture"]) if len(df) else set()
    return [a for a in ARCH_COLORS if a in present]


def _kind_color(kind: str) -> str:
    return KIND_COLORS.get(kind, "#bdbdbd")


def latency_distribution(requests: pd.DataFrame) -> Figure:
    """Latency CDF (log scale) and the percentiles p50, p90, p99, p99.9 of both architectures
    (``requests``: the requests frame, or any frame of architecture and latency)."""
    fig = _figure(9, 3.8)
    cdf, pct = fig.subplots(1, 2, width_ratios=[3, 2])
    r = requests[requests["kind"] == "request"] if "kind" in requests else requests
    archs = _archs(r)
    width = 0.8 / max(len(archs), 1)
    x = np.arange(len(PERCENTILES))
    for i, a in enumerate(archs):
        lat = np.sort(r[r["architecture"] == a]["latency"].to_numpy(dtype=float) * 1e3)
        if len(lat) == 0:
            continue
        y = np.arange(1, len(lat) + 1) / len(lat)
        cdf.step(lat, y, where="post", color=ARCH_COLORS[a], label=a)
        q = np.percentile(lat, PERCENTILES)
        bars = pct.bar(x + (i - (len(archs) - 1) / 2) * width, q, width, color=ARCH_COLORS[a])
        pct.bar_label(bars, fmt="%.3g", fontsize=7)
    if len(r) and float(r["latency"].min()) > 0:
        cdf.set_xscale("log")
        cdf.xaxis.set_major_formatter(ScalarFormatter())
        cdf.xaxis.set_minor_formatter(NullFormatter())
    cdf.set_xlabel("latency (ms)")
    cdf.set_ylabel("fraction of requests ≤ latency")
    cdf.set_title("Latency distribution (CDF)")
    cdf.grid(True, which="both", alpha=0.3)
    if archs:
        cdf.legend(loc="lower right")
    pct.set_xticks(x, [f"p{p:g}" for p in PERCENTILES])
    pct.set_ylabel("latency (ms)")
    pct.set_title("Percentiles")
    pct.grid(True, axis="y", alpha=0.3)
    return fig


def time_breakdown(requests: pd.DataFrame) -> Figure:
    """Mean time per request split into network, queueing, CPU, proxy/broker and handshakes."""
    r = requests[requests["kind"] == "request"]
    means = {
        a: {b: float(v) for b, v in (r[r["architecture"] == a][list(BUCKETS)].mean() * 1e3).items()}
        for a in _archs(r)
    }
    return breakdown_bars(means)


def breakdown_bars(means: dict[str, dict[str, float]]) -> Figure:
    """The :func:`time_breakdown` figure from the mean of each bucket (ms) per architecture
    (the report takes them from the summary, which runs without rows have too)."""
    fig = _figure(8, 2.6)
    ax = fig.subplots()
    archs = list(means)
    thin_any = False
    for i, a in enumerate(archs):
        left = 0.0
        thin = []  # segments too narrow to carry their value: named after the total instead
        for b in BUCKETS:
            v = means[a][b] if not np.isnan(means[a][b]) else 0.0
            ax.barh(
                i, v, left=left, color=BUCKET_COLORS[b], label=BUCKET_LABELS[b] if i == 0 else None
            )
            if v > 0.04 * max(sum(means[x].values()) for x in archs):
                ax.text(
                    left + v / 2, i, f"{v:.2g}", ha="center", va="center", fontsize=7, color="white"
                )
            elif v > 0:
                thin.append(f"{BUCKET_LABELS[b]} {v:.2g}")
            left += v
        note = f"\n (of which {', '.join(thin)})" if thin else ""
        thin_any = thin_any or bool(thin)
        ax.text(left, i, f" {left:.3g} ms{note}", va="center", fontsize=8 if not thin else 7)
    ax.set_yticks(range(len(archs)), archs)
    ax.invert_yaxis()
    ax.set_xlabel("mean time per request (ms)")
    ax.set_title("Where the time of one request goes")
    ax.margins(x=0.3 if thin_any else 0.12)
    ax.legend(ncols=5, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35), frameon=False)
    return fig


def _gauge(ts: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean over replications of one gauge: columns architecture, t, kind, value."""
    g = ts[ts["metric"] == metric]
    return g.groupby(["architecture", "t", "kind"], as_index=False)["value"].mean()


def connections_over_time(
    timeseries: pd.DataFrame, warmup: float = 0.0, count: str = "ends"
) -> Figure:
    """Open connection ends held by each component kind over time, one panel per architecture.

    ``count="connections"`` books half of each connection to each of its two ends, so the
    stack's height is the number of open connections, as the summary's ``connections_mean``
    counts them (with the default, ``"ends"``, it is twice that)."""
    if count not in ("ends", "connections"):
        raise ValueError(f"count must be 'ends' or 'connections', got {count!r}")
    g = _gauge(timeseries, "connections")
    if count == "connections":
        g = g.assign(value=g["value"] / 2)
    archs = _archs(g)
    fig = _figure(9, 3.4)
    axes = fig.subplots(1, max(len(archs), 1), sharey=True, squeeze=False)[0]
    for ax, a in zip(axes, archs, strict=False):
        w = (
            g[g["architecture"] == a]
            .pivot_table(index="t", columns="kind", values="value")
            .fillna(0)
        )
        kinds = [k for k in KIND_COLORS if k in w.columns] + [
            k for k in w.columns if k not in KIND_COLORS
        ]
        ax.stackplot(
            w.index,
            *(w[k] for k in kinds),
            labels=kinds,
            colors=[_kind_color(k) for k in kinds],
            alpha=0.85,
        )
        _warmup(ax, warmup)
        ax.set_title(f"{a}")
        ax.set_xlabel("simulated time (s)")
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(
        "open connection ends" if count == "ends" else "open connections (½ to each end)"
    )
    fig.suptitle("Connections open over time, by component kind")
    return fig


def resources_by_kind(components: pd.DataFrame) -> Figure:
    """Busy CPU cores and mean memory by component kind, both architectures side by side."""
    c = components.assign(
        busy_cores=components["utilisation"] * components["cores"],
        memory_mb=components["memory_mean"] / 2**20,
    )
    per = c.groupby(["architecture", "replication", "kind"], as_index=False)[
        ["busy_cores", "memory_mb"]
    ].sum()
    per = per.groupby(["architecture", "kind"], as_index=False)[["busy_cores", "memory_mb"]].mean()
    archs = _archs(per)
    kinds = [k for k in KIND_COLORS if k in set(per["kind"])] + sorted(
        set(per["kind"]) - set(KIND_COLORS)
    )
    fig = _figure(9, 3.4)
    cpu, mem = fig.subplots(1, 2)
    width = 0.8 / max(len(archs), 1)
    x = np.arange(len(kinds))
    for i, a in enumerate(archs):
        p = per[per["architecture"] == a].set_index("kind")[["busy_cores", "memory_mb"]]
        p = p.reindex(kinds).fillna(0.0)
        off = x + (i - (len(archs) - 1) / 2) * width
        for ax, col in ((cpu, "busy_cores"), (mem, "memory_mb")):
            bars = ax.bar(off, p[col], width, color=ARCH_COLORS[a], label=a)
            # a bar hundreds of times smaller than its neighbours is invisible: its value
            # is written above it (none where the kind does not exist)
            labels = [(f"{v:.3g}" if v < 1000 else f"{v:,.0f}") if v > 0 else "" for v in p[col]]
            ax.bar_label(bars, labels, fontsize=6, rotation=90, padding=2)
    for ax, title, ylabel in (
        (cpu, "CPU", "busy cores (mean)"),
        (mem, "Memory", "memory (MiB, time-average)"),
    ):
        ax.set_xticks(x, kinds, rotation=30, ha="right")
        ax.margins(y=0.25)  # room for the upright value labels
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.grid(True, axis="y", alpha=0.3)
        if archs:
            ax.legend(fontsize=8)
    fig.suptitle("CPU and memory by component kind")
    return fig


def over_time(
    timeseries: pd.DataFrame, warmup: float = 0.0, events: Sequence[dict[str, Any]] = ()
) -> Figure:
    """Throughput, error rate and p99 latency per interval, with fault/scaling events marked.

    ``events``: dicts with ``t`` (seconds), ``label`` and optionally ``architecture``. Each
    event is a dashed line numbered at the top; events closer than 3 % of the time axis share
    a number list, and the key below the plot gives every label in full, so labels never
    overlap. After the warm-up, an interval in which no request succeeded has no p99 (and one
    in which none completed no error rate): the line breaks there instead of joining its
    neighbours, and its throughput is drawn as 0.
    """
    fig = _figure(9, 6)
    axes = fig.subplots(3, 1, sharex=True)
    panels = (
        ("throughput", "throughput of successful requests", "req/s", 1.0),
        ("error_rate", "error rate", "fraction", 1.0),
        ("p99_latency", "p99 latency of successful requests", "ms", 1e3),
    )
    grid = {a: t[t > warmup + 1e-9] for a, t in _interval_grid(timeseries).items()}
    for ax, (metric, title, label, scale) in zip(axes, panels, strict=True):
        g = _gauge(timeseries, metric)
        for a in _archs(g):
            mine = g[g["architecture"] == a]
            s = mine.set_index(mine["t"].round(9))["value"].groupby(level=0).mean()
            t = grid.get(a, s.index.to_numpy())
            s = s.reindex(t, fill_value=0.0) if metric == "throughput" else s.reindex(t)
            ax.plot(s.index, s.to_numpy() * scale, label=a, **LINE_STYLES.get(a, {}))
        ax.set_ylabel(label)
        ax.set_title(title, fontsize=8, loc="left")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        _warmup(ax, warmup)
        for ev in events:
            color = ARCH_COLORS.get(str(ev.get("architecture", "")), "#000000")
            ax.axvline(float(ev["t"]), color=color, ls="--", lw=1)
    _event_key(fig, axes[0], events)
    if axes[0].get_legend_handles_labels()[0]:  # nothing completed: nothing to label
        axes[0].legend(fontsize=8, loc="lower right")
    axes[-1].set_xlabel("simulated time (s)")
    fig.suptitle("Throughput, errors and p99 latency over time")
    return fig


def _interval_grid(timeseries: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every sampling instant of each architecture's run (its gauges are sampled at every
    interval, requests or not): the x values a per-interval request series is drawn on."""
    t = timeseries.assign(t=timeseries["t"].round(9))
    return {str(a): np.sort(g["t"].unique()) for a, g in t.groupby("architecture")}


def _event_key(fig: Figure, top: Axes, events: Sequence[dict[str, Any]]) -> None:
    """Number the events at the top of ``top`` (one label per cluster of close events) and
    list them, in their architecture's colour, in a key under the figure."""
    if not events:
        return
    order = sorted(range(len(events)), key=lambda i: float(events[i]["t"]))
    lo, hi = top.get_xlim()
    tol = 0.03 * (hi - lo)
    clusters: list[list[int]] = []
    for i in order:
        if clusters and float(events[i]["t"]) - float(events[clusters[-1][0]]["t"]) <= tol:
            clusters[-1].append(i)
        else:
            clusters.append([i])
    number = {i: n for n, i in enumerate(order, start=1)}
    for members in clusters:
        top.annotate(
            ",".join(str(number[i]) for i in members),
            (float(events[members[0]]["t"]), 1.0),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    handles = [
        Line2D(
            [],
            [],
            color=ARCH_COLORS.get(str(events[i].get("architecture", "")), "#000000"),
            ls="--",
            lw=1,
        )
        for i in order
    ]
    labels = [
        f"{number[i]}  {events[i].get('architecture', '') + ': ' if events[i].get('architecture') else ''}"
        f"{events[i].get('label', '')} (t = {float(events[i]['t']):g} s)"
        for i in order
    ]
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=2 if len(labels) > 3 else 1,
        fontsize=7,
        frameon=False,
        title="events",
        title_fontsize=7,
    )


def moving_parts(components: pd.DataFrame) -> Figure:
    """How many infrastructure processes each architecture runs, by kind."""
    counts = moving_parts_table(components)
    archs = [a for a in ARCH_COLORS if a in counts.columns]
    fig = _figure(8, 2.8)
    ax = fig.subplots()
    widest = max((float(counts[a].sum()) for a in archs), default=1.0) or 1.0
    seen: set[str] = set()
    for i, a in enumerate(archs):
        left = 0.0
        for kind, n in counts[a].items():
            if n <= 0:
                continue
            ax.barh(
                i,
                n,
                left=left,
                color=_kind_color(str(kind)),
                edgecolor="white",
                label=None if str(kind) in seen else str(kind),
            )
            seen.add(str(kind))
            if n < 0.1 * widest:
                left += n
                continue
            ax.text(
                left + n / 2,
                i,
                f"{kind} {n:g}",
                ha="center",
                va="center",
                fontsize=7,
                color="white",
            )
            left += n
        ax.text(left, i, f" {left:g}", va="center", fontsize=9)
    ax.set_yticks(range(len(archs)), archs)
    ax.invert_yaxis()
    ax.legend(
        fontsize=7,
        ncols=max(len(seen), 1),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.3),
        frameon=False,
    )
    ax.set_xlabel("infrastructure processes")
    ax.set_title("The moving parts")
    ax.margins(x=0.08)
    return fig


def moving_parts_table(components: pd.DataFrame) -> pd.DataFrame:
    """Infrastructure processes by kind (rows) and architecture (columns), replication 0."""
    c = components[(components["replication"] == 0) & ~components["kind"].isin(INFRA_EXCLUDE)]
    t = c.groupby(["kind", "architecture"]).size().unstack(fill_value=0)
    order = [k for k in KIND_COLORS if k in t.index] + sorted(set(t.index) - set(KIND_COLORS))
    t = t.reindex(order)
    for a in ARCH_COLORS:
        if a not in t.columns and a in set(components["architecture"]):
            t[a] = 0
    return t[[a for a in ARCH_COLORS if a in t.columns]].astype(int)


def _warmup(ax: Axes, warmup: float) -> None:
    if warmup > 0:
        ax.axvspan(0, warmup, color="#000000", alpha=0.06, lw=0)
        ax.text(
            warmup / 2,
            0.98,
            "warm-up",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=7,
            color="#555555",
        )
