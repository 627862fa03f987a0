"""Where the edge clients' NATS connections go, by ``messaging.ingress.kind``.

``none`` and ``http-bridge`` connect to the cluster's client port (the bridge's replicas are
the clients there, :mod:`sim.messaging.bridge`); ``websocket`` connects to the same servers'
websocket listener (:mod:`sim.messaging.websocket`); ``leafnode`` connects to leaf node
servers at the edge (:mod:`sim.messaging.leafnode`). A :class:`Door` is what the transport
needs of the last two: a connection for an edge client, and the processes they add.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sim.core.component import Component
from sim.messaging.broker import BrokerServer
from sim.messaging.client import ClientConn
from sim.messaging.cluster import Fabric
from sim.messaging.leafnode import LeafTier
from sim.messaging.websocket import Listener
from sim.scenario.messaging import MessagingSettings

if TYPE_CHECKING:
    from sim.app.application import Application


class Door(Protocol):
    """Where edge clients connect instead of the cluster's client port."""

    def connect(self, owner: Component, name: str, account: str, cid: int) -> ClientConn:
        """A new edge connection (call its ``connect`` to dial)."""
        ...

    def components(self) -> list[Component]:
        """Processes it adds (counted as infrastructure)."""
        ...

    def servers(self) -> list[BrokerServer]:
        """nats-servers it adds (their books and samples are reported as the cluster's)."""
        ...


def door(fabric: Fabric, app: Application, cfg: MessagingSettings) -> Door | None:
    """The edge's door for ``cfg.ingress.kind`` (None: the cluster's client port)."""
    kind = cfg.ingress.kind
    if kind == "websocket":
        return Listener(fabric, cfg.ingress.websocket, cfg.tls)
    if kind == "leafnode":
        return LeafTier(fabric, app.placer, cfg)
    return None
