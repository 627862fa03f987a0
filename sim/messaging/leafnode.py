"""Leaf node servers at the edge: how edge clients reach NATS with ``ingress.kind: leafnode``.

A leaf node is a nats-server of its own (``server/leafnode.go``) that *solicits* one leafnode
connection to a server of the cluster (the *hub*; the leaf is the *spoke*), binding one of
its accounts to one of the hub's. Here each of ``ingress.replicas`` leaf servers is a
:class:`~sim.messaging.broker.BrokerServer` configured as the cluster's servers are
(``messaging.broker``: cores, memory, I/O costs, limits), placed at the edge (the edge
clients' zone, a node of its own), with kind ``leafnode`` so that it counts as
infrastructure. The leaves are independent servers, not a leaf cluster: no routes between
them. Each edge client connects to one of them (the leaf URLs ordered by
``client.spread``, as a client orders a cluster's), as the edge account.

The leafnode connection is a client connection of the leaf to its hub
(:class:`LeafConn`, a :class:`~sim.messaging.client.ClientConn`: TCP and TLS handshakes
with ``messaging.tls``, pings, a reconnect to another cluster server if the hub goes; the
remote URLs are shuffled, leafnode.go newLeafNodeCfg). The hub holds it as it holds a
client: one connection and its subscriptions.

Interest crosses it both ways, as leafnode.go propagates it:

* **spoke → hub**: the leaf sends only its local clients' interest (initLeafNodeSmapAndSendSubs
  ``localSubs``; updateSmap: a plain subject on its first and last subscription, every queue
  subscription), as LS+/LS-; on the hub these are the connection's subscriptions, and the hub
  tells its routes and gateways as for any client (so a reply from anywhere comes to the hub);
* **hub → spoke**: the hub sends all the bound account's interest it knows, its clients',
  its routes' and its gateways' (``acc.sl.All`` and the gateways' ``outsim``), but never the
  leaf's own (``c != sub.client``), and every change of it after. The leaf holds it as one
  mirror per subject and queue with the weight the hub sees
  (:meth:`~sim.messaging.broker.BrokerServer.mirror`, as an RS+), learnt when the hub knows
  of the change (at once for its own clients, a route's or a gateway's one way later) plus
  the leafnode connection's one way; the value is the hub's at that moment.

A message from an edge client is read by the leaf, matched against its local clients and the
hub's mirrored interest, and crosses the leafnode connection once (one LMSG with the queue
groups it must serve) when the hub side has interest; with no interest anywhere the leaf
answers "no responders" at once. The hub reads it on that connection and routes it as a
client's (processInboundLeafMsg: queue members picked over the cluster, plain interest to its
routes and gateways). A reply comes back to the hub (the leaf's inbox subscription is the
hub's), which writes it to the leafnode connection; the leaf reads it and delivers it to its
local client only (a hop back towards the hub never happens). So a request and its reply cross
two servers more than on the client port: the leaf's read and write each way and one more
network leg each way.

Not modelled: a leaf node failing (faults stop broker servers only), leaf clusters, the
leaf's own exports and imports (a scenario with account imports and leaf nodes is refused:
the hub would send the imports' subjects as interest, not modelled), loop detection
(``$LDS.``; no loops in this topology), compression of the leafnode connection.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from sim.core.component import Component
from sim.core.distributions import Uniforms
from sim.core.network import Place
from sim.core.placement import Placer
from sim.core.schedule import at
from sim.core.streams import Streams
from sim.messaging.broker import BrokerServer
from sim.messaging.client import ClientConn
from sim.messaging.cluster import Fabric
from sim.messaging.message import Interest, Msg
from sim.messaging.permissions import of_users
from sim.messaging.topology import EDGE_USER, ClusterPlan, account_for, account_of_users
from sim.scenario.messaging import MessagingSettings

LEAF_CLUSTER = "leaf"
LEAF_CID = 1_000_000_000  # leafnode connections' ids (their inboxes), apart from the clients'


class _Named(Streams):
    """The scenario's streams under a prefix: the leaves draw nothing the cluster draws."""

    def __init__(self, inner: Streams, prefix: str):  # no Streams.__init__: it delegates
        self.inner, self.prefix = inner, prefix
        self.seed, self.replication = inner.seed, inner.replication

    def get(self, name: str) -> np.random.Generator:
        return self.inner.get(self.prefix + name)


class _AtTheEdge(Placer):
    """Leaf servers next to the edge clients: their zone, a node of their own each."""

    def __init__(self, placer: Placer):
        super().__init__(placer.cfg)
        self.edge = placer.clients()

    def infra(self, kind: str, index: int, region: str | None = None) -> Place:
        e = self.edge
        return Place(e.region, e.zone, f"{e.region}/edge/leafnode-{index}")


class LeafConn(ClientConn):
    """A leaf's leafnode connection to its hub (the leaf is the client)."""

    def __init__(self, tier: LeafTier, leaf: BrokerServer, pool: list[BrokerServer], cid: int):
        super().__init__(tier.hub_fabric, leaf, leaf.name, tier.account, pool, cid)
        self.tier, self.leaf = tier, leaf
        self.interests.remove(self.inbox_interest)  # a leafnode connection has no inbox:
        # what the hub writes to it for the leaf's clients (a 503 included) goes to the leaf
        self.inbox_interest = Interest(self, ">", None, "leaf", handler=self.down)
        self.hub: BrokerServer | None = None
        self.smap: dict[tuple[str, str | None], int] = {}  # what the hub told the leaf
        self.by_key: dict[tuple[str, str | None], list[Interest]] = {}

    # the leaf's local interest, sent to the hub (LS+ / LS-)
    def sub(self, subject: str, queue: str | None) -> None:
        i = self.subscribe(subject, queue, "leaf", handler=self.down)
        self.by_key.setdefault((subject, queue), []).append(i)
        server = self.registered
        if server is not None and self.state != "connected":  # the hub has read CONNECT and
            epoch = self.epoch  # its PONG is on the way: the LS+ follows the CONNECT

            def arrive() -> None:
                if self.registered is server and self.epoch == epoch and server.alive:
                    h = server.add_local(i)
                    if h is not None:
                        self.handles[i] = h

            at(self.env, self._one_way(server), arrive)

    def unsub(self, subject: str, queue: str | None) -> None:
        held = self.by_key.get((subject, queue))
        if not held:
            return
        i = held.pop()
        self.interests.remove(i)
        h = self.handles.pop(i, None)
        server = self.registered
        if server is not None and h is not None:

            def gone() -> None:
                if server.alive and self.registered is server:
                    server.remove_local(i, h)

            at(self.env, self._one_way(server), gone)

    def down(self, msg: Msg, interest: Interest) -> None:
        """A message the hub wrote to this connection, read by the leaf: to its clients."""
        if self.leaf.alive:
            self.leaf._route(msg, "route")  # local deliveries only, never back to the hub

    # the hub's interest, followed by the leaf
    def attach_to(self, server: BrokerServer) -> None:
        """The hub holds the connection: it sends the leaf all the interest it knows."""
        super().attach_to(server)
        self.hub = server
        self.tier.resync(self, server)

    def detached(self, server: BrokerServer, reason: str) -> None:
        self._lost(server)
        super().detached(server, reason)

    def disconnected(self, server: BrokerServer) -> None:
        self._lost(server)  # its pings went unanswered (the hub's host vanished)
        super().disconnected(server)

    def _lost(self, server: BrokerServer) -> None:
        """The connection is gone: the leaf forgets the hub's interest at once."""
        if self.hub is server:
            self.hub = None
            self.leaf.drop_mirrors(server, gateway=False)

    def own(self, subject: str, queue: str | None) -> int:
        """Subscriptions of this connection the hub holds on (subject, queue)."""
        return sum(1 for i in self.handles if i.subject == subject and i.queue == queue)


class LeafFabric(Fabric):
    """The leaf servers (one cluster without routes: they are independent) and the sending of
    messages from a leaf to its hub over the leafnode connection."""

    def __init__(self, tier: LeafTier, env: Any, hub: Fabric, placer: Placer):
        region = placer.clients().region
        plans = [
            ClusterPlan(
                LEAF_CLUSTER,
                region,
                tuple(f"leafnode-{i}" for i in range(tier.cfg.ingress.replicas)),
            )
        ]
        super().__init__(
            env, hub.net, _Named(hub.streams, "leafnode/"), _AtTheEdge(placer), tier.cfg, plans
        )
        self.tier = tier
        for s in self.servers.values():
            s.kind = "leafnode"

    def propagate(
        self, origin: BrokerServer, account: str, subject: str, queue: str | None, delta: int
    ) -> None:
        """A leaf's local interest changed: LS+/LS- to its hub (there are no routes)."""
        up = self.tier.up[origin]
        if account != up.account:
            return  # only the bound account crosses
        origin.protocol(account, parse=False)  # writes the LS+/LS-
        if delta > 0:
            up.sub(subject, queue)
        else:
            up.unsub(subject, queue)

    def route_send(self, src: BrokerServer, dst: BrokerServer, msg: Msg) -> None:
        """A copy for the hub (the only peer a leaf has): over the leafnode connection."""
        up = self.tier.up[src]
        if up.hub is not dst or not dst.alive:
            self.lost += 1
            return
        src.book.count("leafnode", src.name, "messages")
        src.book.count("leafnode", src.name, "bytes", msg.nbytes)
        msg.sender = up  # the hub reads it on the leafnode connection
        self._travel(src, dst, msg, "leafnode")

    def _arrive(self, src: BrokerServer, dst: BrokerServer, msg: Msg, kind: str, _e: Any) -> None:
        """At the hub, which routes it as a client's (processInboundLeafMsg)."""
        up = msg.sender
        if not dst.alive or up is None or up.registered is not dst:
            self.lost += 1
            return
        dst.receive(msg, "client")


class LeafTier:
    """The leaf node servers, their leafnode connections and the edge clients' pools."""

    def __init__(self, hub: Fabric, placer: Placer, cfg: MessagingSettings):
        self.hub_fabric, self.cfg = hub, cfg
        self.env = hub.env
        self.account = account_for(account_of_users(cfg.accounts), EDGE_USER)
        perms = of_users(cfg.accounts).get(EDGE_USER)
        self.fabric = LeafFabric(self, hub.env, hub, placer)
        self.leaves = list(self.fabric.servers.values())
        pick = Uniforms(self.fabric.streams.get("hub-pick"))
        self.up: dict[BrokerServer, LeafConn] = {}
        for i, leaf in enumerate(self.leaves):
            leaf.memory.add(cfg.broker.memory_per_connection)  # its side of the leafnode conn
            hubs = list(hub.clusters[hub.cluster_for(leaf.place)])
            for k in range(len(hubs) - 1, 0, -1):  # the remote URLs, shuffled
                j = int(pick() * (k + 1))
                hubs[k], hubs[j] = hubs[j], hubs[k]
            up = self.up[leaf] = LeafConn(self, leaf, hubs, LEAF_CID + i)
            up.restrict(perms)  # the leaf's remote credentials: the edge user's
        for conn in self.up.values():
            conn.connect()
        hub.watchers.append(self.heard)

    # ------------------------------------------------------------------ the Door
    def connect(self, owner: Component, name: str, account: str, cid: int) -> ClientConn:
        """An edge client's connection to a leaf (ordered by ``client.spread``). The cluster's
        server list is drawn and left unused, as the client port's would be: the services'
        lists, drawn after the edge's, are then the same with every ingress (common random
        numbers: a comparison of ingress kinds is not also a lottery of who connects where)."""
        self.hub_fabric.pool_for(owner.place)
        return ClientConn(
            self.hub_fabric, owner, name, account, self.fabric.pool_for(owner.place), cid
        )

    def components(self) -> list[Component]:
        return list(self.leaves)

    def servers(self) -> list[BrokerServer]:
        return list(self.leaves)

    # ------------------------------------------------------------------ hub → leaf interest
    def heard(
        self, origin: BrokerServer, account: str, subject: str, queue: str | None, delta: int
    ) -> None:
        """An RS+/RS- in the cluster: each leaf learns its hub's new view of that subject
        once the hub knows of it (the leafnode connection's one way later)."""
        if account != self.account:
            return
        net, fabric = self.hub_fabric.net, self.hub_fabric
        for up in self.up.values():
            h = up.hub
            if h is None:
                continue
            if origin is h:
                d = 0.0
            elif origin.cluster == h.cluster:
                link = fabric.routes.get((origin, h))
                if link is None or not link.up:
                    continue
                d = net.one_way(origin.place, h.place, 0)
            else:
                found = fabric.via_gateway(origin, h)
                if found is None:
                    continue
                d = found[1]
            at(self.env, d, partial(self._tell, up, h, up.epoch, (subject, queue)))

    def _tell(
        self, up: LeafConn, hub: BrokerServer, epoch: int, key: tuple[str, str | None]
    ) -> None:
        """The hub sends the leaf its new view of one subject, if it changed (LS+/LS-)."""
        if up.hub is hub and up.epoch == epoch and hub.alive:
            self._send(up, hub, epoch, key, self.weight(up, hub, *key))

    def resync(self, up: LeafConn, hub: BrokerServer) -> None:
        """The hub's whole view of the bound account, sent when the connection opens
        (initLeafNodeSmapAndSendSubs)."""
        up.smap = {}
        acc = self.account
        keys = {(s, q) for (a, s, q) in hub.refs if a == acc}
        keys |= {(s, q) for (_, a, s, q) in hub.mirrors if a == acc}
        for key in sorted(keys, key=lambda k: (k[0], k[1] or "")):
            self._send(up, hub, up.epoch, key, self.weight(up, hub, *key))

    def _send(
        self, up: LeafConn, hub: BrokerServer, epoch: int, key: tuple[str, str | None], w: int
    ) -> None:
        """What the hub last told the leaf of ``key`` (its ``smap``) becomes ``w``; the leaf
        learns it one way later."""
        if up.smap.get(key, 0) == w:
            return
        if w:
            up.smap[key] = w
        else:
            del up.smap[key]
        hub.protocol(self.account, parse=False)  # writes the LS+/LS-
        at(self.env, up._one_way(hub), partial(self._set, up, hub, epoch, key, w))

    def weight(self, up: LeafConn, hub: BrokerServer, subject: str, queue: str | None) -> int:
        """The hub's interest in (subject, queue) of the bound account, without the leaf's
        own: for a queue the members it knows of, for a plain subject the servers."""
        acc = self.account
        local = hub.refs.get((acc, subject, queue), 0) - up.own(subject, queue)
        w = local if queue is not None else min(local, 1)
        mirrors = hub.mirrors
        for origin in self.hub_fabric.servers:  # what each other server told it
            entry = mirrors.get((origin, acc, subject, queue))
            if entry is not None:
                w += entry[1].weight if queue is not None else 1
        return max(w, 0)

    def _set(
        self,
        up: LeafConn,
        hub: BrokerServer,
        epoch: int,
        key: tuple[str, str | None],
        w: int,
    ) -> None:
        """The leaf reads the hub's LS+/LS-: its mirror of ``key`` becomes ``w``."""
        leaf = up.leaf
        if up.hub is not hub or up.epoch != epoch or not leaf.alive:
            return
        entry = leaf.mirrors.get((hub.name, self.account, key[0], key[1]))
        have = entry[1].weight if entry is not None else 0
        if w != have:
            leaf.mirror(hub, False, self.account, key[0], key[1], w - have)
