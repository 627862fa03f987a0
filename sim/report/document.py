"""The report as data: every section, table, figure and sentence, before any template.

:func:`build_report` turns a :class:`~sim.report.data.Results` bundle into a :class:`Report`
(plain dataclasses and dicts holding *raw* strings); :mod:`sim.report.markdown` and
:mod:`sim.report.html` render it, each escaping scenario text for its own format. Figures
are rendered once to PNG bytes: Markdown links them as ``figures/<key>.png`` files, HTML
embeds them as base64 ``data:`` URIs, so report.html needs nothing but itself.

Each figure has one sentence saying what it shows, with the numbers a reader should take
away computed from the same summary the headline table shows (never from a second pass).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from sim.architectures import DESCRIBE
from sim.core.trace import BUCKETS
from sim.report import plots, sequence, topology
from sim.report.data import Results, sample_request
from sim.report.ledger import Ledger, build_ledger
from sim.report.money import CostSection, cost_section
from sim.report.parameters import Parameter, dist_text, parameters
from sim.report.table import headline_rows, wide
from sim.report.verdict import Verdict, build_verdict
from sim.results import batches
from sim.scenario import scenario_hash

BUCKET_NOTE = (
    "network: propagation and transmission; queueing: waiting for a core or a pooled "
    "connection; CPU: the services' own work; proxy / broker: moving the messages (gateway, "
    "sidecar and broker processing, and the services' and clients' own reads and writes, "
    "with each wait to wake); handshakes: TCP/TLS set-up on the path."
)


@dataclass
class FigureDoc:
    """One figure: a stable key (file name), title, one explaining sentence, PNG bytes."""

    key: str
    title: str
    caption: str
    png: bytes = b""


@dataclass
class Report:
    """Everything the report shows."""

    name: str
    description: str
    load: str
    run: dict[str, Any]
    headline: list[dict[str, str]]
    breakdown: list[dict[str, str]]
    events: list[dict[str, str]]
    services: list[dict[str, str]]
    flows: list[dict[str, str]]
    architectures: dict[str, str]
    parameters: list[tuple[str, list[Parameter]]]  # by section: placement, services, http…
    assumptions: list[Parameter]
    moving_parts: list[dict[str, str]]
    figures: list[FigureDoc] = field(default_factory=list)
    sample: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    interval: str = ""  # how the intervals were computed
    disturbances: list[dict[str, str]] = field(default_factory=list)  # timeline actions
    verdict: Verdict = field(default_factory=Verdict)  # sim.report.verdict
    ledger: Ledger = field(default_factory=Ledger)  # sim.report.ledger
    cost: CostSection | None = None  # sim.report.money


def build_report(res: Results, render: bool = True) -> Report:
    """The report of a results bundle; ``render=False`` skips drawing the figures."""
    sc, s = res.scenario, res.summary
    a = sc.workload.arrivals
    rate = f", {a.rate:g} requests/s" if hasattr(a, "rate") else ""
    meta = res.metadata
    warnings = []
    if meta.get("scenario_hash") and meta["scenario_hash"] != scenario_hash(sc):
        warnings.append(
            "The scenario's defaults differ from those of the run (the model changed since): "
            "the parameter table shows today's defaults."
        )
    paired = {"http", "messaging"} <= set(res.architectures)
    if not paired:
        only = ", ".join(res.architectures) or "none"
        warnings.append(
            f"Only one architecture was run ({only}): its values are shown, and there is "
            "nothing to compare (run with --arch both for the paired comparison)."
        )
    for arch in res.architectures:
        if not (res.latencies["architecture"] == arch).any():
            warnings.append(
                f"No request completed successfully over {arch} in the measured window: its "
                "latency percentiles, latency figures and sample request are empty (the error "
                "rate and the scenario say why; a run where nothing completes is a result too)."
            )
    if _no_rows(res):
        warnings.append(
            "Raw rows were not kept (run.rows: none): the summary and the figures come from "
            "aggregates built while the run went (latencies.parquet keeps each measured "
            "request's latency), with the same values."
        )
    rep = Report(
        name=sc.name,
        description=sc.description,
        load=f"{a.kind} arrivals{rate}, {sc.workload.clients} edge clients",
        run={
            "duration": f"{sc.run.duration:g}",
            "warmup": f"{res.warmup:g}",
            "warmup_auto": "yes" if sc.run.warmup == "auto" else "",
            "seed": str(meta.get("seed", sc.run.seed)),
            "replications": str(meta.get("replications", sc.run.replications)),
            "version": str(meta.get("version", "")),
            "scenario_hash": str(meta.get("scenario_hash", "")),
        },
        headline=headline_rows(wide(s)),
        breakdown=_breakdown(wide(s)),
        events=_events(wide(s)),
        services=_services(res),
        flows=[
            {"name": f.name, "target": f"{f.service}.{f.operation}", "weight": f"{f.weight:g}"}
            for f in sc.workload.flows
        ],
        architectures=_architectures(res),
        parameters=_sections(ps := parameters(sc)),
        assumptions=[p for p in ps if p.assumption],
        moving_parts=_moving_parts(res),
        warnings=warnings,
    )
    rep.interval = _interval_method(res)
    rep.disturbances = _disturbances(meta.get("disturbance") or [])
    rep.sample = _sample(res)
    if paired:
        rep.verdict = build_verdict(sc, s, res.components)
    rep.ledger = build_ledger(sc, res.components)
    if len(res.components):
        rep.cost = cost_section(sc, res.components, meta)
    rep.figures = _figures(res, rep, render)
    return rep


def _no_rows(res: Results) -> bool:
    """The runs kept no raw rows (``run.rows: none``)."""
    return len(res.requests) == 0 and any(
        r.get("rows") == "none" for r in res.metadata.get("runs", []) if isinstance(r, dict)
    )


def _disturbances(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Rows of :func:`sim.faults.measures.disturbance_table`, as text ("–": never)."""

    def num(v: Any, fmt: str) -> str:
        return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)

    return [
        {
            "event": str(d.get("event", "")),
            "architecture": str(d.get("architecture", "")),
            "detect": num(d.get("time_to_detect"), ".3g"),
            "recover": num(d.get("time_to_recover"), ".3g"),
            "failed": num(d.get("failed"), "d"),
            "timeouts": num(d.get("timeouts"), "d"),
            "unanswered": num(d.get("unanswered"), "d"),
            "amplification": num(d.get("retry_amplification"), ".3g"),
            "connections": num(d.get("connections_opened"), ".0f"),
        }
        for d in rows
    ]


def _interval_method(res: Results) -> str:
    """The summary names its method (``attrs``); a summary read from CSV has lost it."""
    named = res.summary.attrs.get("interval")
    if named:
        return str(named)
    n = int(res.metadata.get("replications", res.scenario.run.replications))
    return batches.METHOD if n == 1 else f"independent replications ({n}, Student t)"


def _sections(ps: list[Parameter]) -> list[tuple[str, list[Parameter]]]:
    out: dict[str, list[Parameter]] = {}
    for p in ps:
        out.setdefault(p.path.split(".", 1)[0], []).append(p)
    return list(out.items())


def _value(s: pd.DataFrame, flow: str, metric: str, arch: str) -> float:
    sel = s[(s["flow"] == flow) & (s["metric"] == metric)]
    return float(sel.iloc[0][arch]) if len(sel) and arch in sel.columns else math.nan


def _breakdown(s: pd.DataFrame) -> list[dict[str, str]]:
    rows = []
    for b in ("network", "queueing", "cpu", "infra", "handshake"):
        h, m = _value(s, "all", f"time_{b}", "http"), _value(s, "all", f"time_{b}", "messaging")
        rows.append({"part": plots.BUCKET_LABELS[b], "http": _ms(h), "messaging": _ms(m)})
    return rows


def _ms(v: float) -> str:
    # sums of float differences leave ±1e-13 where the true value is 0: show 0
    if math.isnan(v):
        return "–"  # the architecture was not run
    return "0" if abs(v) < 1e-9 else f"{v:.4g}"


def _events(s: pd.DataFrame) -> list[dict[str, str]]:
    ev = s[s["metric"].isin(["delivery_mean", "delivery_p99"])]
    return [
        {
            "flow": str(r.flow),
            "metric": str(r.metric).replace("delivery_", ""),
            "http": _ms(float(r.http)),
            "messaging": _ms(float(r.messaging)),
        }
        for r in ev.itertuples()
    ]


def _services(res: Results) -> list[dict[str, str]]:
    out = []
    for name, svc in res.scenario.services.items():
        ops = []
        for op_name, op in svc.operations.items():
            extra = [f"→ {c.service}.{c.operation}" for c in op.calls]
            extra += [f"emits {e.subject}" for e in op.emits]
            ops.append(
                f"{op_name} ({dist_text(op.demand)}{'; ' if extra else ''}{', '.join(extra)})"
            )
        subs = [f"{x.subject} → {x.operation} ({x.delivery})" for x in svc.subscriptions]
        out.append(
            {
                "name": name,
                "instances": str(svc.instances),
                "cores": str(svc.cores),
                "operations": "; ".join(ops) or "–",
                "subscriptions": "; ".join(subs) or "–",
            }
        )
    return out


def _architectures(res: Results) -> dict[str, str]:
    sc = res.scenario
    regions = ", ".join(f"{r.name} (zones {' '.join(r.zones)})" for r in sc.placement.regions)
    return {"placement": regions, **{a: describe(sc) for a, describe in DESCRIBE.items()}}


def _moving_parts(res: Results) -> list[dict[str, str]]:
    t = plots.moving_parts_table(res.components) if len(res.components) else pd.DataFrame()
    rows = [{"kind": str(k), **{a: str(int(v)) for a, v in r.items()}} for k, r in t.iterrows()]
    rows.append({"kind": "total", **{a: str(int(t[a].sum())) for a in t.columns}})
    return rows


def _sample(res: Results) -> dict[str, Any]:
    if not res.traces:
        return {}
    archs = [a for a in ("http", "messaging") if a in res.traces]
    first = sample_request(res.requests, res.metadata.get("runs", []))
    return {
        "request_id": res.sample,
        "first": first is not None and first[0] == res.sample,
        "architectures": archs,
        "mermaid": {a: sequence.mermaid(res.traces[a]) for a in archs},
        "hops": {a: sequence.hop_table(res.traces[a]) for a in archs},
        "latency": {a: f"{res.traces[a].latency * 1e3:.3f}" for a in archs},
    }


def _ratio(h: float, m: float) -> str:
    return f"{m / h:.3g}×" if h and not (math.isnan(h) or math.isnan(m)) else "–"


def _figures(res: Results, rep: Report, render: bool) -> list[FigureDoc]:
    s, warm = res.summary, res.warmup
    events = res.events

    def v(flow: str, metric: str, arch: str) -> float:
        return _value(s, flow, metric, arch)

    p99 = (v("all", "latency_p99", "http"), v("all", "latency_p99", "messaging"))
    infra = (v("all", "time_infra", "http"), v("all", "time_infra", "messaging"))
    conns = (v("system", "connections_mean", "http"), v("system", "connections_mean", "messaging"))
    cpu = (v("system", "cpu_cores_infra", "http"), v("system", "cpu_cores_infra", "messaging"))
    mem = (v("system", "memory_infra", "http"), v("system", "memory_infra", "messaging"))
    procs = {
        a: next((r.get(a, "0") for r in rep.moving_parts if r["kind"] == "total"), "0")
        for a in ("http", "messaging")
    }
    graphs = {a: topology.connection_graph(res.components, res.links, a) for a in res.architectures}
    pairs = "; ".join(f"{a}: {g.number_of_edges()} connected pairs" for a, g in graphs.items())
    docs: list[tuple[FigureDoc, Any]] = [
        (
            FigureDoc(
                "latency",
                "Latency distribution",
                f"The share of requests answered within each latency (left) and the percentiles (right): at p99 a request takes {p99[0]:.3g} ms over HTTP and {p99[1]:.3g} ms over messaging ({_ratio(*p99)}).",
            ),
            lambda: plots.latency_distribution(res.latencies),
        ),
        (
            FigureDoc(
                "breakdown",
                "Where the time goes",
                f"The mean latency of a request split by where it was spent; moving the messages (proxies, broker and every end's reads and writes) accounts for {infra[0]:.3g} ms over HTTP and {infra[1]:.3g} ms over messaging.",
            ),
            lambda: plots.breakdown_bars(
                {
                    a: {b: v("all", f"time_{b}", a) for b in BUCKETS}  # ms, as the table
                    for a in res.architectures
                }
            ),
        ),
        (
            FigureDoc(
                "connections",
                "Connections over time",
                f"Open connection ends, by the kind of component holding them: each connection has two ends, so the stacks reach twice the number of connections; on average {conns[0]:.4g} connections ({2 * conns[0]:.4g} ends) are open over HTTP and {conns[1]:.4g} ({2 * conns[1]:.4g} ends) over messaging ({_ratio(*conns)}). An HTTP pool opens a connection whenever all of its connections are busy and closes one only after it has been idle for http.pool.idle_timeout (Envoy's 1 h; edge clients 90 s), so over HTTP the count creeps up with run length towards the highest concurrency of the last hour rather than settling within a short run; a broker client keeps its one connection.",
            ),
            lambda: plots.connections_over_time(res.timeseries, warm),
        ),
        (
            FigureDoc(
                "resources",
                "CPU and memory by component kind",
                f"Busy cores and time-averaged memory summed by component kind: infrastructure uses {cpu[0]:.3g} cores and {mem[0]:.4g} MiB over HTTP, {cpu[1]:.3g} cores and {mem[1]:.4g} MiB over messaging.",
            ),
            lambda: plots.resources_by_kind(res.components),
        ),
        (
            FigureDoc(
                "over-time",
                "Throughput, errors and p99 over time",
                "Per-interval throughput, error rate and p99 latency by completion time; the shaded band is the discarded warm-up"
                + (
                    f" and the {len(events)} dashed line(s) mark fault or scaling events."
                    if events
                    else "; no fault or scaling events happened in this run."
                ),
            ),
            lambda: plots.over_time(res.timeseries, warm, events),
        ),
        (
            FigureDoc(
                "topology",
                "Topology: who holds connections to whom",
                f"An arrow from A to B means A opened connections to B during the run (node area: requests or messages handled; edge width: connections opened) — {pairs}.",
            ),
            lambda: topology.draw_topologies(res.components, res.links),
        ),
        (
            FigureDoc(
                "moving-parts",
                "The moving parts",
                f"Infrastructure processes each architecture runs besides the services and clients: {procs['http']} over HTTP, {procs['messaging']} over messaging.",
            ),
            lambda: plots.moving_parts(res.components),
        ),
    ]
    if rep.sample:
        lat = rep.sample["latency"]
        docs.append(
            (
                FigureDoc(
                    "sequence",
                    "One request, hop by hop",
                    f"The same request (id {rep.sample['request_id']}) in both architectures, each arrow a message leaving a component at its time since the request started; the reply arrived after {lat.get('http', '–')} ms over HTTP and {lat.get('messaging', '–')} ms over messaging.",
                ),
                lambda: sequence.timeline(res.traces, res.sample),
            )
        )
    out = []
    for doc, draw in docs:
        if len(res.architectures) == 1:  # the captions compare two runs: say what is drawn
            doc.caption = (
                f"{doc.title} of the {res.architectures[0]} run alone (no other architecture "
                "was run); its values are in the tables."
            )
        if render:
            with plain_text():
                doc.png = png(draw())
        out.append(doc)
    return out


def plain_text() -> Any:
    """Figures show scenario text as written: names such as ``pay$\\x$`` are not TeX, and
    matplotlib's math-text parser would fail on them."""
    import matplotlib

    return matplotlib.rc_context({"text.parse_math": False})


def png(fig: Figure, dpi: int = 110) -> bytes:
    """A figure as PNG bytes (Agg canvas; no metadata, so bytes are stable across runs)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()
