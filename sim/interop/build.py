"""What the traces observed, as a scenario (plain data with a note per value) and a fit report.

With a ``base`` scenario (for example what ``sim import k8s`` wrote from the manifests) the
traces replace what they observed — operations, calls, events, the workload — and the base
keeps the rest: placement, both architectures' settings, instance counts and cores it
names, and subscriptions (with their handler operations) of events the traces did not
follow. Without a base, services get the instance count seen in the traces and one core
each (the traces do not say; the note says so).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.interop.fit import ALPHA, Fit, fit_times
from sim.interop.traces import Observed
from sim.messaging.subjects import is_valid_publish_subject

Notes = dict[tuple[str | int, ...], str]


@dataclass
class Imported:
    """A scenario built from traces: its data, the note on each value, and the fits."""

    data: dict[str, Any]
    notes: Notes
    fits: dict[tuple[str, str], Fit] = field(default_factory=dict)
    samples: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)


def token(text: str) -> str:
    """A name safe as a NATS subject token and a YAML key."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "op"


def _repeats(per_exec: list[list[Any]]) -> list[tuple[Any, float]]:
    """(item, probability) per listed occurrence: item made k times becomes k entries with
    P(count >= j), in order of first appearance."""
    n = len(per_exec)
    order: dict[Any, None] = {}
    for ex in per_exec:
        for x in ex:
            order.setdefault(x, None)
    out = []
    for x in order:
        counts = [Counter(ex)[x] for ex in per_exec]
        for j in range(1, max(counts) + 1):
            out.append((x, sum(c >= j for c in counts) / n))
    return out


def from_traces(
    obs: Observed, file: str, name: str, base: dict[str, Any] | None = None
) -> Imported:
    """A scenario (plain data) from what the traces observed."""
    data: dict[str, Any] = copy.deepcopy(base) if base else {"name": name}
    data["name"] = data.get("name") or name
    notes: Notes = {}
    imp = Imported(data, notes)
    src = f"{file}"
    services: dict[str, Any] = data.setdefault("services", {})
    op_key = {k: token(k[1]) for k in obs.ops}
    for svc in sorted({k[0] for k in obs.ops}):
        s = services.setdefault(svc, {})
        if "instances" not in s:
            s["instances"] = max(len(obs.instances[svc]), 1)
            notes[("services", svc, "instances")] = (
                f"{src}: distinct service.instance.id of {svc} in the traces"
            )
        if "cores" not in s:
            s["cores"] = 1
            notes[("services", svc, "cores")] = "not in the traces: one core assumed"
        # the traces replace the operations they saw; handlers of unfollowed events stay
        keep = {sub.get("operation") for sub in s.get("subscriptions", [])}
        s["operations"] = {k: v for k, v in s.get("operations", {}).items() if k in keep}
    for (svc, opname), st in sorted(obs.ops.items()):
        key = op_key[(svc, opname)]
        path = ("services", svc, "operations", key)
        fit = fit_times(np.asarray(st.self_times))
        imp.fits[(svc, key)] = fit
        imp.samples[(svc, key)] = np.asarray(st.self_times)
        op: dict[str, Any] = {"demand": fit.spec}
        how = (
            f"{fit.family}, KS D = {fit.ks:.3f}, p = {fit.p_value:.3g}"
            if fit.p_value is not None and fit.family != "empirical"
            else f"{fit.family} ({fit.note})"
        )
        notes[(*path, "demand")] = (
            f"{src}: self-time of {len(st.self_times)} {st.kind} spans '{opname}': {how}"
        )
        if st.kind == "SERVER":
            subject = st.subjects.most_common(1)[0][0] if st.subjects else ""
            if not is_valid_publish_subject(subject):
                subject = f"svc.{token(svc)}.{key}"
            op["subject"] = subject
            notes[(*path, "subject")] = (
                f"{src}: messaging.destination.name"
                if st.subjects
                else "named after service and operation"
            )
        for attr, values in (("request_bytes", st.size_in), ("response_bytes", st.size_out)):
            if values:
                op[attr] = int(np.median(values))
                notes[(*path, attr)] = f"{src}: median body size attribute of {len(values)} spans"
        calls = []
        for (csvc, cop), p in _repeats(st.calls):
            call: dict[str, Any] = {"service": csvc, "operation": op_key[(csvc, cop)]}
            if p < 1:
                call["probability"] = round(p, 6)
            calls.append(call)
        if calls:
            op["calls"] = calls
            notes[(*path, "calls")] = (
                f"{src}: calls seen under {len(st.calls)} executions (probability = share)"
            )
        emits = []
        for subject, p in _repeats(st.emits):
            e: dict[str, Any] = {"subject": subject}
            sizes = obs.event_sizes.get(subject)
            if sizes:
                e["bytes"] = int(np.median(sizes))
            if p < 1:
                e["probability"] = round(p, 6)
            emits.append(e)
        if emits:
            op["emits"] = emits
            notes[(*path, "emits")] = f"{src}: PRODUCER spans under this operation"
        services[svc]["operations"][key] = op
    for (svc, subject), (opname, delivery) in sorted(obs.subscriptions.items()):
        subs = services[svc].setdefault("subscriptions", [])
        subs[:] = [x for x in subs if x.get("subject") != subject]
        subs.append({"subject": subject, "operation": op_key[(svc, opname)], "delivery": delivery})
        notes[("services", svc, "subscriptions")] = f"{src}: CONSUMER spans under PRODUCER spans"
    total = sum(obs.entries.values())
    if total:
        flows = [
            {
                "name": token(f"{svc}-{op}"),
                "service": svc,
                "operation": op_key[(svc, op)],
                "weight": n,
            }
            for (svc, op), n in obs.entries.most_common()
        ]
        wl: dict[str, Any] = data.setdefault("workload", {})
        wl["flows"] = flows
        wl["arrivals"] = {"kind": "poisson", "rate": round(obs.rate, 6)}
        notes[("workload", "flows")] = (
            f"{src}: first server span of each of {total} traces (weight = count)"
        )
        notes[("workload", "arrivals")] = (
            f"{src}: Poisson assumed; rate = (n - 1) / window of trace starts"
        )
    c = obs.counts
    imp.unmapped += [
        f"{c.missing_parent} span(s) whose parent is not in the file (partial traces, kept as roots)",
        f"{c.skewed} server span(s) outside their client span (clock skew), moved inside",
        f"{c.negative} span(s) ending before they start, dropped",
        f"{c.external_calls} client span(s) that reached no traced server (kept in self-time)",
    ]
    return imp


def fit_report(imp: Imported, out: Path, title: str) -> Path:
    """fit-report.md with one figure per operation (observed vs fitted CDF) in out/."""
    from matplotlib.figure import Figure

    from sim.io import atomic_text, save_figure

    out.mkdir(parents=True, exist_ok=True)
    rows = [
        f"# Fit report: {title}",
        "",
        "Self-time per operation (span length less awaited calls). Families are fitted by maximum "
        "likelihood (scipy.stats, location 0), ranked by AIC; the best is tested with "
        "scipy.stats.goodness_of_fit (KS, parameters re-estimated in the Monte Carlo null); "
        f"rejected (p < {ALPHA}): empirical.",
        "",
        "| service | operation | spans | mean (ms) | chosen | KS D | p | AIC by family |",
        "|---|---|---:|---:|---|---:|---:|---|",
    ]
    figures = []
    for (svc, op), fit in imp.fits.items():
        x = imp.samples[(svc, op)]
        aic = ", ".join(f"{k} {v:.0f}" for k, v in sorted(fit.aic.items(), key=lambda kv: kv[1]))
        ks = "" if fit.ks is None else f"{fit.ks:.3f}"
        p = "" if fit.p_value is None else f"{fit.p_value:.3g}"
        rows.append(
            f"| {svc} | {op} | {fit.n} | {fit.mean * 1e3:.4g} | {fit.family} | {ks} | {p} | {aic} |"
        )
        if len(x):
            fig = Figure(figsize=(5, 3.2), layout="constrained")
            ax = fig.subplots()
            xs = np.sort(x)
            ax.step(xs * 1e3, np.arange(1, len(xs) + 1) / len(xs), where="post", label="observed")
            grid = np.linspace(0, xs[-1] * 1.05, 400)
            ax.plot(grid * 1e3, fit.cdf(grid, xs), label=f"fitted: {fit.family}")
            ax.set_xlabel("self-time (ms)")
            ax.set_ylabel("CDF")
            ax.set_title(f"{svc} / {op}", fontsize=9)
            ax.legend(fontsize=8)
            name = f"fit-{token(svc)}-{token(op)}.png"
            save_figure(fig, out / name)
            figures.append(f"![{svc} / {op}]({name})")
    rows += ["", *figures, "", "## Counted, not fatal", ""] + [f"- {u}" for u in imp.unmapped]
    path = out / "fit-report.md"
    atomic_text(path, "\n".join(rows) + "\n")
    return path
