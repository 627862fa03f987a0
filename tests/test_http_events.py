"""Events over HTTP: webhook fan-out costs, webhook timeouts and retries, long polling,
and the three ways an audit listener gets its copies. Exact counts and times."""

from __future__ import annotations

import pytest

from sim.scenario.http import Sidecar
from tests.worlds import QUIET_NET, QUIET_TLS, World, quiet

CPU = Sidecar().cpu_per_request  # the L7 work per pass (calibrated default); its I/O is off


def _fanout(n: int) -> World:
    observers = "\n".join(
        f"""  o{i}:
    operations: {{handle: {{}}}}
    subscriptions: [{{subject: EV.made, operation: handle}}]"""
        for i in range(n)
    )
    return World(
        quiet(
            f"""
placement:
  regions: [{{name: r, zones: [a]}}]
  {QUIET_NET}
services:
  pub:
    operations:
      make: {{emits: [{{subject: EV.made}}]}}
{observers}
workload:
  arrivals: {{kind: constant, rate: 1}}
  flows: [{{name: f, service: pub, operation: make}}]
http:
  gateway: {{replicas: 1, pools_per_worker: false}}
  sidecar: {{io: null, pools_per_worker: false}}  # one pool each: the reuse counted here
  tls: {QUIET_TLS}
"""
        )
    )


def _events(w: World) -> list[tuple[str, str]]:
    return [(r[2], r[5]) for r in w.recorder.rows if r[0] == "event"]


@pytest.mark.parametrize("n", [1, 5, 50])
def test_webhook_fanout_costs_n_requests_n_hops_and_n_handshakes_once(n: int) -> None:
    w = _fanout(n)
    sc = w.comp("pub-0.sidecar")
    w.send(0.1, None, "pub", "make")
    w.run(0.9)
    assert len(_events(w)) == n
    assert w.t.events.webhooks.sent == n
    # inbound request + n outbound webhooks through the publisher's sidecar
    assert sc.handled == 1 + n
    assert sc.cpu is not None and sc.cpu.busy.area() == pytest.approx((1 + n) * CPU, rel=1e-12)
    for i in range(n):
        o = w.comp(f"o{i}-0.sidecar")
        assert o.handled == 1
        assert o.cpu is not None and o.cpu.busy.area() == pytest.approx(CPU, rel=1e-12)
    # mTLS: xDS stream, the gateway's connection, and one per observer
    first = sc.handshakes_tls
    assert first == 1 + 1 + n
    # loopback: the sidecar's connection into the app, and n concurrent POSTs out of it
    assert w.comp("pub-0").handshakes_tcp == 1 + n

    w.send(1.0, None, "pub", "make")  # the second event reuses every connection
    w.run(2)
    assert len(_events(w)) == 2 * n
    assert all(status == "ok" for _, status in _events(w))
    assert sc.handled == 2 * (1 + n)
    assert sc.cpu.busy.area() == pytest.approx(2 * (1 + n) * CPU, rel=1e-12)
    assert sc.handshakes_tls == first
    assert w.comp("pub-0").handshakes_tcp == 1 + n


def test_webhook_to_a_hung_observer_times_out_and_retries_with_backoff() -> None:
    w = _fanout(1)
    w.t.events.webhooks.cfg = w.t.events.webhooks.cfg.model_copy(
        update={"webhook_timeout": 0.5, "webhook_retries": 2, "webhook_backoff": 1.0}
    )
    w.t.crash(w.inst("o0-0"), "hang")
    w.send(0.1, None, "pub", "make")
    w.run(10)
    ((_flow, status),) = _events(w)
    assert status == "timeout"
    assert w.t.events.webhooks.sent == 3
    (row,) = [r for r in w.recorder.rows if r[0] == "event"]
    # 0.5 s wait, 1 s back-off, 0.5 s, 2 s back-off, 0.5 s
    assert row[4] - row[3] == pytest.approx(4.5)
    assert sum(row[6:11]) == pytest.approx(4.5)


# --------------------------------------------------------------------------- long polling
def _longpoll(extra: str = "") -> World:
    """pub and obs on two nodes 1 ms apart; loopback and proxies cost nothing."""
    return World(
        quiet(
            f"""
placement:
  regions: [{{name: r, zones: [a]}}]
  network: {{same_host_rtt: 0, same_zone_rtt: 1ms, bandwidth: 1e30}}
services:
  pub:
    operations:
      make: {{emits: [{{subject: EV.made}}]}}
  obs:
    operations: {{handle: {{}}}}
    subscriptions: [{{subject: EV.made, operation: handle}}]
workload:
  arrivals: {{kind: constant, rate: 1}}
  flows: [{{name: f, service: pub, operation: make}}]
http:
  gateway: {{enabled: false}}
  sidecar: {{cpu_per_request: 0, io: null}}
  stack: {{io: null}}
  tls: {QUIET_TLS}
  events: {{delivery: longpoll{extra}}}
"""
        )
    )


def _publish_at(w: World, *times: float) -> None:
    pub = w.inst("pub-0")
    for t in times:
        w.env.timeout(t).callbacks.append(lambda _e: w.t.publish(pub, "EV.made", 512))


def _latencies(w: World) -> list[float]:
    return [r[4] - r[3] for r in w.recorder.rows if r[0] == "event"]


def test_long_poll_delivers_in_one_transit_when_a_poll_is_held() -> None:
    w = _longpoll()
    _publish_at(w, 1.0)
    w.run(2)
    assert _latencies(w) == pytest.approx([0.0005], abs=1e-12)  # one one-way trip
    assert w.t.events.longpoll.polls == 2  # the held one, and the one re-issued after it


def test_long_poll_event_just_after_an_answer_waits_for_the_next_poll() -> None:
    """Answer leaves at 2.0; the new poll reaches pub at 2.001; its answer lands at 2.0015."""
    w = _longpoll()
    _publish_at(w, 2.0, 2.0001)
    w.run(3)
    assert _latencies(w) == pytest.approx([0.0005, 0.0014], abs=1e-12)  # < 3 transits


def test_long_poll_batches_a_burst() -> None:
    w = _longpoll()
    _publish_at(w, 3.0, 3.0001, 3.0002, 3.0003)
    w.run(4)
    lat = _latencies(w)
    assert lat == pytest.approx([0.0005, 0.0014, 0.0013, 0.0012], abs=1e-12)
    assert w.t.events.longpoll.polls == 3  # one answer for the first, one for the other three


def test_long_poll_is_answered_empty_after_the_hold() -> None:
    w = _longpoll(", longpoll_hold: 10")
    w.run(25)
    assert w.t.events.longpoll.empty == 2  # at 10 s and 20 s (plus the trip)
    assert _latencies(w) == []


# --------------------------------------------------------------------------- audit copies
AUDIT = f"""
placement:
  regions: [{{name: r, zones: [a, b]}}]
  {QUIET_NET}
services:
  create:
    instances: 2
    operations:
      run: {{subject: ORDERS.cmd.create, emits: [{{subject: ORDERS.created}}]}}
  audit:
    listen_only: true
    operations: {{record: {{}}}}
    subscriptions: [{{subject: "ORDERS.>", operation: record, delivery: each}}]
workload:
  arrivals: {{kind: constant, rate: 1}}
  flows: [{{name: f, service: create, operation: run}}]
"""


@pytest.mark.parametrize("mode", ["mirror", "webhook", "longpoll"])
def test_audit_listener_gets_one_copy_of_every_request_and_event(mode: str) -> None:
    w = World(quiet(AUDIT + f"http: {{events: {{audit: {mode}}}, tls: {QUIET_TLS}}}"))
    for k in range(10):
        w.send(0.5 + 0.1 * k, None, "create", "run")
    w.run(3)
    copies = [flow for flow, status in _events(w) if status == "ok"]
    assert sorted(copies) == sorted(
        ["ORDERS.cmd.create → audit"] * 10 + ["ORDERS.created → audit"] * 10
    )
    gw = w.comp("gateway-0")
    sent_by_gateway = sum(1 for p in gw.peers if p.startswith("audit"))
    assert (sent_by_gateway > 0) == (mode == "mirror")
