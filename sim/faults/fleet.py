"""The fleet: what a fault or a scaling decision does to whichever architecture is running.

:class:`Fleet` is the one place that knows both transports' verbs; the timeline and the
autoscaler speak only to it. Each verb maps onto the architecture's own public methods, so
what happens next (who notices, when, which requests fail) is that architecture's model:

=================  ==========================================  ==========================
verb               HTTP (:mod:`sim.http.transport`)                  messaging
=================  ==========================================  ==========================
add                ``Application.add_instance`` (boot, then     same (boot, then connect
                   readiness probes, catalog, propagation)      and subscribe)
stop, drain        ``stop_instance``: removed at once, serves   ``stop_instance``: nats.go
                   ``orchestrator.drain`` more, then exits      Drain, then close
stop, no drain     ``kill`` + ``orchestrator.stopping``:        ``crash(closed)``: FIN, the
                   removed at once, exits at once               server drops it one way later
crash closed       ``crash(inst, "closed")``                    ``crash(inst, "closed")``
crash silent       ``crash(inst, "hang")`` (readiness probes)   ``crash(inst, "silent")``
node loss          the node's pods and proxies stop answering;  ``crash(inst, "silent")``
                   the node controller marks them not ready
                   after ``grace`` (their kubelet is gone)
gateway replica    stops (closed: refused; silent: hangs);      — (no such process)
                   the L4 balancer's health checks take it
                   out of rotation (:mod:`sim.http.gateway`)
broker server      — (no such process)                          ``kill_server``; restart
=================  ==========================================  ==========================

An instance's state here is ``up``, ``draining``, ``silent`` or ``down``; ``live`` lists the
instances that are up (what an autoscaler or a health check counts). The timeline's one word
``silent`` is the HTTP side's ``hang``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from sim.app.application import Application
from sim.app.service import ServiceInstance

UP, DRAINING, SILENT, DOWN = "up", "draining", "silent", "down"
CLOSED = "closed"


class Fleet:
    """Instances and infrastructure of one run, and the verbs that change them."""

    def __init__(self, app: Application):
        self.app = app
        self.env = app.env
        self.t: Any = app.transport  # HttpTransport or MessagingTransport
        self.arch = str(app.transport.name)
        self.state: dict[ServiceInstance, str] = {}
        self.booting: dict[str, int] = {s: 0 for s in app.sc.services}
        self.on_ready: list[Callable[[ServiceInstance], None]] = []

    # ------------------------------------------------------------------ instances
    def of(self, inst: ServiceInstance) -> str:
        """The instance's state (up unless something here changed it)."""
        return self.state.get(inst, UP)

    def live(self, service: str) -> list[ServiceInstance]:
        """Instances of a service that are up (attached, not stopping, not failed)."""
        return [i for i in self.app.instances[service] if self.of(i) == UP and i.alive]

    def count(self, service: str) -> int:
        """Instances up plus instances booting (the replica count a controller sees)."""
        return len(self.live(service)) + self.booting[service]

    def instance(self, service: str, index: int) -> ServiceInstance | None:
        """The running instance with this index, if any."""
        for i in self.app.instances[service]:
            if i.index == index and self.of(i) == UP and i.alive:
                return i
        return None

    def add(self, service: str, delay: float = 0.0) -> Generator[Any, Any, ServiceInstance]:
        """Start one more instance (a process): ``delay``, boot, attach."""
        self.booting[service] += 1
        try:
            if delay > 0:
                yield self.env.timeout(delay)
            inst = yield from self.app.add_instance(service)
        finally:
            self.booting[service] -= 1
        for f in self.on_ready:
            f(inst)
        return inst

    def stop(self, inst: ServiceInstance, drain: bool) -> None:
        """Stop an instance: gracefully (drain) or at once."""
        if self.of(inst) != UP:
            return
        if drain:
            self.state[inst] = DRAINING
            self.app.stop_instance(inst)
            return
        self.state[inst] = DOWN
        if self.arch == "http":
            self.t.kill(inst)  # SIGTERM without a preStop drain: the process exits now
            self.t.orchestrator.stopping(inst)  # and the endpoint is removed at once
        else:
            self.t.crash(inst, CLOSED)

    def crash(self, inst: ServiceInstance, mode: str) -> None:
        """The instance's process dies (``closed``) or stops answering (``silent``)."""
        if self.of(inst) in (SILENT, DOWN):
            return
        self.state[inst] = DOWN if mode == CLOSED else SILENT
        if self.arch == "http":
            self.t.crash(inst, CLOSED if mode == CLOSED else "hang")
        else:
            self.t.crash(inst, mode)

    def lose(self, insts: list[ServiceInstance], grace: float) -> None:
        """Their node is gone: silent at once; on HTTP, marked not ready after ``grace``."""
        insts = [i for i in insts if self.of(i) not in (SILENT, DOWN)]
        for inst in insts:
            self.state[inst] = SILENT
        if self.arch != "http":
            for inst in insts:
                self.t.crash(inst, "silent")
            return
        t = self.t
        for inst in insts:
            t.wire.hung.add(inst)
            for proxy in (t.sidecars.get(inst), t.ztunnels.get(inst.place.host)):
                if proxy is not None:
                    t.wire.hung.add(proxy)

        def not_ready() -> None:  # the node controller: the node's pods are not ready
            for inst in insts:
                t.orchestrator.stopping(inst)

        self.env.timeout(grace).callbacks.append(lambda _e: not_ready())

    def on_host(self, host: str) -> list[ServiceInstance]:
        """Every instance placed on a host."""
        return [i for insts in self.app.instances.values() for i in insts if i.place.host == host]

    def in_region(self, region: str) -> list[ServiceInstance]:
        """Every instance up in a region."""
        return [
            i
            for insts in self.app.instances.values()
            for i in insts
            if i.place.region == region and self.of(i) == UP and i.alive
        ]

    # ------------------------------------------------------------------ infrastructure
    def gateways(self) -> list[Any]:
        """HTTP gateway replicas (none on messaging)."""
        return list(self.t.gateways.replicas) if self.arch == "http" else []

    def brokers(self) -> list[Any]:
        """Broker servers in list order (none on HTTP)."""
        return list(self.t.fabric.servers.values()) if self.arch == "messaging" else []

    def stop_gateway(self, gw: Any, mode: str) -> None:
        """A gateway replica stops: refuses (closed) or never answers (silent). The L4
        balancer keeps sending to it until its health checks fail (``http.gateway.
        health_check``: unhealthy_threshold probes in a row, :mod:`sim.http.gateway`)."""
        if mode == CLOSED:
            gw.alive = False
            self.t.wire.kill(gw)
        else:
            self.t.wire.hung.add(gw)

    def start_gateway(self, gw: Any) -> None:
        """The replica runs again; the L4 balancer sends to it again once it has passed
        healthy_threshold probes in a row (at once if it never left the rotation)."""
        gw.alive = True
        self.t.wire.hung.discard(gw)

    def stop_broker(self, server: Any, mode: str) -> None:
        """A broker server dies (closed) or its host vanishes (silent)."""
        self.t.kill_server(server.name, mode)

    def start_broker(self, server: Any) -> None:
        """A stopped broker server starts again; routes, gateways and clients come back."""
        self.t.restart_server(server.name)
