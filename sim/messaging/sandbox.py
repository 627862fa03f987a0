"""A broker deployment without an application, driven by hand.

For tests, notebooks and teaching: build the servers, routes and gateways of a ``messaging``
section, connect clients where you like, subscribe, publish and send requests, run the clock
and read what arrived where and when::

    box = Sandbox({"broker": {"servers": 3}, "tls": {"version": "none"}})
    a, b = box.client("a", server=0), box.client("b", server=2)
    box.subscribe(b, "orders.*", queue="workers")
    box.run(1.0)
    box.publish(a, "orders.new")
    box.run(2.0)
    box.log  # [(time, "b", "orders.new", sid, reply, payload), ...]

Everything is the same code the simulator runs (:class:`~sim.messaging.cluster.Fabric`,
:class:`~sim.messaging.client.ClientConn`); only the application is missing.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from itertools import count
from typing import Any

import simpy

from sim.core.component import Component
from sim.core.network import Network, Place
from sim.core.placement import Placer
from sim.core.schedule import at
from sim.core.streams import Streams
from sim.core.trace import Trace
from sim.messaging.broker import BrokerServer
from sim.messaging.client import ClientConn
from sim.messaging.cluster import Fabric
from sim.messaging.message import NO_RESPONDERS_STATUS, Interest, Msg
from sim.messaging.topology import ClusterPlan, clusters
from sim.scenario.model import Scenario

Delivery = tuple[float, str, str, int, str | None, Any]  # (t, client, subject, sid, reply, payload)


def _scenario(messaging: Mapping[str, Any], placement: Mapping[str, Any]) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "sandbox",
            "placement": dict(placement),
            "services": {"none": {"instances": 0}},
            "workload": {
                "arrivals": {"kind": "constant", "rate": 1},
                "flows": [{"name": "f", "service": "none", "operation": "op"}],
            },
            "messaging": dict(messaging),
        }
    )


class Sandbox:
    """Servers, routes and gateways of a messaging configuration, and hand-made clients."""

    def __init__(
        self,
        messaging: Mapping[str, Any] | None = None,
        placement: Mapping[str, Any] | None = None,
        seed: int = 1,
    ):
        sc = _scenario(messaging or {}, placement or {})
        self.scenario = sc
        self.env = simpy.Environment()
        self.net = Network(sc.placement.network)
        self.placer = Placer(sc.placement)
        self.plans: list[ClusterPlan] = clusters(sc)
        self.fabric = Fabric(
            self.env, self.net, Streams(seed), self.placer, sc.messaging, self.plans
        )
        self.fabric.start()
        self.log: list[Delivery] = []
        self.clients: dict[str, ClientConn] = {}
        self._cid = count()
        self._sid = count(1)

    @property
    def servers(self) -> list[BrokerServer]:
        """Every server, in the order of the clusters."""
        return list(self.fabric.servers.values())

    def client(
        self,
        name: str,
        server: int | str | None = None,
        account: str = "$G",
        place: Place | None = None,
        connect: bool = True,
    ) -> ClientConn:
        """A client next to a server (own host, that server's zone) that tries it first, then
        the rest of its cluster; with only a ``place``, the server list the ``client.spread``
        policy gives."""
        servers = self.fabric.servers
        if server is None:
            target = next(iter(servers.values()))
        elif isinstance(server, int):
            target = list(servers.values())[server]
        else:
            target = servers[server]
        where = place or Place(target.place.region, target.place.zone, f"host-{name}")
        owner = Component(self.env, "client", name, where)
        pool = [target] + [s for s in self.fabric.clusters[target.cluster] if s is not target]
        if server is None and place is not None:
            pool = self.fabric.pool_for(where)
        conn = ClientConn(self.fabric, owner, name, account, pool, next(self._cid))
        self.clients[name] = conn
        if connect:
            conn.connect()
        return conn

    def subscribe(
        self, conn: ClientConn, subject: str, queue: str | None = None, sid: int | None = None
    ) -> Interest:
        """Subscribe; every message that arrives is logged in ``log``."""
        interest = conn.subscribe(subject, queue, "test", handler=self._record)
        interest.extra["sid"] = sid if sid is not None else next(self._sid)
        return interest

    def unsubscribe(self, conn: ClientConn, interest: Interest) -> None:
        """Remove a subscription (the server learns it one way later)."""
        conn.interests.remove(interest)
        server = conn.registered
        h = conn.handles.pop(interest, None)
        if server is not None and h is not None:
            d = self.net.one_way(conn.owner.place, server.place, 0)
            at(self.env, d, lambda: server.remove_local(interest, h))

    def _record(self, msg: Msg, interest: Interest) -> None:
        sid = interest.extra["sid"]
        self.log.append(
            (self.env.now, interest.conn.name, msg.subject, sid, msg.reply, msg.payload)
        )

    def publish(
        self,
        conn: ClientConn,
        subject: str,
        nbytes: float = 0.0,
        reply: str | None = None,
        payload: Any = None,
    ) -> Msg:
        """Publish a message (fire and forget)."""
        tr = Trace(-1, subject, self.env.now)
        msg = Msg(conn.account, subject, reply, nbytes, tr, 0.0, payload)
        msg.start = self.env.now
        msg.sender = conn
        conn.publish(msg)
        return msg

    def request(
        self, conn: ClientConn, subject: str, timeout: float = 2.0, nbytes: float = 0.0
    ) -> simpy.Process:
        """A request as a process; its value is (status, answer message or None)."""
        return self.env.process(self._request(conn, subject, timeout, nbytes))

    def _request(
        self, conn: ClientConn, subject: str, timeout: float, nbytes: float
    ) -> Generator[Any, Any, tuple[str, Msg | None]]:
        reply = conn.new_reply_subject()
        waiter = conn.expect(reply)
        self.publish(conn, subject, nbytes, reply)
        yield waiter | self.env.timeout(timeout)
        if not waiter.triggered:
            conn.waiters.pop(reply, None)
            return ("timeout", None)
        answer = waiter.value
        assert isinstance(answer, Msg)
        return ("no_responders" if answer.status == NO_RESPONDERS_STATUS else "ok", answer)

    def respond(self, conn: ClientConn, subject: str, queue: str | None = None) -> Interest:
        """A responder that answers every request at once (and logs it)."""

        def answer(msg: Msg, interest: Interest) -> None:
            self._record(msg, interest)
            if msg.reply is not None:
                out = Msg(conn.account, msg.reply, None, 0.0, msg.tr, msg.start, "ok")
                out.sender = conn
                conn.publish(out)

        interest = conn.subscribe(subject, queue, "responder", handler=answer)
        interest.extra["sid"] = next(self._sid)
        return interest

    def run(self, until: float) -> None:
        """Advance the clock to ``until``."""
        self.env.run(until=until)
