"""How the mesh's memory and connections grow with its size (10, 50 and 200 services of
5 instances), exactly as configured:

* a sidecar holds its baseline plus 15 KB per cluster and 1,283 B per endpoint it knows —
  every service of the mesh by default, its dependencies with a scoped Sidecar resource —
  plus one TLS connection's memory for its xDS stream;
* istiod holds its baseline plus 0.75 MB and one TLS connection per connected proxy;
* the catalog holds 300 B per endpoint.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sim.api import scenario_from_dict
from sim.scenario import Scenario
from tests.worlds import World

KIB, MIB = 1024, 2**20
SIDECAR, PER_CLUSTER, PER_ENDPOINT = 45 * MIB, 15 * KIB, 1283
ISTIOD, PER_PROXY = 256 * MIB, 0.75 * MIB
TLS_CONN = 10 * KIB
K = 5  # instances per service


def _mesh(services: int, scope: str = "mesh") -> Scenario:
    svcs = {
        f"s{i}": {
            "instances": K,
            "operations": {
                "op": {"calls": [{"service": f"s{i + 1}", "operation": "op"}]}
                if i + 1 < services
                else {}
            },
        }
        for i in range(services)
    }
    return scenario_from_dict(
        {
            "name": f"mesh-{services}",
            "run": {"duration": 1, "warmup": 0},
            "placement": {"instances_per_host": 10},
            "services": svcs,
            "workload": {
                "arrivals": {"kind": "constant", "rate": 1},
                "flows": [{"name": "f", "service": "s0", "operation": "op"}],
            },
            "http": {"sidecar": {"scope": scope}},
        }
    )


def _world(services: int, scope: str = "mesh") -> World:
    w = World(_mesh(services, scope))
    w.run(1e-6)  # the start-of-run step books the configuration
    return w


@pytest.mark.parametrize("services", [10, 50, 200])
def test_sidecar_and_control_plane_memory_grow_with_mesh_size(services: int) -> None:
    w = _world(services)
    sidecars = [c for c in w.t.components() if c.kind == "sidecar"]
    assert len(sidecars) == K * services
    expected = SIDECAR + PER_CLUSTER * services + PER_ENDPOINT * K * services + TLS_CONN
    assert [c.memory.gauge.value for c in sidecars] == pytest.approx([expected] * len(sidecars))
    proxies = K * services + 2  # and the two gateway replicas
    istiod = w.comp("istiod")
    assert istiod.memory.gauge.value == pytest.approx(ISTIOD + (PER_PROXY + TLS_CONN) * proxies)
    assert istiod.conns_open.value == proxies
    assert w.t.catalog.memory.gauge.value == pytest.approx(300 * K * services)


@pytest.mark.parametrize("services", [10, 50, 200])
def test_scoped_sidecars_hold_only_their_dependencies(services: int) -> None:
    w = _world(services, scope="dependencies")
    for i in (0, services - 1):
        deps = 0 if i == services - 1 else 1  # s_i calls s_{i+1} only
        expected = SIDECAR + (PER_CLUSTER + PER_ENDPOINT * K) * deps + TLS_CONN
        assert w.comp(f"s{i}-0.sidecar").memory.gauge.value == pytest.approx(expected)


def test_a_push_reaches_only_the_sidecars_whose_scope_has_the_service() -> None:
    w = _world(10, scope="dependencies")
    w.t.crash(w.inst("s3-0"), "closed")
    w.run(3)
    (push,) = w.log("push")
    assert push[3] == str(K + 2)  # the sidecars of s2 (which call s3) and the gateways
    viewers = {who for _, _, who, s in w.log("view") if s == "s3" and who != "clients"}
    assert viewers == {f"s2-{j}.sidecar" for j in range(K)} | {"gateway-0", "gateway-1"}
    # memory follows the push: one endpoint fewer for the s2 sidecars
    expected = SIDECAR + PER_CLUSTER + PER_ENDPOINT * (K - 1) + TLS_CONN
    assert w.comp("s2-0.sidecar").memory.gauge.value == pytest.approx(expected)


def test_pushes_to_a_large_mesh_take_one_push_cost_per_proxy() -> None:
    """200 services × 5: one endpoint change is pushed to the 1,001 proxies still connected
    (1,000 sidecars and 2 gateways, less the crashed instance's), 1 ms of istiod CPU each:
    the last one learns of it a second after the first."""
    w = _world(200)
    w.t.crash(w.inst("s7-0"), "closed")
    w.run(10)
    (push,) = w.log("push")
    assert push[3] == "1001"
    views = {who: t for t, _, who, s in w.log("view") if s == "s7" and who != "clients"}
    assert len(views) == 1001
    cp = w.t.control_plane
    assert cp is not None
    nbytes = 205 + 19 * (K - 1)  # one cluster and its 4 remaining endpoints on the wire
    for k, client in enumerate(cp.clients):
        owner = client.view.owner
        trip = w.app.net.one_way(cp.place, owner.place, nbytes)
        assert views[owner.name] == pytest.approx(push[0] + (k + 1) * 1e-3 + trip + 1e-4)
    istiod = w.comp("istiod")
    assert istiod.cpu is not None and istiod.cpu.busy.area() == pytest.approx(1001 * 1e-3)


@pytest.mark.parametrize("services", [3, 6])
def test_mesh_wide_connections_grow_with_services_times_instances_squared(services: int) -> None:
    """A chain s0 → s1 → … of 5 instances each, round robin, HTTP/2: once every sidecar has
    sent a few requests, each holds one connection to each sidecar of the next service —
    (services − 1) × 5² sidecar-to-sidecar connections — plus 2 gateways × 5 into s0."""
    import sim

    sc = sim.override(
        _mesh(services),
        [
            "workload.arrivals={kind: constant, rate: 100}",
            "run.duration=3",
            "http.protocol=http2",
            "http.sidecar.route.balancing=round_robin",
        ],
    )
    res = sim.simulate(sc, "http")
    links = links_by_kind(res.links).set_index(["source_kind", "target_kind"])
    assert links.loc[("sidecar", "sidecar"), "pairs"] == (services - 1) * K * K
    assert links.loc[("sidecar", "sidecar"), "opened"] == (services - 1) * K * K
    assert links.loc[("gateway", "sidecar"), "pairs"] == 2 * K
    wide = mesh_wide(res.components)
    assert wide["instances"] == services * K
    assert wide["proxies"] == services * K + 2
    kinds = connections_by_kind(res.components).set_index("kind")
    assert kinds.loc["sidecar", "components"] == services * K
    # nothing closes (1 h idle timeout): every connection opened is open at the end
    assert wide["open_end"] == wide["opened"]


@pytest.mark.slow
def test_large_mesh_scenario_runs_and_shows_the_growth() -> None:
    """scenarios/large-mesh.yaml, shortened to 2 s: 1,000 sidecars, every one configured
    with 200 clusters and 1,000 endpoints, istiod holding 1,002 proxies."""
    from pathlib import Path

    import sim

    path = Path(__file__).resolve().parents[1] / "scenarios" / "large-mesh.yaml"
    sc = sim.load_scenario(path, ["run.duration=2", "run.warmup=0.5"])
    res = sim.simulate(sc, "http")
    c = res.components.set_index("name")
    sidecars = c[c["kind"] == "sidecar"]
    assert len(sidecars) == 1000
    config = SIDECAR + PER_CLUSTER * 200 + PER_ENDPOINT * 1000
    assert (sidecars["memory_peak"] >= config).all()
    assert c.loc["istiod", "memory_mean"] == pytest.approx(ISTIOD + (PER_PROXY + TLS_CONN) * 1002)
    assert c.loc["istiod", "connections_open_end"] == 1002
    wide = mesh_wide(res.components)
    assert wide["proxies"] == 1002 and wide["instances"] == 1000
    assert res.metadata["completed"] > 0.95 * res.metadata["generated"]
    assert (res.requests["status"] == "ok").all()


def test_a_crashed_pod_frees_its_sidecar_and_its_place_at_istiod() -> None:
    w = _world(10)
    sc = w.comp("s3-0.sidecar")
    istiod = w.comp("istiod")
    before = istiod.memory.gauge.value
    w.t.crash(w.inst("s3-0"), "closed")
    assert sc.memory.gauge.value == 0
    assert sc.conns_open.value == 0
    assert istiod.memory.gauge.value == pytest.approx(before - PER_PROXY - TLS_CONN)
    assert istiod.conns_open.value == K * 10 + 2 - 1


# --------------------------------------------------------------------------- readouts
# Connection accounting as an SRE would ask for it, read from a run's ``components`` and
# ``links`` frames: per kind of component, and mesh-wide. A connection is counted once at
# each end, so mesh-wide figures halve the sums.

ACCOUNTING = {
    "components": ("name", "count"),
    "opened": ("connections_opened", "sum"),
    "closed": ("connections_closed", "sum"),
    "open_mean": ("connections_mean", "sum"),
    "open_end": ("connections_open_end", "sum"),
    "open_peak_max": ("connections_peak", "max"),
    "tcp_handshakes": ("tcp_handshakes", "sum"),
    "tls_handshakes": ("tls_handshakes", "sum"),
    "mtls_handshakes": ("mtls_handshakes", "sum"),
    "bytes_out": ("bytes_out", "sum"),
    "memory_mean_each": ("memory_mean", "mean"),
}


def connections_by_kind(components: pd.DataFrame) -> pd.DataFrame:
    """Per architecture and component kind: connection counts, handshakes, bytes, memory."""
    keys = [k for k in ("architecture", "replication") if k in components]
    out = components.groupby([*keys, "kind"], sort=True).agg(**ACCOUNTING)
    return out.reset_index()


def mesh_wide(components: pd.DataFrame) -> pd.Series:
    """Connections of the whole system, each counted once (both ends book every one)."""
    c = components
    return pd.Series(
        {
            "instances": int((c["kind"] == "service").sum()),
            "proxies": int(c["kind"].isin(["sidecar", "gateway", "ztunnel"]).sum()),
            "opened": c["connections_opened"].sum() / 2,
            "open_mean": c["connections_mean"].sum() / 2,
            "open_end": c["connections_open_end"].sum() / 2,
            "tls_handshakes": c["tls_handshakes"].sum() / 2,
        }
    )


def links_by_kind(links: pd.DataFrame) -> pd.DataFrame:
    """Connections opened, by (opener kind, acceptor kind): e.g. sidecar → sidecar."""
    return (
        links.groupby(["source_kind", "target_kind"], sort=True)["opened"]
        .agg(["count", "sum"])
        .rename(columns={"count": "pairs", "sum": "opened"})
        .reset_index()
    )
