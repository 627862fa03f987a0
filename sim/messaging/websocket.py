"""The broker's websocket listener: how browsers reach NATS with ``ingress.kind: websocket``.

Each edge client holds one websocket connection to a broker server (nats-server's
``websocket {}`` listener, ``server/websocket.go``), and otherwise behaves as a client on the
plain port does (:class:`~sim.messaging.client.ClientConn`: long-lived, pings, reconnects,
one inbox). What differs, as websocket.go does it:

* **opening** (wsUpgrade, createWSClient): after TCP and TLS the client sends an HTTP/1.1
  ``GET`` with ``Upgrade: websocket`` and the server answers ``101 Switching Protocols``
  (one more round trip, and ``upgrade_cpu`` on the server's cores while the client waits);
  then INFO/CONNECT as on the client port. The listener requires TLS unless ``no_tls``
  (validateWebsocketOptions) and browsers present no client certificate: its TLS is
  ``messaging.tls`` with ``mutual: false``;
* **every message** the server reads from such a connection comes in a masked frame that it
  unmasks (wsReadLoop, ``wsReadInfo.unmask``), and what it writes goes out framed
  (wsCollapsePtoNB): ``per_message`` and ``per_byte`` more CPU on the server, in the same
  wake-up as the read or write itself (:class:`FramedIo`).

The client side's framing (the browser masking its frames) is on the edge clients, which
are not infrastructure on either side: not modelled. Per-message compression is off by
default in nats-server (``compression: false``) and not modelled.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.core.component import Component
from sim.core.connections import tls_active
from sim.core.io import Channel, Io
from sim.messaging.client import ClientConn
from sim.scenario.common import Tls
from sim.scenario.messaging import Websocket

if TYPE_CHECKING:
    from sim.messaging.broker import BrokerServer
    from sim.messaging.cluster import Fabric
    from sim.messaging.observe import Tally


class FramedIo(Io):
    """A server's :class:`~sim.core.io.Io` as its websocket connections use it: the same
    cores, books and cold wake-ups, plus the framing per message and per byte, booked to the
    server's ``websocket_seconds``."""

    __slots__ = ("extra_byte", "extra_message", "inner", "tally")

    def __init__(self, inner: Io, cfg: Websocket, tally: Tally):  # no Io.__init__: it delegates
        self.inner = inner
        self.cpu = inner.cpu
        self.on_share = inner.on_share
        self.cold_latency = inner.cold_latency  # the wait of a wake-up from idle (sim.core.io)
        self.cold_latency_after = inner.cold_latency_after
        self.cold_latency_full_after = inner.cold_latency_full_after
        self.ramp = inner.ramp
        self.idle_latency = inner.idle_latency
        self.extra_message = cfg.per_message
        self.extra_byte = cfg.per_byte
        self.tally = tally

    def cost(self, messages: int, nbytes: float, tls: bool, idle: float) -> tuple[float, float]:
        work, cold = self.inner.cost(messages, nbytes, tls, idle)
        extra = messages * self.extra_message + nbytes * self.extra_byte
        self.inner.seconds += extra
        self.tally.value += extra
        return work + extra, cold


class WsConn(ClientConn):
    """An edge client's websocket connection to a broker server."""

    def __init__(
        self,
        listener: Listener,
        owner: Component,
        name: str,
        account: str,
        pool: list[BrokerServer],
        cid: int,
    ):
        super().__init__(listener.fabric, owner, name, account, pool, cid)
        self.listener = listener
        self.tls = listener.tls
        io, secure = owner.io, tls_active(self.tls)
        self.rx = io.channel(secure) if io is not None else None
        self.tx = io.channel(secure, write=True) if io is not None else None

    def opened(self, server: BrokerServer) -> Generator[Any, Any, None]:
        """The HTTP upgrade: GET out, the server's work, 101 back."""
        env = self.env
        server.book.count("server", server.name, "websocket_upgrades")
        rtt = self.fabric.net.rtt(self.owner.place, server.place)
        yield env.timeout(rtt / 2)
        work = self.listener.cfg.upgrade_cpu
        if work > 0 and server.cpu is not None and server.alive:
            yield server.cpu.execute(work)
            server.book.count("account", self.account, "cpu_seconds", work)
        yield env.timeout(rtt / 2)

    def attach_to(self, server: BrokerServer) -> None:
        """Held open by ``server``: its reads and writes on this connection are framed."""
        super().attach_to(server)
        framed = self.listener.framed(server)
        if framed is not None:
            secure = tls_active(self.tls)
            server.rx[self] = Channel(framed, secure)
            server.tx[self] = Channel(framed, secure)


class Listener:
    """The websocket listener of every broker server: its settings and TLS."""

    def __init__(self, fabric: Fabric, cfg: Websocket, tls: Tls):
        self.fabric, self.cfg = fabric, cfg
        self.tls = tls.model_copy(update={"mutual": False})  # browsers: server-authenticated
        self._framed: dict[BrokerServer, FramedIo | None] = {}

    def framed(self, server: BrokerServer) -> FramedIo | None:
        """The server's framing I/O (None when moving messages is free there)."""
        if server not in self._framed:
            io = server.io
            self._framed[server] = (
                None
                if io is None
                else FramedIo(
                    io, self.cfg, server.book.tally("server", server.name, "websocket_seconds")
                )
            )
        return self._framed[server]

    def connect(self, owner: Component, name: str, account: str, cid: int) -> WsConn:
        """A new edge connection to the listener of a server of the client's cluster."""
        fabric = self.fabric
        return WsConn(self, owner, name, account, fabric.pool_for(owner.place), cid)

    def components(self) -> list[Component]:
        """None: the listener is part of each broker server."""
        return []

    def servers(self) -> list[BrokerServer]:
        return []
