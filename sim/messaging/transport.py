"""The messaging transport: every client holds one long-lived connection to the broker.

Requests are NATS request/reply: the requester publishes on the operation's subject with a
reply subject ``_INBOX.<nuid>.<token>`` under the one wildcard inbox subscription its
connection holds (``_INBOX.<nuid>.*``); the broker matches the subject in its
:class:`~sim.messaging.subjects.SubjectIndex`, gives a copy to every matching plain
subscription and to one uniformly random member of each matching queue group, and the
responder publishes its reply to the reply subject, which the broker routes back. With no
subscriber at all the requester gets a 503 "no responders" status at once (headers on).

Service instances subscribe to their operations' subjects in a queue group named after
the service (load sharing); event observers subscribe with ``shared`` (queue group) or
``each`` (plain subscription per instance, broadcast) delivery. Publishing costs the
broker ``cpu_per_message`` plus ``cpu_per_delivery`` per recipient (see
:mod:`sim.messaging.broker`). Connections are opened once, at start, with their TLS
handshake; nothing is pooled or re-handshaken while running.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from sim.app.application import Application, request_subject
from sim.app.service import ServiceInstance
from sim.app.transport import ERROR, NO_RESPONDERS, OK, Plan
from sim.core.component import Component
from sim.core.trace import Trace
from sim.messaging.broker import BrokerServer, ClientConn
from sim.messaging.subjects import Subscription
from sim.scenario.model import MessagingSettings


@dataclass(frozen=True, slots=True)
class Interest:
    """What a subscription is for: replying to requests, hearing events, or an inbox."""

    conn: ClientConn
    role: str  # "responder" | "observer" | "inbox"
    operation: str = ""


class MessagingTransport:
    """The broker architecture behind the Transport seam."""

    name = "messaging"

    def __init__(self, app: Application, cfg: MessagingSettings):
        self.app = app
        self.env = app.env
        self.net = app.net
        self.cfg = cfg
        self.server: BrokerServer = None  # type: ignore[assignment]
        self.conns: dict[Component, ClientConn] = {}
        self.edge: list[ClientConn] = []

    def start(self) -> None:
        self.server = BrokerServer(self.app, self.cfg, 0)
        for k in range(self.app.sc.workload.clients):
            conn = self.server.connect(self.app.clients, f"client-{k}")
            self._inbox(conn)
            self.edge.append(conn)

    def _inbox(self, conn: ClientConn) -> None:
        conn.subscribe(f"{conn.inbox}*", None, Interest(conn, "inbox"))

    def attach(self, inst: ServiceInstance) -> None:
        conn = self.server.connect(inst, inst.name)
        self.conns[inst] = conn
        self._inbox(conn)
        sc = self.app.sc
        for op in inst.cfg.operations:
            if not inst.cfg.listen_only:
                subject = request_subject(sc, inst.service, op)
                conn.subscribe(subject, inst.service, Interest(conn, "responder", op))
        for sub in inst.cfg.subscriptions:
            queue = inst.service if sub.delivery == "shared" else None
            conn.subscribe(sub.subject, queue, Interest(conn, "observer", sub.operation))

    def detach(self, inst: ServiceInstance) -> None:
        conn = self.conns.pop(inst)
        conn.close()

    def components(self) -> list[Component]:
        return [self.server]

    # ------------------------------------------------------------------ requests
    def request(
        self,
        tr: Trace,
        caller: Component,
        service: str,
        operation: str,
        plan: Plan,
        instance: int | None = None,
    ) -> Generator[Any, Any, str]:
        env, server = self.env, self.server
        sc = self.app.sc
        op = sc.services[service].operations[operation]
        conn = (
            self.edge[tr.id % len(self.edge)] if caller is self.app.clients else self.conns[caller]
        )
        subject = request_subject(sc, service, operation)
        reply = conn.new_reply_subject()
        if op.request_bytes > server.cfg.max_payload:
            return ERROR  # the client library refuses: maximum payload exceeded
        # requester → broker
        t_pub, before = env.now, (tr.network, tr.queueing, tr.infra)
        yield from self._wire(tr, conn.owner, server, op.request_bytes)
        recipients = yield from server.route(tr, subject, op.request_bytes)
        upstream = (tr.network - before[0], tr.queueing - before[1], tr.infra - before[2])
        responder: ClientConn | None = None
        resp_op = ""
        for h in recipients:
            interest: Interest = h.owner  # type: ignore[assignment]
            if interest.role == "responder" and responder is None:
                responder, resp_op = interest.conn, interest.operation
            else:
                self._copy(server, h, subject, op.request_bytes, t_pub, upstream)
        if responder is None:
            # no responders: the server answers with a 503 status at once (headers on)
            yield from self._wire(tr, server, conn.owner, 0.0)
            return NO_RESPONDERS
        # broker → responder, the work, then the reply back through the broker
        yield from self._wire(tr, server, responder.owner, op.request_bytes)
        inst = responder.owner
        assert isinstance(inst, ServiceInstance)
        status = yield from inst.serve(tr, resp_op, plan)
        t_pub, before = env.now, (tr.network, tr.queueing, tr.infra)
        yield from self._wire(tr, inst, server, op.response_bytes)
        back = yield from server.route(tr, reply, op.response_bytes)
        upstream = (tr.network - before[0], tr.queueing - before[1], tr.infra - before[2])
        for h in back:
            interest = h.owner  # type: ignore[assignment]
            if interest.conn is not conn:
                self._copy(server, h, reply, op.response_bytes, t_pub, upstream)
        yield from self._wire(tr, server, conn.owner, op.response_bytes)
        return status

    def _wire(
        self, tr: Trace, a: Component, b: Component, nbytes: float
    ) -> Generator[Any, Any, None]:
        d = self.net.one_way(a.place, b.place, nbytes)
        a.bytes_out += nbytes
        tr.hop(self.env.now, a.name, b.name, "msg")
        if d > 0:
            yield self.env.timeout(d)
            tr.network += d

    # ------------------------------------------------------------------ events
    def publish(self, source: ServiceInstance, subject: str, nbytes: float) -> None:
        self.env.process(self._publish(source, subject, nbytes))

    def _publish(
        self, source: ServiceInstance, subject: str, nbytes: float
    ) -> Generator[Any, Any, None]:
        start = self.env.now
        tr = Trace(-1, subject, start)
        yield from self._wire(tr, source, self.server, nbytes)
        recipients = yield from self.server.route(tr, subject, nbytes)
        for h in recipients:
            self._copy(self.server, h, subject, nbytes, start, (tr.network, tr.queueing, tr.infra))

    def _copy(
        self,
        server: BrokerServer,
        h: Subscription,
        subject: str,
        nbytes: float,
        start: float,
        upstream: tuple[float, float, float],
    ) -> None:
        """Deliver one copy of a message to an observer (its own event row)."""
        interest: Interest = h.owner  # type: ignore[assignment]
        if interest.role != "observer":
            return  # a stray copy to an inbox or responder of another subject: not modelled work
        self.env.process(self._deliver(server, interest, subject, nbytes, start, upstream))

    def _deliver(
        self,
        server: BrokerServer,
        interest: Interest,
        subject: str,
        nbytes: float,
        start: float,
        upstream: tuple[float, float, float],
    ) -> Generator[Any, Any, None]:
        inst = interest.conn.owner
        assert isinstance(inst, ServiceInstance)
        tr = self.app.event_trace(f"{subject} → {inst.service}", start)
        tr.network, tr.queueing, tr.infra = upstream  # the shared leg to and through the broker
        yield from self._wire(tr, server, inst, nbytes)
        status = yield from inst.on_event(tr, interest.operation)
        self.app.recorder.event(tr, self.env.now, status or OK)
