"""Sweep plots: a metric against a swept parameter, both architectures with 95 % bands.

Pure functions from the tidy sweep frame (or a :class:`~sim.sweep.crossover.Crossing`) to a
:class:`matplotlib.figure.Figure` built without pyplot, so nothing global changes and a
notebook shows the figure as it is. At each parameter value the line is the mean over
replications and the band its Student-t 95 % interval (the replication method, Law 2015,
§9.4); the difference panel uses the paired interval of *messaging − http*, narrower than
the two bands suggest because both sides ran on common random numbers. Colours match the
run report's (http blue, messaging orange).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.results.summary import interval_across, paired_difference
from sim.scenario.base import InputError
from sim.sweep.crossover import Crossing, resolve_metric

ARCH_COLORS = {"http": "#3b6ea8", "messaging": "#d1782c"}
DIFF_COLOR = "#555555"


# A sweep frame's columns besides the swept parameters.
RUN_COLUMNS = frozenset(
    ("point", "point_key", "architecture", "replication", "flow", "metric", "unit", "value")
)


def summarize_sweep(frame: pd.DataFrame, params: list[str] | None = None) -> pd.DataFrame:
    """Per point, flow and metric: both architectures and messaging − http, with intervals."""
    if params is None:
        params = [c for c in frame.columns if c not in RUN_COLUMNS]
    rows = []
    keys = [*params, "flow", "metric", "unit"]
    for key, g in frame.groupby(keys, sort=False, dropna=False):
        wide = g.pivot_table(index="replication", columns="architecture", values="value")
        row = dict(zip(keys, key, strict=True))
        for arch in ("http", "messaging"):
            v = wide[arch].to_numpy(dtype=float) if arch in wide else np.array([])
            row[arch], row[f"{arch}_low"], row[f"{arch}_high"] = interval_across(v)
        diff = lo = hi = math.nan
        if "http" in wide and "messaging" in wide:
            a, b = wide["http"].to_numpy(dtype=float), wide["messaging"].to_numpy(dtype=float)
            diff, lo, hi, _ = paired_difference(a, b)
        row["difference"], row["difference_low"], row["difference_high"] = diff, lo, hi
        row["n"] = len(wide)
        rows.append(row)
    return pd.DataFrame(rows)


def plot_metric(
    frame: pd.DataFrame, param: str, metric: str = "p99", xlabel: str | None = None
) -> Figure:
    """`metric` against `param`: both architectures (mean and band), and their difference.
    ``xlabel``: the parameter's name with its unit (default: the parameter's path)."""
    flow, name = resolve_metric(metric)
    sel = frame[(frame["flow"] == flow) & (frame["metric"] == name)]
    if sel.empty:
        raise InputError(f"no metric {flow}:{name} in the sweep")
    others = [c for c in frame.columns if c != param and c not in RUN_COLUMNS]
    varying = [c for c in others if sel[c].nunique() > 1]
    if varying:
        raise InputError(
            f"other swept parameters vary ({', '.join(varying)}): filter the frame first"
        )
    summ = summarize_sweep(sel, [param]).sort_values(param)
    unit = str(sel["unit"].iloc[0])
    return _draw(summ, param, name, unit, xlabel)


def plot_crossover(c: Crossing, xlabel: str | None = None) -> Figure:
    """The evaluated points of a crossover search, with the crossing and its interval (the
    metric's unit read from the search's rows, when it kept them)."""
    summ = c.frame().rename(columns={"x": c.param})
    unit = ""
    if not c.rows.empty:
        flow, name = resolve_metric(c.metric)
        units = c.rows[(c.rows["flow"] == flow) & (c.rows["metric"] == name)]["unit"]
        unit = str(units.iloc[0]) if len(units) else ""
    fig = _draw(summ, c.param, c.metric, unit, xlabel)
    if c.found:
        for ax in fig.axes:
            ax.axvspan(c.low, c.high, color="#cccccc", alpha=0.4, lw=0, label="crossing (95 %)")
            ax.axvline(c.value, color=DIFF_COLOR, lw=1, ls="--")
        fig.axes[0].legend(frameon=False)
    return fig


def _draw(
    summ: pd.DataFrame, param: str, name: str, unit: str, xlabel: str | None = None
) -> Figure:
    u = f" ({unit})" if unit else ""
    fig = Figure(figsize=(8, 5.5), dpi=100, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    x = summ[param].to_numpy(dtype=float)
    for arch, color in ARCH_COLORS.items():
        if arch not in summ:
            continue
        top.plot(x, summ[arch], color=color, marker="o", ms=3, label=arch)
        top.fill_between(x, summ[f"{arch}_low"], summ[f"{arch}_high"], color=color, alpha=0.2, lw=0)
    top.set_ylabel(f"{name}{u}")
    top.legend(frameon=False)
    top.grid(alpha=0.3)
    bottom.axhline(0, color="black", lw=0.8)
    bottom.plot(x, summ["difference"], color=DIFF_COLOR, marker="o", ms=3)
    bottom.fill_between(
        x, summ["difference_low"], summ["difference_high"], color=DIFF_COLOR, alpha=0.2, lw=0
    )
    bottom.set_ylabel(f"messaging − http{u}")
    bottom.set_xlabel(xlabel or param)
    bottom.grid(alpha=0.3)
    return fig
