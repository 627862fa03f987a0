"""A target-utilisation autoscaler: the Kubernetes HPA rules, the same on both architectures.

Every ``period`` (HPA sync period, 15 s) the autoscaler of a service measures the mean CPU
utilisation of its running instances over the last period (busy core-seconds / (cores ×
period), from each instance's own cores; an instance that started during the period is not
measured yet, as HPA ignores a pod's first samples) and applies the HPA v2 algorithm
(kubernetes.io, "Horizontal Pod Autoscaling", algorithm details):

* ratio = utilisation / ``target``; within ``tolerance`` (0.1) of 1 nothing changes;
* desired = ceil(measured instances × ratio), clamped to [``min``, ``max``];
* scaling up is limited per period to max(100 % of the current count, 4 instances) (the
  default ``behavior.scaleUp`` policies); new instances wait ``provisioning``, then boot
  for the service's ``startup`` and attach (HTTP: then readiness and propagation);
* scaling down takes the highest recommendation of the last ``scale_down_window`` (300 s
  stabilisation) and drains the newest instances gracefully.

The replica count it compares against includes instances still booting, so it never asks
twice for the same capacity. Decisions are logged as events (``kind: autoscale``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import Any

from sim.app.service import ServiceInstance
from sim.faults.fleet import Fleet
from sim.scenario.timeline import Autoscale

SCALE_UP_PODS = 4  # HPA default behavior.scaleUp: Pods policy, 4 per 15 s
SCALE_UP_PERCENT = 100  # HPA default behavior.scaleUp: Percent policy, 100 % per 15 s


class Autoscaler:
    """The autoscaler of one service."""

    def __init__(self, fleet: Fleet, service: str, cfg: Autoscale, log: list[dict[str, Any]]):
        self.fleet = fleet
        self.env = fleet.env
        self.service = service
        self.cfg = cfg
        self.log = log
        self.seen: dict[ServiceInstance, float] = {}  # busy area at the last evaluation
        self.recent: deque[tuple[float, int]] = deque()  # (time, recommendation)
        self.decisions: list[tuple[float, float, int, int]] = []  # (t, util, from, to)

    def run(self) -> Generator[Any, Any, None]:
        """The evaluation loop (a process)."""
        while True:
            yield self.env.timeout(self.cfg.period)
            self.evaluate()

    def utilisation(self) -> tuple[float, int]:
        """Mean utilisation of the instances measured over the whole last period, and their
        number; remembers every running instance's busy area for the next evaluation."""
        total, n = 0.0, 0
        now: dict[ServiceInstance, float] = {}
        for inst in self.fleet.live(self.service):
            assert inst.cpu is not None
            area = inst.cpu.busy.area()
            now[inst] = area
            before = self.seen.get(inst)
            if before is not None:
                total += (area - before) / (inst.cpu.cores * self.cfg.period)
                n += 1
        self.seen = now
        return (total / n if n else math.nan), n

    def evaluate(self) -> None:
        """One HPA sync: measure, recommend, scale up now or down after stabilisation."""
        cfg, fleet, env = self.cfg, self.fleet, self.env
        util, measured = self.utilisation()
        current = fleet.count(self.service)
        if measured == 0 or math.isnan(util):
            desired = current
        else:
            ratio = util / cfg.target
            desired = current if abs(ratio - 1) <= cfg.tolerance else math.ceil(measured * ratio)
        desired = min(cfg.max, max(cfg.min, desired))
        self.recent.append((env.now, desired))
        while self.recent and self.recent[0][0] < env.now - cfg.scale_down_window - 1e-9:
            self.recent.popleft()
        if desired > current:
            cap = current + max(SCALE_UP_PODS, current * SCALE_UP_PERCENT // 100)
            target = min(desired, cap)
            for _ in range(target - current):
                env.process(fleet.add(self.service, cfg.provisioning))
            self._decided(util, current, target)
        else:
            target = max(r for _, r in self.recent)
            if target < current:
                live = sorted(fleet.live(self.service), key=lambda i: i.index)
                for inst in live[len(live) - min(len(live), current - target) :]:
                    fleet.stop(inst, drain=True)  # the newest first
                self._decided(util, current, target)

    def _decided(self, util: float, frm: int, to: int) -> None:
        self.decisions.append((self.env.now, util, frm, to))
        self.log.append(
            {
                "t": self.env.now,
                "label": f"autoscale {self.service} {frm}→{to}",
                "kind": "autoscale",
                "utilisation": util,
            }
        )
