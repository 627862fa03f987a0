"""The messaging transport: every client holds one long-lived connection to the broker.

The three patterns of the application map onto subjects (the broker does the rest):

* **load sharing** — a request to ``service.operation`` is published on the operation's
  subject; every responder subscribes to it in the queue group ``q`` (nats.go ``micro``
  DefaultQueueGroup), so one member answers (uniformly at random over the cluster; in a
  supercluster the local cluster first, else the nearest cluster with members). Two services
  answering the same subject (one service deployed in two regions) share the group;
* **a specific instance** (1:1) — a call with ``instance: i`` is published on the per-instance
  subject ``<subject>.<i>`` that only instance ``i`` subscribes to (no queue group);
* **broadcast** (1:n) — events go to every matching subscription: ``each`` delivery is a plain
  subscription per instance, ``shared`` a queue group per service (one copy per service).

Request/reply is NATS's: the requester publishes with a unique reply subject under its
connection's ``_INBOX.<nuid>.*`` subscription and waits for the first reply or for
``request_timeout`` (status ``timeout``); with no subscriber anywhere the server answers 503
at once (``no_responders``). A payload over ``max_payload`` is refused by the client library
before it is sent (nats.go ``ErrMaxPayload``: status ``error``, nothing on the wire).

Each service (and the edge clients) connects as the account its ``users`` entry names in
``messaging.accounts`` (else ``$G``); traffic crosses accounts only through matching
exports and imports (:mod:`sim.messaging.accounts`).

The edge clients' connections go where ``messaging.ingress`` says: to the servers' client
port, through HTTP bridge replicas (:mod:`sim.messaging.bridge`), to their websocket
listener or to leaf node servers (:mod:`sim.messaging.ingress`).

A request that gets no answer may be sent again (``messaging.retries``: back-off, jitter and
a retry budget, :mod:`sim.messaging.retry`); every attempt carries the same drawn plan.
``messaging.requests`` gives one destination service its own timeout and retries.

Failures (:meth:`crash`, :meth:`kill_server`) and what they cost are modelled by the broker
(:mod:`sim.messaging.failure`, :mod:`sim.messaging.client`, :mod:`sim.messaging.cluster`).
A graceful stop (:meth:`detach` of a running instance) drains its connection (nats.go
``Drain``); a crashed caller sends nothing.
"""

from __future__ import annotations

from collections.abc import Generator
from itertools import count
from typing import Any, NamedTuple

from sim.app.application import Application, request_subject
from sim.app.service import ServiceInstance
from sim.app.transport import ERROR, NO_RESPONDERS, OK, TIMEOUT, Plan
from sim.core.component import Component
from sim.core.distributions import Uniforms
from sim.core.io import Io
from sim.core.retry import backoff, budget_allows
from sim.core.schedule import Task, first_of
from sim.core.trace import Trace
from sim.messaging.bridge import BridgeTier
from sim.messaging.broker import BrokerServer
from sim.messaging.client import ClientConn
from sim.messaging.cluster import Fabric
from sim.messaging.failure import CLOSED, MODES
from sim.messaging.ingress import Door, door
from sim.messaging.message import NO_RESPONDERS_STATUS, Interest, Msg, add_buckets
from sim.messaging.observe import broker_rows, sample
from sim.messaging.permissions import of_users
from sim.messaging.recovery import restart
from sim.messaging.retry import InFlight, RetryBooks
from sim.messaging.topology import EDGE_USER, account_for, account_of_users, clusters
from sim.scenario.messaging import RequestRetries
from sim.scenario.model import MessagingSettings, Scenario

RESPONDERS = "q"  # nats.go micro DefaultQueueGroup


def instance_subject(subject: str, index: int) -> str:
    """The subject only instance ``index`` of a service listens on (the 1:1 pattern)."""
    return f"{subject}.{index}"


class _Target(NamedTuple):
    """What every request to one service operation (at one instance) is sent with."""

    subject: str
    nbytes: float
    retries: RequestRetries
    limit: float


def _at_once(status: str) -> Generator[Any, Any, str]:
    """A request that ends before anything is sent: ``status`` with no wait."""
    return status
    yield


DETECT = ("closed", "disconnected", "route_lost", "gateway_lost")  # fabric log rows


class MessagingTransport:
    """The broker architecture behind the Transport seam."""

    name = "messaging"

    @staticmethod
    def describe(sc: Scenario) -> str:
        """One line for a report: what this architecture deploys for the scenario."""
        m = sc.messaging
        if m.clusters:
            sizes = ", ".join(f"{c.name} ({c.servers} servers)" for c in m.clusters)
            brokers = f"{len(m.clusters)} cluster(s) joined by gateways: {sizes}"
        else:
            brokers = f"{m.broker.servers} broker server(s)"
        tls = f"TLS {m.tls.version}{' mutual' if m.tls.mutual else ''}"
        edge = {
            "websocket": "; edge clients on the websocket listener",
            "leafnode": f"; edge clients through {m.ingress.replicas} leaf node server(s)",
        }.get(m.ingress.kind, "")
        return (
            f"{brokers} with {m.broker.cores} cores each, one connection per client "
            f"and instance, {tls}, request/reply through _INBOX subjects{edge}"
        )

    def __init__(self, app: Application, cfg: MessagingSettings):
        self.app = app
        self.env = app.env
        self.cfg = cfg
        self.fabric: Fabric = None  # type: ignore[assignment]
        self.conns: dict[Component, ClientConn] = {}
        self.edge: list[ClientConn] = []
        self.users = account_of_users(cfg.accounts)
        self.perms = of_users(cfg.accounts)
        self.samples: list[tuple[float, str, str, float]] = []
        self.every: list[ClientConn] = []  # every connection ever made (for the books)
        self.payload_errors = 0
        self.buffer_errors = 0
        self._cid = count()
        self.retry = RetryBooks()
        self._flight: dict[ClientConn, InFlight] = {}
        self._targets: dict[tuple[str, str, int | None], _Target] = {}
        self._event_flows: dict[tuple[Any, str], str] = {}  # (what, service) → flow label
        self._backoff = Uniforms(app.streams.get("messaging/backoff"))
        self.bridges: BridgeTier | None = None  # ingress http-bridge: the edge's front door
        self.door: Door | None = None  # ingress websocket or leafnode: where the edge connects
        if cfg.ingress.kind == "http-bridge":
            edge_tls = cfg.tls.model_copy(update={"mutual": False})  # as the HTTP side's edge
            self.bridges = BridgeTier(
                self.env, app.net, app.placer, cfg.ingress, edge_tls, app.clients
            )

    @property
    def server(self) -> BrokerServer:
        """The first server (the only one of a single-server deployment)."""
        return next(iter(self.fabric.servers.values()))

    def start(self) -> None:
        app = self.app
        self.fabric = Fabric(self.env, app.net, app.streams, app.placer, self.cfg, clusters(app.sc))
        self.fabric.start()
        self.door = door(self.fabric, app, self.cfg)
        connect = self.fabric.connect if self.door is None else self.door.connect
        account = account_for(self.users, EDGE_USER)
        # the edge clients' own reads and writes: a NATS client library, or with an HTTP
        # bridge in front the HTTP stack they reach it with
        clients = app.clients
        edge_io = self.cfg.client.io if self.bridges is None else app.sc.http.stack.io
        clients.io = Io.of(clients.cpu, edge_io)
        # the edge's NATS connections: one per edge client, or one per bridge replica
        owners: list[tuple[Component, str]] = [
            (app.clients, f"client-{k}") for k in range(app.sc.workload.clients)
        ]
        if self.bridges is not None:
            owners = [(b, b.name) for b in self.bridges.replicas]
        for owner, name in owners:
            conn = connect(owner, name, account, next(self._cid))
            conn.restrict(self.perms.get(EDGE_USER))
            conn.connect()
            self.edge.append(conn)
            self.every.append(conn)
        if self.bridges is not None:
            for b, conn in zip(self.bridges.replicas, self.edge, strict=True):
                b.conn = conn
        servers = self._servers()
        self.env.process(sample(self.env, servers, app.sc.run.timeseries_interval, self.samples))

    def attach(self, inst: ServiceInstance) -> None:
        inst.io = Io.of(inst.cpu, self.cfg.client.io)  # its NATS client library
        account = account_for(self.users, inst.service)
        conn = self.fabric.connect(inst, inst.name, account, next(self._cid))
        conn.restrict(self.perms.get(inst.service))
        self.conns[inst] = conn
        self.every.append(conn)
        sc = self.app.sc
        for op in inst.cfg.operations:
            if inst.cfg.listen_only:
                continue
            subject = request_subject(sc, inst.service, op)
            conn.subscribe(subject, RESPONDERS, "responder", op, self._serve)
            conn.subscribe(
                instance_subject(subject, inst.index), None, "responder", op, self._serve
            )
        for sub in inst.cfg.subscriptions:
            queue = inst.service if sub.delivery == "shared" else None
            conn.subscribe(sub.subject, queue, "observer", sub.operation, self._observe)
        conn.connect()

    def detach(self, inst: ServiceInstance) -> None:
        """An instance stops: drained (nats.go Drain) while running, else a crash (closed)."""
        conn = self.conns.get(inst)
        if conn is None:
            return
        if inst.alive:

            def gone() -> None:
                if self.conns.get(inst) is conn:
                    del self.conns[inst]
                inst.alive = False  # the process exits once drained

            conn.drain(self.cfg.client.drain_timeout, gone)
        else:
            del self.conns[inst]
            conn.crash(CLOSED)

    def components(self) -> list[Component]:
        out = self.fabric.components() if self.fabric is not None else []
        if self.bridges is not None:
            out = [*out, *self.bridges.replicas]
        if self.door is not None:
            out = [*out, *self.door.components()]
        return out

    def _servers(self) -> list[BrokerServer]:
        """Every nats-server: the cluster's, then any leaf nodes'."""
        extra = self.door.servers() if self.door is not None else []
        return [*self.fabric.servers.values(), *extra]

    # ------------------------------------------------------------------ failures
    def crash(self, inst: ServiceInstance, mode: str = CLOSED) -> None:
        """An instance dies: ``closed`` (its socket closes) or ``silent`` (it just stops)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        inst.alive = False
        conn = self.conns.pop(inst, None)
        if conn is not None:
            conn.crash(mode)

    def kill_server(self, name: str, mode: str = CLOSED) -> None:
        """A broker server dies (``closed``) or its host vanishes (``silent``)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.fabric.servers[name].kill(mode)

    def restart_server(self, name: str) -> None:
        """A stopped broker server starts again (empty); peers and clients find it."""
        restart(self.fabric, self.fabric.servers[name])

    # ------------------------------------------------------------------ the fault verbs
    # (sim.faults speaks to every architecture through these; sim.app.transport)
    dns_failover = False  # a service in two regions answers one subject: no DNS record

    def stop(self, inst: ServiceInstance) -> None:
        """Stopped without a drain: the process exits, its socket closes (FIN)."""
        self.crash(inst, CLOSED)

    def lose(self, insts: list[ServiceInstance], grace: float) -> None:
        """Their node is gone: each just stops (the servers' pings find out)."""
        for inst in insts:
            self.crash(inst, "silent")

    def answers(self, inst: ServiceInstance) -> bool:
        """Would a probe of this instance get an answer?"""
        return inst.alive

    def infrastructure(self, kind: str) -> list[Any]:
        """The processes of ``kind`` a fault can stop: broker servers in list order."""
        return list(self.fabric.servers.values()) if kind == "broker" else []

    def stop_infrastructure(self, proc: Any, mode: str) -> None:
        """A broker server dies (closed) or its host vanishes (silent)."""
        self.kill_server(proc.name, mode)

    def start_infrastructure(self, proc: Any) -> None:
        """A stopped broker server starts again; routes, gateways and clients come back."""
        self.restart_server(proc.name)

    def detection(self, t0: float, names: set[str]) -> dict[str, Any] | None:
        """When a server first noticed one of ``names`` at or after ``t0`` (the broker's log):
        it closed an instance's connection (FIN, stale after unanswered pings, write
        deadline, drained), or for a server a client disconnected or a peer lost its route
        or gateway."""
        hit = next(
            (r for r in self.fabric.log if r[0] >= t0 and r[1] in DETECT and r[2] in names),
            None,
        )
        return None if hit is None else {"t": hit[0], "label": f"detected: {hit[2]} {hit[1]}"}

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
        """The request's attempts on the caller's connection (a bridge's, from the edge).

        A plain function that returns the generator to be driven (every caller drives it at
        once with ``yield from``): no generator of its own around it on every resume."""
        if caller is self.app.clients:
            bridges = self.bridges
            if bridges is not None:  # HTTP to a bridge replica, which asks on its connection
                sc = self.app.sc
                op = sc.services[service].operations[operation]

                def ask(b: Any) -> Generator[Any, Any, str]:
                    return self._request(tr, b.conn, service, operation, plan, instance)

                client = tr.id % sc.workload.clients
                return bridges.exchange(tr, client, op.request_bytes, op.response_bytes, ask)
            conn = self.edge[tr.id % len(self.edge)]
        else:
            found = self.conns.get(caller)
            if found is None:
                return _at_once(ERROR)  # the caller's process is gone: nothing is sent
            conn = found
        return self._request(tr, conn, service, operation, plan, instance)

    def _target(self, service: str, operation: str, instance: int | None) -> _Target:
        """What a request to ``service.operation`` (at ``instance``) is sent with: the
        settings read once per target, not per request (they do not change in a run)."""
        key = (service, operation, instance)
        t = self._targets.get(key)
        if t is None:
            sc = self.app.sc
            subject = request_subject(sc, service, operation)
            if instance is not None:
                subject = instance_subject(subject, instance)
            route = self.cfg.requests.get(service)
            limit = self.cfg.request_timeout
            if route is not None and route.timeout is not None:
                limit = route.timeout
            t = self._targets[key] = _Target(
                subject,
                sc.services[service].operations[operation].request_bytes,
                route.retries if route is not None else self.cfg.retries,
                limit,
            )
        return t

    def _request(
        self,
        tr: Trace,
        conn: ClientConn,
        service: str,
        operation: str,
        plan: Plan,
        instance: int | None,
    ) -> Generator[Any, Any, str]:
        """A request on one connection: timeout, retries, attempts."""
        subject, nbytes, r, limit = self._target(service, operation, instance)
        if nbytes > self.cfg.broker.max_payload:
            self.payload_errors += 1
            return ERROR  # nats.go refuses: maximum payload exceeded
        books = self.retry
        books.requests += 1
        flight = self._flight.get(conn)
        if flight is None:
            flight = self._flight[conn] = InFlight()
        flight.requests += 1
        payload = (service, operation, plan)
        n = 0
        try:
            while True:
                status = yield from self._ask(tr, conn, flight, subject, nbytes, payload, n, limit)
                if status not in r.retry_on or n >= r.attempts:
                    return status
                if not budget_allows(r, flight.requests, flight.retries):
                    books.refused += 1
                    return status
                n += 1
                books.retries += 1
                wait = backoff(r, n, self._backoff())
                if wait > 0:
                    yield self.env.timeout(wait)
                    tr.infra += wait  # as the HTTP side books its back-off
        finally:
            flight.requests -= 1

    def _ask(
        self,
        tr: Trace,
        conn: ClientConn,
        flight: InFlight,
        subject: str,
        nbytes: float,
        payload: Any,
        n: int,
        limit: float,
    ) -> Generator[Any, Any, str]:
        """One attempt: publish with a fresh reply subject, wait for the reply or timeout."""
        env = self.env
        self.retry.attempts += 1
        if n:
            flight.retries += 1
        try:
            reply = conn.new_reply_subject()
            t0 = env.now
            leg = Trace(tr.id, tr.flow, t0)
            leg.hops = tr.hops
            msg = Msg(conn.account, subject, reply, nbytes, leg, t0, payload)
            msg.sender = conn
            waiter = conn.expect(reply)
            if not conn.publish(msg):
                conn.waiters.pop(reply, None)
                self.buffer_errors += 1
                return ERROR  # nats.go ErrReconnectBufExceeded
            answer = yield first_of(env, waiter, limit)
            if answer is None:
                conn.waiters.pop(reply, None)
                tr.queueing += env.now - t0  # waited for a reply that never came
                self.retry.timeouts += 1
                return TIMEOUT
            assert isinstance(answer, Msg)
            add_buckets(tr, answer.tr)
            if answer.status == NO_RESPONDERS_STATUS:
                return NO_RESPONDERS
            status: str = answer.payload
            return status
        finally:
            if n:
                flight.retries -= 1

    def _serve(self, msg: Msg, interest: Interest) -> None:
        Task(self.env, self._respond(msg, interest), inline=True)

    def _respond(self, msg: Msg, interest: Interest) -> Generator[Any, Any, None]:
        conn = interest.conn
        inst = conn.owner
        assert isinstance(inst, ServiceInstance)
        service, operation, plan = msg.payload
        if service != inst.service or operation != interest.operation:
            # another service's request on a subject this one also serves (the same service
            # in another region): the drawn plan if it has the same shape, else its own, from
            # streams HTTP never draws (a draw from the shared ones would shift every later
            # request's demand on this side only, breaking common random numbers)
            asked = self.app.sc.services[service].operations[operation]
            mine = inst.cfg.operations[interest.operation]
            service, operation = inst.service, interest.operation
            if (len(asked.calls), len(asked.emits)) != (len(mine.calls), len(mine.emits)):
                plan = self.app.planner.extra().plan(service, operation)
        conn.hold(+1)
        try:
            status = yield from inst.serve(msg.tr, operation, plan)
        finally:
            conn.hold(-1)
        if msg.reply is None or not conn.alive:
            return  # a crashed responder never answers
        nbytes = inst.cfg.operations[operation].response_bytes
        if nbytes > self.cfg.broker.max_payload:
            self.payload_errors += 1
            return  # refused by the responder's client: the requester times out
        answer = Msg(conn.account, msg.reply, None, nbytes, msg.tr, msg.start, status)
        answer.sender = conn
        conn.publish(answer)

    # ------------------------------------------------------------------ events
    def publish(self, source: ServiceInstance, subject: str, nbytes: float) -> None:
        conn = self.conns.get(source)
        if conn is None:
            return
        if nbytes > self.cfg.broker.max_payload:
            self.payload_errors += 1
            return  # nats.go ErrMaxPayload: the event is not sent
        tr = Trace(-1, subject, self.env.now)
        msg = Msg(conn.account, subject, None, nbytes, tr, self.env.now, subject)
        msg.sender = conn
        if not conn.publish(msg):
            self.buffer_errors += 1

    def _observe(self, msg: Msg, interest: Interest) -> None:
        Task(self.env, self._handle(msg, interest), inline=True)

    def _handle(self, msg: Msg, interest: Interest) -> Generator[Any, Any, None]:
        inst = interest.conn.owner
        assert isinstance(inst, ServiceInstance)
        tr = self.app.event_trace(self._flow_of(msg, inst.service), msg.start)
        add_buckets(tr, msg.tr)
        interest.conn.hold(+1)
        try:
            status = yield from inst.on_event(tr, interest.operation)
        finally:
            interest.conn.hold(-1)
        self.app.recorder.event(tr, self.env.now, status or OK)

    def _flow_of(self, msg: Msg, service: str) -> str:
        """The flow label of an event's row: what was published (an event's subject, the
        subject that names a copied request) and who handles it; made once per label."""
        p = msg.payload
        what = (p[0], p[1]) if isinstance(p, tuple) else p if isinstance(p, str) else msg.subject
        key = (what, service)
        flow = self._event_flows.get(key)
        if flow is None:
            label = request_subject(self.app.sc, *what) if isinstance(what, tuple) else what
            flow = self._event_flows[key] = f"{label} → {service}"
        return flow

    # ------------------------------------------------------------------ results
    def counters(self) -> dict[str, float]:
        """Cumulative logical requests, attempts and retries of the requesters' retry loop."""
        b = self.retry
        return {
            "requests": float(b.requests),
            "attempts": float(b.attempts),
            "retries": float(b.retries),
        }

    def observations(self) -> dict[str, Any]:
        """The architecture's own books (every server's, route's, account's and the clients'
        counters) and extra timeseries rows (connections per server)."""
        rows = broker_rows(self._servers())
        rows.append(("client", "all", "payload_errors", float(self.payload_errors)))
        rows.append(("client", "all", "reconnect_buffer_errors", float(self.buffer_errors)))
        every = self.every
        rows.append(("client", "all", "lost_messages", float(sum(c.lost for c in every))))
        rows.append(("client", "all", "late_replies", float(sum(c.late_replies for c in every))))
        rows.append(("fabric", "all", "lost_in_transit", float(self.fabric.lost)))
        b = self.retry
        for name in ("requests", "attempts", "retries", "refused", "timeouts"):
            rows.append(("client", "all", f"retry_{name}", float(getattr(b, name))))
        return {"rows": rows, "timeseries": list(self.samples)}
