"""The fleet: what a fault or a scaling decision does to whichever architecture is running.

:class:`Fleet` keeps the instances' states for the timeline and the autoscaler, and speaks to
the architecture only through the Transport's fault verbs (:mod:`sim.app.transport`), so
what happens next (who notices, when, which requests fail) is that architecture's model and
a new architecture needs no change here:

=================  ==========================================  ==========================
verb               HTTP (:mod:`sim.http.transport`)             messaging
=================  ==========================================  ==========================
add                ``Application.add_instance`` (boot, then     same (boot, then connect
                   readiness probes, catalog, propagation)      and subscribe)
stop, drain        ``Application.stop_instance``: removed at    nats.go Drain, then close
                   once, serves ``orchestrator.drain`` more
stop, no drain     ``stop``: exits and is removed at once       ``stop``: FIN, the server
                                                                drops it one way later
crash closed       ``crash(inst, "closed")``                    ``crash(inst, "closed")``
crash silent       ``crash(inst, "silent")`` (readiness         ``crash(inst, "silent")``
                   probes)
node loss          ``lose``: the node's pods and proxies stop   ``lose``: each stops
                   answering; not ready after ``grace``         (silent)
infrastructure     ``infrastructure("gateway")``: replicas      ``infrastructure("broker")``:
                   (closed: refused; silent: hangs), taken out  servers, killed and
                   by the L4 balancer's health checks           restarted
=================  ==========================================  ==========================

An instance's state here is ``up``, ``draining``, ``silent`` or ``down``; ``live`` lists the
instances that are up (what an autoscaler or a health check counts).
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
        self.t = app.transport
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
        self.t.stop(inst)

    def crash(self, inst: ServiceInstance, mode: str) -> None:
        """The instance's process dies (``closed``) or stops answering (``silent``)."""
        if self.of(inst) in (SILENT, DOWN):
            return
        self.state[inst] = DOWN if mode == CLOSED else SILENT
        self.t.crash(inst, mode)

    def lose(self, insts: list[ServiceInstance], grace: float) -> None:
        """Their node is gone: silent at once (what else follows is the architecture's)."""
        insts = [i for i in insts if self.of(i) not in (SILENT, DOWN)]
        for inst in insts:
            self.state[inst] = SILENT
        self.t.lose(insts, grace)

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
    def infrastructure(self, kind: str) -> list[Any]:
        """The processes of ``kind`` (``gateway``, ``broker``) this architecture runs, in
        list order (none when it has no such process)."""
        return self.t.infrastructure(kind)

    def stop_infrastructure(self, proc: Any, mode: str) -> None:
        """One of them stops: refuses or closes (closed) or never answers (silent)."""
        self.t.stop_infrastructure(proc, mode)

    def start_infrastructure(self, proc: Any) -> None:
        """It runs again (and the architecture finds it again its own way)."""
        self.t.start_infrastructure(proc)
