"""Connections: handshakes, pools, idle timeouts and their costs.

Opening a connection costs one TCP round trip (RFC 9293) plus one (TLS 1.3, RFC 8446) or two
(TLS 1.2, RFC 5246) TLS round trips, and handshake CPU on both ends: the server signs
(``server_cpu``), the client verifies (``client_cpu``); with mutual TLS each side also does
the other's operation. Each open connection holds ``memory_per_connection`` on both sides.

A :class:`Pool` holds the connections from one component to one upstream, like an Envoy
cluster's per-host pool or Go's per-host idle list: HTTP/1.1 (``max_streams = 1``) carries
one request per connection at a time and reuses the most recently idle connection;
HTTP/2 multiplexes up to ``max_streams`` requests on one. Beyond ``max_connections`` callers
wait in FIFO order. A connection idle for ``idle_timeout`` is closed (one timer per
connection, re-armed lazily), so a quiet period costs new handshakes later.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

from simpy import Event

from sim.core.component import Component
from sim.core.network import Network
from sim.core.schedule import Signal, call_at
from sim.core.trace import Trace
from sim.scenario.model import Tls

TLS_ROUNDS = {"none": 0, "1.3": 1, "1.2": 2}


def tls_active(tls: Tls | None) -> bool:
    return tls is not None and tls.version != "none"


def open_accounting(a: Component, b: Component, tls: Tls | None) -> None:
    """Book a newly opened connection on both ends (counts, gauges, memory)."""
    mem = tls.memory_per_connection if tls is not None and tls_active(tls) else 0.0
    a.peers[b.name] = a.peers.get(b.name, 0) + 1  # who connects to whom (topology)
    for c in (a, b):
        c.conns_opened += 1
        c.conns_open.add(1)
        if mem:
            c.memory.add(mem)


def close_accounting(a: Component, b: Component, tls: Tls | None) -> None:
    """Book a closed connection on both ends."""
    mem = tls.memory_per_connection if tls is not None and tls_active(tls) else 0.0
    for c in (a, b):
        c.conns_closed += 1
        c.conns_open.add(-1)
        if mem:
            c.memory.remove(mem)


def handshake(
    env: Any, net: Network, client: Component, server: Component, tls: Tls | None, tr: Trace | None
) -> Generator[Event | Signal, Any, None]:
    """TCP (+TLS) handshake from client to server: round trips, then CPU on both ends."""
    secure = tls_active(tls)
    rounds = 1 + (TLS_ROUNDS[tls.version] if tls is not None else 0)
    for c in (client, server):
        c.handshakes_tcp += 1
        if secure:
            c.handshakes_tls += 1
            if tls is not None and tls.mutual:
                c.handshakes_mtls += 1
    wire = rounds * net.rtt(client.place, server.place)
    if wire > 0:
        yield env.timeout(wire)
    if tr is not None:
        tr.handshake += wire
    if not secure or tls is None:
        return
    server_work = tls.server_cpu + (tls.mutual_cpu if tls.mutual else 0.0)
    client_work = tls.client_cpu + (tls.server_cpu if tls.mutual else 0.0)
    for comp, work in ((server, server_work), (client, client_work)):
        if comp.cpu is None or work <= 0:
            continue
        t0 = env.now
        yield comp.cpu.execute(work)
        if tr is not None:
            tr.handshake += work
            tr.queueing += env.now - t0 - work


class Connection:
    """One transport connection between two components."""

    __slots__ = (
        "a",
        "a_rx",
        "a_tx",
        "b",
        "b_rx",
        "b_tx",
        "idle_since",
        "pool",
        "ready",
        "streams",
        "timer",
        "worker",
    )

    def __init__(self, pool: Pool | None, a: Component, b: Component):
        self.pool = pool
        self.a = a
        self.b = b
        self.streams = 0
        self.idle_since = 0.0
        self.timer = False
        self.ready: Event | None = None
        self.worker = b.bind()  # the accepting side's worker thread (Component.bind)
        # each end's reads and writes on its own cores (sim.core.io); None where they are free
        secure = pool is not None and tls_active(pool.tls)
        self.a_rx = a.io.channel(secure) if a.io is not None else None
        self.a_tx = a.io.channel(secure, write=True) if a.io is not None else None
        self.b_rx = b.io.channel(secure) if b.io is not None else None
        self.b_tx = b.io.channel(secure, write=True) if b.io is not None else None


class Pool:
    """Connections from `owner` to one upstream `peer`, with limits and idle timeout."""

    def __init__(
        self,
        env: Any,
        net: Network,
        owner: Component,
        peer: Component,
        tls: Tls | None,
        max_connections: int,
        max_streams: int,
        idle_timeout: float,
    ):
        self.env, self.net, self.owner, self.peer, self.tls = env, net, owner, peer, tls
        self.max_connections = max_connections
        self.max_streams = max_streams
        self.idle_timeout = idle_timeout
        self.conns: list[Connection] = []
        self.idle: list[Connection] = []  # HTTP/1.1: LIFO of idle connections
        self.waiters: deque[Event] = deque()

    def reuse(self) -> Connection | None:
        """A connection ready now with a free stream, taken without waiting — or None, and
        then :meth:`acquire` opens one or waits (the common case needs no generator)."""
        if self.max_streams == 1:
            if self.idle:
                c = self.idle.pop()
                c.streams = 1
                return c
            return None
        for c in self.conns:
            if c.streams < self.max_streams:
                if c.ready is not None:
                    return None  # still handshaking: acquire waits with it
                c.streams += 1
                return c
        return None

    def acquire(self, tr: Trace | None) -> Generator[Event | Signal, Any, Connection]:
        """A connection with a free stream: reused, newly opened, or waited for.

        A caller still waiting when the pool is closed (:meth:`close_all`) gets None."""
        env = self.env
        c = self.reuse()
        if c is not None:
            return c
        if self.max_streams > 1:
            for c in self.conns:
                if c.streams < self.max_streams:  # still handshaking (reuse took no other)
                    c.streams += 1
                    t0 = env.now
                    assert c.ready is not None
                    yield c.ready
                    if tr is not None:
                        tr.handshake += env.now - t0
                    return c
        if len(self.conns) < self.max_connections:
            c = Connection(self, self.owner, self.peer)
            c.streams = 1
            c.ready = Event(env)
            self.conns.append(c)
            open_accounting(self.owner, self.peer, self.tls)
            yield from handshake(env, self.net, self.owner, self.peer, self.tls, tr)
            ready, c.ready = c.ready, None
            ready.succeed()
            return c
        ev = Event(env)
        self.waiters.append(ev)
        t0 = env.now
        c = yield ev
        if tr is not None:
            tr.queueing += env.now - t0
        return c

    def release(self, c: Connection) -> None:
        """Give a stream back; hands it straight to the oldest waiter if there is one."""
        if c.pool is None:
            return  # closed under the caller (peer stopped): nothing to give back
        if self.waiters:
            self.waiters.popleft().succeed(c)
            return
        c.streams -= 1
        if c.streams == 0:
            c.idle_since = self.env.now
            if self.max_streams == 1:
                self.idle.append(c)
            if not c.timer:
                self._arm(c, self.idle_timeout)

    def _arm(self, c: Connection, delay: float) -> None:
        c.timer = True
        call_at(self.env, delay, lambda _e: self._expire(c))  # a Timeout's place, no Timeout

    def _expire(self, c: Connection) -> None:
        c.timer = False
        if c.streams > 0 or c.pool is None:
            return  # busy again (re-armed when it next goes idle), or already closed
        due = c.idle_since + self.idle_timeout
        if self.env.now + 1e-12 < due:
            self._arm(c, due - self.env.now)
            return
        self.conns.remove(c)
        if self.max_streams == 1:
            self.idle.remove(c)
        close_accounting(self.owner, self.peer, self.tls)

    def close_all(self) -> None:
        """Close every connection (instance stopped); callers still waiting get None."""
        for c in self.conns:
            c.pool = None
            close_accounting(self.owner, self.peer, self.tls)
        self.conns.clear()
        self.idle.clear()
        while self.waiters:
            self.waiters.popleft().succeed(None)
