"""The orchestrator's control plane as infrastructure of both architectures.

With ``platform.kind: kubernetes`` each control-plane node is one component of kind
``platform`` on a node of its own, with the same memory and the same background CPU on both
sides: every ``TICK`` its cores do ``platform.cpu × TICK`` seconds of work nobody waits for
(:meth:`sim.core.cpu.Cpu.background`). The HTTP side's discovery work on top of it (the
catalog's watch events, DNS) is its own component (:mod:`sim.http.discovery`), because that is
the part the architectures do not share. The ticks draw no random numbers and touch no
request, so with every overhead zeroed both architectures still give identical results.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sim.core.component import Component
from sim.core.placement import Placer
from sim.scenario.platform import Platform

TICK = 1.0  # seconds between two bookings of the idle control plane's work


class ControlPlaneNode(Component):
    """One node of the orchestrator's control plane (kube-apiserver, etcd, controllers)."""

    def __init__(self, env: Any, placer: Placer, cfg: Platform, index: int):
        super().__init__(
            env,
            "platform",
            f"kube-control-plane-{index}",
            placer.infra("platform", index),
            cores=cfg.cores,
            memory=cfg.memory,
        )
        self.work = cfg.cpu * TICK
        if self.work > 0:
            env.process(self._idle())

    def _idle(self) -> Generator[Any, Any, None]:
        assert self.cpu is not None
        while True:
            self.cpu.background(self.work)
            self.handled += 1
            yield self.env.timeout(TICK)


def control_plane(env: Any, placer: Placer, cfg: Platform) -> list[Component]:
    """The platform's components: the control-plane nodes on kubernetes, none on VMs."""
    if cfg.kind != "kubernetes":
        return []
    return [ControlPlaneNode(env, placer, cfg, i) for i in range(cfg.replicas)]
