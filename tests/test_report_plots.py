"""Plot, topology and sequence functions: Figures with the expected axes, labels and data.

Where a figure shows a number the summary also holds (percentile bars, the time breakdown,
the moving parts), the test reads the number back from the figure and compares it with the
frames, so a figure cannot silently disagree with the headline table.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Annotation

from sim.core.trace import BUCKETS
from sim.report import plots, sequence, topology
from sim.report.data import TracedRequest, from_comparison
from tests.test_report_fixtures import TinyRun, tiny_run

__all__ = ["tiny_run"]


def _requests(t: TinyRun):  # type: ignore[no-untyped-def]
    r = t.cmp.frame("requests")
    return r, r[r["kind"] == "request"]


def test_latency_distribution_bars_are_the_percentiles(tiny_run: TinyRun) -> None:
    req, r = _requests(tiny_run)
    fig = plots.latency_distribution(req)
    assert isinstance(fig, Figure)
    cdf, pct = fig.axes
    assert cdf.get_xlabel() == "latency (ms)"
    assert cdf.get_xscale() == "log"
    assert [line.get_label() for line in cdf.get_lines()] == ["http", "messaging"]
    assert [t.get_text() for t in pct.get_xticklabels()] == ["p50", "p90", "p99", "p99.9"]
    heights = [b.get_height() for b in pct.patches]
    want = []
    for a in ("http", "messaging"):
        lat = r[r["architecture"] == a]["latency"].to_numpy() * 1e3
        want += list(np.percentile(lat, plots.PERCENTILES))
    assert heights == pytest.approx(want, rel=1e-12)


def test_cdf_ends_at_one_and_counts_every_request(tiny_run: TinyRun) -> None:
    req, r = _requests(tiny_run)
    cdf = plots.latency_distribution(req).axes[0]
    for line, a in zip(cdf.get_lines(), ("http", "messaging"), strict=True):
        y = line.get_ydata()
        assert len(y) == (r["architecture"] == a).sum()
        assert y[-1] == 1.0


def test_time_breakdown_bars_sum_to_the_mean_latency(tiny_run: TinyRun) -> None:
    req, r = _requests(tiny_run)
    ax = plots.time_breakdown(req).axes[0]
    assert ax.get_xlabel() == "mean time per request (ms)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["http", "messaging"]
    widths = [p.get_width() for p in ax.patches]
    assert len(widths) == 2 * len(BUCKETS)
    for i, a in enumerate(("http", "messaging")):
        g = r[r["architecture"] == a]
        want = [g[b].mean() * 1e3 for b in BUCKETS]
        assert widths[i * len(BUCKETS) : (i + 1) * len(BUCKETS)] == pytest.approx(want, abs=1e-12)
        # the buckets sum to the latency (the trace invariant), so the bar ends at the mean
        assert sum(want) == pytest.approx(g["latency"].mean() * 1e3, rel=1e-9)


def test_time_breakdown_names_segments_too_thin_to_see() -> None:
    means = {
        "http": {"network": 2.0, "queueing": 1.0, "cpu": 2.4, "infra": 0.37, "handshake": 0.009},
        "messaging": {"network": 4.5, "queueing": 1.1, "cpu": 2.4, "infra": 0.44, "handshake": 0.0},
    }
    ax = plots.breakdown_bars(means).axes[0]
    totals = [t.get_text() for t in ax.texts if "ms" in t.get_text()]
    assert totals[0] == " 5.78 ms\n (of which handshakes 0.009)"
    assert totals[1] == " 8.44 ms"  # nothing thin but a zero, which is not drawn


def test_connections_over_time_one_panel_per_architecture(tiny_run: TinyRun) -> None:
    fig = plots.connections_over_time(tiny_run.cmp.frame("timeseries"), warmup=0.5)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["http", "messaging"]
    assert fig.axes[0].get_ylabel() == "open connection ends"
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "broker" in legend and "sidecar" not in legend


def test_connections_over_time_counted_per_connection_matches_the_summary(
    tiny_run: TinyRun,
) -> None:
    ts = tiny_run.cmp.frame("timeseries")
    ends = plots.connections_over_time(ts, count="ends")
    conns = plots.connections_over_time(ts, count="connections")
    assert conns.axes[0].get_ylabel() == "open connections (½ to each end)"
    for a, b in zip(ends.axes, conns.axes, strict=True):
        assert a.collections
        for ca, cb in zip(a.collections, b.collections, strict=True):
            ya = np.concatenate([path.vertices[:, 1] for path in ca.get_paths()])
            yb = np.concatenate([path.vertices[:, 1] for path in cb.get_paths()])
            assert yb == pytest.approx(ya / 2)
    with pytest.raises(ValueError, match="count must be"):
        plots.connections_over_time(ts, count="sockets")


def test_resources_by_kind_bars_are_the_component_sums(tiny_run: TinyRun) -> None:
    comps = tiny_run.cmp.frame("components")
    fig = plots.resources_by_kind(comps)
    cpu, mem = fig.axes
    assert cpu.get_ylabel() == "busy cores (mean)"
    assert mem.get_ylabel() == "memory (MiB, time-average)"
    kinds = [t.get_text() for t in cpu.get_xticklabels()]
    n = len(kinds)
    heights = [p.get_height() for p in mem.patches]
    for i, a in enumerate(("http", "messaging")):
        c = comps[comps["architecture"] == a]
        want = [c[c["kind"] == k]["memory_mean"].sum() / 2**20 for k in kinds]
        assert heights[i * n : (i + 1) * n] == pytest.approx(want, rel=1e-12)


def test_over_time_marks_events_and_warmup(tiny_run: TinyRun) -> None:
    events = [{"t": 1.25, "label": "kill back-0", "architecture": "http"}]
    fig = plots.over_time(tiny_run.cmp.frame("timeseries"), warmup=0.5, events=events)
    axes = fig.axes
    assert [(ax.get_title(loc="left"), ax.get_ylabel()) for ax in axes] == [
        ("throughput of successful requests", "req/s"),
        ("error rate", "fraction"),
        ("p99 latency of successful requests", "ms"),
    ]
    for ax in axes:
        xs = {
            float(np.asarray(line.get_xdata())[0])
            for line in ax.get_lines()
            if line.get_linestyle() == "--"
        }
        assert xs == {1.25}
    assert [t.get_text() for t in axes[0].texts if t.get_text() != "warm-up"] == ["1"]
    key = [t.get_text() for t in fig.legends[0].get_texts()]
    assert key == ["1  http: kill back-0 (t = 1.25 s)"]


def test_over_time_close_events_share_one_number_and_never_overlap(tiny_run: TinyRun) -> None:
    events = [
        {"t": 1.0, "label": "stop gateway-0", "architecture": "http"},
        {"t": 1.0, "label": "stop nats-0", "architecture": "messaging"},
        {"t": 1.0005, "label": "detected: nats-0", "architecture": "messaging"},
    ]
    fig = plots.over_time(tiny_run.cmp.frame("timeseries"), events=events)
    numbers = [t.get_text() for t in fig.axes[0].texts]
    assert numbers == ["1,2,3"]  # one label for the cluster, not three on top of each other
    assert len(fig.legends[0].get_texts()) == 3


def test_over_time_draws_an_interval_without_success_as_a_gap(tiny_run: TinyRun) -> None:
    ts = tiny_run.cmp.frame("timeseries")
    http = ts["architecture"] == "http"
    t = sorted(ts[http & (ts["metric"] == "p99_latency")]["t"].unique())
    hole = t[len(t) // 2]
    # as an interval where every request failed: throughput 0, error rate 1, no p99 row
    gone = http & (ts["t"] == hole) & (ts["metric"] == "p99_latency")
    ts = ts[~gone].copy()
    ts.loc[http & (ts["t"] == hole) & (ts["metric"] == "throughput"), "value"] = 0.0
    fig = plots.over_time(ts)
    line = next(ln for ln in fig.axes[2].get_lines() if ln.get_label() == "http")
    x, y = np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)
    assert hole in x and np.isnan(y[list(x).index(hole)])  # a break, not a ramp
    tput = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "http")
    assert np.asarray(tput.get_ydata())[list(np.asarray(tput.get_xdata())).index(hole)] == 0


def test_moving_parts_counts_infrastructure_only(tiny_run: TinyRun) -> None:
    comps = tiny_run.cmp.frame("components")
    t = plots.moving_parts_table(comps)
    assert t.loc["broker", "messaging"] == 1
    assert t.loc["gateway", "http"] == 1  # tiny.yaml: one gateway replica
    assert t.loc["sidecar", "http"] == 4  # one per instance: front, back ×2, watcher
    assert "service" not in t.index and "client" not in t.index
    ax = plots.moving_parts(comps).axes[0]
    assert ax.get_xlabel() == "infrastructure processes"
    assert sum(p.get_width() for p in ax.patches) == t.to_numpy().sum()


def test_messaging_topology_is_a_star_around_the_broker(tiny_run: TinyRun) -> None:
    comps, links = tiny_run.cmp.frame("components"), tiny_run.cmp.frame("links")
    g = topology.connection_graph(comps, links, "messaging")
    assert {b for _, b in g.edges} == {"nats-0"}
    clients_opened = g.edges["clients", "nats-0"]["opened"]
    assert clients_opened == tiny_run.scenario.workload.clients
    members = set(
        comps[(comps["architecture"] == "messaging") & (comps["kind"] == "service")]["name"]
    )
    assert {a for a, _ in g.edges} == members | {"clients"}


def test_http_topology_every_proxy_talks_to_the_control_plane(tiny_run: TinyRun) -> None:
    comps, links = tiny_run.cmp.frame("components"), tiny_run.cmp.frame("links")
    g = topology.connection_graph(comps, links, "http")
    proxies = [n for n, d in g.nodes(data=True) if d["kind"] in ("sidecar", "gateway")]
    assert proxies and all(g.has_edge(p, "istiod") for p in proxies)
    for n, d in g.nodes(data=True):
        if d["kind"] == "service":  # each instance is reached through its own sidecar only
            assert set(g.predecessors(n)) == {f"{n}.sidecar"}
    assert {b for a, b in g.edges if a == "clients"} == {"gateway-0"}
    fig = topology.draw_topologies(comps, links)
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["http", "messaging"]
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "sidecar" in labels and "back-0" in labels  # a sidecar faces its service's row
    assert not any(t.endswith(".sidecar") for t in labels)


def test_topology_folds_instances_beyond_the_limit(
    tiny_run: TinyRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    comps, links = tiny_run.cmp.frame("components"), tiny_run.cmp.frame("links")
    monkeypatch.setattr(topology, "MAX_NODES", 3)
    g = topology.connection_graph(comps, links, "messaging")
    assert g.nodes["service back"]["count"] == 2
    assert g.edges["service back", "nats-0"]["opened"] == 2


TRACE = TracedRequest(
    start=10.0,
    latency=0.004,
    hops=[
        (10.0, "clients", "nats-0", "msg"),
        (10.001, "nats-0", "a<b>;#1", "msg"),
        (10.003, "a<b>;#1", "nats-0", "msg"),
        (10.0035, "nats-0", "clients", "msg"),
    ],
    buckets={b: 0.0008 for b in BUCKETS},
)


def test_mermaid_is_exact_and_names_are_reduced_to_a_safe_alphabet() -> None:
    assert sequence.mermaid(TRACE) == "\n".join(
        [
            "sequenceDiagram",
            "    participant P0 as clients",
            "    participant P1 as nats-0",
            "    participant P2 as a_b___1",
            "    P0->>P1: msg at 0.000 ms",
            "    P1->>P2: msg at 1.000 ms",
            "    P2->>P1: msg at 3.000 ms",
            "    P1->>P0: msg at 3.500 ms",
            "    Note over P0: reply received at 4.000 ms",
            "    Note over P0: of which 0.800 ms connection set-up (TCP + TLS handshakes)",
        ]
    )
    assert sequence.hop_table(TRACE)[2] == ("3.000", "+2.000", "a<b>;#1", "nats-0", "msg")


def test_timeline_draws_one_arrow_per_hop_on_a_shared_time_axis() -> None:
    fig = sequence.timeline({"http": TRACE, "messaging": TRACE}, request_id=7)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["http", "messaging"]
    assert axes[0].get_ylabel() == "time since the request started (ms)"
    arrows = [c for c in axes[0].texts if isinstance(c, Annotation)]
    assert len(arrows) == len(TRACE.hops)
    lo, hi = axes[1].get_ylim()
    assert lo > hi  # time runs downwards
    assert "request 7" in fig.texts[0].get_text()


def test_traced_sample_in_the_report_is_replication_zero(tiny_run: TinyRun) -> None:
    res = from_comparison(tiny_run.scenario, tiny_run.cmp)
    assert res.traces == {}  # compare() traced nothing; write_run traced the sample itself


def test_events_from_run_metadata_reach_the_over_time_caption(tiny_run: TinyRun) -> None:
    from sim.report.document import build_report

    res = from_comparison(tiny_run.scenario, tiny_run.cmp)
    res.metadata = {**res.metadata, "runs": [dict(r) for r in res.metadata["runs"]]}
    http0 = next(r for r in res.metadata["runs"] if r["architecture"] == "http")
    http0["events"] = [{"t": 1.0, "label": "kill back-0"}]
    res.metadata["events"] = [{"t": 2.0, "label": "scale out"}, {"label": "no time"}]
    assert res.events == [
        {"t": 2.0, "label": "scale out"},
        {"architecture": "http", "t": 1.0, "label": "kill back-0"},
    ]
    caption = next(
        f.caption for f in build_report(res, render=False).figures if f.key == "over-time"
    )
    assert "the 2 dashed line(s) mark fault or scaling events" in caption
