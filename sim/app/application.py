"""The application: service instances, the edge clients and the workload, over a Transport.

The application is the same object on both architectures; only ``transport`` differs.
Observers (who hears which subject) are resolved once, before the run, by the caller that
owns the subject rules (:mod:`sim.api`), and handed in as plain data.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from sim.app.names import Observer, request_subject  # noqa: F401  (re-exported)
from sim.app.plan import Planner
from sim.app.platform import control_plane
from sim.app.service import ServiceInstance
from sim.app.transport import Transport
from sim.app.workload import Workload
from sim.core.component import Component
from sim.core.network import Network
from sim.core.placement import Placer
from sim.core.recorder import Recorder
from sim.core.schedule import Task
from sim.core.streams import Streams
from sim.core.trace import Trace
from sim.scenario.model import Flow, Scenario


class Application:
    """Everything architecture-neutral about one run."""

    def __init__(
        self,
        env: Any,
        sc: Scenario,
        streams: Streams,
        net: Network,
        placer: Placer,
        recorder: Recorder,
        observers: Mapping[str, tuple[Observer, ...]],
    ):
        self.env = env
        self.sc = sc
        self.streams = streams
        self.net = net
        self.placer = placer
        self.recorder = recorder
        self.observers = observers
        self.planner = Planner(sc, streams)
        self.transport: Transport = None  # type: ignore[assignment]  # set by the runner
        self.instances: dict[str, list[ServiceInstance]] = {s: [] for s in sc.services}
        self.clients = Component(
            env, "client", "clients", placer.clients(), cores=sc.workload.clients
        )
        self.workload = Workload(self, sc.workload)
        # the orchestrator's control plane: the same infrastructure on both architectures
        self.platform = control_plane(env, placer, sc.platform)
        self._next_id = 0
        self._event_id = 0
        self._flows: dict[str, str] = {}  # event flow labels, interned (event_trace)
        self._next_index: dict[str, int] = {}  # for add_instance, per service

    def start(self) -> None:
        """Start the infrastructure, every instance, then the load."""
        self.transport.start()
        for name, svc in self.sc.services.items():
            for i in range(svc.instances):
                self.start_instance(name, i)
        self.workload.start()

    def start_instance(
        self, service: str, index: int, launched_at: float | None = None
    ) -> ServiceInstance:
        cfg = self.sc.services[service]
        inst = ServiceInstance(
            self, service, index, cfg, self.placer.instance(service, index, cfg.region)
        )
        if launched_at is not None:
            inst.launched_at = launched_at
        self.instances[service].append(inst)
        self.transport.attach(inst)
        return inst

    def add_instance(self, service: str) -> Generator[Any, Any, ServiceInstance]:
        """Start one more instance (a process): it boots for ``startup``, then attaches."""
        t0 = self.env.now
        index = self._next_index.get(service, self.sc.services[service].instances)
        self._next_index[service] = index + 1
        yield self.env.timeout(self.sc.services[service].startup)
        return self.start_instance(service, index, launched_at=t0)

    def stop_instance(self, inst: ServiceInstance, crash: bool = False) -> None:
        """Stop an instance: gracefully (the transport drains it) or by a crash."""
        if crash:
            inst.alive = False
        self.transport.detach(inst)

    def launch(self, flow: Flow) -> None:
        """An open arrival: one logical request on its own process."""
        Task(self.env, self.client_request(flow), inline=True)

    def client_request(self, flow: Flow, client: int | None = None) -> Generator[Any, Any, None]:
        """One logical request from the edge, recorded when its reply arrives."""
        rid = self._next_id
        self._next_id += 1
        rec = self.recorder
        tr = Trace(rid, flow.name, self.env.now, rid in rec.trace_ids)
        rec.begin()
        plan = self.planner.plan(flow.service, flow.operation)
        clients = self.clients
        if clients.io is not None:  # its own timer woke it to send: the clock starts after
            clients.io.cpu.awake()  # that wait (Cpu.awake), its reply's read waits to wake
        status = yield from self.transport.request(
            tr, self.clients, flow.service, flow.operation, plan
        )
        rec.end(tr, self.env.now, status)

    def event_trace(self, flow: str, start: float) -> Trace:
        """A trace for one event delivery (its own row, not part of any request's latency).

        The flow label is interned: one string per distinct flow for every row that keeps it,
        not one per delivery (the callers format it anew each time)."""
        self._event_id += 1
        return Trace(self._event_id, self._flows.setdefault(flow, flow), start)

    def components(self) -> list[Component]:
        out: list[Component] = [*self.platform, self.clients]
        for insts in self.instances.values():
            out.extend(insts)
        return out
