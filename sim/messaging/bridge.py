"""An HTTP edge bridge: how web clients reach a NATS system through an HTTP front door.

With ``messaging.ingress.kind: http-bridge`` the edge clients do not hold NATS connections.
Each request goes, like the HTTP side's edge traffic to its gateway, to a bridge replica
picked round robin by an L4 balancer (no cost of its own), over a keep-alive HTTP/1.1
connection from that edge client's pool (:class:`~sim.core.connections.Pool`: TCP and
one-way TLS handshakes when a connection is opened, idle connections closed after
``idle_timeout``). The replica reads the request (its I/O, :mod:`sim.core.io`), does the
on-path share of its L7 work, makes the NATS request on its own long-lived connection
(the messaging transport's request/reply, retries and timeouts), does the rest of its work
as the reply passes (the off-path remainder keeps a core busy afterwards), and writes the
response back. The broker sees one connection per replica instead of one per edge client.

Not modelled: a bridge replica failing (no health checks; the gateway's are in
:mod:`sim.http.gateway`), HTTP/2 from the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from sim.core.component import Component
from sim.core.connections import Pool
from sim.core.io import Channel, Io, wait
from sim.core.network import Network
from sim.core.placement import Placer
from sim.core.trace import Trace
from sim.scenario.common import Tls
from sim.scenario.messaging import Ingress

if TYPE_CHECKING:
    from sim.messaging.client import ClientConn


class Bridge(Component):
    """One bridge replica: an HTTP server that is a NATS client."""

    def __init__(self, env: Any, place: Any, cfg: Ingress, index: int):
        super().__init__(
            env, "bridge", f"bridge-{index}", place, cores=cfg.cores, memory=cfg.memory
        )
        self.io = Io.of(self.cpu, cfg.io)  # HTTP and NATS reads and writes
        on_path = cfg.cpu_per_request * cfg.on_path_fraction
        self.pass_work = on_path / 2
        self.tail_work = cfg.cpu_per_request - on_path
        self.conn: ClientConn | None = None  # its NATS connection

    def work(self, tr: Trace, tail: float) -> Generator[Any, Any, None]:
        """Half the on-path L7 work (and, on the way back, the off-path rest after it)."""
        w = self.pass_work
        if (w <= 0 and tail <= 0) or self.cpu is None:
            return
        env = self.env
        t0 = env.now
        yield self.cpu.execute(w, tail)
        tr.infra += w
        tr.queueing += env.now - t0 - w


class BridgeTier:
    """The bridge replicas, the round robin in front of them and the edge clients' pools."""

    def __init__(
        self, env: Any, net: Network, placer: Placer, cfg: Ingress, tls: Tls, edge: Component
    ):
        self.env, self.net, self.cfg, self.tls, self.edge = env, net, cfg, tls, edge
        self.replicas = [
            Bridge(env, placer.infra("bridge", i), cfg, i) for i in range(cfg.replicas)
        ]
        self.pools: dict[tuple[int, Bridge], Pool] = {}
        self._next = 0
        self.requests = 0

    def pick(self) -> Bridge:
        """The replica the L4 balancer hands the next request to."""
        i = self._next
        self._next = i + 1
        return self.replicas[i % len(self.replicas)]

    def exchange(
        self,
        tr: Trace,
        client: int,
        req: float,
        resp: float,
        ask: Callable[[Bridge], Generator[Any, Any, str]],
    ) -> Generator[Any, Any, str]:
        """One HTTP request from edge client ``client`` through a replica, which asks NATS."""
        env, net, edge = self.env, self.net, self.edge
        b = self.pick()
        self.requests += 1
        b.handled += 1
        pool = self.pools.get((client, b))
        if pool is None:
            cfg = self.cfg
            pool = Pool(env, net, edge, b, self.tls, cfg.max_connections, 1, cfg.idle_timeout)
            self.pools[(client, b)] = pool
        conn = pool.reuse()
        if conn is None:
            conn = yield from pool.acquire(tr)
        assert conn is not None  # bridge pools are never closed under a caller
        yield from self._leg(tr, conn.a_tx, conn.b_rx, edge, b, req, "request")
        yield from b.work(tr, 0.0)
        status = yield from ask(b)
        yield from b.work(tr, b.tail_work)
        yield from self._leg(tr, conn.b_tx, conn.a_rx, b, edge, resp, "response")
        pool.release(conn)
        return status

    def _leg(
        self,
        tr: Trace,
        tx: Channel | None,
        rx: Channel | None,
        frm: Component,
        to: Component,
        nbytes: float,
        what: str,
    ) -> Generator[Any, Any, None]:
        """One way of the exchange: written by ``frm``, on the wire, read by ``to``."""
        env = self.env
        if tx is not None:
            yield wait(env, tx, nbytes, tr)
        d = self.net.one_way(frm.place, to.place, nbytes)
        frm.bytes_out += nbytes
        if tr.hops is not None:
            tr.hops.append((env.now, frm.name, to.name, what))
        if d > 0:
            yield env.timeout(d)
            tr.network += d
        if rx is not None:
            yield wait(env, rx, nbytes, tr)
