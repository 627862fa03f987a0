"""A client's one long-lived connection to the broker, as nats.go keeps it.

Connect: TCP and TLS handshakes (round trips and CPU, :func:`~sim.core.connections.handshake`),
then CONNECT and every SUB reach the server one way later (the interest exists from then on)
and the PONG comes back one more way later: only then is the client connected and flushes
what it buffered. Publishes while (re)connecting wait in the reconnect buffer (nats.go
``ReconnectBufSize`` 8 MiB; beyond it the publish fails). Every connection has an inbox
subscription ``_INBOX.<nuid>.*`` and a fresh reply subject per request.

Server → client writes go through a FIFO link at the rate the client reads (the network's
bandwidth unless ``read_bandwidth`` says the client is slower): a message's bytes are
*pending* on the server (nats-server ``c.out.pb``, held in the server's memory) until it has
been written out whole. Over ``max_pending`` the server closes the connection as a slow
consumer (``client.go`` queueOutbound). A client that died silently acknowledges nothing: the
socket buffer absorbs ``socket_buffer`` bytes, then writes stall and the server closes it
after ``write_deadline`` (``handleWriteTimeout``), or after its pings go unanswered, whichever
comes first. Until then every message routed to it is lost, and requests wait for their
timeout. A client that died with a closed socket is seen one way later (the FIN).

Disconnected from a live client's side (its server died, closed it, or stopped answering
pings), the client reconnects as nats.go ``doReconnect`` does: the failed server goes to the
end of the list, the others are tried at once, and only after a whole pass does it sleep
``reconnect_wait`` plus a uniform jitter (TLS: ``reconnect_jitter_tls``); a server is tried at
most ``max_reconnect`` times. A dead server refuses in one RTT (RST) or, if its host is gone,
after ``connect_timeout``. On reconnect every subscription is sent again (interest
re-established and propagated to the cluster). A server that cannot be reached at all (a
network partition, :mod:`sim.faults`) fails the dial after ``connect_timeout``.

A graceful stop is nats.go ``Drain`` (:mod:`sim.messaging.drain`).

What the connection notices goes to the fabric's ``log``: ``disconnected`` (it lost its
server) and ``reconnected``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from functools import partial
from heapq import heappush
from itertools import count
from typing import TYPE_CHECKING, Any

from simpy import Event
from simpy.events import NORMAL

from sim.core.component import Component
from sim.core.connections import close_accounting, handshake, open_accounting, tls_active
from sim.core.io import Channel
from sim.core.schedule import Call, at, call_at
from sim.messaging.drain import draining
from sim.messaging.failure import CLOSED, SILENT, Heartbeat, client_pings, server_pings
from sim.messaging.message import Handler, Interest, Msg
from sim.messaging.permissions import Permissions, Replies
from sim.messaging.subjects import Subscription

if TYPE_CHECKING:
    from sim.messaging.broker import BrokerServer
    from sim.messaging.cluster import Fabric

_NUID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def nuid(n: int) -> str:
    """A deterministic 22-character identifier standing in for a NUID."""
    out = []
    for _ in range(22):
        n, r = divmod(n * 2654435761 + 97, 62)
        out.append(_NUID_ALPHABET[r])
    return "".join(out)


class ClientConn:
    """One client's connection (both ends' view of it), its subscriptions and waiters."""

    def __init__(
        self,
        fabric: Fabric,
        owner: Component,
        name: str,
        account: str,
        pool: list[BrokerServer],
        cid: int,
    ):
        self.fabric = fabric
        self.env = fabric.env
        self.owner = owner
        self.name = name
        self.account = account
        self.pool = pool  # nats.go srvPool, in the order it will try them
        self.inbox = f"_INBOX.{nuid(cid)}."
        self.interests: list[Interest] = []
        self.handles: dict[Interest, Subscription] = {}  # at the server holding it open
        self.waiters: dict[str, Event] = {}
        self.state = "new"  # connecting, connected, reconnecting, closed
        self.server: BrokerServer | None = None  # the client's view
        self.registered: BrokerServer | None = None  # the server's view: who holds it open
        self.open_on: BrokerServer | None = None  # connection books are open on this server
        self.alive = True
        self.silent = False
        self.epoch = 0
        self.buffer: list[tuple[Msg, float]] = []
        self.buffered = 0.0
        self.pending = 0.0
        self.link_free = 0.0
        self.writing_on: BrokerServer | None = None  # whose books hold its writes in flight
        self.absorbed = 0.0
        self.stuck = False
        self.tries: dict[str, int] = {}
        self.read_bandwidth = fabric.net.cfg.bandwidth  # bits/s the client reads at
        self.perms: Permissions | None = None
        self.replies: Replies | None = None
        self.server_hb: Heartbeat | None = None
        self.client_hb: Heartbeat | None = None
        self.connected_at: list[tuple[float, str]] = []  # (time, server) of each connect
        self.attempts: list[tuple[float, str]] = []  # (time, server) of each dial
        self.lost = 0
        self.late_replies = 0
        self.busy = 0  # messages in hand (handlers still working on them)
        self.draining = False
        self.idle: Event | None = None  # fires when busy drops to 0 (a drain waits on it)
        self._tokens = count()
        self.sent_until = 0.0  # when the last message sent reaches the server
        # the client library's reads and writes on the owner's cores (sim.core.io; None: free)
        io = owner.io
        self.tls = fabric.cfg.tls  # TLS on this connection (a websocket's is its listener's)
        secure = tls_active(self.tls)
        self.rx: Channel | None = io.channel(secure) if io is not None else None
        self.tx: Channel | None = io.channel(secure, write=True) if io is not None else None
        self.inbox_interest = self.subscribe(f"{self.inbox}*", None, "inbox")

    def __repr__(self) -> str:
        return f"<conn {self.name}>"

    # ------------------------------------------------------------------ subscriptions
    def subscribe(
        self,
        subject: str,
        queue: str | None,
        role: str,
        operation: str = "",
        handler: Handler | None = None,
    ) -> Interest:
        """Add a subscription; sent to the server now if connected, else on connect."""
        interest = Interest(self, subject, queue, role, operation, handler)
        self.interests.append(interest)
        server = self.registered
        if server is not None and self.state == "connected":
            epoch = self.epoch

            def arrive() -> None:
                if self.registered is server and self.epoch == epoch and server.alive:
                    h = server.add_local(interest)
                    if h is not None:
                        self.handles[interest] = h
                    self._activity()

            at(self.env, self._one_way(server), arrive)
        return interest

    def restrict(self, perms: Permissions | None) -> None:
        """The user's permissions (publish, subscribe, allow_responses)."""
        self.perms = perms
        if perms is not None and perms.responses is not None:
            self.replies = Replies(*perms.responses)

    def new_reply_subject(self) -> str:
        """A unique reply subject under this connection's inbox wildcard."""
        return f"{self.inbox}{next(self._tokens)}"

    def expect(self, reply: str) -> Event:
        """An event that fires with the reply message that arrives on ``reply``."""
        ev = Event(self.env)
        self.waiters[reply] = ev
        return ev

    # ------------------------------------------------------------------ connecting
    def connect(self) -> None:
        """Open the connection (first server of the pool, then the others)."""
        self.state = "connecting"
        self.env.process(self._reconnect(initial=True))

    def _one_way(self, server: BrokerServer, nbytes: float = 0.0) -> float:
        return float(self.fabric.net.one_way(self.owner.place, server.place, nbytes))

    def _reconnect(self, initial: bool = False) -> Generator[Any, Any, None]:
        cfg = self.fabric.cfg.client
        pool = self.pool
        if initial:  # nats.go connect(): each server once, in order, no sleep
            for first in list(pool):
                ok = yield from self._attempt(first)
                if ok or not self.alive:
                    return
        cur: BrokerServer | None = self.server
        i = 0
        while self.alive and self.state != "closed":
            if cur is not None and cur in pool:  # selectNextServer: current to the end
                pool.remove(cur)
                if self.tries.get(cur.name, 0) < cfg.max_reconnect:
                    pool.append(cur)
            if not pool:
                self.state = "closed"
                return
            cur = pool[0]
            if i + 1 >= len(pool):
                i = 0
                tls = tls_active(self.tls)
                jitter = cfg.reconnect_jitter_tls if tls else cfg.reconnect_jitter
                yield self.env.timeout(cfg.reconnect_wait + self.fabric.jitter() * jitter)
            else:
                i += 1
            self.tries[cur.name] = self.tries.get(cur.name, 0) + 1
            self.server = cur
            ok = yield from self._attempt(cur)
            if ok:
                return

    def _attempt(self, server: BrokerServer) -> Generator[Any, Any, bool]:
        env, fabric = self.env, self.fabric
        self.attempts.append((env.now, server.name))
        rtt = fabric.net.rtt(self.owner.place, server.place)
        if not server.alive or math.isinf(rtt):
            silent = server.death == SILENT or math.isinf(rtt)
            yield env.timeout(fabric.cfg.client.connect_timeout if silent else rtt)
            return False
        tls = self.tls
        open_accounting(self.owner, server, tls)
        self.open_on = server
        server.opening[self] = None
        yield from handshake(env, fabric.net, self.owner, server, tls, None)
        if not server.alive:
            return False  # it died meanwhile (and closed the books of what it held)
        server.book.count("account", self.account, "cpu_seconds", server.handshake_cpu)
        yield from self.opened(server)
        if not server.alive:
            return False
        self.server = server
        yield env.timeout(self._one_way(server))  # CONNECT + SUBs arrive
        if not server.alive:
            return False
        server.opening.pop(self, None)
        if not self.alive:
            self._close_books()
            return False
        server.register(self)
        yield env.timeout(self._one_way(server))  # the PONG comes back
        if not self.alive or self.registered is not server:
            return False
        self.state = "connected"
        if self.connected_at:
            fabric.log.append((env.now, "reconnected", self.name, server.name))
        self.connected_at.append((env.now, server.name))
        if self.client_hb is not None:
            self.client_hb.stop()
        self.client_hb = client_pings(self, server)
        buffered, self.buffer, self.buffered = self.buffer, [], 0.0
        for msg, since in buffered:
            msg.tr.queueing += env.now - since
            self.publish(msg)
        return True

    def opened(self, server: BrokerServer) -> Generator[Any, Any, None]:
        """What follows the TCP and TLS handshakes before CONNECT: nothing on the client port
        (a websocket does its HTTP upgrade here, :mod:`sim.messaging.websocket`)."""
        return
        yield

    def _close_books(self) -> None:
        if self.open_on is not None:
            close_accounting(self.owner, self.open_on, self.tls)
            self.open_on = None

    def attach_to(self, server: BrokerServer) -> None:
        """The server holds this connection open (called by BrokerServer.register)."""
        if self.writing_on is not None:  # writes completed by now count for the old epoch
            self.writing_on.settle_writes()
        self.registered = server
        self.epoch += 1
        self.pending = self.absorbed = 0.0
        self.link_free = self.env.now
        self.stuck = False
        self.server_hb = server_pings(self, server)

    def detached(self, server: BrokerServer, reason: str) -> None:
        """The server closed this connection (slow consumer, stale, or the client's close)."""
        if self.registered is server:
            self.registered = None
            self.handles.clear()
            if self.server_hb is not None:
                self.server_hb.stop()
        self._close_books()
        if self.alive and self.state == "connected" and self.server is server:
            at(self.env, self._one_way(server), lambda: self.disconnected(server))

    def server_died(self, server: BrokerServer, mode: str) -> None:
        """The server process is gone: its side of the connection with it."""
        if mode == CLOSED:
            self.detached(server, "server died")
            return
        if self.registered is server:  # silent: the client keeps pinging until it gives up
            self.registered = None
            self.handles.clear()
            if self.server_hb is not None:
                self.server_hb.stop()
        self._close_books()

    def disconnected(self, server: BrokerServer) -> None:
        """The client notices it lost its server: reconnect elsewhere."""
        if not self.alive or self.server is not server or self.state != "connected":
            return
        if self.client_hb is not None:
            self.client_hb.stop()
        self.fabric.log.append((self.env.now, "disconnected", server.name, self.name))
        self.state = "reconnecting"
        self.env.process(self._reconnect())

    # ------------------------------------------------------------------ failures
    def crash(self, mode: str) -> None:
        """The client process dies: ``closed`` (its socket is closed) or ``silent``."""
        self.alive = False
        if self.client_hb is not None:
            self.client_hb.stop()
        server = self.registered
        if mode == SILENT:
            self.silent = True
        elif server is not None:
            at(self.env, self._one_way(server), lambda: server.close_client(self, "closed"))

    def close(self) -> None:
        """Graceful close (the instance stops): the server unsubscribes one way later."""
        self.state = "closed"
        if self.client_hb is not None:
            self.client_hb.stop()
        server = self.registered
        if server is not None:  # the FIN follows the bytes already sent (TCP keeps the order)
            delay = max(self._one_way(server), self.sent_until - self.env.now)
            at(self.env, delay, lambda: server.close_client(self, "client_closed"))

    def drain(self, timeout: float, then: Callable[[], None] | None = None) -> None:
        """nats.go Drain: unsubscribe, flush, finish what is in hand, close; then ``then``."""
        self.env.process(draining(self, timeout, then))

    def hold(self, delta: int) -> None:
        """A handler took (+1) or finished (−1) a message (what a drain waits for)."""
        self.busy += delta
        if self.busy == 0 and self.idle is not None and not self.idle.triggered:
            self.idle.succeed()

    # ------------------------------------------------------------------ traffic
    def publish(self, msg: Msg) -> bool:
        """Send a message to the server; False when the reconnect buffer is full."""
        if not self.alive or self.state == "closed":
            self.lost += 1
            return True
        n = msg.nbytes
        server = self.server
        if self.state != "connected" or server is None:
            if self.buffered + n > self.fabric.cfg.client.reconnect_buffer:
                return False
            self.buffer.append((msg, self.env.now))
            self.buffered += n
            return True
        d = float(self.fabric.net.one_way(self.owner.place, server.place, n))  # _one_way
        self.owner.bytes_out += n
        tr = msg.tr
        tr.hop(self.env.now, self.owner.name, server.name, "msg")
        tr.network += d
        tx = self.tx
        if tx is None:  # on the wire for d from now
            self._send(server, msg, d)
        else:  # written by the client library first (one wake-up with what is queued with it);
            self.hold(+1)  # in hand until written: a drain flushes it before it closes
            tx.send(n, tr, partial(self._sent, server, msg, d))
        return True

    def _sent(self, server: BrokerServer, msg: Msg, d: float) -> None:
        self._send(server, msg, d)
        self.hold(-1)

    def _send(self, server: BrokerServer, msg: Msg, d: float) -> None:
        env = self.env
        until = env.now + d
        if until > self.sent_until:
            self.sent_until = until
        if d > 0.0:
            env.schedule(Call(partial(self._to_server, server, msg)), NORMAL, d)  # call_at
        else:  # no time on the wire: the server has it now (a zero-delay hop, called directly)
            self._to_server(server, msg, None)

    def _to_server(self, server: BrokerServer, msg: Msg, _e: Any) -> None:
        if not server.alive or self.registered is not server:
            self.lost += 1
            return
        if self.server_hb is not None:
            self.server_hb.last_in = self.env.now  # activity (nats-server lastIn)
        server.receive(msg, "client")

    def _activity(self) -> None:
        if self.server_hb is not None:
            self.server_hb.activity()

    def take(self, server: BrokerServer, msg: Msg, interest: Interest) -> None:
        """The server writes one message to this connection."""
        if self.registered is not server:
            self.lost += 1
            return
        n = msg.nbytes
        server.settle_writes()  # what is pending now (writes completed by now are not)
        if self.replies is not None and msg.reply is not None:
            self.replies.delivered(msg.reply, self.env.now)  # it may answer this one
        if not self.alive:
            self._take_dead(server, n)
            return
        if self.pending + n > server.cfg.max_pending:
            self._slow(server, "slow_consumer")
            return
        env = self.env
        now = env.now
        free = self.link_free
        done = (free if free > now else now) + n * 8.0 / self.read_bandwidth
        self.link_free = done
        self._pending(server, n, now)  # settled above
        epoch = self.epoch
        rtt = self.fabric.net.rtt(server.place, self.owner.place)
        written = done - now
        arrive = written + rtt / 2
        tr = msg.tr
        tr.hop(now, server.name, self.owner.name, "msg")
        tr.network += arrive
        if arrive == written:  # no propagation delay: written and read at the same instant
            # the two timers would be consecutive entries at one instant: one does both
            if written > 0.0:
                call_at(env, written, partial(self._written_read, server, n, epoch, msg, interest))
            else:  # no time at all (free links): a zero-delay hop, called directly
                self._pending(server, -n, now)  # at the instant settled above
                self._in(msg, interest)
            return
        if written > 0.0:  # released when the server's books are next used (settle_writes)
            heappush(server.writes, (now + written, next(server.write_order), self, n, epoch))
            self.writing_on = server
        else:  # done at once: a timer keeps its place among this instant's events
            call_at(env, written, partial(self._written, server, n, epoch))
        env.schedule(Call(partial(self._in, msg, interest)), NORMAL, arrive)  # call_at

    def _take_dead(self, server: BrokerServer, n: float) -> None:
        """A message for a client that died: a closed socket drops it; a silent one absorbs
        ``socket_buffer`` bytes, then the writes stall until the write deadline."""
        b = server.cfg
        stalled = self.silent and self.absorbed + n > b.socket_buffer
        if stalled and self.pending + n > b.max_pending:
            self._slow(server, "slow_consumer")
            return
        self.lost += 1
        if not self.silent:
            return  # the FIN is on its way; the bytes go nowhere
        if self.absorbed + n <= b.socket_buffer:
            self.absorbed += n
            return
        self._pend(server, n)  # stuck for good: nothing is acknowledged
        if not self.stuck:
            self.stuck = True
            epoch = self.epoch

            def deadline() -> None:
                if self.registered is server and self.epoch == epoch:
                    self._slow(server, "write_deadline")

            at(self.env, b.write_deadline, deadline)

    def _slow(self, server: BrokerServer, reason: str) -> None:
        """The server closes this connection as a slow consumer."""
        server.book.count("server", server.name, "slow_consumers")
        server.book.count("account", self.account, "slow_consumers")
        server.close_client(self, reason)

    def _written(self, server: BrokerServer, n: float, epoch: int, _e: Any) -> None:
        """The last byte of a message left the server: no longer pending there."""
        if self.epoch == epoch:
            self._pend(server, -n)

    def _written_read(
        self, server: BrokerServer, n: float, epoch: int, msg: Msg, interest: Interest, _e: Any
    ) -> None:
        if self.epoch == epoch:
            self._pend(server, -n)
        self._in(msg, interest)

    def _in(self, msg: Msg, interest: Interest, _e: Any = None) -> None:
        """The message reached the client (``_e``: the timer that brought it, unused): its
        library reads it (with whatever else arrived meanwhile), then hands it on."""
        rx = self.rx
        if rx is None:
            self._arrive(msg, interest)
        else:  # in hand from now on: a drain waits for it as for a handler at work
            self.hold(+1)
            rx.send(msg.nbytes, msg.tr, partial(self._read_done, msg, interest))

    def _read_done(self, msg: Msg, interest: Interest) -> None:
        self._arrive(msg, interest)
        self.hold(-1)  # the handler it started (a task, its first step run) has it in hand

    def _pend(self, server: BrokerServer, n: float) -> None:
        """``n`` bytes more (or, negative, fewer) pending on the server from now."""
        self._pending(server, n, self.env.now, True)

    def _pending(self, server: BrokerServer, n: float, now: float, settle: bool = False) -> None:
        """:meth:`_pend` at ``now``; ``settle``: the server's writes completed by now are
        applied first (not needed where they were at this instant, nothing added since)."""
        self.pending += n
        if server.alive:  # server.hold, inlined: this runs twice per message written
            if settle:
                server.settle_writes()
            server.held.add_at(now, n)
            lg = server.ledgers.get(self.account) or server.ledger(self.account)
            (lg.memory or lg.gauge()).add_at(now, n)

    def release_pending(self, server: BrokerServer) -> None:
        """The server dropped this connection: its pending bytes are freed."""
        server.settle_writes()  # the writes completed by now left at their own instants
        if self.pending:
            server.hold(self.account, -self.pending)
        self.pending = 0.0
        self.epoch += 1

    def _arrive(self, msg: Msg, interest: Interest) -> None:
        if not self.alive:
            self.lost += 1
            return
        if interest.role == "inbox":
            waiter = self.waiters.pop(msg.subject, None)
            if waiter is None or waiter.triggered:
                self.late_replies += 1
            else:
                waiter.succeed(msg)
        elif interest.handler is not None:
            interest.handler(msg, interest)
