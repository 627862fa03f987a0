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

from typing import TYPE_CHECKING, Any

from sim.messaging.accounts import AccountMatch, Delivery
from sim.messaging.message import Interest, Msg, QueueKey, RemoteInterest

if TYPE_CHECKING:
    from sim.messaging.broker import BrokerServer

SpaceKey = tuple[str, str, bool]  # (account, subject, forwarded by a service import)
Plan = tuple[
    list[Delivery],
    dict[tuple["BrokerServer", SpaceKey], list[QueueKey]],
    dict[tuple[str, SpaceKey], list[QueueKey]],
]


# What of a plan is fixed by the match and the message's kind, worked out once per
# (match, frm, service, queues) and kept with the match (``AccountMatch.derived``): the
# match is replaced whenever the server's subject space changes (a client's SUB or UNSUB, an
# RS+/RS- that adds or removes a mirror, a restart), so this is never stale. What it holds
# is fixed for the life of its subscriptions: who owns each one (a local Interest or the
# mirror of a given origin, over a route or a gateway), the deliveries' accounts, subjects
# and ``via``. What can change without a new match is read per message: whether a gateway
# is up and its RTT, and a mirror's queue weight (a member more or less on a server that
# already had one).
_LOCAL, _ROUTE, _GATEWAY = 0, 1, 2
# plain: (kind, delivery, (origin server | cluster, space key)) in match order
Plain = tuple[tuple[int, Delivery, Any], ...]
# queues: (group, near [(delivery, 1)], peers [(delivery, mirror, route key)],
#          far [(cluster, delivery)] first member per cluster, in member order)
Queues = tuple[
    tuple[
        QueueKey,
        list[tuple[Delivery, int]],
        tuple[tuple[Delivery, RemoteInterest, Any], ...],
        tuple[tuple[str, Delivery], ...],
    ],
    ...,
]
# fixed: the local deliveries, in plan order, when they are all a plan can be: no copy for
# a route or a gateway and no queue group with a choice to make (one local member at most,
# none elsewhere; :func:`_choose` draws nothing for one). None when the plan must be made.
Fixed = tuple[Delivery, ...] | None
Skeleton = tuple[Plain, Queues, Fixed]


def _skeleton(msg: Msg, frm: str, m: AccountMatch) -> Skeleton:
    plain: list[tuple[int, Delivery, Any]] = []
    local: list[Delivery] = []  # what a plan with nothing to choose delivers (``Fixed``)
    choice = False  # a copy for a peer, or a queue group with a choice to make
    for d in m.plain:
        o = d.sub.owner
        if isinstance(o, Interest):
            if _local_ok(d, msg, frm):
                plain.append((_LOCAL, d, None))
                local.append(d)
        elif isinstance(o, RemoteInterest) and (
            frm == "client" or (frm == "gateway" and not o.gateway)
        ):
            choice = True
            if o.gateway:
                plain.append((_GATEWAY, d, (o.origin.cluster, _key(msg, d))))
            else:
                plain.append((_ROUTE, d, (o.origin, _key(msg, d))))
    queues = []
    for qk, members in m.queues.items():
        if frm != "client" and qk not in msg.queues:
            continue
        near: list[tuple[Delivery, int]] = []
        peers: list[tuple[Delivery, RemoteInterest, Any]] = []
        far: dict[str, Delivery] = {}
        for d in members:
            o = d.sub.owner
            if isinstance(o, Interest):
                if _local_ok(d, msg, frm):
                    near.append((d, 1))
            elif isinstance(o, RemoteInterest):
                if o.gateway:
                    far.setdefault(o.origin.cluster, d)
                else:
                    peers.append((d, o, (o.origin, _key(msg, d))))
        queues.append((qk, near, tuple(peers), tuple(far.items())))
        if len(near) > 1 or peers or far:
            choice = True
        elif near:
            local.append(near[0][0])
    return tuple(plain), tuple(queues), None if choice else tuple(local)


def plan(server: BrokerServer, msg: Msg, frm: str) -> Plan:
    """Who gets a copy of a message that arrived from a client, a route or a gateway."""
    m = server.space.match(msg.account, msg.subject)
    derived = m.derived
    sk: Skeleton | None
    if derived is None:  # a match for a subject seen once: nothing to keep
        sk = _skeleton(msg, frm, m)
    else:
        key = (frm, msg.service, msg.queues if frm != "client" else ())
        sk = derived.get(key)
        if sk is None:
            sk = derived[key] = _skeleton(msg, frm, m)
    fixed = sk[2]
    if fixed is not None:  # the plan worked out with the skeleton: nothing to choose
        return [*fixed], {}, {}
    fabric = server.fabric
    local: list[Delivery] = []
    routes: dict[tuple[BrokerServer, SpaceKey], list[QueueKey]] = {}
    gws: dict[tuple[str, SpaceKey], list[QueueKey]] = {}
    for kind, d, where in sk[0]:
        if kind == _LOCAL:
            local.append(d)
        elif kind == _ROUTE:
            routes.setdefault(where, [])
        elif fabric.gateway_up(server, where[0]):
            gws.setdefault(where, [])
    for qk, near, peers, far in sk[1]:
        if peers:  # the weights of the mirrors, as they are now
            live = [(d, o.weight, r) for d, o, r in peers if o.weight > 0]
            if frm == "route":
                chosen = _choose(server, near) or _choose(server, live)
            else:
                chosen = _choose(server, [*near, *live])
        else:
            chosen = _choose(server, near)
        if chosen is not None:
            if len(chosen) == 2:  # a local member
                local.append(chosen[0])
            else:
                routes.setdefault(chosen[2], []).append(qk)
            continue
        if frm == "client" and far:
            up = {c: d for c, d in far if fabric.gateway_up(server, c)}
            if up:
                best = min(up, key=lambda c: (fabric.gateway_rtt(server, c), c))
                gws.setdefault((best, _key(msg, up[best])), []).append(qk)
    return local, routes, gws


def _local_ok(d: Delivery, msg: Msg, frm: str) -> bool:
    if d.via == "stream" and msg.service:
        return False  # a service-imported message is never re-exported to a stream
    return frm == "client" or d.via != "service"  # imports are followed at the origin


def _key(msg: Msg, d: Delivery) -> SpaceKey:
    if d.via == "service":
        return (d.account, d.subject, True)
    return (msg.account, msg.subject, msg.service)


def _choose(server: BrokerServer, cands: list[Any]) -> Any:
    """One candidate ``(delivery, weight, …)`` at random, by weight (None if none)."""
    if not cands:
        return None
    if len(cands) == 1:
        return cands[0]
    total = sum(c[1] for c in cands)
    r = server.pick() * total
    for c in cands:
        r -= c[1]
        if r < 0:
            return c
    return cands[-1]
