"""Failure detection: ping timers on every connection, and what a crash looks like.

A :class:`Heartbeat` is one side's ping timer on one connection, exactly as the two code
bases run it:

* nats-server ``client.go`` processPingTimer: every ``ping_interval`` (capped at 30 s for
  routes, ``route.go`` defaultRouteMaxPingInterval, and 15 s for gateways, ``gateway.go``
  gwMaxPingInterval) the server checks the connection. For a client it skips the check when it
  heard a message, a subscription or a PING from it within the interval (``lastIn``; a PONG
  does not count) unless it still needs an RTT sample; routes and gateways always ping. If
  ``pings_out + 1 > max_pings_out`` the connection is stale and closed, else it sends a PING.
  The first tick comes early: ``min(interval, 2 s)`` for clients and ``1 s`` for routes and
  gateways (``server.go`` firstClientPingInterval, firstPingInterval), plus a random 0–20 %
  (setFirstPingTimer).
* nats.go processPingTimer: every ``PingInterval`` from connect, ``pout++``; over
  ``MaxPingsOut`` the connection is stale and the client reconnects.

A PONG resets the count. So a peer that stops answering is declared dead on the
``max_pings_out + 1``-th tick after the first ping it cannot answer: an idle client at most
``ping_interval × (max_pings_out + 1)`` after it fell silent (≈6 min with the defaults); a client that was sending until it died delays the server's first ping by up to
one more interval (``lastIn``). A closed socket is seen as soon as the FIN or RST arrives
(one-way delay). Every PING and PONG also costs the broker a parse and a write.

``mode`` of a crash: ``closed`` (the process died, the kernel closed its sockets) or ``silent``
(the host hung or vanished: nothing is sent, nothing is acknowledged).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.core.schedule import at

if TYPE_CHECKING:
    from sim.messaging.broker import BrokerServer
    from sim.messaging.client import ClientConn

CLOSED = "closed"
SILENT = "silent"
MODES = (CLOSED, SILENT)


class Heartbeat:
    """One side's PING timer on one connection."""

    __slots__ = (
        "_on_answer",
        "_on_ping",
        "_on_pong",
        "_on_stale",
        "_peer_alive",
        "delay_on_activity",
        "env",
        "interval",
        "last_in",
        "max_out",
        "out",
        "pings",
        "rtt",
        "rtt_known",
        "stale_at",
        "stopped",
        "ticks",
    )

    def __init__(
        self,
        env: Any,
        interval: float,
        max_out: int,
        first: float,
        rtt: Callable[[], float],
        peer_alive: Callable[[], bool],
        on_stale: Callable[[], None],
        on_answer: Callable[[], None] | None = None,
        delay_on_activity: bool = False,
        on_ping: Callable[[], None] | None = None,
        on_pong: Callable[[], None] | None = None,
    ):
        self.env = env
        self.interval = interval
        self.max_out = max_out
        self.rtt = rtt  # read at each ping: link trouble (sim.faults) can change it
        self._peer_alive = peer_alive
        self._on_stale = on_stale
        self._on_answer = on_answer  # the peer gets the PING and answers (its costs)
        self._on_ping = on_ping  # this side writes a PING
        self._on_pong = on_pong  # this side reads the PONG
        self.delay_on_activity = delay_on_activity
        self.out = 0
        self.last_in = -math.inf
        self.rtt_known = False
        self.stopped = False
        self.stale_at: float | None = None
        self.pings = 0
        self.ticks: list[float] = []  # times of the ticks (exact traces in tests)
        at(env, first, self._tick)

    def activity(self) -> None:
        """The peer sent a message, a subscription or a PING (nats-server ``lastIn``)."""
        self.last_in = self.env.now

    def stop(self) -> None:
        self.stopped = True

    def _tick(self) -> None:
        if self.stopped:
            return
        now = self.env.now
        self.ticks.append(now)
        idle = now - self.last_in >= self.interval
        if not self.delay_on_activity or idle or not self.rtt_known:
            if self.out + 1 > self.max_out:
                self.stopped = True
                self.stale_at = now
                self._on_stale()
                return
            self.out += 1
            self.pings += 1
            if self._on_ping is not None:
                self._on_ping()
            at(self.env, self.rtt() / 2, self._ping_arrives)
        at(self.env, self.interval, self._tick)

    def _ping_arrives(self) -> None:
        if self.stopped or not self._peer_alive():
            return
        if self._on_answer is not None:
            self._on_answer()
        at(self.env, self.rtt() / 2, self._pong)

    def _pong(self) -> None:
        if not self.stopped:
            self.out = 0
            self.rtt_known = True
            if self._on_pong is not None:
                self._on_pong()


def first_tick(interval: float, cap: float, u: float) -> float:
    """The first timer delay: min(interval, cap) plus u × 20 % of it (``setFirstPingTimer``)."""
    d = min(interval, cap)
    return d + u * d / 5


def server_pings(conn: ClientConn, server: BrokerServer) -> Heartbeat:
    """The server's ping timer on a client connection (delayed by the client's activity)."""
    b = server.cfg
    acc = conn.account
    hb = Heartbeat(
        conn.env,
        b.ping_interval,
        b.max_pings_out,
        first_tick(b.ping_interval, b.first_ping, conn.fabric.jitter()),
        lambda: conn.fabric.net.rtt(conn.owner.place, server.place),
        peer_alive=lambda: conn.alive and not conn.silent and conn.registered is server,
        on_stale=lambda: server.close_client(conn, "stale"),
        delay_on_activity=True,
        on_ping=lambda: server.protocol(acc, parse=False),
        on_pong=lambda: server.protocol(acc, write=False),
    )
    hb.activity()  # the CONNECT and SUBs just arrived
    return hb


def client_pings(conn: ClientConn, server: BrokerServer) -> Heartbeat:
    """The client's own ping timer on its connection (nats.go, every PingInterval)."""
    c = conn.fabric.cfg.client
    net = conn.fabric.net

    def answer() -> None:  # the server reads the PING (activity for its timer), writes a PONG
        if conn.server_hb is not None and conn.registered is server:
            conn.server_hb.activity()
        server.protocol(conn.account)

    return Heartbeat(
        conn.env,
        c.ping_interval,
        c.max_pings_out,
        c.ping_interval,
        lambda: net.rtt(conn.owner.place, server.place),
        peer_alive=lambda: server.alive and conn.registered is server,
        on_stale=lambda: conn.disconnected(server),
        on_answer=answer,
    )
