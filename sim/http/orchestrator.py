"""The orchestrator's side of instance lifecycles: readiness, removal, draining.

Instances present at the start are ready and known everywhere at time 0 (a steady state).
Afterwards the timings are Kubernetes' (defaults from ``k8s SetDefaults_Probe``):

* **Start** — the container starts at ``launched_at``; the application answers once it has
  booted (the transport is told at that moment). The kubelet probes at
  ``launched_at + initial_delay + k × period`` (k = 0, 1, …); a probe succeeds once the
  application answers, and the instance is *ready* after ``success_threshold`` successes
  in a row. Then the catalog adds it (after ``update_delay``: kubelet status update,
  EndpointSlice controller, API server write) and propagation starts.
* **Graceful stop** — the endpoint is removed at once (terminating endpoints are not
  ready) and keeps serving for ``drain`` seconds (a preStop sleep) before the process exits.
* **Crash, closed socket** — the process is gone at once (connections reset, new ones
  refused); the kubelet notices the exit within ``exit_detection`` (PLEG relist, 1 s) and
  the catalog removes it after ``update_delay``.
* **Hang** — the process accepts connections and never answers. The next probe fails after
  ``timeout``, and after ``failure_threshold`` failed probes in a row (one ``period``
  apart) the endpoint is removed: ≈ period × threshold (scenarios/SOURCES.md: "hung process
  ≈30 s").

Every step is logged: ``(t, "ready" | "removed" | "exit", instance, service)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.http.discovery import Catalog, LogRow
from sim.scenario.http import Orchestrator as OrchestratorConfig

if TYPE_CHECKING:
    from sim.app.service import ServiceInstance

EPS = 1e-9


class Orchestrator:
    """Turns instance starts and stops into catalog changes at the right times."""

    def __init__(
        self,
        env: Any,
        cfg: OrchestratorConfig,
        catalog: Catalog,
        update_delay: float,
        log: list[LogRow],
        on_ready: Callable[[ServiceInstance], None],
        on_exit: Callable[[ServiceInstance], None],
    ):
        self.env = env
        self.cfg = cfg
        self.catalog = catalog
        self.update_delay = update_delay
        self.log = log
        self.on_ready = on_ready
        self.on_exit = on_exit
        self.stopped: set[int] = set()  # instances told to stop (ids): never ready again

    def _at(self, delay: float, fn: Callable[[], None]) -> None:
        if delay <= 0:
            fn()
            return
        self.env.timeout(delay).callbacks.append(lambda _e: fn())

    def ready_time(self, launched_at: float, answering_at: float) -> float:
        """When the kubelet declares an instance ready (probe grid from its launch)."""
        r = self.cfg.readiness
        first = launched_at + r.initial_delay
        k = max(0, math.ceil((answering_at - first) / r.period - EPS))
        return first + k * r.period + (r.success_threshold - 1) * r.period

    def started(self, inst: ServiceInstance) -> None:
        """A new instance answers from now on: probe it, then add it to the catalog."""
        now = self.env.now
        ready = self.ready_time(min(inst.launched_at, now), now)

        def become_ready() -> None:
            if not inst.alive or id(inst) in self.stopped:
                return
            self.log.append((self.env.now, "ready", inst.name, inst.service))
            self.on_ready(inst)
            self._at(self.update_delay, lambda: self.catalog.add(inst))

        self._at(ready - now, become_ready)

    def stopping(self, inst: ServiceInstance) -> None:
        """Graceful stop: not ready at once, serving for ``drain``, then the process exits."""
        self.stopped.add(id(inst))
        self._remove(inst, 0.0)

        def exit_() -> None:
            if inst.alive:
                self.log.append((self.env.now, "exit", inst.name, inst.service))
                self.on_exit(inst)

        self._at(self.cfg.drain, exit_)

    def crashed(self, inst: ServiceInstance) -> None:
        """The process is gone (sockets closed): noticed within ``exit_detection``."""
        self.stopped.add(id(inst))
        self.log.append((self.env.now, "exit", inst.name, inst.service))
        self._remove(inst, self.cfg.exit_detection)

    def hung(self, inst: ServiceInstance) -> None:
        """The process stopped answering: removed after failure_threshold failed probes."""
        r = self.cfg.readiness
        now = self.env.now
        first = inst.launched_at + r.initial_delay
        k = max(0, math.ceil((now - first) / r.period - EPS))
        next_probe = first + k * r.period
        declared = next_probe + (r.failure_threshold - 1) * r.period + r.timeout
        self._remove(inst, declared - now)

    def _remove(self, inst: ServiceInstance, detect: float) -> None:
        def removed() -> None:
            self.log.append((self.env.now, "removed", inst.name, inst.service))
            self._at(self.update_delay, lambda: self.catalog.remove(inst))

        self._at(detect, removed)
