"""What a run costs in money (:mod:`sim.results.cost`): node types and prices, the CPU and
memory each kind of pod requests, and the prices of pay-per-use capacity.

Both ways a cloud bill is made are priced. By *allocation*: every pod's CPU and memory
requests (the service's own from ``services.*.cores``/``memory``; sidecars, gateways,
brokers… from ``requests`` below) are packed onto nodes of ``node`` and the nodes are paid
by the hour. By *usage*: the cores and memory the run measured, at ``vcpu_hour`` and
``gib_hour``. Prices are list prices of one public price list (AWS, us-east-1, on demand,
Linux) as of 2025; every figure can be overridden in a scenario's ``cost:`` block, key by
key (a ``requests`` or ``instances`` entry given replaces that entry only).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from sim.scenario.base import Strict, cited
from sim.scenario.units import Size

GIB = 2**30
MIB = 2**20


class InstanceType(Strict):
    """A node type: its vCPUs, memory and on-demand price."""

    vcpu: float = Field(gt=0, description="vCPUs of one node")
    memory: Size = Field(gt=0, description="memory of one node, in bytes")
    hourly: float = Field(ge=0, description="US$ per hour, on demand")


AWS_PRICE_SOURCE = (
    "AWS EC2 On-Demand pricing, Linux, US East (N. Virginia) us-east-1, list prices as of "
    "2025 (unchanged since the m6i/c6i/r6i launches in 2021): m6i 0.192 $/h per 4 vCPU and "
    "16 GiB, c6i 0.17 $/h per 4 vCPU and 8 GiB, r6i 0.252 $/h per 4 vCPU and 32 GiB"
)
INSTANCES = {
    "m6i.large": InstanceType(vcpu=2, memory=8 * GIB, hourly=0.096),
    "m6i.xlarge": InstanceType(vcpu=4, memory=16 * GIB, hourly=0.192),
    "m6i.2xlarge": InstanceType(vcpu=8, memory=32 * GIB, hourly=0.384),
    "m6i.4xlarge": InstanceType(vcpu=16, memory=64 * GIB, hourly=0.768),
    "c6i.large": InstanceType(vcpu=2, memory=4 * GIB, hourly=0.085),
    "c6i.xlarge": InstanceType(vcpu=4, memory=8 * GIB, hourly=0.17),
    "c6i.2xlarge": InstanceType(vcpu=8, memory=16 * GIB, hourly=0.34),
    "r6i.large": InstanceType(vcpu=2, memory=16 * GIB, hourly=0.126),
    "r6i.xlarge": InstanceType(vcpu=4, memory=32 * GIB, hourly=0.252),
}

REQUESTS_SOURCE = (
    "Istio Helm values: sidecar global.proxy.resources.requests 100m CPU / 128Mi; gateway "
    "chart resources.requests 100m / 128Mi; istiod pilot.resources.requests 500m / 2048Mi; "
    "ztunnel chart resources.requests 200m / 512Mi. kubeadm static Pod kube-apiserver "
    "requests 250m CPU (no memory request); kubeadm CoreDNS Deployment 100m / 70Mi. "
    "assumption: the NATS Helm chart sets no requests, so a broker server requests the cores "
    "it is simulated with and the peak memory it was measured to hold (as does any kind not "
    "listed)"
)


class Request(Strict):
    """The CPU and memory a pod's container requests from the scheduler (Kubernetes
    ``resources.requests``). ``None``: the model's own figure — the cores the component is
    simulated with, the peak memory it was measured to hold."""

    cpu: float | None = cited(
        None, REQUESTS_SOURCE, ge=0, description="cores; none: the component's cores"
    )
    memory: Size | None = cited(
        None, REQUESTS_SOURCE, ge=0, description="bytes; none: its measured peak"
    )


REQUESTS = {
    "sidecar": Request(cpu=0.1, memory=128 * MIB),
    "gateway": Request(cpu=0.1, memory=128 * MIB),
    "control-plane": Request(cpu=0.5, memory=2048 * MIB),
    "ztunnel": Request(cpu=0.2, memory=512 * MIB),
    "discovery": Request(cpu=0.25, memory=0),
    "dns": Request(cpu=0.1, memory=70 * MIB),
    "broker": Request(),
}


class Cost(Strict):
    """Turning resources into nodes and dollars per month (sim.results.cost)."""

    node: str = cited(
        "m6i.xlarge",
        "assumption: a general-purpose 4-vCPU, 16 GiB node, a common Kubernetes node group "
        "size; any key of `instances`",
        description="the node type pods are packed onto (allocation)",
    )
    instances: dict[str, InstanceType] = cited(
        INSTANCES, AWS_PRICE_SOURCE, description="node types and their hourly prices"
    )
    requests: dict[str, Request] = cited(
        REQUESTS,
        REQUESTS_SOURCE,
        description="CPU and memory requested per pod, by component kind (services: their "
        "own cores and memory)",
    )
    reserved_cpu: float = cited(
        0.0,
        "assumption: no CPU held back per node for the kubelet and OS (set e.g. 0.08 to "
        "reserve it)",
        ge=0,
        description="cores per node not allocatable to pods",
    )
    reserved_memory: Size = cited(
        0,
        "assumption: no memory held back per node for the kubelet and OS",
        description="memory held back on each node for the kubelet and OS, in bytes",
        ge=0,
    )
    vcpu_hour: float = cited(
        0.04048,
        "AWS Fargate pricing, Linux/x86, us-east-1, as of 2025: 0.04048 $ per vCPU-hour",
        ge=0,
        description="US$ per core-hour used (usage)",
    )
    gib_hour: float = cited(
        0.004445,
        "AWS Fargate pricing, Linux/x86, us-east-1, as of 2025: 0.004445 $ per GB-hour",
        ge=0,
        description="US$ per GiB-hour held (usage)",
    )
    hours_per_month: float = cited(
        730.0,
        "AWS pricing calculator: 730 hours in a month (8,760 / 12)",
        description="hours billed in a month",
        gt=0,
    )

    @field_validator("instances", mode="before")
    @classmethod
    def _over_instances(cls, v: Any) -> Any:
        """An entry given replaces that entry only; the others keep the price list."""
        return {**INSTANCES, **v} if isinstance(v, dict) else v

    @field_validator("requests", mode="before")
    @classmethod
    def _over_requests(cls, v: Any) -> Any:
        return {**REQUESTS, **v} if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _known_node(self) -> Cost:
        if self.node not in self.instances:
            known = ", ".join(sorted(self.instances))
            raise ValueError(f"node {self.node!r} is not in instances ({known})")
        t = self.instances[self.node]
        if self.reserved_cpu >= t.vcpu or self.reserved_memory >= t.memory:
            raise ValueError("the node's reserved cpu or memory leaves nothing for pods")
        return self

    def request(self, kind: str) -> Request:
        """What a pod of this kind requests (the model's own figures when not listed)."""
        return self.requests.get(kind, Request())
