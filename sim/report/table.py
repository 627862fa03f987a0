"""The side-by-side comparison table printed in the terminal and used in reports.

Each headline row carries its formatted cells and, for checking, the unrounded values.
"""

from __future__ import annotations

import math

import pandas as pd

HEADLINE = [
    ("all", "latency_p50", "latency p50"),
    ("all", "latency_p99", "latency p99"),
    ("all", "latency_mean", "latency mean"),
    ("all", "throughput", "throughput"),
    ("all", "error_rate", "error rate"),
    ("system", "connections_mean", "open connections (mean)"),
    ("system", "connections_peak", "open connections (peak)"),
    ("system", "tls_handshakes", "TLS handshakes (measured window)"),
    ("system", "tls_handshakes_run", "TLS handshakes (whole run)"),
    ("system", "cpu_cores_infra", "CPU cores, infrastructure"),
    ("system", "cpu_cores_protocol", "CPU cores, protocol in services"),
    ("system", "cpu_cores_transport", "CPU cores, infrastructure + protocol"),
    ("system", "cpu_cores_total", "CPU cores, total"),
    ("system", "memory_infra", "memory, infrastructure"),
    ("system", "memory_app", "memory, services"),
    ("system", "infra_processes", "infrastructure processes"),
    ("system", "cost_allocation", "$ / month (allocation)"),
    ("system", "cost_usage", "$ / month (usage)"),
]


def fmt(v: float, lo: float = math.nan, hi: float = math.nan) -> str:
    """A number with 3–4 significant digits, and its interval when there is one."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    s = f"{v:.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
    if not (math.isnan(lo) or math.isnan(hi)) and hi > lo:
        a, b = f"{lo:.3g}", f"{hi:.3g}"
        if a != b:  # an interval narrower than the digits shown says nothing
            s += f" [{a}, {b}]"
    return s


PRACTICAL = 0.005  # a difference under 0.5 % of the larger value is not marked


def _matters(r: pd.Series) -> bool:
    """Statistically significant and at least PRACTICAL of the larger value: a 0.09 MiB
    difference in 1152 MiB is real but of no consequence, and is not marked ``*``."""
    if not bool(r["significant"]):
        return False
    scale = max(abs(float(r["http"])), abs(float(r["messaging"])))
    return bool(abs(float(r["difference"])) >= PRACTICAL * scale)


def headline_rows(summary: pd.DataFrame) -> list[dict[str, str]]:
    """Rows of the headline table from a comparison summary (wide, paired).

    Besides the formatted cells, ``key`` is ``flow/metric`` and ``http_value`` /
    ``messaging_value`` are the unrounded numbers (``repr``), so a report can be checked
    against ``summary.csv``.
    """
    rows = []
    for flow, metric, label in HEADLINE:
        sel = summary[(summary["flow"] == flow) & (summary["metric"] == metric)]
        if sel.empty:
            continue
        r = sel.iloc[0]
        ratio = r["ratio"]
        paired = "difference_low" in r and not math.isnan(float(r["difference_low"]))
        sig = "" if not paired else (" *" if _matters(r) else " (n.s.)")
        rows.append(
            {
                "metric": label,
                "unit": str(r["unit"]),
                "http": fmt(r["http"], r["http_low"], r["http_high"]),
                "messaging": fmt(r["messaging"], r["messaging_low"], r["messaging_high"]),
                "ratio": ("–" if ratio is None or math.isnan(ratio) else f"{ratio:.3g}×") + sig,
                "key": f"{flow}/{metric}",
                "http_value": repr(float(r["http"])),
                "messaging_value": repr(float(r["messaging"])),
            }
        )
    return rows


def wide(summary: pd.DataFrame) -> pd.DataFrame:
    """The comparison's wide form from either summary: a paired one as it is, a one-
    architecture one (``architecture, flow, metric, unit, value, low, high``) with that
    architecture's columns and none for the other or the difference."""
    if "architecture" not in summary.columns:
        return summary
    out = summary[["flow", "metric", "unit"]].drop_duplicates().reset_index(drop=True)
    for arch in ("http", "messaging"):
        sel = summary[summary["architecture"] == arch]
        cols = sel[["flow", "metric", "value", "low", "high"]].rename(
            columns={"value": arch, "low": f"{arch}_low", "high": f"{arch}_high"}
        )
        out = out.merge(cols, on=["flow", "metric"], how="left")
    for col in ("difference", "difference_low", "difference_high", "ratio"):
        out[col] = math.nan
    out["significant"] = False
    out.attrs = dict(summary.attrs)
    return out


def side_by_side(summary: pd.DataFrame) -> str:
    """Plain-text table: metric, unit, http, messaging, messaging/http (one architecture's
    column alone when only one was run)."""
    archs = [
        a
        for a in ("http", "messaging")
        if "architecture" not in summary.columns or a in set(summary["architecture"])
    ]
    rows = headline_rows(wide(summary))
    cols = ["metric", "unit", *archs, *(["ratio"] if len(archs) == 2 else [])]
    head = {
        "metric": "metric",
        "unit": "unit",
        "http": "http",
        "messaging": "messaging",
        "ratio": "messaging/http",
    }
    width = {
        c: max(len(head[c]), *(len(r[c]) for r in rows)) if rows else len(head[c]) for c in cols
    }
    lines = ["  ".join(head[c].ljust(width[c]) for c in cols)]
    lines.append("  ".join("-" * width[c] for c in cols))
    for r in rows:
        lines.append(
            "  ".join(
                r[c].ljust(width[c]) if c in ("metric", "unit") else r[c].rjust(width[c])
                for c in cols
            )
        )
    return "\n".join(lines)
