"""Things that happen at given times, and the mechanisms that react to them over time.

**The timeline** (``timeline:``): each entry has ``at`` (seconds from the start of the run,
warm-up included) and an ``action`` — scale a service, roll an upgrade, crash an instance,
slow a service down, lose a node, stop a gateway replica or a broker server, trouble a
link, take a region out.
What an action *means* for each architecture (how long until it is noticed, which requests
are lost, how traffic moves) is decided by that architecture's own failure detection and
discovery, not here: the timeline only says what happens when. :mod:`sim.faults` performs
the actions.

A failure is ``closed`` (the process died, the kernel closed its sockets: peers see a
FIN/RST) or ``silent`` (the process hung or its host vanished: nothing is answered, nothing
is acknowledged, and only timeouts, pings or probes find it). One word for both
architectures.

**Autoscaling** (``services.<name>.autoscale``): the Kubernetes horizontal pod autoscaler's
target-utilisation rule, the same on both sides (:mod:`sim.faults.autoscale`).

**Global failover** (``failover:``): a DNS failover record (Route 53 style) that points
callers of a service at a backup service in another region once health checks of the
primary fail. Only the HTTP architecture needs it: on a broker, a service deployed in two
regions answers one subject and the supercluster moves requests by itself
(:mod:`sim.faults.failover`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from sim.scenario.base import LocatedError, Strict, cited
from sim.scenario.units import Duration

if TYPE_CHECKING:
    from sim.scenario.model import Scenario

Mode = Literal["closed", "silent"]


class _At(Strict):
    at: Duration = Field(ge=0, description="seconds from the start of the run (warm-up included)")


class Scale(_At):
    """Set a service to ``instances`` instances: new ones boot; the newest extra ones stop."""

    action: Literal["scale"]
    """What happens: 'scale'."""
    service: str
    """The service scaled."""
    instances: int = Field(ge=0, le=10_000)
    """Its new number of instances (count)."""
    drain: bool = Field(
        True,
        description="stopping instances finish in-flight work first (HTTP: preStop drain; "
        "messaging: nats.go Drain); false: they exit at once",
    )


class RollingUpgrade(_At):
    """Replace every instance of a service, one at a time: a new one boots, then an old one
    stops, then ``interval`` passes before the next (maxSurge 1, maxUnavailable 0)."""

    action: Literal["rolling_upgrade"]
    """What happens: 'rolling_upgrade'."""
    service: str
    """The service upgraded."""
    interval: Duration = cited(
        10.0, "assumption: k8s minReadySeconds-like pause between two replacements", gt=0
    )
    """Pause between two replacements, in seconds."""
    drain: bool = True
    """Old instances drain (finish in-flight requests) before stopping."""


class Crash(_At):
    """An instance dies: ``closed`` (process exits, sockets reset) or ``silent`` (hangs)."""

    action: Literal["crash"]
    """What happens: 'crash'."""
    service: str
    """The service whose instance crashes."""
    instance: Annotated[int, Field(ge=0)] | Literal["all"] = Field(
        0, description="index, or all running instances"
    )
    mode: Mode = "closed"
    """'closed': the process exits and peers see reset sockets; 'silent': it hangs and peers must detect it."""


class Slow(_At):
    """A service's running instances get slow (CPU throttling, a noisy neighbour): every job
    on their cores takes ``factor`` times its work, the extra shown as waiting."""

    action: Literal["slow"]
    """What happens: 'slow'."""
    service: str
    """The service that gets slow."""
    factor: float = Field(gt=0, le=1000)
    """Every job's CPU time is multiplied by this (e.g. 1.5)."""
    duration: Duration | None = Field(None, gt=0, description="none: to the end of the run")


class NodeLoss(_At):
    """The node hosting an instance is lost: everything on it goes silent at once."""

    action: Literal["node_loss"]
    """What happens: 'node_loss'."""
    service: str
    """The service whose instance's node is lost."""
    instance: int = Field(0, ge=0)
    """Which instance of it (index from 0)."""
    grace: Duration = cited(
        40.0,
        "kube-controller-manager --node-monitor-grace-period 40 s (50 s from 1.32): only then "
        "are the node's pods marked not ready (its kubelet, which probes them, is gone too)",
        ge=0,
    )
    """Seconds before the lost node's instances are marked not ready."""


class StopInfra(_At):
    """An infrastructure process stops: a gateway replica or a broker server."""

    action: Literal["stop"]
    """What happens: 'stop'."""
    component: Literal["gateway", "broker"]
    """Which infrastructure: a gateway replica or a broker server."""
    index: int = Field(0, ge=0, description="gateway replica, or broker server in list order")
    mode: Mode = "closed"
    """'closed': sockets reset; 'silent': it hangs."""
    duration: Duration | None = Field(None, gt=0, description="back after this long (none: never)")


class Link(_At):
    """Trouble on the links between two zones or regions for ``duration`` seconds."""

    action: Literal["link"]
    """What happens: 'link'."""
    between: tuple[str, str] = Field(description="two regions, or two zones as region/zone")
    partition: bool = False
    """No traffic at all crosses the link while it lasts."""
    extra_latency: Duration = Field(0.0, ge=0, description="added to the one-way delay")
    loss: float = Field(0.0, ge=0, lt=1, description="probability that a segment is lost")
    duration: Duration | None = Field(None, gt=0, description="none: to the end of the run")


class RegionOutage(_At):
    """A whole region goes silent (instances, gateway replicas, broker servers, and its
    links to the other regions) and comes back after ``duration``: the links heal, stopped
    infrastructure restarts and the lost instances are started again."""

    action: Literal["region_outage"]
    """What happens: 'region_outage'."""
    region: str
    """The region that goes silent."""
    duration: Duration | None = Field(None, gt=0, description="none: to the end of the run")
    grace: Duration = cited(
        40.0,
        "kube-controller-manager --node-monitor-grace-period 40 s: the region's nodes are "
        "marked not ready (HTTP endpoints removed) only then",
        ge=0,
    )
    """Seconds before the region's nodes are marked not ready."""


TimelineEntry = Annotated[
    Scale | RollingUpgrade | Crash | Slow | NodeLoss | StopInfra | Link | RegionOutage,
    Field(discriminator="action"),
]


# --------------------------------------------------------------------------- autoscaling
class Autoscale(Strict):
    """Target-utilisation autoscaling (Kubernetes HPA v2 rules), the same on both sides."""

    min: int = Field(1, ge=0, le=10_000)
    """Fewest instances (count)."""
    max: int = Field(10, ge=1, le=10_000)
    """Most instances (count)."""
    target: float = cited(
        0.5, "k8s HPA walkthrough: kubectl autoscale --cpu-percent=50", gt=0, le=1
    )
    """Target CPU utilisation of the instances; 0 to 1."""
    period: Duration = cited(
        15.0, "kube-controller-manager --horizontal-pod-autoscaler-sync-period 15 s", gt=0
    )
    """Time between two autoscaler decisions, in seconds."""
    tolerance: float = cited(
        0.1, "kube-controller-manager --horizontal-pod-autoscaler-tolerance 0.1", ge=0
    )
    """No change while utilisation/target is within 1 +- this."""
    scale_down_window: Duration = cited(
        300.0, "HPA behavior.scaleDown.stabilizationWindowSeconds default 300 s", ge=0
    )
    """Scale down only to the highest recommendation of the last this-many seconds."""
    provisioning: Duration = cited(
        0.0,
        "assumption: a node with room and the image cached; the instance then boots for "
        "the service's `startup`",
        ge=0,
    )
    """Seconds to get a node before a new instance starts booting."""

    @model_validator(mode="after")
    def _bounds(self) -> Autoscale:
        if self.min > self.max:
            raise ValueError("autoscale.min must be <= autoscale.max")
        return self


# --------------------------------------------------------------------------- failover
class HealthCheck(Strict):
    """Health checks of the primary (Route 53 health checker semantics)."""

    interval: Duration = cited(
        30.0, "AWS Route 53 health checks: request interval 30 s (10 s 'fast')", gt=0
    )
    """Time between two health checks of the primary, in seconds."""
    threshold: int = cited(
        3, "AWS Route 53 health checks: failure threshold default 3", ge=1, le=10
    )
    """Consecutive failed checks that fail the primary over (count)."""


class Failover(Strict):
    """A DNS failover record: callers of ``service`` resolve to ``backup`` while the primary
    is unhealthy (HTTP only; a supercluster needs none)."""

    service: str
    """The primary service callers address."""
    backup: str
    """The service they resolve to while the primary is unhealthy."""
    health_check: HealthCheck = Field(default_factory=lambda: HealthCheck())
    """How the primary's health is checked."""
    ttl: Duration = cited(
        60.0,
        "AWS Route 53 developer guide: a TTL of 60 s or less for records with health checks",
        ge=0,
    )
    """TTL of the DNS failover record, in seconds."""


# --------------------------------------------------------------------------- checks
def check_timeline(sc: Scenario) -> None:
    """Raise LocatedError for the first entry that names something that does not exist."""
    regions = {r.name: set(r.zones) for r in sc.placement.regions}
    replicas = sc.http.gateway.replicas if sc.http.gateway.enabled else 0
    m = sc.messaging
    servers = sum(c.servers for c in m.clusters) if m.clusters else m.broker.servers
    reach = {name: _reachable(sc, name) for name in sc.services}
    for i, e in enumerate(sc.timeline):
        path: tuple[str | int, ...] = ("timeline", i)
        service = getattr(e, "service", None)
        if service is not None and service not in sc.services:
            raise LocatedError((*path, "service"), f"unknown service {service!r}")
        index = getattr(e, "instance", None)
        if isinstance(index, int) and service is not None and index >= reach[service]:
            raise LocatedError(
                (*path, "instance"),
                f"service {service!r} never has an instance {index} (indexes 0 to "
                f"{reach[service] - 1}; added instances take the next index)",
            )
        if isinstance(e, StopInfra):
            count = replicas if e.component == "gateway" else servers
            if e.index >= count:
                raise LocatedError(
                    (*path, "index"), f"there are {count} {e.component} process(es); no {e.index}"
                )
        if isinstance(e, RegionOutage) and e.region not in regions:
            raise LocatedError((*path, "region"), f"unknown region {e.region!r}")
        if isinstance(e, Link):
            for j, side in enumerate(e.between):
                reg, _, zone = side.partition("/")
                if reg not in regions or (zone and zone not in regions[reg]):
                    raise LocatedError((*path, "between", j), f"unknown region or zone {side!r}")
            if e.between[0] == e.between[1]:
                raise LocatedError((*path, "between"), "a link joins two different sides")
    for name in sc.messaging.requests:
        if name not in sc.services:
            raise LocatedError(("messaging", "requests", name), f"unknown service {name!r}")
    for i, f in enumerate(sc.failover):
        for key in ("service", "backup"):
            name = getattr(f, key)
            if name not in sc.services:
                raise LocatedError(("failover", i, key), f"unknown service {name!r}")
        missing = set(sc.services[f.service].operations) - set(sc.services[f.backup].operations)
        if missing:
            raise LocatedError(
                ("failover", i, "backup"),
                f"{f.backup!r} lacks operation(s) {sorted(missing)} of {f.service!r}",
            )


def _reachable(sc: Scenario, service: str) -> int:
    """One more than the highest instance index a service can have (added instances take
    the next index); unbounded when an autoscaler or a rolling upgrade adds instances."""
    svc = sc.services[service]
    if svc.autoscale is not None:
        return 10**9
    n = top = svc.instances
    for e in sorted(sc.timeline, key=lambda e: e.at):
        if isinstance(e, RollingUpgrade) and e.service == service:
            return 10**9
        if isinstance(e, Scale) and e.service == service:
            top += max(0, e.instances - n)
            n = e.instances
    return top
