"""The typed scenario: the only place where defaults live.

A scenario describes one application (services, operations, calls, events, subscriptions),
the load that drives it, where things are placed, and how each architecture is configured.
Every default below names its source (``cited``); ``scenarios/SOURCES.md`` lists them all,
generated from these models. The application part is architecture-neutral; ``http`` and ``messaging`` hold what only one side has.

Structural checks that need the whole scenario (references, call cycles, sizes) are model
validators here and raise errors whose location is a path into the YAML, so the loader can
name ``FILE:LINE``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from sim.scenario.base import (  # noqa: F401  (re-exported for callers)
    MAX_INSTANCES_PER_SERVICE,
    MAX_RATE,
    MAX_SERVICES,
    MAX_TOTAL_INSTANCES,
    LocatedError,
    Strict,
    cited,
)
from sim.scenario.common import Tls  # noqa: F401
from sim.scenario.distributions import Constant, Distribution
from sim.scenario.http import Gateway, HttpSettings, Pool, Proxy  # noqa: F401
from sim.scenario.messaging import Broker, MessagingSettings  # noqa: F401
from sim.scenario.platform import Platform
from sim.scenario.profile import AppliedProfile
from sim.scenario.timeline import Autoscale, Failover, TimelineEntry
from sim.scenario.units import Duration, Size, parse_duration


# --------------------------------------------------------------------------- application
class Call(Strict):
    """A synchronous request to another service's operation, awaited before replying."""

    service: str
    operation: str
    probability: float = Field(1.0, ge=0, le=1, description="made with this probability")
    instance: int | None = Field(
        None,
        ge=0,
        description="address one specific instance (1:1) instead of load balancing",
    )


class Emit(Strict):
    """An event published after the operation's work (fire and forget)."""

    subject: str = Field(min_length=1)
    bytes: Size = cited(512, "assumption: a small JSON order event", ge=0)
    probability: float = Field(1.0, ge=0, le=1)


class Operation(Strict):
    """One operation of a service: CPU demand, then its calls in order, then its events."""

    demand: Distribution = Field(default_factory=lambda: Constant(dist="constant", value=0.0))
    request_bytes: Size = cited(1024, "Istio performance page: benchmark payload 1 KB", ge=0)
    response_bytes: Size = cited(1024, "Istio performance page: benchmark payload 1 KB", ge=0)
    calls: list[Call] = Field(default_factory=list)
    emits: list[Emit] = Field(default_factory=list)
    subject: str | None = Field(
        None, description="messaging request subject (default svc.<service>.<operation>)"
    )


class Subscription(Strict):
    """Interest in events (subject pattern with NATS wildcards) handled by an operation.

    ``shared``: each event is handled once by one instance (queue group / load-balanced
    webhook); ``each``: every instance gets its own copy (broadcast).
    """

    subject: str = Field(min_length=1)
    operation: str
    delivery: Literal["shared", "each"] = "shared"


class Service(Strict):
    """A service: identical instances, each with its own cores where requests queue (FIFO)."""

    instances: int = Field(1, ge=0, le=MAX_INSTANCES_PER_SERVICE)
    cores: int = Field(1, ge=1, le=256)
    memory: Size = cited(128 * 2**20, "assumption: a small JVM/Go service container", ge=0)
    region: str | None = None
    operations: dict[str, Operation] = Field(default_factory=dict)
    subscriptions: list[Subscription] = Field(default_factory=list)
    listen_only: bool = Field(False, description="audit-style: receives copies, never replies")
    startup: Duration = cited(
        2.0,
        "assumption: container start plus initialisation of a small Go/JVM service, "
        "for instances started during a run (those present at time 0 are up)",
        ge=0,
    )
    autoscale: Autoscale | None = Field(
        None, description="target-utilisation autoscaler (sim.faults.autoscale); none: fixed"
    )


# --------------------------------------------------------------------------- workload
class Flow(Strict):
    """An entry point of external load: a share of the arrivals calls service.operation."""

    name: str
    service: str
    operation: str
    weight: float = Field(1.0, gt=0)


class Poisson(Strict):
    kind: Literal["poisson"]
    rate: float = Field(gt=0, le=MAX_RATE, description="arrivals per second")


class ConstantRate(Strict):
    kind: Literal["constant"]
    rate: float = Field(gt=0, le=MAX_RATE)


class Mmpp(Strict):
    """Two-state Markov-modulated Poisson process: bursts of `rates[1]` amid `rates[0]`."""

    kind: Literal["mmpp"]
    rates: tuple[float, float]
    mean_sojourn: tuple[Duration, Duration]

    @model_validator(mode="after")
    def _check(self) -> Mmpp:
        if min(self.rates) < 0 or max(self.rates) <= 0 or max(self.rates) > MAX_RATE:
            raise ValueError("rates must be >= 0, one of them > 0, at most 1e6")
        if min(self.mean_sojourn) <= 0:
            raise ValueError("mean_sojourn must be > 0")
        return self


class Step(Strict):
    at: Duration = Field(ge=0)
    rate: float = Field(ge=0, le=MAX_RATE)
    ramp: Duration = Field(0.0, ge=0, description="linear ramp from the previous rate")


class Profile(Strict):
    """Non-homogeneous Poisson arrivals following steps and ramps (sampled by thinning)."""

    kind: Literal["profile"]
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Profile:
        ats = [s.at for s in self.steps]
        if ats != sorted(ats):
            raise ValueError("steps must be in time order")
        if max(s.rate for s in self.steps) <= 0:
            raise ValueError("at least one step needs a rate > 0")
        return self


class Closed(Strict):
    """Closed loop: `users` each send a request, wait for the reply, think, repeat."""

    kind: Literal["closed"]
    users: int = Field(ge=1, le=1_000_000)
    think: Distribution


Arrivals = Annotated[Poisson | ConstantRate | Mmpp | Profile | Closed, Field(discriminator="kind")]


class Workload(Strict):
    arrivals: Arrivals
    flows: list[Flow] = Field(min_length=1)
    clients: int = cited(
        16, "assumption: client processes at the edge, each with its own connection(s)", ge=1
    )


# --------------------------------------------------------------------------- placement
class Region(Strict):
    name: str
    zones: list[str] = Field(default_factory=lambda: ["a", "b", "c"], min_length=1)


class Network(Strict):
    """Round-trip times by placement; one-way delay is half the RTT plus size / bandwidth."""

    same_host_rtt: Duration = cited(
        5e-6,
        "derived: a raw-protocol request/reply through nats-server 2.15.1 on loopback took "
        "31–50 µs (measured), which includes the server's work on its two messages, 28–36 µs "
        "(14–18 µs per message through it, measured with saturated raw-protocol clients): the "
        "3–14 µs left cover two loopback round trips ⇒ ≈5 µs each",
        ge=0,
    )
    same_zone_rtt: Duration = cited(
        250e-6, "measured ping within one AWS us-east-1 zone, avg 0.26 ms (public blog)", ge=0
    )
    cross_zone_rtt: Duration = cited(
        1e-3, "measured ping between AWS zones 0.9–1.1 ms; FlashGrid 2023: 0.5–1.5 ms", ge=0
    )
    region_rtt: dict[str, dict[str, Duration]] = cited(
        {},
        "scenario-specific; e.g. cloudping inter-region tables",
        description="RTT between two regions ({a: {b: 75ms}}; each pair once: the same both ways)",
    )
    default_region_rtt: Duration = cited(80e-3, "assumption: transatlantic RTT ≈80 ms", ge=0)
    bandwidth: float = cited(10e9, "assumption: 10 Gbit/s NICs", gt=0, description="bits/s")


class Placement(Strict):
    regions: list[Region] = Field(default_factory=lambda: [Region(name="region-1")], min_length=1)
    network: Network = Field(default_factory=lambda: Network())
    instances_per_host: int = Field(1, ge=1, description="service instances sharing one node")


# --------------------------------------------------------------------------- run
def _warmup(value: object) -> object:
    """``auto``, or a duration >= 0 (a number of seconds or a string with a unit)."""
    if value == "auto":
        return value
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError(f"expected a duration such as 10s, or auto; got {value!r}") from None
    if seconds < 0:
        raise ValueError("warmup must be >= 0 seconds (or auto)")
    return seconds


class Run(Strict):
    """How long to simulate, what to discard first, and how many replications.

    ``warmup: auto`` detects the end of the initial transient with MSER-5 on a pilot (see
    :func:`sim.stats.warmup.pilot_warmup`): the run is simulated up to pilot lengths of
    duration/16, /8, /4, /2 and 1 until MSER-5 on the per-request latencies (arrival
    order) has its minimum clear of the end of its search range; measuring then starts at
    that pilot's end, where every gauge is marked, and lasts ``duration``. Chosen over "simulate, then
    truncate afterwards" because time-weighted gauges (utilisation, memory, connections)
    can only be marked at the present instant, and because the measured window keeps its
    length. The chosen point is reported per run (metadata ``warmup``, ``warmup_mser``).

    ``rows`` says whether the raw rows are kept. ``all`` (default): one row per request and
    per event delivery, written to ``requests.parquet`` (a few hundred bytes each while the run
    goes). ``none``: streaming aggregation — raw rows are not kept and ``requests.parquet`` is
    not written; the summary, the batch-means intervals and the request timeseries come from
    aggregates built while the run goes, with the same values (:mod:`sim.results.stream`:
    8 bytes per measured request or delivery, for exact quantiles). With a timeline it also
    keeps each measured request's start, end and status (17 bytes), from which the
    disturbance measures get the same values as from the rows; with ``warmup: auto``, each
    pilot request's id, start and end (24 bytes) until the warm-up is chosen, so MSER-5
    reads the same series. For long runs.
    """

    duration: Duration = Field(60.0, gt=0, le=30 * 86400, description="measured time")
    warmup: Annotated[
        Literal["auto"] | float,
        BeforeValidator(_warmup),
        # the schema editors see: auto, or a duration as number or text ("10s")
        WithJsonSchema(
            {
                "anyOf": [
                    {"const": "auto", "type": "string"},
                    {"type": "number", "minimum": 0},
                    {
                        "type": "string",
                        "pattern": r"^\s*[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?\s*(us|µs|ms|s|m|h)?\s*$",
                    },
                ]
            }
        ),
    ] = Field(10.0, description="discarded before measuring (seconds, or auto: MSER-5 on a pilot)")
    seed: int = Field(1, ge=0)
    replications: int = Field(1, ge=1, le=10_000)
    timeseries_interval: Duration = Field(1.0, gt=0)
    rows: Literal["all", "none"] = Field(
        "all",
        description="keep the raw request rows (all), or only streaming aggregates (none)",
    )


class Scenario(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    run: Run = Field(default_factory=lambda: Run())
    placement: Placement = Field(default_factory=lambda: Placement())
    services: dict[str, Service] = Field(min_length=1, max_length=MAX_SERVICES)
    workload: Workload
    http: HttpSettings = Field(default_factory=lambda: HttpSettings())
    messaging: MessagingSettings = Field(default_factory=lambda: MessagingSettings())
    platform: Platform = Field(
        default_factory=lambda: Platform(),
        description="what the services run on: kubernetes (its control plane counted on both "
        "sides) or vm",
    )
    timeline: list[TimelineEntry] = Field(
        default_factory=list, description="what happens when (sim.scenario.timeline)"
    )
    failover: list[Failover] = Field(
        default_factory=list, description="DNS failover records (HTTP global failover)"
    )
    calibration: AppliedProfile | None = Field(
        None,
        description="a calibration profile file (sim calibrate) whose measured values are "
        "the defaults under this scenario's own; resolved on load to what it supplied",
    )
