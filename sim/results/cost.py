"""Resources in money: nodes and US$ per month, both ways a cloud bill is made.

*Allocation* — what a cluster bills when nodes are bought for the pods' requests. Each
component of a run is a container; a component named ``<other>.<part>`` (a sidecar,
``front-0.sidecar``) shares the pod of ``<other>``. A pod requests the sum of its
containers' requests: a service instance its own ``cores`` and ``memory``, every other kind
what ``cost.requests`` gives for it (Istio's default sidecar request is 100m CPU / 128 MiB;
sources in :mod:`sim.scenario.cost`), or, for a kind with no published request (the broker),
the cores it is simulated with and the peak memory it was measured to hold. Pods are packed
onto nodes of ``cost.node`` by **first-fit decreasing** (largest pod first, by the larger of
its CPU and memory shares of a node; each goes on the first node with room for both, else on
a new node) — the classic bin-packing heuristic, never more than 11/9 of the optimum plus one
node (Johnson 1973 for one dimension; here a simple, documented stand-in for the scheduler).
A pod larger than an empty node gets ⌈its larger share⌉ nodes of its own. The bill is
nodes × hourly price × hours per month. Every pod that ran at some time in the run is
counted (a scaled-out instance as if it ran all month).

*Usage* — what pay-per-use capacity bills: the cores the run measured busy (CPU seconds over
the measured window) at ``cost.vcpu_hour`` and the memory held (time-average) at
``cost.gib_hour``, per hour of the month. It prices the work, not the headroom: at low load
it is far below the allocation bill.

The edge clients (kind ``client``) stand for the users and are billed to nobody here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.scenario.cost import GIB, Cost, InstanceType
from sim.scenario.model import Scenario

OUTSIDE = ("client",)  # components that are not part of the bill


@dataclass(frozen=True)
class Pod:
    """One pod: its containers and what it requests."""

    name: str
    kind: str  # of its first container (the service instance for a service with a sidecar)
    containers: tuple[str, ...]
    cpu: float  # cores requested
    memory: float  # bytes requested


@dataclass(frozen=True)
class Bill:
    """One run's bill both ways."""

    node: str
    pods: tuple[Pod, ...]
    nodes: int
    allocation: float  # US$ / month
    used_cores: float
    used_gib: float
    usage: float  # US$ / month

    @property
    def requested_cores(self) -> float:
        return sum(p.cpu for p in self.pods)

    @property
    def requested_gib(self) -> float:
        return sum(p.memory for p in self.pods) / GIB


def inputs(sc: Scenario) -> dict[str, Any]:
    """What the bill needs from the scenario, as plain data (it travels in run metadata)."""
    return {
        "settings": sc.cost.model_dump(mode="json"),
        "services": {n: {"cores": s.cores, "memory": s.memory} for n, s in sc.services.items()},
    }


def settings_of(data: dict[str, Any] | None) -> tuple[Cost, dict[str, dict[str, float]]]:
    """The cost settings and service requests from :func:`inputs` (defaults when absent)."""
    data = data or {}
    return Cost.model_validate(data.get("settings", {})), dict(data.get("services", {}))


def pods(components: pd.DataFrame, cost: Cost, services: dict[str, dict[str, float]]) -> list[Pod]:
    """The pods of one run's components, with their requests."""
    c = components[~components["kind"].isin(OUTSIDE)]
    names = set(c["name"])
    groups: dict[str, list[Any]] = {}
    for row in c.itertuples(index=False):
        owner = str(row.name)
        head = owner.rsplit(".", 1)[0]
        while head != owner and head not in names and "." in head:
            head = head.rsplit(".", 1)[0]
        groups.setdefault(head if head in names else owner, []).append(row)
    out = []
    for name, rows in groups.items():
        rows.sort(key=lambda r: r.name != name)  # the pod's own component first
        cpu = mem = 0.0
        for r in rows:
            kind = str(r.kind)
            svc = services.get(str(r.service)) if kind == "service" else None
            if svc is not None:
                cpu += float(svc["cores"])
                mem += float(svc["memory"])
                continue
            req = cost.request(kind)
            cpu += float(r.cores) if req.cpu is None else req.cpu
            mem += float(r.memory_peak) if req.memory is None else req.memory
        out.append(Pod(name, str(rows[0].kind), tuple(str(r.name) for r in rows), cpu, mem))
    return out


def pack(
    pods: Sequence[Pod], node: InstanceType, reserved_cpu: float = 0.0, reserved_memory: float = 0.0
) -> int:
    """Nodes needed for the pods by first-fit decreasing (see the module docstring)."""
    cap_cpu, cap_mem = node.vcpu - reserved_cpu, node.memory - reserved_memory

    def share(p: Pod) -> float:
        return max(p.cpu / cap_cpu, p.memory / cap_mem)

    nodes: list[list[float]] = []  # free cpu, free memory per open node
    oversized = 0
    eps = 1e-9  # requests are sums of decimals: 0.1 + 0.2 must fit in 0.3
    for p in sorted(pods, key=lambda p: (-share(p), p.name)):
        if share(p) > 1 + eps:
            oversized += math.ceil(share(p) - eps)
            continue
        for free in nodes:
            if p.cpu <= free[0] + eps and p.memory <= free[1] + eps * GIB:
                free[0] -= p.cpu
                free[1] -= p.memory
                break
        else:
            nodes.append([cap_cpu - p.cpu, cap_mem - p.memory])
    return len(nodes) + oversized


def bill(components: pd.DataFrame, duration: float, data: dict[str, Any] | None) -> Bill:
    """The bill of one run (its components frame) both ways."""
    cost, services = settings_of(data)
    ps = pods(components, cost, services)
    node = cost.instances[cost.node]
    n = pack(ps, node, cost.reserved_cpu, cost.reserved_memory)
    c = components[~components["kind"].isin(OUTSIDE)]
    cores = float(c["cpu_seconds"].sum() / duration) if len(c) else 0.0
    gib = float(c["memory_mean"].sum() / GIB) if len(c) else 0.0
    month = cost.hours_per_month
    return Bill(
        node=cost.node,
        pods=tuple(ps),
        nodes=n,
        allocation=n * node.hourly * month,
        used_cores=cores,
        used_gib=gib,
        usage=(cores * cost.vcpu_hour + gib * cost.gib_hour) * month,
    )


def cost_metrics(
    components: pd.DataFrame, duration: float, data: dict[str, Any] | None
) -> list[tuple[str, str, float]]:
    """(metric, unit, value) rows of the summary: both bills and the nodes."""
    b = bill(components, duration, data)
    return [
        ("cost_allocation", "$/month", b.allocation),
        ("cost_usage", "$/month", b.usage),
        ("nodes", "count", float(b.nodes)),
    ]
