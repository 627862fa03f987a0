"""Geographic failover through gateways, with the application on top (exact timings).

Two regions 80 ms apart, one server per region's cluster. ``dispatch-eu`` (2 instances) and
``dispatch-us`` (1 instance) answer the same subject in the same queue group; the edge
client is in eu and sends one request every 10 ms. Before the failure a request costs four
0.5 ms legs (client → server → member and back) and 1 ms of work: 3 ms. Once every eu member
is dead *and the eu server knows it*, requests cross the gateway: + the 80 ms inter-region
RTT, nothing else. Requests routed to a dead member before that are lost and time out; none
after.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sim.core.recorder import COLUMNS
from sim.messaging.failure import Heartbeat
from sim.messaging.sandbox import scripted_run
from sim.messaging.transport import MessagingTransport
from tests.helpers import scenario

FAILOVER = """
name: failover
run: {{duration: 3, warmup: 0, seed: 1}}
placement:
  regions: [{{name: eu, zones: [a]}}, {{name: us, zones: [a]}}]
  network:
    {{same_host_rtt: 0, same_zone_rtt: 1ms, cross_zone_rtt: 1ms,
     region_rtt: {{eu: {{us: 80ms}}}}, bandwidth: 1e15}}
services:
  dispatch-eu:
    instances: 2
    region: eu
    operations:
      dispatch: {{subject: ORDERS.cmd.dispatch, demand: {{dist: constant, value: 1ms}},
                 request_bytes: 0, response_bytes: 0}}
  dispatch-us:
    instances: 1
    region: us
    operations:
      dispatch: {{subject: ORDERS.cmd.dispatch, demand: {{dist: constant, value: 1ms}},
                 request_bytes: 0, response_bytes: 0}}
workload:
  arrivals: {{kind: constant, rate: 100}}
  clients: 1
  flows: [{{name: d, service: dispatch-eu, operation: dispatch}}]
messaging:
  clusters: [{{name: eu, region: eu, servers: 1}}, {{name: us, region: us, servers: 1}}]
  broker: {{io: null, ping_interval: {ping}}}
  client: {{io: null, ping_interval: 1000}}
  tls: {{version: none}}
  request_timeout: 500ms
"""
LOCAL = 0.003  # 4 legs of 0.5 ms + 1 ms of work
REMOTE = LOCAL + 0.080
KILL = 1.005  # between two requests


def run(
    mode: str, ping: float = 120.0
) -> tuple[pd.DataFrame, MessagingTransport, list[tuple[Heartbeat, float]]]:
    sc = scenario(FAILOVER.format(ping=ping))
    seen: list[tuple[Heartbeat, float]] = []  # each dead member's server-side ping timer

    def kill(t: MessagingTransport) -> None:
        for inst in list(t.app.instances["dispatch-eu"]):
            hb = t.conns[inst].server_hb
            assert hb is not None
            seen.append((hb, hb.last_in))
            t.crash(inst, mode)

    transport = scripted_run(sc, 3.0, [(KILL, kill)])
    df = pd.DataFrame(transport.app.recorder.rows, columns=list(COLUMNS))
    df["latency"] = df["end"] - df["start"]
    return df[df["kind"] == "request"], transport, seen


def test_closed_sockets_fail_over_at_once() -> None:
    df, t, _ = run("closed")
    detected = KILL + 0.0005  # the FIN, one way
    eu = t.fabric.servers["nats-eu-0"]
    assert [(round(w, 9), r) for w, _c, r in eu.closures] == [(round(detected, 9), "closed")] * 2
    before = df[df["start"] < KILL - 0.003]
    after = df[df["start"] + 0.0005 > detected]
    assert len(before) > 90 and len(after) > 190
    assert (before["status"] == "ok").all()
    assert before["latency"].to_numpy() == pytest.approx(LOCAL)
    assert (after["status"] == "ok").all()  # nothing lost once the death is known
    assert after["latency"].to_numpy() == pytest.approx(REMOTE)
    added = after["latency"].mean() - before["latency"].mean()
    assert added == pytest.approx(0.080)  # the inter-region RTT, nothing else
    assert (after["network"] - 0.080).to_numpy() == pytest.approx(before["network"].iloc[0])


def test_silent_members_lose_requests_until_the_pings_find_them() -> None:
    """Dead silently: requests still go to them and time out, until the eu server's pings
    (interval 200 ms, 2 out) close both connections; from then on every request is served in
    us, 80 ms later, and none is lost."""
    p = 0.2
    df, t, seen = run("silent", ping=p)
    eu = t.fabric.servers["nats-eu-0"]
    stale = sorted(w for w, _c, r in eu.closures if r == "stale")
    expected = []
    for hb, last_in in seen:
        # ticks every p; a tick pings only if nothing came in for p (processPingTimer); the
        # first ping the dead member cannot answer is the first reaching it after KILL
        ticks = (hb.ticks[0] + k * p for k in range(1000))
        t_a = next(x for x in ticks if x - last_in >= p and x + 0.0005 > KILL)
        expected.append(t_a + 2 * p)
    assert stale == pytest.approx(sorted(expected))
    # a busy member's last reply delays the first ping by up to one interval (lastIn), so
    # the bound here is (max_pings_out + 2) intervals, not the idle client's + 1
    assert all(KILL + 2 * p < x <= KILL + 4 * p for x in stale)
    lost = df[df["status"] == "timeout"]
    # a request reaches the eu server 0.5 ms after it starts
    assert (lost["start"] + 0.0005 >= KILL - 0.002).all()
    assert (lost["start"] + 0.0005 < stale[1]).all()
    assert lost["latency"].to_numpy() == pytest.approx(0.5)  # the request timeout
    after = df[df["start"] + 0.0005 > stale[1]]
    assert len(after) > 100 and (after["status"] == "ok").all()
    assert after["latency"].to_numpy() == pytest.approx(REMOTE)
    window = df[(df["start"] + 0.0005 > KILL) & (df["start"] + 0.0005 < stale[0])]
    assert len(window) > 0 and (window["status"] == "timeout").all()
