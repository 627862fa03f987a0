"""A service instance: cores where requests queue, then calls, then events.

``serve`` is the whole application logic of one operation: its CPU demand (FIFO on the
instance's cores), its synchronous calls in order (each awaited through the transport),
then its events (published, not awaited). A failed call fails the operation. The core is
not held while waiting for a downstream reply (threads block, cores do not), which makes a
chain of calls a tandem queueing network.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.app.transport import OK, Plan
from sim.core.component import Component
from sim.core.network import Place
from sim.core.trace import Trace
from sim.scenario.model import Service

if TYPE_CHECKING:
    from sim.app.application import Application


class ServiceInstance(Component):
    """One running instance of a service."""

    def __init__(self, app: Application, service: str, index: int, cfg: Service, place: Place):
        super().__init__(
            app.env,
            "service",
            f"{service}-{index}",
            place,
            cores=cfg.cores,
            memory=cfg.memory,
            service=service,
        )
        self.app = app
        self.index = index
        self.cfg = cfg
        self.alive = True
        self.launched_at = app.env.now  # when its container started (set by add_instance)

    def serve(self, tr: Trace, operation: str, plan: Plan) -> Generator[Any, Any, str]:
        """Run one operation for a request and return its status."""
        env = self.env
        self.handled += 1
        demand, children, emits = plan
        op = self.cfg.operations[operation]
        if demand > 0:
            assert self.cpu is not None
            t0 = env.now
            yield self.cpu.execute(demand)
            tr.cpu += demand
            tr.queueing += env.now - t0 - demand
        # a traced request also gets marks of this instance's own work (self-hops, which
        # sequence diagrams leave out): when a core took it up (FIFO, not preempted: now minus
        # the demand), each call it awaited, each event it published and when it returned;
        # the span export (sim.interop.otlp) turns them into server, client and producer spans
        hops = tr.hops
        me = self.name
        if hops is not None:
            hops.append((env.now - demand, me, me, f"work:{operation}"))
        transport = self.app.transport
        for call, child in zip(op.calls, children, strict=True):
            if child is None:
                continue
            if hops is not None:
                hops.append((env.now, me, me, f"call:{call.service}/{call.operation}"))
            status = yield from transport.request(
                tr, self, call.service, call.operation, child, call.instance
            )
            if hops is not None:
                hops.append((env.now, me, me, f"return:{status}"))
            if status != OK:
                if hops is not None:
                    hops.append((env.now, me, me, f"done:{status}"))
                return status
        for emit, go in zip(op.emits, emits, strict=True):
            if go:
                if hops is not None:
                    hops.append((env.now, me, me, f"publish:{emit.subject}"))
                transport.publish(self, emit.subject, emit.bytes)
        if hops is not None:
            hops.append((env.now, me, me, f"done:{OK}"))
        return OK

    def on_event(self, tr: Trace, operation: str) -> Generator[Any, Any, str]:
        """Handle one delivered event (or mirrored request copy): CPU work only."""
        env = self.env
        self.handled += 1
        demand = self.app.planner.event_demand(self.service, operation)
        if demand > 0:
            assert self.cpu is not None
            t0 = env.now
            yield self.cpu.execute(demand)
            tr.cpu += demand
            tr.queueing += env.now - t0 - demand
        return OK
