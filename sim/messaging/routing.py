"""Routing decisions: who gets a copy of a message, as nats-server decides it.

From a client (``client.go`` processInboundClientMsg → processMsgResults, ``gateway.go``
sendMsgToGateways):

* every matching local plain subscription gets a copy; every route peer with matching plain
  interest gets one copy (one hop: whatever arrives over a route goes to local clients only);
  every remote cluster with matching plain interest gets one copy through the gateway;
* each matching queue group gets exactly one copy, to a member picked uniformly at random
  over all members of the cluster (a remote server with ``w`` members counts ``w`` times,
  ``sublist.go`` addNodeToResults); if it lands on a remote server, that server picks among
  its own members;
* a queue group with no member in the cluster goes through a gateway to the one remote
  cluster, in lowest-RTT order (``outo`` sorted by RTT), that has members.

From a route the server serves only the queue groups the sender named, preferring its local
members and else handing the message to another route member (``processMsgResults`` keeps
``rsub`` for that); from a gateway it serves plain interest locally and over its routes, and
picks each named group among the members of its cluster. Service imports are followed only
on the server where the request entered (``noForward`` on the import's internal
subscription); a copy that crossed a service import travels as such and is never
re-exported to a stream.

A copy to another server travels in a subject space: ``(account, subject, via a service
import)``; one copy per peer and space, carrying the queue groups it must serve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.messaging.accounts import Delivery
from sim.messaging.message import Interest, Msg, QueueKey, RemoteInterest

if TYPE_CHECKING:
    from sim.messaging.broker import BrokerServer

SpaceKey = tuple[str, str, bool]  # (account, subject, forwarded by a service import)
Plan = tuple[
    list[Delivery],
    dict[tuple["BrokerServer", SpaceKey], list[QueueKey]],
    dict[tuple[str, SpaceKey], list[QueueKey]],
]


def plan(server: BrokerServer, msg: Msg, frm: str) -> Plan:
    """Who gets a copy of a message that arrived from a client, a route or a gateway."""
    m = server.space.match(msg.account, msg.subject)
    local: list[Delivery] = []
    routes: dict[tuple[BrokerServer, SpaceKey], list[QueueKey]] = {}
    gws: dict[tuple[str, SpaceKey], list[QueueKey]] = {}
    for d in m.plain:
        o = d.sub.owner
        if isinstance(o, Interest):
            if _local_ok(d, msg, frm):
                local.append(d)
        elif isinstance(o, RemoteInterest) and (
            frm == "client" or (frm == "gateway" and not o.gateway)
        ):
            if o.gateway:
                if server.fabric.gateway_up(server, o.origin.cluster):
                    gws.setdefault((o.origin.cluster, _key(msg, d)), [])
            else:
                routes.setdefault((o.origin, _key(msg, d)), [])
    for qk, members in m.queues.items():
        if frm != "client" and qk not in msg.queues:
            continue
        near: list[tuple[Delivery, int]] = []
        peers: list[tuple[Delivery, int]] = []
        far: dict[str, Delivery] = {}
        for d in members:
            o = d.sub.owner
            if isinstance(o, Interest):
                if _local_ok(d, msg, frm):
                    near.append((d, 1))
            elif isinstance(o, RemoteInterest):
                if o.gateway:
                    far.setdefault(o.origin.cluster, d)
                elif o.weight > 0:
                    peers.append((d, o.weight))
        if frm == "route":
            chosen = _choose(server, near) or _choose(server, peers)
        else:
            chosen = _choose(server, near + peers)
        if chosen is not None:
            o = chosen.sub.owner
            if isinstance(o, Interest):
                local.append(chosen)
            elif isinstance(o, RemoteInterest):
                routes.setdefault((o.origin, _key(msg, chosen)), []).append(qk)
            continue
        far = {c: d for c, d in far.items() if server.fabric.gateway_up(server, c)}
        if frm == "client" and far:
            best = min(far, key=lambda c: (server.fabric.gateway_rtt(server, c), c))
            gws.setdefault((best, _key(msg, far[best])), []).append(qk)
    return local, routes, gws


def _local_ok(d: Delivery, msg: Msg, frm: str) -> bool:
    if d.via == "stream" and msg.service:
        return False  # a service-imported message is never re-exported to a stream
    return frm == "client" or d.via != "service"  # imports are followed at the origin


def _key(msg: Msg, d: Delivery) -> SpaceKey:
    if d.via == "service":
        return (d.account, d.subject, True)
    return (msg.account, msg.subject, msg.service)


def _choose(server: BrokerServer, cands: list[tuple[Delivery, int]]) -> Delivery | None:
    if not cands:
        return None
    if len(cands) == 1:
        return cands[0][0]
    total = sum(w for _, w in cands)
    r = server.pick() * total
    for d, w in cands:
        r -= w
        if r < 0:
            return d
    return cands[-1][0]
