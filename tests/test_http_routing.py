"""Routing at a picker: balancing policies, timeouts, retries and their budget, calls to one
named instance, and the three internal routes (mesh, gateway, direct) and ambient mode."""

from __future__ import annotations

from collections import Counter

import pytest

from sim.scenario.http import Retries, Route
from tests.test_http_world import QUIET_NET, QUIET_PROXY, QUIET_TLS, World, quiet


def _world(
    http: str = "", backends: int = 3, demand: str = "1ms", call: str = "", cores: int = 8
) -> World:
    return World(
        quiet(
            f"""
placement:
  regions: [{{name: r, zones: [a]}}]
  {QUIET_NET}
services:
  api:
    operations:
      call: {{calls: [{{service: backend, operation: op{call}}}]}}
  backend:
    instances: {backends}
    cores: {cores}
    startup: 1s
    operations:
      op: {{demand: {{dist: constant, value: {demand}}}}}
workload:
  arrivals: {{kind: constant, rate: 1}}
  flows: [{{name: f, service: api, operation: call}}]
http:
  gateway: {{replicas: 1, cpu_per_request: 0, io: null}}
  sidecar: {QUIET_PROXY}
  tls: {QUIET_TLS}
  orchestrator: {{readiness: {{period: 1000}}, exit_detection: 1000}}
  {http}
"""
        )
    )


def _handled(w: World) -> list[int]:
    return [w.comp(f"backend-{i}").handled for i in range(len(w.app.instances["backend"]))]


def test_round_robin_walks_the_endpoints_in_order() -> None:
    w = _world("routes: {backend: {balancing: round_robin}}")
    for k in range(7):
        w.send(0.1 + 0.01 * k, None, "backend", "op")
    w.run(1)
    sends = [to for _, _, who, to in w.t.log if who == "gateway-0"]
    assert sends == ["backend-0", "backend-1", "backend-2"]  # first sends, in order
    assert _handled(w) == [3, 2, 2]


def test_random_balancing_spreads_evenly() -> None:
    w = _world("routes: {backend: {balancing: random}}")
    for k in range(3000):
        w.send(0.1 + 0.001 * k, None, "backend", "op")
    w.run(5)
    h = _handled(w)
    # binomial(3000, 1/3): sd ≈ 26; 5 sd either side
    assert all(870 <= x <= 1130 for x in h), h


@pytest.mark.parametrize(("policy", "low", "high"), [("random", 70, 130), ("least_request", 0, 50)])
def test_least_request_avoids_a_host_that_holds_requests(policy: str, low: int, high: int) -> None:
    """backend-2 hangs (and is never removed here): every request sent to it stays
    outstanding. Random sends it a third of 300 requests (binomial sd ≈ 8); power of two
    choices only when both draws land on it (≤ 1/9: ≈ 33, sd ≈ 5)."""
    w = _world(f"routes: {{backend: {{balancing: {policy}, retries: {{attempts: 0}}}}}}")
    w.t.crash(w.inst("backend-2"), "hang")
    for k in range(300):
        w.send(0.1 + 0.01 * k, None, "backend", "op")
    w.run(5)
    stuck = 300 - len(w.done)
    assert low <= stuck <= high, stuck


def test_route_timeout_ends_a_slow_request_and_the_buckets_still_add_up() -> None:
    w = _world("routes: {backend: {timeout: 50ms}}", backends=1, demand="100ms")
    w.send(0.1, w.inst("api-0"), "backend", "op")
    w.run(1)
    (d,) = w.done
    assert d.status == "timeout"
    assert d.latency == pytest.approx(0.05, abs=1e-12)
    t = d.trace
    assert t.network + t.queueing + t.cpu + t.infra + t.handshake == pytest.approx(0.05)
    assert w.comp("backend-0").handled == 1  # the backend still did the work


def test_per_try_timeout_retries_and_doubles_the_backend_load() -> None:
    retry = "{attempts: 1, per_try_timeout: 30ms, retry_on: [per-try-timeout], backoff_base: 0}"
    w = _world(f"routes: {{backend: {{retries: {retry}}}}}", backends=2, demand="100ms")
    w.send(0.1, w.inst("api-0"), "backend", "op")
    w.run(1)
    (d,) = w.done
    assert d.status == "timeout"
    assert d.latency == pytest.approx(0.06, abs=1e-12)
    assert _handled(w) == [1, 1]  # the retry went to the other host (previous_hosts)


def test_retry_budget_bounds_concurrent_retries() -> None:
    w = _world()
    r = w.t.sidecars[w.inst("api-0")].router
    assert r is not None
    cfg = Route(retries=Retries(budget_percent=20, min_retry_concurrency=3))
    r.active_requests, r.active_retries = 100, 19
    assert r._budget_allows(cfg)  # 19 < max(3, 20)
    r.active_retries = 20
    assert not r._budget_allows(cfg)
    r.active_requests, r.active_retries = 5, 2
    assert r._budget_allows(cfg)  # the floor: 2 < 3
    r.active_retries = 3
    assert not r._budget_allows(cfg)
    assert not r._budget_allows(Route(retries=Retries(max_active_retries=3)))


def test_without_retry_budget_headroom_stale_sends_fail() -> None:
    """max_active_retries 0 (Envoy's circuit breaker): a refused attempt is not retried."""
    w = _world("routes: {backend: {balancing: round_robin, retries: {max_active_retries: 0}}}")
    w.app.stop_instance(w.inst("backend-1"), crash=True)
    for k in range(9):
        w.send(0.1 + 0.01 * k, w.inst("api-0"), "backend", "op")
    w.run(1)
    r = w.t.sidecars[w.inst("api-0")].router
    assert r is not None
    assert Counter(d.status for d in w.done) == {"ok": 6, "connect_failure": 3}
    assert r.retries_refused == r.stale_sends == 3


def test_a_named_instance_is_reached_through_discovery() -> None:
    w = _world(call=", instance: 1")
    for k in range(6):
        w.send(0.1 + 0.01 * k, None, "api", "call")
    w.run(1)
    assert all(d.status == "ok" for d in w.done)
    assert _handled(w) == [0, 6, 0]


def test_a_named_instance_unknown_to_the_picker_is_a_503_until_propagated() -> None:
    """backend-3 starts at 0 s (boot 1 s); probes every 0.5 s ⇒ ready at 1 s, known to
    api-0's sidecar after the catalog update and the push."""
    w = _world()
    w.t.orchestrator.cfg = w.t.orchestrator.cfg.model_copy(
        update={"readiness": w.t.orchestrator.cfg.readiness.model_copy(update={"period": 0.5})}
    )
    w.env.process(w.app.add_instance("backend"))
    for k in range(40):
        w.send(0.05 * k, w.inst("api-0"), "backend", "op", instance=3)
    w.run(3)
    known = next(t for t, _, who, s in w.log("view") if who == "api-0.sidecar")
    for d in w.done:
        assert d.status == ("ok" if d.start > known else "unavailable"), d.start
    assert w.comp("backend-3").handled == sum(d.status == "ok" for d in w.done) > 0


@pytest.mark.parametrize(
    ("route", "gateway", "sidecar"), [("mesh", 0, 1), ("gateway", 1, 0), ("direct", 0, 0)]
)
def test_internal_route_switch(route: str, gateway: int, sidecar: int) -> None:
    w = _world(f"internal_route: {route}", backends=1)
    w.send(0.1, w.inst("api-0"), "backend", "op")
    w.run(1)
    assert [d.status for d in w.done] == ["ok"]
    assert w.comp("gateway-0").peers.get("backend-0.sidecar", 0) == gateway
    assert w.comp("api-0.sidecar").peers.get("backend-0.sidecar", 0) == sidecar
    assert w.comp("api-0").peers.get("backend-0.sidecar", 0) == (1 if route == "direct" else 0)


@pytest.mark.parametrize(("per_host", "ztunnels"), [(2, 2), (4, 1)])
def test_ambient_mode_has_one_ztunnel_per_node(per_host: int, ztunnels: int) -> None:
    """Instances fill nodes in order (api-0, api-1, backend-0, backend-1): two per node puts
    callers and backends on different nodes (a request passes two ztunnels), four on one
    node (the one ztunnel hands the request over locally: one pass)."""
    w = World(
        quiet(
            f"""
placement:
  regions: [{{name: r, zones: [a]}}]
  instances_per_host: {per_host}
  {QUIET_NET}
services:
  api:
    instances: 2
    operations:
      call: {{calls: [{{service: backend, operation: op}}]}}
  backend:
    instances: 2
    operations:
      op: {{}}
workload:
  arrivals: {{kind: constant, rate: 1}}
  flows: [{{name: f, service: api, operation: call}}]
http:
  gateway: {{enabled: false}}
  sidecar: {{enabled: false}}
  ambient: {{enabled: true, io: null, cpu_per_request: 0.06ms}}
  tls: {QUIET_TLS}
"""
        )
    )
    zts = [c for c in w.t.components() if c.kind == "ztunnel"]
    assert len(zts) == ztunnels
    for k in range(10):
        w.send(0.1 + 0.01 * k, w.inst("api-0"), "backend", "op")
    w.run(1)
    assert all(d.status == "ok" for d in w.done)
    busy = sum(z.cpu.busy.area() for z in zts if z.cpu is not None)
    assert busy == pytest.approx(ztunnels * 10 * 0.06e-3)  # one pass per ztunnel crossed


def test_a_route_for_an_unknown_service_is_a_located_error() -> None:
    from sim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"<test>:\d+: http.routes.nosuch: unknown service"):
        _world("routes: {nosuch: {timeout: 1s}}")


def test_staggered_timeouts_on_one_shared_timer_fire_each_at_start_plus_limit() -> None:
    # Route timeouts of one length share one timer (routing.Deadlines): requests that start
    # 11 ms apart against a 1-core backend queue up; each must end at exactly its own
    # start + 50 ms when its answer is late, and with its answer when it is in time.
    w = _world("routes: {backend: {timeout: 50ms}}", backends=1, demand="20ms", cores=1)
    starts = [0.1 + 0.011 * k for k in range(8)]
    for t in starts:
        w.send(t, w.inst("api-0"), "backend", "op")
    w.run(2)
    assert len(w.done) == 8
    by_start = sorted(w.done, key=lambda d: d.trace.start)
    # FIFO on one core: request k finishes at 0.1 + 0.02·(k+1) (plus nothing else: quiet net)
    for k, d in enumerate(by_start):
        answer = 0.02 * (k + 1) - 0.011 * k  # its latency if it waited for the answer
        if answer < 0.05:
            assert d.status == "ok", (k, d.status)
            assert d.latency == pytest.approx(answer, abs=1e-9)
        else:
            assert d.status == "timeout", (k, d.status)
            assert d.latency == pytest.approx(0.05, abs=1e-12)
            assert d.trace.start + 0.05 == pytest.approx(d.trace.start + d.latency, abs=1e-12)
        t = d.trace
        assert t.network + t.queueing + t.cpu + t.infra + t.handshake == pytest.approx(d.latency)
    assert [d.status for d in by_start].count("timeout") == 4
