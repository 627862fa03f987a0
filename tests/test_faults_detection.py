"""Detection and recovery equal the configured mechanisms' sums (exact, tiny worlds).

The world: the edge calls ``front`` (one instance), which calls ``back`` (two instances,
1 ms of work each); one request every 10 ms; every hop is free unless a test says so. At
4.0005 s (between two requests) ``back-1`` fails, through the timeline.

* HTTP, silent: the kubelet probes every second (timeout 1 s, threshold 3) from 0 s, so
  the first failing probe is at 5 s and the endpoint is declared not ready at
  5 + 2 × 1 + 1 = 8 s; then EndpointSlice update (66 ms) and istiod debounce (100 ms)
  before the pickers' views change. Until then every other request goes to back-1 and
  times out (route timeout 0.5 s): the last failure is the last one picked before that.
* messaging, silent: the server pings every second (max 2 out); the first tick that finds
  the client idle for an interval pings, two ticks later it is stale and closed: between
  max_pings_out and max_pings_out + 2 intervals after the death (an idle client: at most
  max_pings_out + 1). Requests routed to it before are lost (timeout).
* closed: the messaging server sees the FIN one way later; the kubelet sees the exit
  within 1 s, and meanwhile a connect to the dead instance is refused in one round trip
  and retried elsewhere (Istio's default retry policy).
"""

from __future__ import annotations

import pytest

from sim.faults.measures import recovery
from tests.helpers import scenario
from tests.test_faults_world import world

CRASH = 4.0005
RATE = 100.0
UPDATE, DEBOUNCE = 0.066, 0.1


def _sc(mode: str, extra: str = "", rtt: str = "0", routes: str = "") -> str:
    return f"""
name: crash
run: {{duration: 20, warmup: 0}}
placement:
  regions: [{{name: r, zones: [a]}}]
  network: {{same_host_rtt: 0, same_zone_rtt: {rtt}, cross_zone_rtt: 0, bandwidth: 1e30}}
services:
  front:
    instances: 1
    operations:
      op: {{calls: [{{service: back, operation: op}}], request_bytes: 0, response_bytes: 0}}
  back:
    instances: 2
    operations:
      op: {{demand: {{dist: constant, value: 1ms}}, request_bytes: 0, response_bytes: 0}}
  watcher:
    instances: 1
    operations: {{seen: {{}}}}
    subscriptions: [{{subject: nothing.ever, operation: seen}}]
workload:
  arrivals: {{kind: constant, rate: {RATE}}}
  clients: 1
  flows: [{{name: f, service: front, operation: op}}]
http:
  gateway: {{replicas: 1, cpu_per_request: 0, io: null, config_cpu: 0}}
  sidecar: {{cpu_per_request: 0, io: null, config_cpu: 0}}
  stack: {{io: null}}
  tls: {{version: none}}
  control_plane: {{cpu_per_push: 0}}
  discovery: {{cpu_per_watch_event: 0}}
  orchestrator: {{readiness: {{period: 1, failure_threshold: 3, timeout: 1}}, exit_detection: 1}}
  routes: {{back: {{balancing: round_robin, timeout: 0.5{routes}}}}}
messaging:
  broker: {{io: null, ping_interval: 1, max_pings_out: 2}}
  client: {{io: null, ping_interval: 1000}}
  tls: {{version: none}}
  request_timeout: 0.5
timeline:
  - {{at: {CRASH}, action: crash, service: back, instance: 1, mode: {mode}}}
{extra}
"""


def test_http_silent_instance_detected_after_failed_probes_then_propagated() -> None:
    w = world(scenario(_sc("silent", routes=", retries: {attempts: 0}")), "http").run(12)
    (d,) = w.events("detection")
    removed = 5.0 + (3 - 1) * 1.0 + 1.0  # next probe, two more periods, the probe timeout
    assert d["t"] == pytest.approx(removed)
    assert d["after"] == pytest.approx(removed - CRASH)
    assert d["after"] <= 1.0 * 3 + 1.0  # ≤ period × threshold + timeout
    converged = removed + UPDATE + DEBOUNCE
    assert d["converged"] == pytest.approx(converged)
    req = w.requests()
    bad = req[req["status"] != "ok"]
    # every other request (round robin) went to back-1 from the crash until the views changed
    assert bad["start"].min() > CRASH
    assert converged - 2 / RATE < bad["start"].max() < converged
    expected = sum(1 for k in range(1, 1200) if CRASH < k / RATE < converged) // 2
    assert abs(len(bad) - expected) <= 1
    assert (bad["latency"].round(9) == 0.5).all()  # the route timeout ended each of them
    rec = recovery(req, CRASH, window=0.5, step=0.01, hold=0.5, baseline=3)
    assert rec.last_failure == bad["start"].max()
    assert rec.failed == len(bad) and rec.timeouts == 0  # front answers 500: 'error'


def test_messaging_silent_responder_closed_by_unanswered_pings() -> None:
    w = world(scenario(_sc("silent")), "messaging").run(12)
    (d,) = w.events("detection")
    assert d["label"] == "detected: back-1 closed"
    srv = w.t.server
    (at, _, reason) = next(c for c in srv.closures if c[1] == "back-1")
    assert (reason, at) == ("stale", d["t"])
    hb = next(c for c in w.t.every if c.name == "back-1").server_hb
    assert hb is not None and hb.stale_at == d["t"]
    p, out = 1.0, 2
    idle_tick = next(t for t in hb.ticks if t - hb.last_in >= p - 1e-12)
    assert d["t"] == pytest.approx(idle_tick + out * p)  # max_pings_out more ticks
    assert out * p < d["t"] - CRASH <= (out + 2) * p  # it was busy until it died
    req = w.requests()
    bad = req[req["status"] != "ok"]
    assert bad["start"].min() > CRASH and bad["start"].max() < d["t"]
    assert d["t"] - bad["start"].max() < 3 / RATE  # the last one routed to it
    ok_after = req[req["start"] > bad["start"].max()]
    assert (ok_after["status"] == "ok").all()


def test_messaging_idle_silent_client_found_within_max_pings_plus_one_intervals() -> None:
    extra = f"  - {{at: {CRASH}, action: crash, service: watcher, instance: 0, mode: silent}}"
    w = world(scenario(_sc("closed", extra=extra)), "messaging").run(12)
    found = {d["label"]: d for d in w.events("detection")}
    d = found["detected: watcher-0 closed"]
    assert 2.0 <= d["after"] <= 3.0  # ping_interval × (max_pings_out + 1), idle client


def test_closed_socket_seen_one_way_later_on_messaging() -> None:
    w = world(scenario(_sc("closed", rtt="2ms")), "messaging").run(8)
    (d,) = w.events("detection")
    assert d["after"] == pytest.approx(0.001)  # the FIN, one way
    req = w.requests()
    bad = req[req["status"] != "ok"]
    # only what was inside back-1 or on its way to it when it died
    assert len(bad) <= 1


def test_closed_socket_on_http_refused_and_retried_then_removed_after_exit_detection() -> None:
    w = world(scenario(_sc("closed")), "http").run(8)
    (d,) = w.events("detection")
    assert d["t"] == pytest.approx(CRASH + 1.0)  # kubelet PLEG relist
    assert d["converged"] == pytest.approx(CRASH + 1.0 + UPDATE + DEBOUNCE)
    req = w.requests()
    # the request sent at 4.0 s was inside back-1 (1 ms of work) when it died: reset, which
    # Istio's default policy does not retry; every later pick of back-1 is refused and retried
    (bad,) = req[req["status"] != "ok"].itertuples()
    assert bad.start == pytest.approx(4.0)
    router = w.t.sidecars[w.app.instances["front"][0]].router
    assert router.stale_sends == router.retries > 0
