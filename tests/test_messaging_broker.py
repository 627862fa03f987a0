"""One server's mechanics on tiny deterministic deployments, with exact times.

Network: every client 2 ms RTT from its server (1 ms one way), no transmission time unless a
test sets a bandwidth; TLS off unless a test turns it on. Times are asserted exactly (to
floating-point rounding): each is the sum of the configured mechanisms.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.messaging.recovery import restart
from sim.messaging.sandbox import Sandbox

OW = 0.001  # one way, client ↔ server
NET: dict[str, Any] = {
    "network": {"same_host_rtt": 0, "same_zone_rtt": 2 * OW, "bandwidth": 1e15},
}


# a wake-up 0.1 ms and a message 0.2 ms, nothing else: every read and write costs the same
FLAT_IO = {
    "wakeup": 1e-4,
    "per_message": 2e-4,
    "cold_wakeup": 0,
    "deep_wakeup": 0,
    "cold_latency": 0,
    "per_byte": 0,
}


def box(broker: dict[str, Any] | None = None, **messaging: Any) -> Sandbox:
    cfg: dict[str, Any] = {
        "broker": {"io": None, **(broker or {})},
        "tls": {"version": "none"},
        **messaging,
    }
    return Sandbox(cfg, NET)


def test_connect_timing_and_interest_without_tls() -> None:
    """TCP handshake (1 RTT), CONNECT+SUB one way later: registered at 3 ms, connected at 4."""
    b = box()
    c = b.client("c")
    b.run(1.0)
    assert c.attempts == [(0.0, "nats-0")]
    assert c.connected_at == [(pytest.approx(4 * OW), "nats-0")]
    assert b.servers[0].conns_open.value == 1
    assert b.servers[0].subscriptions.value == 1  # the inbox


def test_tls_handshake_once_at_connect() -> None:
    """TLS 1.3: one more RTT and the handshake CPU on both ends, once per connection."""
    b = Sandbox({"broker": {"io": None}}, NET)
    c = b.client("c")
    b.run(1.0)
    tls = b.scenario.messaging.tls
    server_cpu = tls.server_cpu + tls.mutual_cpu
    # 2 RTT, then the server's CPU (the client has no cores here), then CONNECT and PONG
    assert c.connected_at[0][1] == "nats-0"
    assert c.connected_at[0][0] == pytest.approx(4 * OW + server_cpu + 2 * OW)
    s = b.servers[0]
    assert (s.handshakes_tcp, s.handshakes_tls, s.handshakes_mtls) == (1, 1, 1)
    for t in (1.2, 1.4):  # traffic does not handshake again
        b.publish(c, "x")
        b.run(t)
    assert s.handshakes_tls == 1


def test_request_reply_exact_latency_and_buckets() -> None:
    """Request and reply each cross the server: 4 one-way legs, and each is read and written
    by the server, a wake-up (0.1 ms) plus the message (0.2 ms) each time (sim.core.io)."""
    b = box({"io": FLAT_IO})
    r, s = b.client("r"), b.client("s")
    b.respond(s, "svc.x", "q")
    b.run(1.0)
    p = b.request(r, "svc.x")
    b.run(2.0)
    status, answer = p.value
    assert status == "ok"
    assert answer.tr.network == pytest.approx(4 * OW)
    assert answer.tr.infra == pytest.approx(4 * (1e-4 + 2e-4))
    assert answer.tr.queueing == pytest.approx(0.0)
    assert b.log[0][0] == pytest.approx(1.0 + 2 * OW + 6e-4)  # the responder got it
    io = b.servers[0].io
    assert io is not None and (io.wakeups, io.messages) >= (4, 4)
    assert r.waiters == {}


def test_no_responders_answered_at_once() -> None:
    """Nobody subscribed: 503 after one round trip, the read and the 503's write (no timeout)."""
    b = box({"io": FLAT_IO})
    r = b.client("r")
    b.run(1.0)
    p = b.request(r, "nobody", timeout=5.0)
    b.run(1.5)
    status, answer = p.value
    assert status == "no_responders"
    assert answer.tr.network + answer.tr.infra == pytest.approx(2 * OW + 6e-4)
    assert b.servers[0].book.tallies[("server", "nats-0", "no_responders")].value == 1


def test_request_timeout_when_responder_is_silently_dead() -> None:
    """The request is routed to a dead member and lost: the requester waits its timeout."""
    b = box()
    r, s = b.client("r"), b.client("s")
    b.respond(s, "svc.x", "q")
    b.run(1.0)
    s.crash("silent")
    p = b.request(r, "svc.x", timeout=0.75)
    b.run(3.0)
    assert p.value == ("timeout", None)
    assert s.lost == 1


def test_max_payload_error_to_the_publisher(tmp_path: Any) -> None:
    """Over max_payload the client refuses at once (status error, nothing sent); at the
    limit the message goes through. Same for events."""
    from tests.helpers import scenario

    text = f"""
name: payload
run: {{duration: 1, warmup: 0}}
placement: {NET}
services:
  svc:
    operations:
      big: {{request_bytes: 1025, emits: [{{subject: ev.big, bytes: 2000}}]}}
      ok: {{request_bytes: 1024, emits: [{{subject: ev.ok, bytes: 1024}}]}}
  watcher:
    operations: {{see: {{}}}}
    subscriptions: [{{subject: "ev.*", operation: see}}]
workload:
  arrivals: {{kind: constant, rate: 10}}
  clients: 1
  flows: [{{name: big, service: svc, operation: big}}, {{name: ok, service: svc, operation: ok}}]
messaging: {{broker: {{max_payload: 1024}}, tls: {{version: none}}}}
"""
    import sim

    res = sim.simulate(scenario(text), "messaging")
    req = res.requests
    big = req[(req.kind == "request") & (req.flow == "big")]
    ok = req[(req.kind == "request") & (req.flow == "ok")]
    assert len(big) > 0 and (big.status == "error").all() and (big.latency == 0).all()
    assert len(ok) > 0 and (ok.status == "ok").all()
    events = req[req.kind == "event"]
    assert set(events.flow) == {"ev.ok → watcher"}
    errors = res.broker[res.broker.metric == "payload_errors"].value.sum()
    assert errors == len(big)  # only the requests: their events were never emitted


def test_slow_consumer_disconnected_over_max_pending() -> None:
    """A reader at 1 byte/s: each 1 KiB message stays pending; the 5th one would take it
    over 4 KiB, so the server closes the connection then, and the client reconnects after
    reconnect_wait plus jitter (a single server: nothing else to try)."""
    b = box({"max_pending": 4096})
    p, c = b.client("p"), b.client("c")
    c.read_bandwidth = 8.0
    b.subscribe(c, "feed")
    b.run(1.0)
    for k in range(6):
        b.env.process(_later(b, 1.0 + 0.1 * k, lambda: b.publish(p, "feed", nbytes=1024)))
    b.run(10.0)
    s = b.servers[0]
    # message k reaches the server at 1 + 0.1 k + 1 ms (its own bytes take 1024 s on the wire)
    assert s.closures[0][1:] == ("c", "slow_consumer")
    assert s.closures[0][0] == pytest.approx(1.4 + OW + 1024 * 8 / 1e15)
    assert s.book.tallies[("server", "nats-0", "slow_consumers")].value == 1
    assert s.book.levels[("account", "$G", "memory_bytes")].value == pytest.approx(
        2 * s.cfg.memory_per_connection + 3 * s.cfg.memory_per_subscription
    )  # pending bytes released (p's and c's connections and inboxes, c's feed, re-added)
    # the client sees the close one way later and redials after 2 s + up to 100 ms
    (t_dial, where), *_ = c.attempts[1:]
    assert where == "nats-0"
    assert 1.4 + 2 * OW + 2.0 <= t_dial <= 1.4 + 2 * OW + 2.1
    assert c.connected_at[-1][0] == pytest.approx(t_dial + 4 * OW)


def _later(b: Sandbox, t: float, fn: Any) -> Any:
    yield b.env.timeout(t - b.env.now)
    fn()


def test_memory_books_baseline_connections_subscriptions() -> None:
    b = Sandbox({"broker": {"servers": 1}}, NET)
    clients = [b.client(f"c{k}") for k in range(5)]
    for c in clients[:3]:
        b.subscribe(c, "a.>")
    b.run(1.0)
    s = b.servers[0]
    cfg, tls = s.cfg, b.scenario.messaging.tls
    per_conn = cfg.memory_per_connection + tls.memory_per_connection
    assert s.memory.gauge.value == pytest.approx(
        cfg.memory + 5 * per_conn + (5 + 3) * cfg.memory_per_subscription
    )


def test_memory_follows_the_messages_read_per_second_and_goes_with_the_process() -> None:
    """``memory_per_message_rate``: the level is the rate over the last second, updated each
    second; it falls back once the traffic stops, and a dead server holds nothing."""
    per_rate = 1000.0
    b = box({"memory_per_message_rate": per_rate})
    c = b.client("c")
    b.run(1.0)
    s = b.servers[0]
    base = s.memory.gauge.value
    for k in range(300):  # 300 publishes read between 1.0 and 1.6 s (one of them each 2 ms)
        if k:
            b.run(1.0 + 0.002 * k)
        b.publish(c, "x")
    b.run(2.5)  # the window 1–2 s read 300 messages
    assert s.memory.gauge.value == pytest.approx(base + per_rate * 300)
    s.kill()
    b.run(2.7)
    assert s.memory.gauge.value == 0.0
    restart(b.fabric, s)  # before the old life's next update (3 s), which must not touch it
    b.run(3.5)
    assert s.memory.gauge.value == s.cfg.memory


def test_no_memory_follows_the_rate_when_its_figure_is_zero() -> None:
    b = box({"memory_per_message_rate": 0})
    c = b.client("c")
    b.run(1.0)
    base = b.servers[0].memory.gauge.value
    for k in range(100):
        if k:
            b.run(1.0 + 0.002 * k)
        b.publish(c, "x")
    b.run(2.5)
    assert b.servers[0].memory.gauge.value == base
