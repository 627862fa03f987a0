"""Connections and pools: exact times and counts on tiny deterministic cases.

The first part drives a :class:`Pool` directly between two components 1 s of RTT apart (same
zone, different hosts), with whole-second holds, so every instant is exact. The second part
runs tiny deterministic scenarios (constant arrivals, constant demand) through the HTTP
transport and the broker and checks the components frame: handshake counts equal new
connections, and an idle timeout shorter than the gap between requests costs one handshake
per request.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
import simpy

import sim
from sim.core.component import Component
from sim.core.connections import Connection, Pool, close_accounting, handshake, open_accounting
from sim.core.network import Network, Place
from sim.core.trace import Trace
from sim.scenario.model import Network as NetworkConfig
from sim.scenario.model import Tls
from tests.helpers import Log, requests_of, scenario

RTT = 1.0
NONE = Tls(version="none", mutual=False)


class World:
    """A client and a server component, one RTT apart, and a log."""

    def __init__(self, cores: int = 1):
        self.env = simpy.Environment()
        self.net = Network(NetworkConfig(same_zone_rtt=RTT))
        self.a = Component(self.env, "client", "a", Place("r", "z", "h1"), cores=cores)
        self.b = Component(self.env, "service", "b", Place("r", "z", "h2"), cores=cores)
        self.log = Log(self.env)
        self.traces: dict[str, Trace] = {}

    def pool(
        self,
        tls: Tls = NONE,
        max_connections: int = 1,
        max_streams: int = 1,
        idle_timeout: float = 3600.0,
    ) -> Pool:
        return Pool(
            self.env, self.net, self.a, self.b, tls, max_connections, max_streams, idle_timeout
        )

    def caller(
        self, pool: Pool, name: str, at: float = 0.0, hold: float = 2.0
    ) -> Generator[Any, Any, None]:
        if at:
            yield self.env.timeout(at)
        tr = self.traces[name] = Trace(0, name, self.env.now)
        conn = yield from pool.acquire(tr)
        self.log(f"{name} got")
        yield self.env.timeout(hold)
        pool.release(conn)
        self.log(f"{name} released")

    def start(self, pool: Pool, name: str, at: float = 0.0, hold: float = 2.0) -> None:
        self.env.process(self.caller(pool, name, at, hold))


# --------------------------------------------------------------------------- pool


def test_http1_one_connection_three_callers_queue_in_order() -> None:
    w = World()
    pool = w.pool(max_connections=1, max_streams=1)
    for name in ("x", "y", "z"):
        w.start(pool, name)
    w.env.run(until=100)
    # x opens (1 RTT of TCP); y and z wait at the pool and get the connection handed over
    assert w.log == [
        ("x got", 1),
        ("x released", 3),
        ("y got", 3),
        ("y released", 5),
        ("z got", 5),
        ("z released", 7),
    ]
    assert [w.traces[n].handshake for n in "xyz"] == [1, 0, 0]
    assert [w.traces[n].queueing for n in "xyz"] == [0, 3, 5]
    assert len(pool.conns) == 1
    assert w.a.conns_opened == w.b.conns_opened == 1
    assert w.a.handshakes_tcp == 1
    assert w.a.conns_open.peak == 1


def test_http1_below_the_limit_opens_a_connection_per_concurrent_caller() -> None:
    w = World()
    pool = w.pool(max_connections=2, max_streams=1)
    for name in ("x", "y", "z"):
        w.start(pool, name)
    w.start(pool, "later", at=10)
    w.env.run()
    assert w.log == [
        ("x got", 1),
        ("y got", 1),
        ("x released", 3),  # hands its connection to the waiting z…
        ("y released", 3),  # …which resumes after y, released at the same instant
        ("z got", 3),
        ("z released", 5),
        ("later got", 10),  # reuses an idle connection: no handshake
        ("later released", 12),
    ]
    assert w.a.conns_opened == 2
    assert w.a.handshakes_tcp == 2
    assert w.traces["z"].queueing == 3
    assert w.traces["later"].handshake == 0


def test_http1_reuses_the_most_recently_idle_connection() -> None:
    w = World()
    pool = w.pool(max_connections=2, max_streams=1)
    w.start(pool, "x", hold=2)
    w.start(pool, "y", hold=4)
    w.env.run(until=6)
    first, second = pool.conns
    assert pool.idle == [first, second]  # x's connection went idle first (t=3), y's at t=5
    got: list[Connection] = []

    def grab() -> Generator[Any, Any, None]:
        got.append((yield from pool.acquire(None)))

    w.env.process(grab())
    w.env.run(until=7)
    assert got == [second]


def test_http2_multiplexes_on_one_connection_without_queueing() -> None:
    w = World()
    pool = w.pool(max_connections=1, max_streams=100)
    for name in ("x", "y", "z"):
        w.start(pool, name)
    w.env.run(until=100)
    assert w.log == [
        ("x got", 1),
        ("y got", 1),
        ("z got", 1),
        ("x released", 3),
        ("y released", 3),
        ("z released", 3),
    ]
    # y and z waited for x's handshake: that wait is handshake time, not queueing
    assert [w.traces[n].handshake for n in "xyz"] == [1, 1, 1]
    assert [w.traces[n].queueing for n in "xyz"] == [0, 0, 0]
    assert len(pool.conns) == 1
    assert w.a.conns_opened == 1
    assert w.a.handshakes_tcp == 1


def test_http2_stream_limit_spills_to_a_second_connection_then_queues() -> None:
    w = World()
    pool = w.pool(max_connections=2, max_streams=2)
    for name in ("p", "q", "r", "s", "t"):
        w.start(pool, name)
    w.env.run()
    got = dict(w.log)
    assert got["p got"] == got["q got"] == 1  # first connection, two streams
    assert got["r got"] == got["s got"] == 1  # second connection, two streams
    assert got["t got"] == 3  # both full: waits for the first stream released
    assert w.traces["t"].queueing == 3
    assert w.a.conns_opened == 2


@pytest.mark.parametrize(
    ("version", "rounds"), [("none", 1), ("1.3", 2), ("1.2", 3)], ids=["none", "tls1.3", "tls1.2"]
)
@pytest.mark.parametrize("mutual", [False, True], ids=["one-way", "mutual"])
def test_handshake_round_trips_and_cpu(version: str, rounds: int, mutual: bool) -> None:
    """TCP is one RTT; TLS 1.3 adds one, TLS 1.2 two; then server then client CPU."""
    tls = Tls(
        version=version,
        mutual=mutual,
        server_cpu=0.25,
        client_cpu=0.125,
        mutual_cpu=0.5,
        memory_per_connection=1000,
    )
    w = World()
    pool = w.pool(tls=tls)
    w.start(pool, "x", hold=1)
    w.env.run(until=100)
    secure = version != "none"
    server_cpu = (0.25 + (0.5 if mutual else 0.0)) if secure else 0.0
    client_cpu = (0.125 + (0.25 if mutual else 0.0)) if secure else 0.0
    ready = rounds * RTT + server_cpu + client_cpu
    assert w.log == [("x got", ready), ("x released", ready + 1)]
    tr = w.traces["x"]
    assert tr.handshake == ready
    assert tr.queueing == 0
    for c in (w.a, w.b):
        assert c.handshakes_tcp == 1
        assert c.handshakes_tls == (1 if secure else 0)
        assert c.handshakes_mtls == (1 if secure and mutual else 0)
        assert c.conns_opened == 1
        assert c.memory.gauge.value == (1000 if secure else 0)
    assert w.b.cpu is not None and w.a.cpu is not None
    assert w.b.cpu.busy.area() == server_cpu
    assert w.a.cpu.busy.area() == client_cpu


def test_handshake_cpu_waits_for_a_busy_core_and_counts_it_as_queueing() -> None:
    tls = Tls(version="1.3", mutual=False, server_cpu=0.25, client_cpu=0.125)
    w = World()
    assert w.b.cpu is not None
    w.b.cpu.execute(5)  # the server's only core is busy until t=5
    tr = Trace(0, "x", 0.0)
    w.env.process(handshake(w.env, w.net, w.a, w.b, tls, tr))
    w.env.run()
    # 2 RTT on the wire, wait 3 s for the core, 0.25 s server CPU, 0.125 s client CPU
    assert w.env.now == 5.375
    assert tr.handshake == 2.375
    assert tr.queueing == 3


def test_tls_handshakes_equal_new_connections_under_concurrency() -> None:
    tls = Tls(version="1.3", mutual=True, server_cpu=0, client_cpu=0, mutual_cpu=0)
    w = World()
    pool = w.pool(tls=tls, max_connections=3, max_streams=1)
    for i in range(7):
        w.start(pool, f"c{i}", at=0.5 * (i % 4), hold=3)
    w.env.run()
    for c in (w.a, w.b):
        assert c.conns_opened == 3
        assert c.handshakes_tls == c.handshakes_mtls == c.handshakes_tcp == c.conns_opened


def test_idle_timeout_closes_and_a_request_after_quiet_pays_a_new_handshake() -> None:
    w = World()
    pool = w.pool(max_connections=1, max_streams=1, idle_timeout=10)
    w.start(pool, "x", at=0, hold=2)  # opened at 0, got at 1, idle from 3
    w.start(pool, "y", at=8, hold=2)  # reuses it at 8, idle again from 10 → closes at 20
    w.start(pool, "z", at=25, hold=2)  # after the quiet period: a new connection
    w.env.run(until=40)
    assert w.log == [
        ("x got", 1),
        ("x released", 3),
        ("y got", 8),
        ("y released", 10),
        ("z got", 26),
        ("z released", 28),
    ]
    assert [w.traces[n].handshake for n in "xyz"] == [1, 0, 1]
    assert w.a.handshakes_tcp == 2
    assert w.a.conns_opened == 2
    assert w.a.conns_closed == 2  # the first closed at 20, the second at 38
    assert w.a.conns_open.value == 0
    assert pool.conns == [] and pool.idle == []
    # open from 0 to 20 and from 25 to 38: the gauge's area pins both close instants
    assert w.a.conns_open.area() == 20 + 13


def test_idle_timer_firing_while_busy_does_not_close() -> None:
    w = World()
    pool = w.pool(max_connections=1, max_streams=100, idle_timeout=4)
    w.start(pool, "x", at=0, hold=1)  # idle from 2; first timer due at 6
    w.start(pool, "y", at=5, hold=3)  # busy 5..8 when the timer fires at 6; idle from 8
    w.env.run(until=30)
    assert w.a.conns_closed == 1
    assert w.a.conns_open.area() == 12  # closed at 8 + 4


def test_open_and_close_accounting_on_both_ends() -> None:
    env = simpy.Environment()
    a = Component(env, "client", "a", Place("r", "z", "h1"), memory=100)
    b = Component(env, "service", "b", Place("r", "z", "h2"), memory=200)
    tls = Tls(version="1.2", memory_per_connection=10)
    open_accounting(a, b, tls)
    open_accounting(a, b, NONE)
    assert (a.conns_opened, b.conns_opened, a.conns_open.value) == (2, 2, 2)
    assert (a.memory.gauge.value, b.memory.gauge.value) == (110, 210)
    close_accounting(a, b, tls)
    close_accounting(a, b, NONE)
    assert (a.conns_closed, b.conns_closed, b.conns_open.value) == (2, 2, 0)
    assert (a.memory.gauge.value, b.memory.gauge.value) == (100, 200)
    assert b.memory.gauge.peak == 210


def test_close_all_books_every_connection() -> None:
    w = World()
    pool = w.pool(max_connections=3, max_streams=1)
    for i in range(3):
        w.start(pool, f"c{i}", hold=1)
    w.env.run(until=10)
    assert w.a.conns_closed == 0
    pool.close_all()
    assert w.a.conns_closed == 3
    assert w.a.conns_open.value == 0
    assert pool.conns == [] and pool.idle == []
    w.env.run(until=7200)  # the idle timers armed before the close fire: nothing to close twice
    assert w.a.conns_closed == w.b.conns_closed == 3
    assert w.a.conns_open.value == 0


# --------------------------------------------------------------------------- scenarios


def _one_hop(
    protocol: str, tls: str, rate: float, idle: float, duration: float = 1.0, clients: int = 1
) -> sim.Scenario:
    """Clients → one service directly (no gateway, no sidecar), constant arrivals and demand.

    The clients sit at the edge in zone a; the only instance is placed in zone a too but on
    its own node, so every RTT is the same-zone RTT (10 ms). TLS CPU is zero, so handshakes
    cost round trips only.
    """
    return scenario(
        f"""
name: one-hop
run: {{duration: {duration}, warmup: 0, seed: 1}}
placement:
  regions: [{{name: r, zones: [a]}}]
  network: {{same_zone_rtt: 10ms, same_host_rtt: 10ms, bandwidth: 1e30}}
services:
  svc:
    instances: 1
    cores: 1
    operations:
      op: {{demand: {{dist: constant, value: 1ms}}, request_bytes: 0, response_bytes: 0}}
workload:
  arrivals: {{kind: constant, rate: {rate}}}
  clients: {clients}
  flows: [{{name: f, service: svc, operation: op}}]
http:
  protocol: {protocol}
  gateway: {{enabled: false}}
  sidecar: {{enabled: false}}
  stack: {{io: null}}
  client_idle_timeout: {idle}
  tls: {{version: "{tls}", mutual: false, server_cpu: 0, client_cpu: 0}}
messaging:
  tls: {{version: "{tls}", mutual: false, server_cpu: 0, client_cpu: 0}}
  broker: {{io: null}}
  client: {{io: null}}
"""
    )


def _row(res: Any, name: str) -> Any:
    comps = res.components
    return comps[comps["name"] == name].iloc[0]


@pytest.mark.parametrize(("tls", "rounds"), [("none", 1), ("1.3", 2), ("1.2", 3)])
def test_scenario_keepalive_pays_one_handshake(tls: str, rounds: int) -> None:
    """10 requests/s for 1 s, one client: one connection, reused by every request."""
    res = sim.simulate(_one_hop("http1", tls, rate=10, idle=90), "http")
    req = requests_of(res)
    assert len(req) == 9  # arrivals at 0.1, 0.2, …, 0.9 s (the one at 1.0 s is in flight)
    svc, clients = _row(res, "svc-0"), _row(res, "clients")
    assert svc["connections_opened"] == clients["connections_opened"] == 1
    assert svc["tcp_handshakes"] == 1
    assert svc["tls_handshakes"] == (0 if tls == "none" else 1)
    # the first request pays the handshake; every one pays a round trip and 1 ms of CPU
    assert req["handshake"].tolist() == pytest.approx([rounds * 0.01] + [0.0] * 8, abs=1e-15)
    assert req["latency"].tolist() == pytest.approx(
        [rounds * 0.01 + 0.011] + [0.011] * 8, abs=1e-12
    )


@pytest.mark.parametrize("tls", ["none", "1.3", "1.2"])
def test_scenario_idle_timeout_shorter_than_the_gap_costs_a_handshake_per_request(
    tls: str,
) -> None:
    """Idle timeout 50 ms, a request every 100 ms: each connection is closed before the next."""
    res = sim.simulate(_one_hop("http1", tls, rate=10, idle=0.05), "http")
    req = requests_of(res)
    n = len(req)
    assert n == 9
    svc = _row(res, "svc-0")
    assert svc["connections_opened"] == 10  # the request in flight at the end opened one too
    assert svc["connections_closed"] == 9
    assert svc["tcp_handshakes"] == 10
    assert svc["tls_handshakes"] == (0 if tls == "none" else 10)
    rounds = {"none": 1, "1.3": 2, "1.2": 3}[tls]
    assert req["handshake"].tolist() == pytest.approx([rounds * 0.01] * n, abs=1e-15)


def test_scenario_http1_concurrency_opens_connections_http2_does_not() -> None:
    """500 arrivals/s over a 10 ms RTT with 1 ms of CPU: about 6 requests in flight at once."""
    h1 = sim.simulate(_one_hop("http1", "1.3", rate=500, idle=90, duration=0.5), "http")
    h2 = sim.simulate(_one_hop("http2", "1.3", rate=500, idle=90, duration=0.5), "http")
    c1, c2 = _row(h1, "svc-0"), _row(h2, "svc-0")
    assert c2["connections_opened"] == 1
    assert c2["tls_handshakes"] == 1
    assert c1["connections_opened"] > 1
    assert c1["tls_handshakes"] == c1["connections_opened"]
    assert c1["connections_peak"] == c1["connections_opened"]  # none closed (90 s idle)
    # http2: the requests that arrive during the first handshake (TLS 1.3: 20 ms) wait for
    # it, a handshake cost; then they reach the core together and queue there for a while.
    # Once that burst has drained (ρ = 0.5, constant gaps) nothing waits again, at the
    # pool or anywhere else.
    r2 = requests_of(h2)
    first = r2["start"].iloc[0]
    during = r2[r2["start"] < first + 0.02]
    assert during["handshake"].to_numpy() == pytest.approx(
        (first + 0.02 - during["start"]).to_numpy(), abs=1e-12
    )
    assert (r2.loc[r2["start"] >= first + 0.02, "handshake"] == 0).all()
    late = r2[r2["start"] > 0.1]
    assert len(late) > 150
    assert late["queueing"].to_numpy() == pytest.approx(0.0, abs=1e-12)
    assert late["latency"].to_numpy() == pytest.approx(0.011, abs=1e-12)


def test_scenario_an_edge_client_s_connection_limit_makes_requests_wait_for_one() -> None:
    """http.client_max_connections 1: 500 arrivals/s, about 6 in flight at once, share the
    one connection of the one client, each after the one before it."""
    sc = _one_hop("http1", "none", rate=500, idle=90, duration=0.2)
    capped = sc.model_copy(
        update={"http": sc.http.model_copy(update={"client_max_connections": 1})}
    )
    free, one = sim.simulate(sc, "http"), sim.simulate(capped, "http")
    assert _row(free, "clients")["connections_opened"] > 1
    assert _row(one, "clients")["connections_opened"] == 1
    req = requests_of(one).sort_values("start")
    # each request leaves when the one before it is back (a round trip of 10 ms and 1 ms of
    # work: 11 ms each), the first at its arrival, 2 ms apart: so the k-th ends at
    # first + 10 ms (the handshake) + 11 ms * (k + 1)
    first = req["start"].iloc[0]
    ends = (req["start"] + req["latency"]).to_numpy()
    k = len(ends)
    assert ends == pytest.approx(first + 0.010 + 0.011 * (1 + np.arange(k)), abs=1e-9)


def test_scenario_broker_connections_are_opened_once_at_start() -> None:
    res = sim.simulate(_one_hop("http1", "1.3", rate=10, idle=0.05, clients=3), "messaging")
    broker = _row(res, "nats-0")
    assert broker["connections_opened"] == 3 + 1  # three edge clients, one instance
    assert broker["tls_handshakes"] == 4
    assert broker["connections_closed"] == 0
    req = requests_of(res)
    assert (req["handshake"] == 0).all()
    # four one-way legs of 5 ms (client → broker → service → broker → client) and 1 ms CPU
    assert req["latency"].tolist() == pytest.approx([0.021] * len(req), abs=1e-12)
