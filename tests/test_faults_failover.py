"""Region failover: the broker moves requests by itself; HTTP waits for its DNS record.

Two regions 80 ms apart, every other hop free. ``create`` (eu) calls ``dispatch-eu`` (two
instances); ``dispatch-us`` (one instance, us) is the same service in the other region:
the same subject, and the backup of a DNS failover record (health checks every 1 s,
threshold 3, TTL 2 s). Both eu dispatch instances crash at 3.0005 s.

* messaging: the eu server drops the crashed members' interest as soon as their sockets
  close; the next request goes through the gateway to us. No discovery component exists.
* HTTP: the record flips at the third failed probe (4, 5, 6 s ⇒ 6 s); ``create-0`` looks the
  name up again when its cached answer expires (first call at 0.01 s, then every TTL ⇒
  6.01 s) and only then sends to us; until then its calls fail.
* afterwards both pay one inter-region round trip per dispatch: +80 ms.
"""

from __future__ import annotations

import pytest

from tests.helpers import scenario
from tests.worlds import world

CRASH = 3.0005
RTT = 0.080
FAILOVER = """
name: failover
run: {duration: 12, warmup: 0}
placement:
  regions: [{name: eu, zones: [a]}, {name: us, zones: [a]}]
  network: {same_host_rtt: 0, same_zone_rtt: 0, cross_zone_rtt: 0,
            region_rtt: {eu: {us: 80ms}}, bandwidth: 1e30}
services:
  create:
    instances: 1
    region: eu
    operations:
      op: {calls: [{service: dispatch-eu, operation: dispatch}], request_bytes: 0, response_bytes: 0}
  dispatch-eu:
    instances: 2
    region: eu
    operations:
      dispatch: {subject: ORDERS.dispatch, demand: {dist: constant, value: 1ms},
                 request_bytes: 0, response_bytes: 0}
  dispatch-us:
    instances: 1
    region: us
    operations:
      dispatch: {subject: ORDERS.dispatch, demand: {dist: constant, value: 1ms},
                 request_bytes: 0, response_bytes: 0}
workload:
  arrivals: {kind: constant, rate: 100}
  clients: 1
  flows: [{name: f, service: create, operation: op}]
http:
  gateway: {replicas: 1, cpu_per_request: 0, io: null, config_cpu: 0}
  sidecar: {cpu_per_request: 0, io: null, config_cpu: 0}
  stack: {io: null}
  tls: {version: none}
  control_plane: {cpu_per_push: 0}
  discovery: {cpu_per_watch_event: 0}
  routes: {dispatch-eu: {retries: {attempts: 0}}, dispatch-us: {retries: {attempts: 0}}}
  failover: dns          # each deployment its own name: only the DNS record moves callers
messaging:
  clusters: [{name: eu, region: eu, servers: 1}, {name: us, region: us, servers: 1}]
  broker: {io: null}
  client: {io: null, ping_interval: 1000}
  tls: {version: none}
  request_timeout: 500ms
failover:
  - {service: dispatch-eu, backup: dispatch-us, health_check: {interval: 1, threshold: 3}, ttl: 2}
timeline:
  - {at: 3.0005, action: crash, service: dispatch-eu, instance: all, mode: closed}
"""


def test_messaging_fails_over_through_the_gateway_at_once_without_discovery() -> None:
    w = world(scenario(FAILOVER), "messaging").run(8)
    assert {c.kind for c in w.t.components()} == {"broker"}  # nothing but the brokers
    req = w.requests()
    before = req[req["start"] < CRASH - 0.001]
    after = req[req["start"] > CRASH]
    assert (before["latency"].round(9) == 0.001).all()
    # the request of 3.0 s was being served when its member died: lost, it times out
    assert req[req["start"].round(9) == 3.0]["status"].tolist() == ["timeout"]
    assert (after["status"] == "ok").all()  # the FIN removed the interest before any loss
    assert (after["latency"].round(9) == round(0.001 + RTT, 9)).all()
    served = {i.name: i.handled for i in w.app.instances["dispatch-us"]}
    in_flight = w.app.recorder.in_flight  # sent in the last 81 ms
    assert len(after) <= served["dispatch-us-0"] <= len(after) + in_flight


def test_http_fails_over_only_after_health_checks_and_the_ttl() -> None:
    w = world(scenario(FAILOVER), "http").run(8)
    (flip,) = [e for e in w.events("detection") if e["label"].startswith("DNS")]
    assert flip["t"] == pytest.approx(6.0)  # probes at 4, 5 and 6 s fail
    req = w.requests()
    before = req[req["start"] < CRASH - 0.001]
    assert (before["latency"].round(9) == 0.001).all()
    # create-0 looks up at its first call, then at its first call >= the last lookup + TTL
    lookups = [req["start"].iloc[0]]
    for t in req["start"]:
        if not t < lookups[-1] + 2.0:
            lookups.append(t)
    switch = next(t for t in lookups if t > flip["t"])
    assert 6.0 < switch <= 6.0 + 2.0 + 0.01  # within the TTL (and one call) of the flip
    window = req[(req["start"] > CRASH - 0.001) & (req["start"] < switch)]
    assert (window["status"] != "ok").all()
    moved = req[req["start"] >= switch]
    assert (moved["status"] == "ok").all()
    # +RTT of network each; a call that had to open a connection (HTTP/1.1: one per call
    # in flight, until the first ones come back for reuse) one round trip of handshake more
    assert (moved["network"].round(9) == RTT).all()
    shook = moved["handshake"].round(9)
    assert set(shook) == {0.0, RTT}
    sidecar = w.t.sidecars[w.app.instances["create"][0]]
    assert (shook == RTT).sum() == sidecar.peers["dispatch-us-0.sidecar"]
    lat = (moved["latency"] - moved["queueing"]).round(9)
    assert (lat == (0.001 + RTT + shook).round(9)).all()
    assert w.t.moved == len(moved) + w.app.recorder.in_flight  # the last ones still on their way


def test_a_region_outage_and_its_return_leave_both_architectures_able_to_fail_over() -> None:
    """us goes away at 1 s (its instance and server silent, its links cut) and comes back at
    4 s: the server restarts and redials its gateways, the orchestrator starts the lost
    instance again (dispatch-us-1). Then eu's dispatch dies at 10.0005 s: the calls must
    reach the new us instance — through the gateway at once, or after the DNS flip."""
    text = FAILOVER.replace(
        "  - {at: 3.0005, action: crash, service: dispatch-eu, instance: all, mode: closed}",
        "  - {at: 1.0005, action: region_outage, region: us, duration: 3, grace: 1}\n"
        "  - {at: 10.0005, action: crash, service: dispatch-eu, instance: all, mode: closed}",
    ).replace("broker: {io: null}", "broker: {io: null, ping_interval: 1}")
    sc = scenario(text)
    for arch in ("messaging", "http"):
        w = world(sc, arch).run(20)
        labels = [e["label"] for e in w.events()]
        assert "region us out" in labels and "region us back" in labels
        (new,) = [i for i in w.app.instances["dispatch-us"] if i.index == 1]
        assert new.handled > 0
        req = w.requests()
        assert (req[req["start"] > 19]["status"] == "ok").all()
        if arch == "messaging":
            f = w.t.fabric
            assert all(link.up for link in f.gateways.values())
            assert [r[1] for r in f.log].count("restarted") == 1
