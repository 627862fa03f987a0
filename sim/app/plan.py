"""Request plans: every random choice of one logical request, drawn when it arrives.

When an order arrives, the whole tree of work it will cause is drawn at once: the CPU
demand of each operation it reaches and which probabilistic calls and events happen. Each
(service, operation) draws from its own named stream in arrival order, so both
architectures give request *k* exactly the same work (common random numbers, Law §11.2),
even though requests overtake each other differently inside them. Event handlers draw
their demand from their own streams when they run (the same values, possibly in another
order between architectures).

A plan drawn on one architecture only — on messaging, a service that answers another
service's subject with a differently shaped operation draws its own — comes from a planner of
its own (:meth:`Planner.extra`, streams prefixed ``extra/``), so it never shifts the streams
both architectures share.
"""

from __future__ import annotations

from typing import Any

from sim.app.transport import Plan
from sim.core.distributions import Sampler, Uniforms
from sim.core.streams import Streams
from sim.scenario.model import Scenario


class Planner:
    """Draws plans for operations of a scenario's services."""

    def __init__(self, sc: Scenario, streams: Streams, prefix: str = ""):
        self.sc = sc
        self._streams = streams
        self._prefix = prefix
        self._extra: Planner | None = None
        # per operation, found with one lookup per plan: its calls, its events, the demand
        # sampler and the branch draws
        self._ops: dict[tuple[str, str], tuple[Any, Any, Sampler, Uniforms]] = {}
        self._event_demand: dict[tuple[str, str], Sampler] = {}
        for sname, svc in sc.services.items():
            for oname, op in svc.operations.items():
                key = (sname, oname)
                self._ops[key] = (
                    op.calls,
                    op.emits,
                    Sampler(op.demand, streams.get(f"{prefix}demand/{sname}/{oname}")),
                    Uniforms(streams.get(f"{prefix}route/{sname}/{oname}")),
                )
                self._event_demand[key] = Sampler(
                    op.demand, streams.get(f"{prefix}event-demand/{sname}/{oname}")
                )

    def plan(self, service: str, operation: str) -> Plan:
        """The demand, sub-plans (None: call not made) and event flags of one request."""
        calls, emits, demand, branch = self._ops[(service, operation)]
        work = demand()
        children = (
            tuple(
                self.plan(c.service, c.operation)
                if c.probability >= 1.0 or branch() < c.probability
                else None
                for c in calls
            )
            if calls
            else ()
        )
        flags = (
            tuple(e.probability >= 1.0 or branch() < e.probability for e in emits) if emits else ()
        )
        return (work, children, flags)

    def extra(self) -> Planner:
        """Plans that only one architecture draws, on streams of their own (made on first use),
        so that common random numbers hold for every request both architectures draw."""
        if self._extra is None:
            self._extra = Planner(self.sc, self._streams, "extra/")
        return self._extra

    def event_demand(self, service: str, operation: str) -> float:
        """CPU demand of one event handled by service.operation."""
        return self._event_demand[(service, operation)]()
