"""Failure detection and reconnection, with exact times.

* a client whose socket closed is seen one way later (the FIN);
* a silent client is closed on the ``max_pings_out + 1``-th ping tick after its last
  answered ping (nats-server processPingTimer): at most ``ping_interval × (max_pings_out + 1)``
  after it fell silent; one that is sent traffic is closed earlier, by the write deadline,
  once its socket buffer is full;
* a client whose server dies reconnects at once to the next server of its list, re-sends its
  subscriptions (interest re-established across the cluster); with nothing else to try it
  sleeps ``reconnect_wait`` plus jitter between attempts;
* a silently dead server is found by the clients' own pings and by the route pings.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.messaging.sandbox import Sandbox

OW = 0.001
NET: dict[str, Any] = {
    "network": {
        "same_host_rtt": 0,
        "same_zone_rtt": 2 * OW,
        "cross_zone_rtt": 2 * OW,
        "bandwidth": 1e15,
    }
}


def box(servers: int = 1, **broker: Any) -> Sandbox:
    cfg = {
        "broker": {"servers": servers, "io": None, **broker},
        "tls": {"version": "none"},
        "client": {"ping_interval": 1000},  # the client's own pings stay out of the way
    }
    return Sandbox(cfg, NET)


def test_closed_socket_seen_one_way_later() -> None:
    b = box()
    c = b.client("c")
    b.subscribe(c, "x")
    b.run(5.0)
    c.crash("closed")
    b.run(6.0)
    s = b.servers[0]
    assert s.closures == [(pytest.approx(5.0 + OW), "c", "closed")]
    assert s.subscriptions.value == 0 and s.conns_open.value == 0


def test_silent_client_closed_after_unanswered_pings() -> None:
    """ping_interval 10 s, max_pings_out 2: the ping sent on tick T_a (the first the dead
    client cannot answer) and the next go unanswered; tick T_a + 20 s closes it."""
    p = 10.0
    b = box(ping_interval=p, max_pings_out=2)
    c = b.client("c")
    b.run(30.0)
    hb = c.server_hb
    assert hb is not None
    first = hb.ticks[0]
    registered = 3 * OW  # TCP round trip, then CONNECT one way
    assert 2.0 <= first - registered <= 2.4  # firstClientPingInterval 2 s + up to 20 %
    c.crash("silent")
    b.run(200.0)
    died = 30.0
    # ticks every p after the first; the first whose PING reaches the client after it died
    t_a = next(t for t in (first + k * p for k in range(100)) if t + OW > died)
    (closed_at, who, reason), *_ = b.servers[0].closures
    assert (who, reason) == ("c", "stale")
    assert closed_at == pytest.approx(t_a + 2 * p)
    assert died + 2 * p < closed_at <= died + 3 * p  # ≤ ping_interval × (max_pings_out + 1)


def test_traffic_to_a_silent_client_hits_the_write_deadline() -> None:
    """16 KiB of socket buffer absorb 16 messages of 1 KiB; the 17th stalls and the server
    closes the connection write_deadline (10 s) later, long before the pings would."""
    b = box()
    p, c = b.client("p"), b.client("c")
    b.subscribe(c, "feed")
    b.run(1.0)
    c.crash("silent")
    for k in range(30):
        b.env.process(_at(b, 1.0 + 0.01 * k, lambda: b.publish(p, "feed", nbytes=1024)))
    b.run(20.0)
    stalled = 1.0 + 0.01 * 16 + OW  # the 17th message reaches the server
    assert b.servers[0].closures == [(pytest.approx(stalled + 10.0), "c", "write_deadline")]
    assert c.lost == 30


def _at(b: Sandbox, t: float, fn: Any) -> Any:
    yield b.env.timeout(t - b.env.now)
    fn()


def test_server_death_reconnect_to_next_server_and_interest_back() -> None:
    """Server 0 dies (closed): its client sees it one way later, dials server 1 at once
    (TCP round trip, CONNECT one way: subscriptions back), and a publisher on server 2 reaches
    it again once server 1's RS+ crossed the route."""
    b = box(servers=3)
    c = b.client("c", server=0)
    p = b.client("p", server=2)
    b.subscribe(c, "x")
    b.run(1.0)
    b.servers[0].kill("closed")
    t_seen = 1.0 + OW
    t_back = t_seen + 2 * OW + OW  # RTT handshake, then CONNECT + SUB
    t_known = t_back + 2 * OW / 2  # server 1 → server 2 (2 ms RTT between servers too)
    for k in range(40):
        b.env.process(_at(b, 1.0 + 0.0005 * k, lambda: b.publish(p, "x", nbytes=0)))
    b.run(2.0)
    assert c.attempts[1:] == [(pytest.approx(t_seen), "nats-1")]
    assert c.connected_at[-1] == (pytest.approx(t_back + OW), "nats-1")
    arrivals = [t for t, who, *_ in b.log if who == "c"]
    sent = [1.0 + 0.0005 * k for k in range(40)]
    # sent from p at s, at server 2 one way later, delivered if server 2 knew the interest
    expected = [s + 3 * OW for s in sent if s + OW < 1.0 + OW or s + OW >= t_known]
    assert arrivals == pytest.approx(expected)


def test_reconnect_waits_with_jitter_when_nothing_else_is_up() -> None:
    b = box()
    c = b.client("c")
    b.run(1.0)
    b.servers[0].kill("closed")
    b.run(10.0)
    dials = [t for t, _ in c.attempts[1:]]
    assert len(dials) >= 3
    start = 1.0 + OW
    for t in dials:  # each: reconnect_wait 2 s + jitter [0, 100 ms), after the refusal (1 RTT)
        assert 2.0 <= t - start < 2.1
        start = t + 2 * OW


def test_silent_server_found_by_client_and_route_pings() -> None:
    """A host vanishes: its clients find out after their own pings go unanswered and fail
    over; its route peers after route pings (every min(ping_interval, 30 s))."""
    b = Sandbox(
        {
            "broker": {
                "servers": 2,
                "io": None,
                "ping_interval": 5,
            },
            "tls": {"version": "none"},
            "client": {"ping_interval": 3, "max_pings_out": 2},
        },
        NET,
    )
    c = b.client("c", server=0)
    b.run(10.0)
    b.servers[0].kill("silent")
    b.run(60.0)
    t_found, where = c.attempts[1]  # stale: it dials the next server at once
    assert where == "nats-1"
    assert 10.0 + 2 * 3 < t_found <= 10.0 + 3 * 3
    assert c.connected_at[-1][1] == "nats-1"
    route = b.fabric.routes[(b.servers[1], b.servers[0])]
    assert not route.up and route.hb is not None and route.hb.stale_at is not None
    assert 10.0 + 2 * 5 < route.hb.stale_at <= 10.0 + 3 * 5


SCRIPT = """
import hashlib, json
from sim.core.network import Place
from sim.messaging.sandbox import Sandbox
b = Sandbox({"broker": {"servers": 3}, "client": {"spread": "random"}})
cs = [b.client(f"c{k}", place=Place("region-1", "a", f"h{k}")) for k in range(30)]
assert len({c.pool[0].name for c in cs}) == 3
for k, c in enumerate(cs):
    b.subscribe(c, "work", "q" if k % 2 else None)
b.run(1.0)
b.servers[1].kill("closed")
for k in range(200):
    b.publish(cs[k % 30], "work", payload=k)
b.run(8.0)
rows = [(round(t, 12), who, sid, p) for t, who, _s, sid, _r, p in b.log]
rows += [(round(t, 12), c.name, s, -1) for c in cs for t, s in c.attempts]
print(hashlib.sha256(json.dumps(rows).encode()).hexdigest())
"""


def test_same_results_whatever_the_hash_seed(tmp_path: Any) -> None:
    """Failures and reconnects happen in a fixed order: identical in any process."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        res = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
        )
        out.append(res.stdout.strip())
    assert out[0] == out[1] and len(out[0]) == 64
