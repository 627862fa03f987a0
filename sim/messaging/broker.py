"""One nats-server: its clients, the interest it holds, routing and what it costs.

Each server has its own :class:`~sim.messaging.accounts.AccountSpace` (accounts are configured
the same on every server) holding its clients' subscriptions and *mirrors* of the interest of
other servers: one per (server, account, subject, queue) learnt over a route (same cluster) or
a gateway (another cluster), with the weight of a queue group (``sublist.go``). A client's SUB
is news to the peers when it is the first plain subscription on its subject or any queue
subscription (RS+; the last one going is RS-), propagated by :mod:`sim.messaging.cluster`.

A message is parsed and matched, who gets a copy is decided by :mod:`sim.messaging.routing`,
then the copies are written: to local clients, to route peers, to gateways. A reply crossing
a gateway gets ``_GR_.<cluster>.<server>.`` so that the answer comes straight back to the
origin server (``gateway.go`` handleGatewayReply); a request crossing a service import gets an
``_R_.`` reply whose answer comes back to the server that mapped it. With nothing delivered
anywhere and a reply subject, the requester gets a 503 "no responders" status at once
(headers on). A client without permission to publish a subject gets an error and the
message is dropped (:mod:`sim.messaging.permissions`).

Costs (:mod:`sim.core.io`, ``messaging.broker.io``): a message is read from its connection
(a client's, a route's or a gateway's) in a wake-up with whatever else arrived on it
meanwhile, then parsed, matched and routed; each copy is written to its connection in a
wake-up with whatever else is queued for it, and leaves when that write is done.
Memory: baseline + per connection + per subscription (mirrors included) + pending bytes.
Every CPU second is also booked to an account: each message's equal share of the wake-up
that read or wrote it goes to the account it travels in when read, to the receiving account
when written (``Io.on_share``).
"""

from __future__ import annotations

from functools import partial
from heapq import heappop
from itertools import count
from typing import TYPE_CHECKING, Any

from sim.core.component import Component
from sim.core.connections import close_accounting, tls_active
from sim.core.distributions import Uniforms
from sim.core.io import Channel, Io, pass_through
from sim.core.metrics import Gauge, Settled
from sim.core.network import Place
from sim.messaging.accounts import AccountSpace, Delivery
from sim.messaging.failure import CLOSED
from sim.messaging.message import (
    GATEWAY_REPLY_PREFIX,
    NO_RESPONDERS_STATUS,
    SERVICE_REPLY_PREFIX,
    Interest,
    Msg,
    QueueKey,
    RemoteInterest,
)
from sim.messaging.observe import Book, Ledger, Tally
from sim.messaging.routing import SpaceKey, plan
from sim.messaging.subjects import Subscription

if TYPE_CHECKING:
    from sim.messaging.client import ClientConn
    from sim.messaging.cluster import Fabric


_REPLY_PREFIXES = (GATEWAY_REPLY_PREFIX, SERVICE_REPLY_PREFIX)
RATE_WINDOW = 1.0  # s: the message rate the throughput memory follows (memory_per_message_rate)


class BrokerServer(Component):
    """One nats-server of a cluster."""

    def __init__(self, fabric: Fabric, name: str, place: Place, cluster: str):
        b = fabric.cfg.broker
        super().__init__(fabric.env, "broker", name, place, cores=b.cores, memory=b.memory)
        self.fabric = fabric
        self.cfg = b
        self.cluster = cluster
        self.space = AccountSpace.from_config(fabric.cfg.accounts)
        self.alive = True
        self.death = ""
        # insertion-ordered (dicts, not sets): what happens to them happens in a fixed order
        self.clients: dict[ClientConn, None] = {}
        self.opening: dict[ClientConn, None] = {}
        self.pick = Uniforms(fabric.streams.get(f"queue-pick/{name}"))
        self.mirrors: dict[tuple[str, str, str, str | None], tuple[Subscription, RemoteInterest]]
        self.mirrors = {}
        self.refs: dict[tuple[str, str, str | None], int] = {}
        # bytes being written to clients, released when their write completes: a heap of
        # (when, order, connection, bytes, its epoch), applied when the books are next used
        # (settle_writes) instead of by a timer per write
        self.writes: list[tuple[float, int, ClientConn, float, int]] = []
        self.write_order = count()
        self.held = Settled(fabric.env, b.memory, self.settle_writes)  # the memory gauge
        self.memory.gauge = self.held
        self.book = Book(fabric.env, self.settle_writes)
        # the per-message counters, resolved in the book on first use and kept
        self.ledgers: dict[str, Ledger] = {}
        self._msgs_in: Tally | None = None
        self._bytes_in: Tally | None = None
        self._msgs_out: Tally | None = None
        self._bytes_out: Tally | None = None
        self.subscriptions = Gauge(fabric.env)
        self.closures: list[tuple[float, str, str]] = []  # (time, client, reason)
        tls = fabric.cfg.tls
        self.io = Io.of(self.cpu, b.io)
        if self.io is not None:
            self.io.on_share = self._charge
        self.tls = tls_active(tls)
        # one read and one write channel per connection it holds (a client's ClientConn, or
        # the (peer, "route"|"gateway") link), made on first use
        self.rx: dict[Any, Channel] = {}
        self.tx: dict[Any, Channel] = {}
        self.handshake_cpu = (
            tls.server_cpu + (tls.mutual_cpu if tls.mutual else 0.0) if tls.version != "none" else 0
        )
        self.lives = 0  # starts of the process (restarts: sim.messaging.recovery)
        self.started()

    def started(self) -> None:
        """The process (re)started: its memory starts following its message rate."""
        self.lives += 1
        if self.cfg.memory_per_message_rate > 0:
            self.env.process(self._memory_with_rate(self.cfg.memory_per_message_rate))

    def _memory_with_rate(self, per_rate: float) -> Any:
        """The memory that grows with throughput: ``per_rate`` bytes per message read per
        second, over the last :data:`RATE_WINDOW` (a real server's level settles within a
        few seconds of a change of rate). Ends with the process's life."""
        life, held, seen = self.lives, 0.0, self.handled
        while True:
            yield self.env.timeout(RATE_WINDOW)
            if not self.alive or self.lives != life:  # its memory went with the process
                return
            level = per_rate * (self.handled - seen) / RATE_WINDOW
            self.memory.add(level - held)
            held, seen = level, self.handled

    def gauges(self) -> list[Gauge]:
        return [*super().gauges(), self.subscriptions, *self.book.gauges()]

    # ------------------------------------------------------------------ connections
    def register(self, conn: ClientConn) -> None:
        """A client's CONNECT and SUBs arrived: hold it open, subscribe all it wants."""
        self.opening.pop(conn, None)
        self.clients[conn] = None
        conn.attach_to(self)
        self.memory.add(self.cfg.memory_per_connection)
        self.hold(conn.account, self.cfg.memory_per_connection, pending=False)
        self.book.count("account", conn.account, "connections_opened")
        for interest in conn.interests:
            h = self.add_local(interest)
            if h is not None:
                conn.handles[interest] = h

    def close_client(self, conn: ClientConn, reason: str) -> None:
        """Close a client connection: its subscriptions go, peers are told."""
        if conn not in self.clients or not self.alive:
            return
        del self.clients[conn]
        self.rx.pop(conn, None)
        self.tx.pop(conn, None)
        for interest, h in list(conn.handles.items()):
            self.remove_local(interest, h)
        conn.release_pending(self)
        self.memory.remove(self.cfg.memory_per_connection)
        self.hold(conn.account, -self.cfg.memory_per_connection, pending=False)
        self.book.count("server", self.name, f"closed_{reason}")
        self.closures.append((self.env.now, conn.name, reason))
        self.fabric.log.append((self.env.now, "closed", conn.name, f"{self.name}: {reason}"))
        conn.detached(self, reason)

    def add_local(self, interest: Interest) -> Subscription | None:
        """A client's SUB: into the subject space, then RS+ to every peer (None: refused)."""
        acc = interest.conn.account
        perms = interest.conn.perms
        if perms is not None and not perms.subscribe.permits(interest.subject):
            self._violation(acc)  # -ERR 'Permissions Violation for Subscription'
            return None
        h = self.space.subscribe(acc, interest.subject, interest.queue, owner=interest)
        self._sub_memory(acc, +1)
        key = (acc, interest.subject, interest.queue)
        n = self.refs.get(key, 0)
        self.refs[key] = n + 1
        if interest.queue is not None or n == 0:  # plain interest: only 0 → 1 is news
            self.fabric.propagate(self, acc, interest.subject, interest.queue, +1)
        return h

    def remove_local(self, interest: Interest, h: Subscription) -> None:
        acc = interest.conn.account
        if not self.space.unsubscribe(h):
            return
        self._sub_memory(acc, -1)
        key = (acc, interest.subject, interest.queue)
        n = self.refs[key] - 1
        if n:
            self.refs[key] = n
        else:
            del self.refs[key]
        if interest.queue is not None or n == 0:
            self.fabric.propagate(self, acc, interest.subject, interest.queue, -1)

    def mirror(
        self,
        origin: BrokerServer,
        gateway: bool,
        account: str,
        subject: str,
        queue: str | None,
        delta: int,
    ) -> None:
        """An RS+/RS- from a route or gateway peer about ``origin``'s subscriptions."""
        if not self.alive:
            return
        self.protocol(account, write=False)
        key = (origin.name, account, subject, queue)
        entry = self.mirrors.get(key)
        if entry is None:
            if delta <= 0:
                return
            ri = RemoteInterest(origin, gateway)
            entry = (self.space.subscribe(account, subject, queue, owner=ri), ri)
            self.mirrors[key] = entry
            self._sub_memory(account, +1)
        h, ri = entry
        ri.weight += delta
        if ri.weight <= 0:
            self.space.unsubscribe(h)
            del self.mirrors[key]
            self._sub_memory(account, -1)

    def drop_mirrors(self, origin: BrokerServer | None, gateway: bool, cluster: str = "") -> None:
        """Forget what a peer (or, with ``cluster``, a whole remote cluster) told us."""
        for key, (h, ri) in list(self.mirrors.items()):
            if ri.gateway != gateway:
                continue
            if (origin is not None and ri.origin is origin) or (
                cluster and ri.origin.cluster == cluster
            ):
                self.space.unsubscribe(h)
                del self.mirrors[key]
                self._sub_memory(key[1], -1)

    def _sub_memory(self, account: str, n: int) -> None:
        if not self.alive:
            return
        self.subscriptions.add(n)
        self.memory.add(n * self.cfg.memory_per_subscription)
        self.hold(account, n * self.cfg.memory_per_subscription, pending=False)

    def hold(self, account: str, nbytes: float, pending: bool = True) -> None:
        """Bytes held for an account (connections, subscriptions, pending writes)."""
        if not self.alive:
            return
        if pending:
            self.memory.add(nbytes)
        lg = self.ledgers.get(account) or self.ledger(account)
        (lg.memory or lg.gauge()).add(nbytes)

    def settle_writes(self) -> None:
        """Apply the completed writes due by now (see :meth:`ClientConn.take`)."""
        w = self.writes
        if w and w[0][0] <= self.env.now:
            self._written(w)

    def _written(self, w: list[tuple[float, int, ClientConn, float, int]]) -> None:
        """Each write due by now leaves the pending bytes, at its own instant and in the
        order its timer would have fired (time, then when it was scheduled)."""
        now = self.env.now
        while w and w[0][0] <= now:
            t, _, conn, n, epoch = heappop(w)
            if conn.epoch != epoch:
                continue  # the connection was dropped meanwhile: its bytes went with it
            conn.pending += -n
            if self.alive:
                self.held.add_at(t, -n)
                lg = self.ledgers.get(conn.account) or self.ledger(conn.account)
                (lg.memory or lg.gauge()).add_at(t, -n)

    def ledger(self, account: str) -> Ledger:
        """The account's counters on this server (created on first use)."""
        lg = self.ledgers.get(account)
        if lg is None:
            lg = self.ledgers[account] = Ledger(self.book, account)
        return lg

    def _tally(self, attr: str, metric: str) -> Tally:
        """A server-scope per-message counter, resolved on first use and kept in ``attr``."""
        t = self.book.tally("server", self.name, metric)
        setattr(self, attr, t)
        return t

    def protocol(self, account: str, parse: bool = True, write: bool = True) -> None:
        """Protocol work off the message path (PING/PONG, RS+/RS-): a read and/or a write,
        each its own wake-up."""
        io = self.io
        if not self.alive or io is None:
            return
        work = (io.background(1, 0.0, self.tls) if parse else 0.0) + (
            io.background(1, 0.0, self.tls) if write else 0.0
        )
        self.book.count("account", account, "cpu_seconds", work)
        self.book.count("server", self.name, "protocol_messages")

    def kill(self, mode: str = CLOSED) -> None:
        """The server process dies (``closed``: its sockets close) or its host vanishes."""
        if not self.alive:
            return
        tls = self.fabric.cfg.tls
        for conn in list(self.clients):
            conn.release_pending(self)
            conn.server_died(self, mode)
        for conn in list(self.opening):
            if conn.open_on is self:
                close_accounting(conn.owner, self, tls)
                conn.open_on = None
        self.clients.clear()
        self.opening.clear()
        self.alive = False
        self.death = mode
        self.memory.gauge.set(0.0)  # the process and all it held are gone
        self.subscriptions.set(0.0)
        self.fabric.server_died(self, mode)

    # ------------------------------------------------------------------ routing
    def receive(self, msg: Msg, frm: str, via: Any = None) -> None:
        """A message arrived from a ``client`` (on ``msg.sender``'s connection), a ``route``
        or a ``gateway`` (on the ``via`` link): read it, then route it."""
        if not self.alive:
            return
        if self.io is None:
            self._route(msg, frm)
            return
        key = msg.sender if frm == "client" else via
        chan = self.rx.get(key)
        if chan is None:
            chan = self.rx[key] = self.io.channel(self.tls)
        chan.send(msg.nbytes, msg.tr, partial(self._route, msg, frm), msg.account)

    def _route(self, msg: Msg, frm: str) -> None:
        """Route one message that was read: who gets a copy, then the copies are written."""
        if not self.alive:
            return
        self.handled += 1
        (self._msgs_in or self._tally("_msgs_in", "messages_in")).value += 1.0
        (self._bytes_in or self._tally("_bytes_in", "bytes_in")).value += msg.nbytes
        lg = self.ledgers.get(msg.account) or self.ledger(msg.account)
        (lg.messages_in or lg.tally("messages_in")).value += 1.0
        if msg.subject.startswith(_REPLY_PREFIXES):  # one test for the common case: neither
            if msg.subject.startswith(GATEWAY_REPLY_PREFIX):
                _, cluster, server, rest = msg.subject.split(".", 3)
                if cluster != self.cluster or server != self.name:
                    self._count_out(msg.account, msg.nbytes)
                    self._pass_reply(msg, cluster, server)
                    return
                msg.subject, frm = rest, "route"  # back at the origin server: deliver here
            if msg.subject.startswith(SERVICE_REPLY_PREFIX):
                home = self.fabric.reply_home.get((msg.account, msg.subject))
                if home is not None and home is not self:
                    self._count_out(msg.account, msg.nbytes)
                    self._pass_home(msg, home)
                    return
                resolved = self.fabric.resolve_reply(msg.account, msg.subject)
                if resolved is not None:
                    msg.account, msg.subject = resolved
                    frm = "client"
        sender = msg.sender
        client = frm == "client"
        if (
            client
            and sender is not None
            and sender.perms is not None
            and not self._may_publish(msg)
        ):
            self._violation(msg.account)  # -ERR 'Permissions Violation for Publish', dropped
            return
        local, routes, gws = plan(self, msg, frm)
        self._send(msg, local, routes, gws)
        reply = msg.reply
        if client and reply is not None and sender is not None and not (local or routes or gws):
            self._no_responders(msg, sender, reply)

    def _pass_reply(self, msg: Msg, cluster: str, server: str) -> None:
        """A ``_GR_.`` reply for another server: on towards it."""
        if cluster != self.cluster:
            self._to_gateway(cluster, msg.branch(True))
        else:
            self._to_route(self.fabric.servers[server], msg.branch(True))

    def _pass_home(self, msg: Msg, home: BrokerServer) -> None:
        """An ``_R_.`` answer for the server that mapped the request: on towards it."""
        self._to_route(home, msg.branch(True))

    def _out(self, key: Any) -> Channel | None:
        """The write channel of a connection (None: writing is free)."""
        io = self.io
        if io is None:
            return None
        chan = self.tx.get(key)
        if chan is None:
            chan = self.tx[key] = io.channel(self.tls, write=True)
        return chan

    def _to_route(self, dst: BrokerServer, msg: Msg) -> None:
        pass_through(
            self._out((dst, "route")),
            msg.nbytes,
            msg.tr,
            partial(self.fabric.route_send, self, dst, msg),
            msg.account,
        )

    def _to_gateway(self, cluster: str, msg: Msg) -> None:
        pass_through(
            self._out((cluster, "gateway")),
            msg.nbytes,
            msg.tr,
            partial(self.fabric.gateway_send, self, cluster, msg),
            msg.account,
        )

    def _no_responders(self, msg: Msg, sender: ClientConn, reply: str) -> None:
        """Nothing was delivered anywhere: with headers on, the requester gets a 503 status
        at once (without, it waits for its timeout)."""
        if not self.cfg.headers:
            return
        book = self.book
        book.count("server", self.name, "no_responders")
        book.count("account", msg.account, "no_responders")
        copy = msg.branch(True, subject=reply, reply=None, nbytes=0.0)
        copy.status = NO_RESPONDERS_STATUS
        self._write(sender, copy, sender.inbox_interest)

    def _may_publish(self, msg: Msg) -> bool:
        conn = msg.sender
        if conn is None or conn.perms is None or conn.perms.publish.permits(msg.subject):
            return True
        return conn.replies is not None and conn.replies.allow(msg.subject, self.env.now)

    def _violation(self, account: str) -> None:
        self.book.count("server", self.name, "permission_violations")
        self.book.count("account", account, "permission_violations")

    def _charge(self, account: str, work: float) -> None:
        """Book CPU seconds to an account (a message's share of a wake-up)."""
        lg = self.ledgers.get(account) or self.ledger(account)
        (lg.cpu_seconds or lg.tally("cpu_seconds")).value += work

    def _send(
        self,
        msg: Msg,
        local: list[Delivery],
        routes: dict[tuple[BrokerServer, SpaceKey], list[QueueKey]],
        gws: dict[tuple[str, SpaceKey], list[QueueKey]],
    ) -> None:
        mapped: str | None = None  # the ``_R_.`` reply, made once if a service import needs it
        reply = msg.reply
        plain = msg.service or reply is None  # the reply every copy carries as it is
        for d in local:
            interest: Interest = d.sub.owner  # type: ignore[assignment]  # a local delivery's
            r = reply
            if d.via == "service" and not plain:
                r = mapped = mapped or self._map_reply(msg)
            copy = msg.copy(interest.role != "observer", d.account, d.subject, r, (), msg.service)
            self._write(interest.conn, copy, interest)
        for (dst, (acc, subj, svc)), queues in routes.items():
            r = reply
            if svc and not plain:
                r = mapped = mapped or self._map_reply(msg)
            copy = msg.copy(True, acc, subj, r, tuple(queues), svc)
            self._count_out(acc, msg.nbytes)
            self._to_route(dst, copy)
        for (cluster, (acc, subj, svc)), queues in gws.items():
            r = reply
            if svc and not plain:
                r = mapped = mapped or self._map_reply(msg)
            if r is not None and not r.startswith(GATEWAY_REPLY_PREFIX):
                r = f"{GATEWAY_REPLY_PREFIX}{self.cluster}.{self.name}.{r}"
            copy = msg.copy(True, acc, subj, r, tuple(queues), svc)
            self._count_out(acc, msg.nbytes)
            self._to_gateway(cluster, copy)

    def _map_reply(self, msg: Msg) -> str:
        """The ``_R_.`` reply a service import's copies carry (made once per message)."""
        assert msg.reply is not None  # only asked for a request crossing an import
        return self.fabric.map_reply(self, msg.account, msg.subject, msg.reply)

    def _count_out(self, account: str, nbytes: float) -> None:
        (self._msgs_out or self._tally("_msgs_out", "messages_out")).value += 1.0
        (self._bytes_out or self._tally("_bytes_out", "bytes_out")).value += nbytes
        lg = self.ledgers.get(account) or self.ledger(account)
        (lg.messages_out or lg.tally("messages_out")).value += 1.0
        (lg.bytes_out or lg.tally("bytes_out")).value += nbytes
        self.bytes_out += nbytes

    def _write(self, conn: ClientConn, msg: Msg, interest: Interest) -> None:
        """One copy to a client: written in a wake-up of its connection, then taken."""
        self._count_out(conn.account, msg.nbytes)
        if self.io is None:  # writing is free (pass_through, unrolled: this runs per copy)
            conn.take(self, msg, interest)
            return
        chan = self.tx.get(conn) or self._out(conn)
        assert chan is not None
        chan.send(msg.nbytes, msg.tr, partial(conn.take, self, msg, interest), conn.account)
