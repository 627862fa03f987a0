"""A NATS server and its client connections.

The server is a component with cores and a memory ledger (baseline + per connection + per
subscription: CALIBRATION.md, measured on nats-server 2.9). Routing a message costs
``cpu_per_message`` (parse and match) plus ``cpu_per_delivery`` for each copy written
(derived from ``nats bench`` 1→1 throughput). Queue-group members are picked uniformly at
random from a stream of their own (``queue-pick``), as nats-server does (not round robin).

A :class:`ClientConn` is one long-lived client connection with its TLS handshake paid at
connect time, and its inbox prefix ``_INBOX.<nuid>.``.
"""

from __future__ import annotations

from collections.abc import Generator
from itertools import count
from typing import TYPE_CHECKING, Any

from sim.core.component import Component
from sim.core.connections import close_accounting, handshake, open_accounting
from sim.core.distributions import Uniforms
from sim.core.trace import Trace
from sim.messaging.subjects import SubjectIndex, Subscription
from sim.scenario.model import MessagingSettings

if TYPE_CHECKING:
    from sim.app.application import Application

_NUID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _nuid(n: int) -> str:
    """A deterministic 22-character identifier standing in for a NUID."""
    out = []
    for _ in range(22):
        n, r = divmod(n * 2654435761 + 97, 62)
        out.append(_NUID_ALPHABET[r])
    return "".join(out)


class BrokerServer(Component):
    """One nats-server."""

    def __init__(self, app: Application, cfg: MessagingSettings, index: int):
        b = cfg.broker
        super().__init__(
            app.env,
            "broker",
            f"nats-{index}",
            app.placer.infra("nats", index),
            cores=b.cores,
            memory=b.memory,
        )
        self.app = app
        self.cfg = b
        self.tls = cfg.tls
        self.index = SubjectIndex()
        self.pick = Uniforms(app.streams.get("queue-pick"))
        self._conn_ids = count()
        self.messages_in = 0
        self.messages_out = 0

    def connect(self, owner: Component, name: str) -> ClientConn:
        """A client connects (TLS handshake at start, off any request path)."""
        conn = ClientConn(self, owner, name, next(self._conn_ids))
        open_accounting(owner, self, self.tls)
        self.memory.add(self.cfg.memory_per_connection)
        self.env.process(handshake(self.env, self.app.net, owner, self, self.tls, None))
        return conn

    def route(
        self, tr: Trace, subject: str, nbytes: float
    ) -> Generator[Any, Any, list[Subscription]]:
        """Parse, match and write one message; returns the subscriptions that get a copy."""
        m = self.index.match(subject)
        recipients = list(m.plain)
        for members in m.queues.values():
            recipients.append(members[int(self.pick() * len(members))])
        self.messages_in += 1
        self.messages_out += len(recipients)
        self.handled += 1
        work = self.cfg.cpu_per_message + self.cfg.cpu_per_delivery * len(recipients)
        if work > 0:
            assert self.cpu is not None
            env = self.env
            t0 = env.now
            yield self.cpu.execute(work)
            tr.infra += work
            tr.queueing += env.now - t0 - work
        self.bytes_out += nbytes * len(recipients)
        return recipients


class ClientConn:
    """A client's single connection to a server, with its subscriptions."""

    def __init__(self, server: BrokerServer, owner: Component, name: str, cid: int):
        self.server = server
        self.owner = owner
        self.name = name
        self.inbox = f"_INBOX.{_nuid(cid)}."
        self.subs: list[Subscription] = []
        self._tokens = count()

    def subscribe(self, subject: str, queue: str | None, interest: Any) -> Subscription:
        h = self.server.index.subscribe(subject, queue=queue, owner=interest)
        self.subs.append(h)
        self.server.memory.add(self.server.cfg.memory_per_subscription)
        return h

    def new_reply_subject(self) -> str:
        """A unique reply subject under this connection's inbox wildcard."""
        return f"{self.inbox}{next(self._tokens)}"

    def close(self) -> None:
        for h in self.subs:
            self.server.index.unsubscribe(h)
            self.server.memory.remove(self.server.cfg.memory_per_subscription)
        self.subs.clear()
        self.server.memory.remove(self.server.cfg.memory_per_connection)
        close_accounting(self.owner, self.server, self.server.tls)
