"""Production-equivalent choices on both sides (issue 14): the orchestrator counted on both
architectures, an HTTP edge bridge as the broker's ingress, HTTP locality failover across
regions, and handshakes counted over the same window as CPU."""

from __future__ import annotations

import pytest

import sim
from sim.scenario.loader import ScenarioError
from tests.helpers import ROOT, queue_scenario, requests_of, scenario
from tests.test_faults_failover import CRASH, FAILOVER, RTT
from tests.worlds import world

MINIMAL = str(ROOT / "scenarios" / "order-service-minimal.yaml")


def _kind(r: sim.RunResult, kind: str) -> sim.RunResult:
    return r.components[r.components["kind"] == kind]


def test_kubernetes_control_plane_is_the_same_infrastructure_on_both_sides() -> None:
    sc = queue_scenario(200, "{dist: exponential, mean: 1ms}", duration=3)
    h, m = sim.simulate(sc, "http", seed=1), sim.simulate(sc, "messaging", seed=1)
    ph, pm = _kind(h, "platform"), _kind(m, "platform")
    assert list(ph["name"]) == list(pm["name"]) == ["kube-control-plane-0"]
    assert ph["memory_mean"].iloc[0] == pm["memory_mean"].iloc[0] == 600 * 2**20
    # 0.05 cores of background work, booked every second on the node's own cores
    assert ph["cpu_seconds"].iloc[0] == pytest.approx(0.05 * 3, rel=1e-9)
    assert ph["cpu_seconds"].iloc[0] == pm["cpu_seconds"].iloc[0]
    vm = sim.simulate(
        sim.override(sc, ["platform.kind=vm", "http.discovery.catalog=consul"]), "http", seed=1
    )
    assert len(_kind(vm, "platform")) == 0
    # the platform touches no request: the zero-overhead identity holds with it
    assert (requests_of(h)["latency"].to_numpy() == requests_of(m)["latency"].to_numpy()).all()


def test_a_kubernetes_catalog_on_vms_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"platform\.kind: a Kubernetes catalog"):
        sim.override(queue_scenario(10, "{dist: constant, value: 1ms}"), ["platform.kind=vm"])


def test_an_http_bridge_holds_the_edge_connections_and_pays_the_gateways_costs() -> None:
    sets = ["run.duration=4s", "run.warmup=1s", "workload.clients=16"]
    base = sim.load_scenario(MINIMAL, sets)
    direct = sim.simulate(base, "messaging", seed=1)
    bridged = sim.simulate(
        sim.override(base, ["messaging.ingress={kind: http-bridge, replicas: 2}"]),
        "messaging",
        seed=1,
    )
    assert len(_kind(direct, "bridge")) == 0
    b = _kind(bridged, "bridge")
    assert list(b["name"]) == ["bridge-0", "bridge-1"]
    # every order passes one replica (round robin), warm-up included
    assert sorted(b["handled"]) == pytest.approx([0.5 * 5 * 200] * 2, rel=0.15)
    assert (b["memory_mean"] >= 45 * 2**20).all() and (b["cpu_seconds"] > 0).all()
    # the broker: 16 edge connections replaced by one per replica
    conns = {
        r: _kind(x, "broker")["connections_open_end"].sum()
        for r, x in (("direct", direct), ("bridged", bridged))
    }
    assert conns["direct"] - conns["bridged"] == 16 - 2
    # each edge client opened TLS connections to the replicas it used (one-way TLS)
    assert b["tls_handshakes_run"].sum() >= 16
    # the extra hop costs time: two network legs and the bridge's work
    lat = {k: requests_of(x)["latency"].mean() for k, x in (("d", direct), ("b", bridged))}
    assert lat["b"] > lat["d"]


def test_locality_failover_moves_calls_to_the_other_region_once_the_endpoints_leave() -> None:
    text = FAILOVER.replace("  failover: dns ", "  failover: locality ")
    w = world(scenario(text), "http").run(8)
    req = w.requests()
    after = req[req["start"] > CRASH]
    failed = after[after["status"] != "ok"]
    assert len(failed) > 0  # the stale-endpoint window exists…
    # …and ends with the removal: exit seen within 1 s, catalog update, xDS push (debounce)
    assert failed["start"].max() < CRASH + 1.0 + 0.066 + 0.1 + 0.01
    moved = after[after["start"] > CRASH + 1.2]
    assert (moved["status"] == "ok").all() and len(moved) > 350  # 100/s until 8 s
    assert (moved["network"].round(9) == RTT).all()  # served in us: one round trip more


def test_outlier_ejection_fails_over_at_the_first_refusal() -> None:
    text = FAILOVER.replace("  failover: dns ", "  failover: locality ").replace(
        "  routes: {dispatch-eu: {retries: {attempts: 0}}, dispatch-us: {retries: {attempts: 0}}}",
        "  routes: {dispatch-eu: {retries: {attempts: 0}, outlier: {enabled: true, "
        "consecutive_5xx: 1, max_ejection_percent: 100}}}",
    )
    w = world(scenario(text), "http").run(8)
    after = w.requests()
    after = after[after["start"] > CRASH]
    assert (after["status"] != "ok").sum() <= 2  # one refusal per eu host, then ejected


def test_handshakes_count_over_the_measured_window_and_the_whole_run() -> None:
    sc = sim.load_scenario(MINIMAL, ["run.duration=3s", "run.warmup=2s"])
    m = sim.simulate(sc, "messaging", seed=1)
    s = m.summary.set_index("metric")["value"]
    assert s["tls_handshakes"] == 0  # long-lived connections: all opened in the warm-up
    assert s["tls_handshakes_run"] == 16 + 9  # 16 edge clients and 9 instances
    c = m.components
    assert (c["tls_handshakes"] <= c["tls_handshakes_run"]).all()
    assert (c["connections_opened"] <= c["connections_opened_run"]).all()


def test_istiod_replicas_share_the_proxies_and_each_pushes_to_its_own() -> None:
    sc = sim.load_scenario(
        str(ROOT / "scenarios" / "consul-discovery.yaml"),
        ["run.duration=20s", "run.warmup=5s", "http.control_plane.replicas=2"],
    )
    h = sim.simulate(sc, "http", seed=1)
    cp = _kind(h, "control-plane").set_index("name")
    assert list(cp.index) == ["istiod-0", "istiod-1"]
    proxies = len(_kind(h, "sidecar")) + len(_kind(h, "gateway"))
    # every proxy holds one stream, spread round robin
    streams = cp["connections_open_end"]
    assert streams.sum() == proxies and abs(streams.iloc[0] - streams.iloc[1]) <= 1
    # the new instance's registration reached every proxy that wants it, through both
    assert (cp["handled"] > 0).all()


def test_a_partly_ejected_region_spills_its_share_to_the_next_by_priority_load() -> None:
    """Envoy priority load: half of eu's endpoints ejected ⇒ eu keeps min(1, 0.5 × 1.4) = 70 %
    of the calls and 30 % spill to us, until discovery drops the crashed endpoint (then eu's
    one endpoint is all of it, healthy: 100 % again)."""
    text = (
        FAILOVER.replace("  failover: dns ", "  failover: locality ")
        .replace(
            "  routes: {dispatch-eu: {retries: {attempts: 0}}, dispatch-us: {retries: {attempts: 0}}}",
            "  routes: {dispatch-eu: {retries: {attempts: 0}, outlier: {enabled: true, "
            "consecutive_5xx: 1, max_ejection_percent: 100}}}",
        )
        .replace(
            "service: dispatch-eu, instance: all, mode: closed",
            "service: dispatch-eu, instance: 0, mode: closed",
        )
    )
    w = world(scenario(text), "http").run(8)
    req = w.requests()
    ok = req[req["status"] == "ok"]
    in_us = ok["network"].round(9) == RTT
    before = in_us[ok["start"] < CRASH]
    window = in_us[(ok["start"] > CRASH + 0.05) & (ok["start"] < CRASH + 0.95)]
    after = in_us[ok["start"] > CRASH + 1.5]
    assert not before.any() and not after.any()
    assert len(window) > 80 and 0.15 < window.mean() < 0.45  # 30 % expected (binomial sd 5 %)
    # overprovisioning 1 (no headroom): eu keeps exactly its healthy half
    w1 = world(scenario(text.replace("  failover: locality ", "  locality_overprovisioning: 1\n"
                                     "  failover: locality ")), "http").run(8)  # fmt: skip
    r1 = w1.requests()
    ok1 = r1[r1["status"] == "ok"]
    win1 = (ok1["network"].round(9) == RTT)[
        (ok1["start"] > CRASH + 0.05) & (ok1["start"] < CRASH + 0.95)
    ]
    assert 0.35 < win1.mean() < 0.65  # 50 % expected
