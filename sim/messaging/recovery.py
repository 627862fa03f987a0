"""Coming back: routes and gateways re-solicited, and a server that starts again.

* **Routes** (nats-server ``route.go`` reConnectToRoute / connectToRoute): a server whose
  route closed sleeps ``DEFAULT_ROUTE_RECONNECT`` (1 s, ``const.go``) and then dials the
  peer every ``DEFAULT_ROUTE_CONNECT`` (1 s) for as long as it runs (explicit routes try
  forever). Once the TCP/TLS handshake is done, both sides' route links are up with fresh
  ping timers, and one way later each side has sent the other all its interest (RS+),
  which also reaches the gateways that learn through it.
* **Gateways** (``gateway.go`` defaultGatewayReconnectDelay and defaultGatewayConnectDelay,
  1 s each): a server that lost its outbound gateway to a cluster dials a live server of it
  picked at random, and if none can be reached tries again every second.
* **Restart**: a stopped server starts with nothing (no clients, no interest), dials its
  route peers and its gateways at once; other clusters' servers find it on their next
  gateway attempt, and clients on their next reconnect attempt (:mod:`sim.messaging.client`).

A peer that is dead, or unreachable (a partition, :mod:`sim.faults`), only costs a timer.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.core.connections import handshake
from sim.messaging.accounts import AccountSpace

if TYPE_CHECKING:
    from sim.messaging.broker import BrokerServer
    from sim.messaging.cluster import Fabric, Link

ROUTE_RECONNECT = 1.0  # nats-server const.go DEFAULT_ROUTE_RECONNECT
ROUTE_CONNECT = 1.0  # nats-server const.go DEFAULT_ROUTE_CONNECT
GATEWAY_RECONNECT = 1.0  # nats-server gateway.go defaultGatewayReconnectDelay
GATEWAY_CONNECT = 1.0  # nats-server gateway.go defaultGatewayConnectDelay


def _reachable(fabric: Fabric, a: BrokerServer, b: BrokerServer) -> bool:
    return b.alive and math.isfinite(fabric.net.rtt(a.place, b.place))


def resolicit(
    fabric: Fabric, a: BrokerServer, b: BrokerServer, wait: float = ROUTE_RECONNECT
) -> Generator[Any, Any, None]:
    """a dials its route to b until both directions are up again (a process)."""
    env = fabric.env
    if wait > 0:
        yield env.timeout(wait)
    while True:
        if not a.alive or (fabric.routes[(a, b)].up and fabric.routes[(b, a)].up):
            return
        if _reachable(fabric, a, b):
            yield from handshake(env, fabric.net, a, b, fabric.cfg.tls, None)
            if a.alive and b.alive and not (fabric.routes[(a, b)].up and fabric.routes[(b, a)].up):
                yield from _rejoin(fabric, a, b)
                return
        yield env.timeout(ROUTE_CONNECT)


def _rejoin(fabric: Fabric, a: BrokerServer, b: BrokerServer) -> Generator[Any, Any, None]:
    pair = (min(a.name, b.name), max(a.name, b.name))
    if pair not in fabric.route_books:
        fabric.route_books[pair] = None
        for _ in range(fabric.route_connections):
            fabric.open_books(a, b)
    for s, d in ((a, b), (b, a)):
        link = fabric.routes[(s, d)]
        fabric.down(link)
        link.up = True
        fabric.link_hb(link, "route")
    fabric.log.append((fabric.env.now, "route_up", b.name, a.name))
    yield fabric.env.timeout(fabric.net.one_way(a.place, b.place, 0))  # every RS+ sent
    for s, d in ((a, b), (b, a)):
        if not (s.alive and d.alive and fabric.routes[(s, d)].up):
            continue
        s.drop_mirrors(d, gateway=False)
        _tell(s, d, gateway=False)
        for (z, c), gw in fabric.gateways.items():  # who learns the cluster through s
            if c == s.cluster and gw.dst is s and gw.up and z.alive:
                z.drop_mirrors(d, gateway=True)
                _tell(z, d, gateway=True)


def _tell(viewer: BrokerServer, origin: BrokerServer, gateway: bool) -> None:
    for (acc, subj, q), n in origin.refs.items():
        viewer.mirror(origin, gateway, acc, subj, q, n if q is not None else 1)


def redial(
    fabric: Fabric, z: BrokerServer, cluster: str, link: Link, wait: float = 0.0
) -> Generator[Any, Any, None]:
    """z dials its outbound gateway to a cluster until it is up again (a process)."""
    env = fabric.env
    if wait > 0:
        yield env.timeout(wait)
    while z.alive and not link.up:
        live = [s for s in fabric.clusters[cluster] if _reachable(fabric, z, s)]
        if live:
            t = live[int(fabric.pick() * len(live))]
            yield from fabric.redial_to(z, link, t)
            if link.up:
                return
        yield env.timeout(GATEWAY_CONNECT)


def restart(fabric: Fabric, s: BrokerServer) -> None:
    """A stopped server starts again, empty, and rejoins its cluster and the supercluster."""
    if s.alive:
        return
    s.alive = True
    s.death = ""
    s.space = AccountSpace.from_config(fabric.cfg.accounts)
    s.mirrors = {}
    s.refs = {}
    s.memory.gauge.set(s.cfg.memory)
    s.subscriptions.set(0.0)
    s.started()
    fabric.log.append((fabric.env.now, "restarted", s.name, ""))
    for peer in fabric.clusters[s.cluster]:
        if peer is not s:
            fabric.env.process(resolicit(fabric, s, peer, wait=0.0))
    for c in fabric.clusters:
        if c != s.cluster:
            link = fabric.gateways[(s, c)]
            fabric.down(link)
            fabric.env.process(redial(fabric, s, c, link))
