"""The deployment: clusters of servers joined by routes, clusters joined by gateways.

Routes (nats-server ``route.go``): every pair of servers of a cluster is joined, a full mesh
with ``pool_size`` connections per pair (``const.go`` DEFAULT_ROUTE_POOL_SIZE 3) plus one
pinned to the system account (``opts.go`` setBaselineOptions adds ``$SYS`` to the pinned
accounts whenever pooling is on: a real 3-server cluster shows 2 × 4 routes per server);
an account's traffic uses pool connection ``fnv1a(account) % pool_size``
(computeRoutePoolIdx). A message takes one hop. Interest: when a server's local interest changes (first or last plain
subscription on a subject, any queue subscription) it sends RS+/RS- to every route peer,
which learns it one way later and pays a parse; the sender pays a write per peer.

Gateways (``gateway.go``, interest-only mode since 2.9): each server keeps one outbound
gateway connection to one server of every other cluster (picked at random from its URLs, as
the gateway dialer does). A remote cluster's interest reaches a server through that target:
a subscription on server X of cluster C is known to server Z of another cluster after
``one_way(X, T) + one_way(T, Z)``, where T is Z's gateway target in C. Queue groups go to the
lowest-RTT cluster with members (``outo`` sorted by RTT).

Failures: a dead server's routes and gateways are seen closed one way later (``closed``) or
after their pings go unanswered (``silent``: routes ping every min(ping_interval, 30 s),
gateways every min(ping_interval, 15 s)). A peer that loses a route forgets that server's
interest and tells its inbound gateways; a server that loses its gateway target forgets that
cluster's interest, dials another of its servers and learns the interest again from it.
Routes and gateways are dialled again until they are back (:mod:`sim.messaging.recovery`),
and what each server notices goes to ``log``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from typing import Any

from sim.core.component import Component
from sim.core.connections import close_accounting, handshake, open_accounting
from sim.core.distributions import Uniforms
from sim.core.network import Network, Place
from sim.core.placement import Placer
from sim.core.schedule import at, call_at
from sim.core.streams import Streams
from sim.messaging.accounts import GLOBAL_ACCOUNT, AccountSpace
from sim.messaging.broker import BrokerServer
from sim.messaging.client import ClientConn
from sim.messaging.failure import CLOSED, Heartbeat, first_tick
from sim.messaging.message import Msg
from sim.messaging.observe import Tally
from sim.messaging.recovery import redial, resolicit
from sim.messaging.topology import ClusterPlan
from sim.scenario.messaging import MessagingSettings

FIRST_PING_LINK = 1.0  # nats-server server.go firstPingInterval (routes, gateways)


def fnv1a(text: str) -> int:
    """32-bit FNV-1a, as nats-server computeRoutePoolIdx hashes the account name."""
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


@dataclass(eq=False)
class Link:
    """One side's view of a route or an outbound gateway."""

    src: BrokerServer
    dst: BrokerServer | None
    up: bool = True
    hb: Heartbeat | None = None
    books: bool = False  # its connection is counted open


class Fabric:
    """All servers, their routes and gateways, and the messages between them."""

    def __init__(
        self,
        env: Any,
        net: Network,
        streams: Streams,
        placer: Placer,
        cfg: MessagingSettings,
        plans: list[ClusterPlan],
    ):
        self.env, self.net, self.streams, self.cfg = env, net, streams, cfg
        self.rules = AccountSpace.from_config(cfg.accounts)
        self.reply_home: dict[tuple[str, str], BrokerServer] = {}
        self.jitter = Uniforms(streams.get("broker-jitter"))
        self.pick = Uniforms(streams.get("server-pick"))
        self.servers: dict[str, BrokerServer] = {}
        self.clusters: dict[str, list[BrokerServer]] = {}
        self.regions: dict[str, str] = {p.name: p.region for p in plans}
        for p in plans:
            kind = "nats" if len(plans) == 1 and p.name == "C1" else f"nats-{p.name}"
            members = []
            for i, name in enumerate(p.servers):
                s = BrokerServer(self, name, placer.infra(kind, i, p.region), p.name)
                self.servers[name] = s
                members.append(s)
            self.clusters[p.name] = members
        self.routes: dict[tuple[BrokerServer, BrokerServer], Link] = {}
        self.gateways: dict[tuple[BrokerServer, str], Link] = {}
        self._spread: dict[str, int] = {}
        self.route_books: dict[tuple[str, str], None] = {}  # pairs with open books
        self.route_connections = cfg.routes.pool_size + 1  # the pool and the pinned $SYS route
        # each route's and gateway's counters on the sender, kept after their first message
        self._route_tallies: dict[tuple[BrokerServer, BrokerServer, str], tuple[Tally, Tally]]
        self._route_tallies = {}
        self._gateway_tallies: dict[tuple[BrokerServer, str], tuple[Tally, Tally]] = {}
        self.lost = 0
        self.log: list[tuple[float, str, str, str]] = []  # (t, what, about whom, detail)
        # told of every RS+/RS- as it is sent (leaf nodes follow their hub's interest)
        self.watchers: list[Callable[[BrokerServer, str, str, str | None, int], None]] = []

    # ------------------------------------------------------------------ wiring
    def start(self) -> None:
        """Form the route mesh and the gateways (handshakes off any request path)."""
        for members in self.clusters.values():
            for a in members:
                for b in members:
                    if a is not b:
                        self.routes[(a, b)] = Link(a, b)
                        self.link_hb(self.routes[(a, b)], "route")
                        if a.name < b.name:
                            self.route_books[(a.name, b.name)] = None
                            for _ in range(self.route_connections):
                                self.open_books(a, b)
        for a in self.servers.values():
            for c, members in self.clusters.items():
                if c != a.cluster:
                    t = members[int(self.pick() * len(members))]
                    link = self.gateways[(a, c)] = Link(a, t, books=True)
                    self.link_hb(link, "gateway")
                    self.open_books(a, t)

    def open_books(self, a: BrokerServer, b: BrokerServer) -> None:
        open_accounting(a, b, self.cfg.tls)
        for s in (a, b):
            s.memory.add(self.cfg.broker.memory_per_connection)
        self.env.process(handshake(self.env, self.net, a, b, self.cfg.tls, None))

    def _close(self, a: BrokerServer, b: BrokerServer) -> None:
        close_accounting(a, b, self.cfg.tls)
        for s in (a, b):
            if s.alive:
                s.memory.remove(self.cfg.broker.memory_per_connection)

    def link_hb(self, link: Link, kind: str) -> None:
        b = self.cfg.broker
        src, dst = link.src, link.dst
        assert dst is not None
        cap = (
            self.cfg.routes.max_ping_interval
            if kind == "route"
            else self.cfg.gateways.max_ping_interval
        )
        interval = min(b.ping_interval, cap)

        def stale() -> None:
            if kind == "route":
                self.route_lost(src, dst)
            else:
                self.gateway_lost(src, dst.cluster)

        link.hb = Heartbeat(
            self.env,
            interval,
            b.max_pings_out,
            first_tick(interval, FIRST_PING_LINK, self.jitter()),
            lambda: self.net.rtt(src.place, dst.place),
            peer_alive=lambda: dst.alive,
            on_stale=stale,
            on_answer=lambda: dst.protocol(GLOBAL_ACCOUNT),  # reads the PING, writes a PONG
            on_ping=lambda: src.protocol(GLOBAL_ACCOUNT, parse=False),
            on_pong=lambda: src.protocol(GLOBAL_ACCOUNT, write=False),
        )

    def components(self) -> list[Component]:
        return list(self.servers.values())

    def cluster_for(self, place: Place) -> str:
        """A client's cluster: the one in its region, else the nearest (lowest RTT)."""
        for c, region in self.regions.items():
            if region == place.region:
                return c
        return min(self.clusters, key=lambda c: (self.net.rtt(place, self.clusters[c][0].place), c))

    def pool_for(self, place: Place) -> list[BrokerServer]:
        """The server list a new client tries, in order, by the ``client.spread`` policy."""
        c = self.cluster_for(place)
        members = list(self.clusters[c])
        spread = self.cfg.client.spread
        if spread == "random":  # nats.go shufflePool: Fisher-Yates
            for i in range(len(members) - 1, 0, -1):
                j = int(self.pick() * (i + 1))
                members[i], members[j] = members[j], members[i]
        elif spread == "round-robin":
            k = self._spread.get(c, 0)
            self._spread[c] = k + 1
            members = members[k % len(members) :] + members[: k % len(members)]
        return members

    def connect(self, owner: Component, name: str, account: str, cid: int) -> ClientConn:
        """A new client connection (call its ``connect`` to dial)."""
        return ClientConn(self, owner, name, account, self.pool_for(owner.place), cid)

    # ------------------------------------------------------------------ messages
    def route_send(self, src: BrokerServer, dst: BrokerServer, msg: Msg) -> None:
        link = self.routes.get((src, dst))
        if link is None or not link.up:
            self.lost += 1
            return
        key = (src, dst, msg.account)
        tallies = self._route_tallies.get(key)
        if tallies is None:
            idx = fnv1a(msg.account) % self.cfg.routes.pool_size
            name = f"{src.name}→{dst.name}[{idx}]"
            tallies = self._route_tallies[key] = (
                src.book.tally("route", name, "messages"),
                src.book.tally("route", name, "bytes"),
            )
        tallies[0].value += 1.0
        tallies[1].value += msg.nbytes
        self._travel(src, dst, msg, "route")

    def gateway_send(self, src: BrokerServer, cluster: str, msg: Msg) -> None:
        link = self.gateways.get((src, cluster))
        if link is None or not link.up or link.dst is None:
            self.lost += 1
            return
        tallies = self._gateway_tallies.get((src, cluster))
        if tallies is None:
            name = f"{src.name}→{cluster}"
            tallies = self._gateway_tallies[(src, cluster)] = (
                src.book.tally("gateway", name, "messages"),
                src.book.tally("gateway", name, "bytes"),
            )
        tallies[0].value += 1.0
        tallies[1].value += msg.nbytes
        self._travel(src, link.dst, msg, "gateway")

    def _travel(self, src: BrokerServer, dst: BrokerServer, msg: Msg, kind: str) -> None:
        d = self.net.one_way(src.place, dst.place, msg.nbytes)
        msg.tr.hop(self.env.now, src.name, dst.name, kind)
        msg.tr.network += d
        call_at(self.env, d, partial(self._arrive, src, dst, msg, kind))  # on the wire for d

    def _arrive(self, src: BrokerServer, dst: BrokerServer, msg: Msg, kind: str, _e: Any) -> None:
        if not dst.alive:
            self.lost += 1
            return
        dst.receive(msg, kind, (src, kind))  # read on the link from src

    def gateway_up(self, src: BrokerServer, cluster: str) -> bool:
        link = self.gateways.get((src, cluster))
        return link is not None and link.up and link.dst is not None

    def gateway_rtt(self, src: BrokerServer, cluster: str) -> float:
        """RTT of src's outbound gateway to a cluster (inf when down)."""
        link = self.gateways.get((src, cluster))
        if link is None or not link.up or link.dst is None:
            return math.inf
        return self.net.rtt(src.place, link.dst.place)

    def map_reply(self, home: BrokerServer, account: str, subject: str, reply: str) -> str:
        """The ``_R_.`` reply of a request crossing a service import; answers come to home."""
        route = self.rules.route_request(account, subject)
        assert route is not None
        mapped = self.rules.map_reply(account, reply, route)
        self.reply_home[(route.account, mapped)] = home
        return mapped

    def resolve_reply(self, account: str, subject: str) -> tuple[str, str] | None:
        """(requester account, original reply) of a service response, once."""
        self.reply_home.pop((account, subject), None)
        return self.rules.resolve_reply(account, subject)

    # ------------------------------------------------------------------ interest
    def propagate(
        self, origin: BrokerServer, account: str, subject: str, queue: str | None, delta: int
    ) -> None:
        """RS+/RS- from origin to its route peers, and to other clusters via gateways."""
        env, net = self.env, self.net
        for peer in self.clusters[origin.cluster]:
            link = self.routes.get((origin, peer))
            if link is None or not link.up:
                continue
            origin.protocol(account, parse=False)  # writes the RS+/RS-
            back = self.routes[(peer, origin)]

            def learn(peer: BrokerServer = peer, back: Link = back) -> None:
                if back.up and origin.alive:
                    peer.mirror(origin, False, account, subject, queue, delta)

            at(env, net.one_way(origin.place, peer.place, 0), learn)
        for c, members in self.clusters.items():
            if c == origin.cluster:
                continue
            for z in members:
                found = self.via_gateway(origin, z)
                if found is None:
                    continue
                gw, d = found
                t = gw.dst
                assert t is not None
                t.protocol(account, parse=False)  # writes it on its inbound gateway

                def learn_gw(z: BrokerServer = z, gw: Link = gw, t: BrokerServer = t) -> None:
                    if gw.up and gw.dst is t and t.alive and z.alive:
                        z.mirror(origin, True, account, subject, queue, delta)

                at(env, d, learn_gw)
        for watch in self.watchers:
            watch(origin, account, subject, queue, delta)

    def via_gateway(self, origin: BrokerServer, z: BrokerServer) -> tuple[Link, float] | None:
        """z's outbound gateway to origin's cluster, and how long an RS+ of origin takes to
        reach z through it (origin → the gateway's target → z); None while it is down."""
        gw = self.gateways.get((z, origin.cluster))
        if gw is None or not gw.up or gw.dst is None:
            return None
        t = gw.dst
        d = self.net.one_way(t.place, z.place, 0)
        if t is not origin:
            d += self.net.one_way(origin.place, t.place, 0)
        return gw, d

    # ------------------------------------------------------------------ failures
    def server_died(self, dead: BrokerServer, mode: str) -> None:
        """A dead server's routes and gateways close now (books) and are noticed later."""
        for (a, b), link in self.routes.items():
            if a is dead:
                self.down(link)
            elif b is dead and a.alive and link.up and mode == CLOSED:
                at(
                    self.env,
                    self.net.one_way(dead.place, a.place, 0),
                    partial(self.route_lost, a, dead),
                )
        for pair in [p for p in self.route_books if dead.name in p]:
            del self.route_books[pair]
            for _ in range(self.route_connections):
                self._close(self.servers[pair[0]], self.servers[pair[1]])
        for (z, c), link in self.gateways.items():
            if link.books and link.dst is not None and dead in (z, link.dst):
                link.books = False
                self._close(z, link.dst)
            if z is dead:
                self.down(link)
            elif link.dst is dead and link.up and mode == CLOSED:
                at(
                    self.env,
                    self.net.one_way(dead.place, z.place, 0),
                    partial(self.gateway_lost, z, c),
                )

    @staticmethod
    def down(link: Link) -> None:
        link.up = False
        if link.hb is not None:
            link.hb.stop()

    def route_lost(self, viewer: BrokerServer, peer: BrokerServer) -> None:
        """viewer notices its route to peer is gone: forget peer's interest, tell gateways."""
        link = self.routes.get((viewer, peer))
        if link is None or not link.up or not viewer.alive:
            return
        self.log.append((self.env.now, "route_lost", peer.name, viewer.name))
        self.down(link)
        self.env.process(resolicit(self, viewer, peer))
        viewer.drop_mirrors(peer, gateway=False)
        for (z, c), gw in self.gateways.items():
            if c == viewer.cluster and gw.dst is viewer and gw.up and z.alive:
                at(
                    self.env,
                    self.net.one_way(viewer.place, z.place, 0),
                    partial(z.drop_mirrors, peer, True),
                )

    def gateway_lost(self, z: BrokerServer, cluster: str) -> None:
        """z's outbound gateway to a cluster is gone: forget its interest, dial another."""
        link = self.gateways.get((z, cluster))
        if link is None or not link.up or not z.alive:
            return
        gone = link.dst.name if link.dst is not None else cluster
        self.log.append((self.env.now, "gateway_lost", gone, z.name))
        self.down(link)
        z.drop_mirrors(None, gateway=True, cluster=cluster)
        self.env.process(redial(self, z, cluster, link))

    def redial_to(self, z: BrokerServer, link: Link, t: BrokerServer) -> Generator[Any, Any, None]:
        """Open z's outbound gateway to t and learn t's cluster's interest from it."""
        self.open_books(z, t)
        link.dst, link.books = t, True
        yield from handshake(self.env, self.net, z, t, self.cfg.tls, None)
        if not (t.alive and z.alive):
            return
        link.up = True
        self.link_hb(link, "gateway")
        yield self.env.timeout(self.net.one_way(t.place, z.place, 0))
        if link.dst is not t or not link.up:
            return
        for s in self.clusters[t.cluster]:  # t tells all the interest it knows
            if s.alive:
                for (acc, subj, q), n in s.refs.items():
                    z.mirror(s, True, acc, subj, q, n if q is not None else 1)
