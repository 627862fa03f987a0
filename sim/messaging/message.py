"""What travels through the broker: messages, and what a subscription is for.

A :class:`Msg` is one message on one leg (client → server, server → route peer, server →
gateway, server → client). It carries its own :class:`~sim.core.trace.Trace` of the path so
far: when a server fans a message out, each copy gets a fork of the trace, so that every
recipient knows exactly where its copy's time went (network, queueing, broker CPU) and the
buckets still sum to the time since publication. Only the copies that may lead to the
requester's reply (responders, inboxes, route and gateway legs) share the request's hop list.

A subscription in a server's :class:`~sim.messaging.accounts.AccountSpace` has an owner:
:class:`Interest` for a client connected to that server, :class:`RemoteInterest` for the
mirror of subscriptions held by another server of the cluster (learnt over a route) or of
another cluster (learnt over a gateway). Remote queue interest carries a weight (how many
members there are), as nats-server's route subscriptions do (``sublist.go`` addNodeToResults
repeats a remote queue subscription ``qw`` times, so the pick stays uniform over members).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.core.trace import Trace

if TYPE_CHECKING:
    from sim.messaging.broker import BrokerServer
    from sim.messaging.client import ClientConn

QueueKey = tuple[str, str]  # (account whose subject space selected the group, group name)

NO_RESPONDERS_STATUS = 503
GATEWAY_REPLY_PREFIX = "_GR_."  # nats-server gateway.go gwReplyPrefix
SERVICE_REPLY_PREFIX = "_R_."  # nats-server accounts.go replyPrefix


def add_buckets(into: Trace, frm: Trace) -> None:
    """Add one trace's buckets to another (a finished leg onto its caller)."""
    into.network += frm.network
    into.queueing += frm.queueing
    into.cpu += frm.cpu
    into.infra += frm.infra
    into.handshake += frm.handshake


@dataclass(slots=True)
class Msg:
    """One message on one leg.

    ``account``/``subject`` name the subject space it travels in; ``queues`` lists the queue
    groups a route or gateway peer must serve (nats-server's RMSG queue list); ``service``
    marks a message forwarded by a service import (never re-exported to streams);
    ``payload`` is a request's plan or a reply's status; ``status`` 503 is "no responders".
    """

    account: str
    subject: str
    reply: str | None
    nbytes: float
    tr: Trace
    start: float
    payload: Any = None
    status: int = 0
    queues: tuple[QueueKey, ...] = ()
    service: bool = False
    sender: ClientConn | None = None

    def branch(self, keep_hops: bool, **changes: Any) -> Msg:
        """A copy for one recipient, with a fork of the trace."""
        m = Msg(
            self.account,
            self.subject,
            self.reply,
            self.nbytes,
            self.tr.fork(keep_hops),
            self.start,
            self.payload,
            self.status,
            self.queues,
            self.service,
            self.sender,
        )
        for k, v in changes.items():
            setattr(m, k, v)
        return m

    def copy(
        self,
        keep_hops: bool,
        account: str,
        subject: str,
        reply: str | None,
        queues: tuple[QueueKey, ...],
        service: bool,
    ) -> Msg:
        """:meth:`branch` with the fields a server sets on each copy it writes, given."""
        t = self.tr.fork(keep_hops)
        return Msg(
            account,
            subject,
            reply,
            self.nbytes,
            t,
            self.start,
            self.payload,
            self.status,
            queues,
            service,
            self.sender,
        )


Handler = Callable[[Msg, "Interest"], None]


@dataclass(eq=False, slots=True)
class Interest:
    """A client's subscription: who holds it and what it is for.

    ``role`` is ``responder`` (serves requests), ``observer`` (handles events), ``inbox`` (the
    connection's reply wildcard) or anything a test chooses; ``handler`` gets each message.
    """

    conn: ClientConn
    subject: str
    queue: str | None
    role: str
    operation: str = ""
    handler: Handler | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class RemoteInterest:
    """Subscriptions of ``origin`` (another server) mirrored here; ``gateway`` when learnt from
    another cluster. ``weight`` counts the subscriptions behind it."""

    origin: BrokerServer
    gateway: bool
    weight: int = 0
