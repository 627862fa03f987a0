"""A graceful stop: nats.go ``Drain`` on one client connection.

Every subscription but the inbox is unsubscribed (the server drops each one way later); a
flush (PING/PONG, one round trip) makes sure that whatever the server routed before the
UNSUBs has arrived; the messages in hand are processed, for at most ``drain_timeout``
(nats.go DefaultDrainTimeout 30 s); then the connection closes. Meanwhile the client still
publishes (its replies) and its own requests still get their answers on the inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from simpy import Event

from sim.core.io import pass_through
from sim.core.schedule import at
from sim.messaging.message import Interest
from sim.messaging.subjects import Subscription

if TYPE_CHECKING:
    from sim.messaging.client import ClientConn


def flushed(conn: ClientConn, server: Any) -> Event:
    """An event that fires when a PING sent now has been answered: the PONG is written after
    every message the server queued for this connection before the PING arrived, and read by
    the client after them (nats.go Flush; both ends move messages through their I/O,
    sim.core.io, in order)."""
    env = conn.env
    done = Event(env)
    one_way = conn.fabric.net.one_way(conn.owner.place, server.place, 0.0)

    def at_client() -> None:
        pass_through(conn.rx, 0.0, None, done.succeed)

    def written() -> None:
        start = max(env.now, conn.link_free)  # behind the bytes already on the link
        at(env, start - env.now + one_way, at_client)

    def at_server() -> None:
        if not server.alive or conn.registered is not server:
            done.succeed()  # nothing more will come from it
            return
        pass_through(server._out(conn), 0.0, None, written, conn.account)  # type: ignore[union-attr]

    at(env, one_way, at_server)
    return done


def draining(
    conn: ClientConn, timeout: float, then: Callable[[], None] | None
) -> Generator[Any, Any, None]:
    """The drain of one connection (a process); ``then`` is called once it is closed."""
    env = conn.env
    server = conn.registered
    conn.draining = True
    for interest in [i for i in conn.interests if i is not conn.inbox_interest]:
        conn.interests.remove(interest)
        h = conn.handles.pop(interest, None)
        if server is not None and h is not None:

            def unsub(i: Interest = interest, h: Subscription = h) -> None:
                if server.alive and conn.registered is server:
                    server.remove_local(i, h)

            at(env, conn.fabric.net.one_way(conn.owner.place, server.place, 0.0), unsub)
    if server is not None:  # the flush: a PING that the server answers after what it queued
        yield flushed(conn, server) | env.timeout(timeout)
    deadline = env.now + timeout
    while conn.busy and env.now < deadline:  # a handler's last write may follow its end
        conn.idle = Event(env)
        yield conn.idle | env.timeout(deadline - env.now)
        conn.idle = None
    if conn.state != "closed":
        conn.close()
    if then is not None:
        then()
