"""Discovery fed by the orchestrator: exact propagation times and stale-endpoint windows.

The world: a gateway replica, ``api`` (one instance) and ``backend`` (two). The network
and request-path CPU cost nothing; what remains are the mechanisms under test, with their
calibrated defaults unless a test says otherwise: EndpointSlice update 66 ms after
readiness, 50 µs of catalog CPU per watch event, istiod debounce 100 ms and 1 ms of CPU per
proxy pushed to (one core, proxies in connection order: gateway-0, api-0.sidecar,
backend-0.sidecar, backend-1.sidecar, then new ones), 0.1 ms for a proxy to apply a push.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from sim.http.controlplane import ControlPlane, XdsClient
from sim.http.discovery import View
from sim.scenario.http import ControlPlane as ControlPlaneConfig
from tests.test_http_world import QUIET_NET, QUIET_TLS, World, quiet

UPDATE = 0.066  # discovery.update_delay
WATCH = 50e-6  # catalog CPU per watch event (istiod is the first watcher)
DEBOUNCE = 0.1
PUSH = 1e-3  # istiod CPU per proxy
APPLY = 0.1e-3  # proxy config_cpu
ORDER = ["gateway-0", "api-0.sidecar", "backend-0.sidecar", "backend-1.sidecar"]


def _world(http: str = "", readiness: str = "{period: 0.75}", mesh: bool = True) -> World:
    proxies = (
        "gateway: {replicas: 1, cpu_per_request: 0, io: null}\n  sidecar: {cpu_per_request: 0, io: null}"
        if mesh
        else "gateway: {enabled: false}\n  sidecar: {enabled: false}"
    )
    return World(
        quiet(
            f"""
placement:
  regions: [{{name: r, zones: [a]}}]
  {QUIET_NET}
services:
  api:
    instances: 1
    operations:
      call: {{calls: [{{service: backend, operation: op}}]}}
  backend:
    instances: 2
    cores: 4
    startup: 2s
    operations:
      op: {{demand: {{dist: constant, value: 1ms}}}}
workload:
  arrivals: {{kind: constant, rate: 1}}
  flows: [{{name: f, service: api, operation: call}}]
http:
  {proxies}
  tls: {QUIET_TLS}
  orchestrator: {{readiness: {readiness}, exit_detection: 1s}}
  {http}
"""
        )
    )


def _views(w: World, service: str = "backend") -> dict[str, float]:
    return {who: t for t, _, who, s in w.log("view") if s == service}


def _first_sends(w: World, target: str) -> dict[str, float]:
    return {who: t for t, _, who, to in w.log("send") if to == target}


def _launch(w: World, at: float, service: str = "backend") -> None:
    """Start one more instance of `service` at time `at` (it boots for 2 s)."""

    def go() -> Generator[Any, Any, None]:
        yield w.env.timeout(at)
        yield w.env.process(w.app.add_instance(service))

    w.env.process(go())


def _traffic(w: World, start: float, stop: float, step: float = 0.01) -> None:
    """From the edge (gateway picks) and from api-0 (its sidecar picks), every `step`."""
    k = 1
    while start + k * step < stop:
        w.send(start + k * step, None, "backend", "op")
        w.send(start + k * step, w.inst("api-0"), "backend", "op")
        k += 1


def test_new_instance_is_used_only_after_readiness_and_propagation() -> None:
    """Launched at 1 s, answers at 3 s; probes every 0.75 s from 1 s ⇒ ready at 3.25 s."""
    w = _world()
    _launch(w, 1.0)
    _traffic(w, 0.0, 4.0)
    w.run(4.5)
    ready = 1.0 + 3 * 0.75
    assert [(t, who) for t, _, who, _ in w.log("ready")] == [(pytest.approx(ready), "backend-2")]
    push_at = ready + UPDATE + WATCH + DEBOUNCE
    (push,) = w.log("push")
    assert push[0] == pytest.approx(push_at, abs=1e-12)
    assert push[3] == "5"  # every proxy, the new sidecar included
    views = _views(w)
    for k, who in enumerate([*ORDER, "backend-2.sidecar"]):
        assert views[who] == pytest.approx(push_at + (k + 1) * PUSH + APPLY, abs=1e-12)
    firsts = _first_sends(w, "backend-2")
    assert set(firsts) == {"gateway-0", "api-0.sidecar"}
    for who, t in firsts.items():
        assert views[who] < t < views[who] + 0.05  # sent to as soon as known, not before
    assert all(d.status == "ok" for d in w.done)


def test_crashed_instance_gets_requests_until_removal_propagates() -> None:
    """Round robin over two backends, no retries; backend-1 crashes at 2.0005 s.

    api-0's sidecar keeps picking it every other request until its view changes at
    crash + exit detection (1 s) + update + watch + debounce + 2 pushes + apply."""
    w = _world("routes: {backend: {balancing: round_robin, retries: {attempts: 0}}}")
    crash = 2.0005
    step = 0.01
    for k in range(1, 400):
        w.send(k * step, w.inst("api-0"), "backend", "op")
    w.env.timeout(crash).callbacks.append(
        lambda _e: w.app.stop_instance(w.inst("backend-1"), crash=True)
    )
    w.run(4.5)
    seen = crash + 1.0 + UPDATE + WATCH + DEBOUNCE + 2 * PUSH + APPLY
    assert _views(w)["api-0.sidecar"] == pytest.approx(seen, abs=1e-12)
    # request k (k = 1, 2, …) is pick k-1: backend-1 when k is even
    expected = sum(1 for k in range(1, 400) if crash <= k * step < seen and k % 2 == 0)
    assert expected == 58
    refused = [d for d in w.done if d.status == "connect_failure"]
    assert len(refused) == expected
    # the request sent at 2.0 s was inside backend-1 (1 ms of CPU) when it died
    (reset,) = [d for d in w.done if d.status == "reset"]
    assert reset.start == pytest.approx(2.0)
    assert len(w.done) - len(refused) - 1 == sum(d.status == "ok" for d in w.done)
    assert w.t.sidecars[w.inst("api-0")].router.stale_sends == expected  # type: ignore[union-attr]


def test_with_retries_the_stale_window_costs_retries_not_errors() -> None:
    w = _world("routes: {backend: {balancing: round_robin, retries: {backoff_base: 0}}}")
    crash = 2.0005
    for k in range(1, 400):
        w.send(k * 0.01, w.inst("api-0"), "backend", "op")
    w.env.timeout(crash).callbacks.append(
        lambda _e: w.app.stop_instance(w.inst("backend-1"), crash=True)
    )
    w.run(4.5)
    router = w.t.sidecars[w.inst("api-0")].router
    assert router is not None
    # only the request inside backend-1 when it died fails: a reset is not retried by
    # Istio's default policy (connect-failure, 503, …)
    assert [d.status for d in w.done if d.status != "ok"] == ["reset"]
    # every stale pick is retried on backend-0; the retry's pick advances the round robin
    # too, so after the first stale pick (request 202) every request of the window (up to
    # request 316) picks backend-1 first: 115 stale sends, 115 retries
    seen = crash + 1.0 + UPDATE + WATCH + DEBOUNCE + 2 * PUSH + APPLY
    window = [k for k in range(1, 400) if crash <= k * 0.01 < seen]
    assert (window[0], window[-1]) == (201, 316)
    assert router.retries == router.stale_sends == len(window) - 1 == 115


@pytest.mark.parametrize(("drain", "failures"), [(5.0, 0), (0.0, 8 + 1)])
def test_graceful_stop_drains_while_removal_propagates(drain: float, failures: int) -> None:
    """Removed from the catalog at once; the process exits `drain` seconds later."""
    w = _world(
        "routes: {backend: {balancing: round_robin, retries: {attempts: 0}}}",
        readiness="{period: 0.75}",
    )
    w.t.orchestrator.cfg = w.t.orchestrator.cfg.model_copy(update={"drain": drain})
    stop = 2.0005
    for k in range(1, 400):
        w.send(k * 0.01, w.inst("api-0"), "backend", "op")
    w.env.timeout(stop).callbacks.append(lambda _e: w.app.stop_instance(w.inst("backend-1")))
    w.run(4.5)
    seen = stop + UPDATE + WATCH + DEBOUNCE + 2 * PUSH + APPLY
    assert _views(w)["api-0.sidecar"] == pytest.approx(seen, abs=1e-12)
    refused = sum(1 for k in range(1, 400) if stop <= k * 0.01 < seen and k % 2 == 0)
    # drain 0: the process exits at once (the request inside it is reset) and is picked
    # until the removal reaches api-0's sidecar; drain 5 s: it outlives the propagation
    assert sum(d.status != "ok" for d in w.done) == failures
    assert failures == 0 or failures == refused + 1


def test_hung_instance_is_removed_after_failed_probes_and_times_out_meanwhile() -> None:
    """Probes every 1 s (timeout 1 s, threshold 3) from 0; hang at 2.0005 s ⇒ the probes at
    3, 4 and 5 s fail, the last one declared at 6 s; a 0.5 s route timeout ends requests."""
    w = _world(
        "routes: {backend: {balancing: round_robin, timeout: 0.5, retries: {attempts: 0}}}",
        readiness="{period: 1}",
    )
    hang = 2.0005
    for k in range(1, 700):
        w.send(k * 0.01, w.inst("api-0"), "backend", "op")
    w.env.timeout(hang).callbacks.append(lambda _e: w.t.crash(w.inst("backend-1"), "hang"))
    w.run(7.5)
    (removed,) = w.log("removed")
    assert removed[0] == pytest.approx(6.0)
    seen = 6.0 + UPDATE + WATCH + DEBOUNCE + 2 * PUSH + APPLY
    expected = sum(1 for k in range(1, 700) if hang <= k * 0.01 < seen and k % 2 == 0)
    timeouts = [d for d in w.done if d.status == "timeout"]
    assert len(timeouts) == expected
    assert all(d.latency == pytest.approx(0.5) for d in timeouts)


def test_kube_proxy_syncs_at_most_once_per_min_sync_period() -> None:
    """No mesh: api-0 resolves through its node's kube-proxy (min sync 1 s)."""
    w = _world(mesh=False)
    assert w.t.flavour == "kube-proxy"
    _launch(w, 1.0)  # ready at 3.25 s
    w.env.timeout(3.5).callbacks.append(lambda _e: w.t.crash(w.inst("backend-0"), "closed"))
    w.run(6)
    ready = 1.0 + 3 * 0.75
    (kp,) = [k for k in w.t.kube_proxies.values() if k.place == w.inst("api-0").place]
    position = w.t.catalog.watchers.index(kp) + 1
    first = ready + UPDATE + position * WATCH
    views = [t for t, _, who, _ in w.log("view") if who == "api-0"]
    # the add: synced at once; the removal (crash 3.5 + 1 + 0.066) arrives after more
    # than 1 s, so it is synced at once too
    second = 3.5 + 1.0 + UPDATE + position * WATCH
    assert views == pytest.approx([first, second], abs=1e-12)


def test_kube_proxy_bounded_frequency_delays_a_second_change() -> None:
    w = _world(mesh=False)
    _launch(w, 1.0)  # ready at 3.25 s
    w.env.timeout(1.5).callbacks.append(lambda _e: w.t.crash(w.inst("backend-0"), "closed"))
    w.run(6)
    (kp,) = [k for k in w.t.kube_proxies.values() if k.place == w.inst("api-0").place]
    position = w.t.catalog.watchers.index(kp) + 1
    removal = 1.5 + 1.0 + UPDATE + position * WATCH  # synced at once
    add = 3.25 + UPDATE + position * WATCH  # 0.75 s later: waits for removal + 1 s
    views = [t for t, _, who, _ in w.log("view") if who == "api-0"]
    assert views == pytest.approx([removal, removal + 1.0], abs=1e-12)
    assert add < removal + 1.0


def test_dns_answers_are_cached_for_the_ttl() -> None:
    """DNS flavour, TTL 5 s: the new instance is seen at the first lookup after expiry."""
    w = _world("discovery: {propagation: dns, dns_cpu_per_query: 0}", mesh=False)
    _launch(w, 1.0)
    for k in range(1, 100):
        w.send(k * 0.1, w.inst("api-0"), "backend", "op")
    w.run(10)
    dns = w.t.dns
    assert dns is not None and dns.ttl == 5.0
    # lookups at 0.1 s (first request) and 5.1 s (first after expiry): two queries only
    assert dns.handled == 2
    firsts = _first_sends(w, "backend-2")
    assert firsts["api-0"] == pytest.approx(5.1)  # known to DNS at 3.32 s, cached until 5.1


def test_debounce_waits_for_quiet_and_caps_at_max() -> None:
    import simpy

    from sim.core.component import Component
    from sim.core.network import Network, Place
    from sim.scenario.model import Network as NetworkConfig

    env = simpy.Environment()
    log: list = []
    cp = ControlPlane(
        env, Network(NetworkConfig()), Place("r", "a", "h"), ControlPlaneConfig(cpu_per_push=0), log
    )
    proxy = Component(env, "sidecar", "p", Place("r", "a", "h"))
    cp.clients.append(XdsClient(View(proxy, {}, log), 0.0))

    def change_at(t: float) -> None:
        env.timeout(t).callbacks.append(lambda _e: cp.receive({"s": ()}, frozenset({"s"})))

    for t in (1.0, 1.05, 1.12):  # quiet 100 ms after the last: push at 1.22
        change_at(t)
    for k in range(200):  # a change every 60 ms from 5 s on: never quiet, capped at 10 s
        change_at(5.0 + 0.06 * k)
    env.run(30)
    pushes = [t for t, what, _, _ in log if what == "push"]
    assert pushes[0] == pytest.approx(1.22)
    assert pushes[1] == pytest.approx(15.0)
    assert pushes[2] == pytest.approx(5.0 + 0.06 * 199 + 0.1)


def test_consul_dns_has_ttl_zero_so_every_request_looks_up() -> None:
    w = _world("discovery: {catalog: consul, propagation: dns}", mesh=False)
    assert w.t.catalog.name == "consul-server"
    for k in range(1, 21):
        w.send(k * 0.1, w.inst("api-0"), "backend", "op")
    w.run(3)
    dns = w.t.dns
    assert dns is not None and dns.name == "consul-dns" and dns.ttl == 0.0
    assert dns.handled == 20
    assert all(d.status == "ok" for d in w.done)
    # each lookup is a round trip (zero here) plus 30 µs of DNS CPU on the request path
    assert [d.trace.infra for d in w.done] == pytest.approx([30e-6] * 20)
