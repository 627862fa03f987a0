"""Outlier detection (Envoy consecutive 5xx) and the connect timeout, on exact tiny worlds.

The world: the edge calls ``front`` (one instance), which calls ``back`` (round robin, no
retries, so every failure reaches the edge); one request every 100 ms; every hop is free.
At 1.0005 s ``back`` instances fail through the timeline: ``closed`` (connects refused at
once) with the kubelet's exit detection and probes pushed past the run, so the dead
endpoints stay in the pickers' views and only outlier detection can take them out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

import sim
from sim.http.balancing import Ejections
from sim.scenario.http import OutlierDetection
from tests.helpers import flagship, scenario
from tests.test_faults_world import world

CRASH = 1.0005
GAP = 0.1  # between two requests


def _sc(backs: int, crash: list[int], outlier: str, mode: str = "closed", route: str = "") -> str:
    faults = "\n".join(
        f"  - {{at: {CRASH}, action: crash, service: back, instance: {i}, mode: {mode}}}"
        for i in crash
    )
    return f"""
name: outlier
run: {{duration: 100, warmup: 0}}
placement:
  regions: [{{name: r, zones: [a]}}]
  network: {{same_host_rtt: 0, same_zone_rtt: 0, cross_zone_rtt: 0, bandwidth: 1e30}}
services:
  front:
    instances: 1
    operations:
      op: {{calls: [{{service: back, operation: op}}], request_bytes: 0, response_bytes: 0}}
  back:
    instances: {backs}
    operations:
      op: {{demand: {{dist: constant, value: 1ms}}, request_bytes: 0, response_bytes: 0}}
workload:
  arrivals: {{kind: constant, rate: {1 / GAP}}}
  clients: 1
  flows: [{{name: f, service: front, operation: op}}]
http:
  gateway: {{replicas: 1, cpu_per_request: 0, io: null, config_cpu: 0}}
  sidecar: {{cpu_per_request: 0, io: null, config_cpu: 0}}
  stack: {{io: null}}
  tls: {{version: none}}
  control_plane: {{cpu_per_push: 0}}
  discovery: {{cpu_per_watch_event: 0}}
  orchestrator: {{readiness: {{period: 1000}}, exit_detection: 1000}}
  routes:
    back: {{balancing: round_robin, retries: {{attempts: 0}}{route}, outlier: {outlier}}}
timeline:
{faults}
"""


def _run(backs: int, crash: list[int], outlier: str, until: float, **kw: str) -> tuple:
    w = world(scenario(_sc(backs, crash, outlier, **kw)), "http").run(until)
    router = w.t.sidecars[w.app.instances["front"][0]].router
    req = w.requests()
    return w, router, req[req["status"] != "ok"]


def test_five_consecutive_failures_eject_for_base_time_then_twice_as_long() -> None:
    _, router, bad = _run(2, [1], "{enabled: true}", 90)
    (first, second) = router.ejections["back"].log
    t1, host, back1 = first
    assert host == "back-1" and back1 == pytest.approx(t1 + 30.0)
    starts = list(bad["start"])
    # exactly five failures before the ejection, the fifth of them at the ejection: the
    # request sent at 1.0 s was inside back-1 when it died (reset), four more were refused
    assert len([s for s in starts if s <= t1 + 1e-9]) == 5
    assert starts[4] == pytest.approx(t1) and starts[0] == pytest.approx(1.0)
    assert all(b - a == pytest.approx(2 * GAP) for a, b in itertools.pairwise(starts[:5]))
    # nothing is sent to back-1 for 30 s, then it is tried again: five more failures
    assert not [s for s in starts if t1 + 1e-9 < s < back1 - 1e-9]
    t2, host2, back2 = second
    again = [s for s in starts if back1 - 1e-9 <= s <= t2 + 1e-9]
    assert host2 == "back-1" and len(again) == 5 and again[0] - back1 < 2 * GAP
    assert back2 == pytest.approx(t2 + 60.0)  # base × times ejected
    assert len(starts) == 10  # the run ends inside the second ejection


def test_disabled_by_default_every_other_request_fails() -> None:
    assert OutlierDetection().enabled is False
    _, router, bad = _run(2, [1], "{}", 20)
    assert not router.ejections
    assert len(bad) == pytest.approx((20 - CRASH) / GAP / 2, abs=1)


@pytest.mark.parametrize(("backs", "cap", "ejected"), [(4, 10, 1), (4, 50, 2)])
def test_ejection_cap_holds_but_one_host_may_always_go(backs: int, cap: int, ejected: int) -> None:
    """10 % of 4 hosts is below one: one is ejected anyway, the other keeps failing. At
    50 % both go (2/4 ≤ 50 %), and two healthy hosts of four are not below the 50 % panic
    threshold, so no failure follows."""
    _, router, bad = _run(backs, [1, 2], f"{{enabled: true, max_ejection_percent: {cap}}}", 20)
    log = router.ejections["back"].log
    assert len({h for _, h, _ in log}) == ejected and len(log) == ejected
    last = max(t for t, _, _ in log)
    after = bad[bad["start"] > last + 1e-9]
    if ejected == 1:  # the other dead host still gets every third request (of 3 left)
        assert len(after) == pytest.approx((20 - last) / GAP / 3, abs=1)
    else:
        assert after.empty


@dataclass(frozen=True)
class Host:
    name: str


def test_a_success_resets_the_count_and_late_answers_are_ignored() -> None:
    e = Ejections(OutlierDetection(enabled=True))
    a, b = Host("a"), Host("b")
    for _ in range(4):
        e.observe(a, True, 0.0, 2)  # type: ignore[arg-type]
    e.observe(a, False, 0.0, 2)  # type: ignore[arg-type]
    for _ in range(4):
        e.observe(a, True, 1.0, 2)  # type: ignore[arg-type]
    assert not e.log
    e.observe(a, True, 1.0, 2)  # type: ignore[arg-type]
    assert e.log == [(1.0, "a", 31.0)]
    e.observe(a, True, 2.0, 2)  # type: ignore[arg-type]  # in flight when ejected
    assert e.log == [(1.0, "a", 31.0)] and e.failures[a] == 0
    eps = (a, b)
    assert e.usable(eps, 30.9) == (b,)  # type: ignore[arg-type]
    assert e.usable(eps, 31.0) == eps  # type: ignore[arg-type]
    # panic: with one host of one ejected, Envoy balances over all of them
    solo = Ejections(OutlierDetection(enabled=True, consecutive_5xx=1))
    solo.observe(a, True, 0.0, 1)  # type: ignore[arg-type]
    assert solo.usable((a,), 1.0) == (a,)  # type: ignore[arg-type]


def test_a_new_connection_to_a_hung_host_fails_at_the_connect_timeout() -> None:
    """back-0 hangs before any connection to it exists: each request's handshake goes
    unanswered and fails after exactly connect_timeout (5 s), as a connect failure."""
    sc = _sc(1, [0], "{}", mode="silent").replace("at: 1.0005", "at: 0.05")
    w = world(scenario(sc), "http").run(12)
    req = w.requests()
    assert (req["status"] != "ok").all() and len(req) == 70  # sent from 0 to 6.9 s
    assert (req["latency"].round(12) == 5.0).all()
    # one unanswered handshake per request: those answered and the 50 still waiting at 12 s
    assert w.t.wire.connect_timeouts == round(12 / GAP)


def test_a_partitioned_link_fails_the_handshake_at_the_connect_timeout() -> None:
    """Zones a and b: back-1 sits in b, cut off from 0.05 s; connects to it go unanswered."""
    sc = (
        _sc(2, [], "{}")
        .replace("zones: [a]", "zones: [a, b]")
        .replace(
            "timeline:\n",
            "timeline:\n  - {at: 0.05, action: link, between: [r/a, r/b], partition: true}\n",
        )
    )
    w = world(scenario(sc), "http").run(12)
    req = w.requests()
    bad = req[req["status"] != "ok"]
    # every other request (round robin) went to back-1; those answered by 12 s began ≤ 7 s
    assert list(bad["start"].round(9)) == [round(2 * GAP * k, 9) for k in range(1, 36)]
    assert (bad["latency"].round(12) == 5.0).all()
    assert (req[req["status"] == "ok"]["latency"] < 0.01).all()


def test_outlier_detection_on_a_healthy_flagship_changes_no_frame() -> None:
    """Nothing fails on the flagship, so enabling detection everywhere ejects nothing."""
    base = flagship("run.duration=5")
    on = flagship(
        "run.duration=5",
        "http.sidecar.route.outlier.enabled=true",
        # a partial --set of gateway.route would replace the gateway's own defaults
        "http.gateway.route.outlier.enabled=true",
        "http.gateway.route.timeout=15",
        "http.gateway.route.retries.attempts=0",
        "http.gateway.route.balancing=round_robin",
    )
    a = sim.simulate(base, "http").requests
    b = sim.simulate(on, "http").requests
    assert a.equals(b)
