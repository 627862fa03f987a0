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

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from sim.scenario.base import (  # noqa: F401  (re-exported for callers)
    MAX_CLIENTS,
    MAX_INSTANCES_PER_SERVICE,
    MAX_RATE,
    MAX_SERVICES,
    MAX_TOTAL_INSTANCES,
    LocatedError,
    Strict,
    cited,
)
from sim.scenario.common import Tls  # noqa: F401
from sim.scenario.cost import Cost
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
    """The called service (a key of services)."""
    operation: str
    """The called operation of that service."""
    probability: float = Field(1.0, ge=0, le=1, description="made with this probability")
    instance: int | None = Field(
        None,
        ge=0,
        description="address one specific instance (1:1) instead of load balancing",
    )


class Emit(Strict):
    """An event published after the operation's work (fire and forget)."""

    subject: str = Field(min_length=1)
    """Subject of the event (a literal NATS subject, no wildcards)."""
    bytes: Size = cited(512, "assumption: a small JSON order event", ge=0)
    """Size of the event, in bytes (a bare number means bytes; '512B', '1KiB' also work)."""
    probability: float = Field(1.0, ge=0, le=1)
    """Probability that the operation publishes this event; 0 to 1."""


class Operation(Strict):
    """One operation of a service: CPU demand, then its calls in order, then its events."""

    demand: Distribution = Field(default_factory=lambda: Constant(dist="constant", value=0.0))
    """CPU time of the operation's own work, a distribution in seconds (e.g. {dist: exponential, mean: 1ms})."""
    request_bytes: Size = cited(1024, "Istio performance page: benchmark payload 1 KB", ge=0)
    """Size of a request to this operation, in bytes."""
    response_bytes: Size = cited(1024, "Istio performance page: benchmark payload 1 KB", ge=0)
    """Size of its reply, in bytes."""
    calls: list[Call] = Field(default_factory=list)
    """Synchronous calls made in order after the work, each awaited."""
    emits: list[Emit] = Field(default_factory=list)
    """Events published after the calls (fire and forget)."""
    subject: str | None = Field(
        None, description="messaging request subject (default svc.<service>.<operation>)"
    )


class Subscription(Strict):
    """Interest in events (subject pattern with NATS wildcards) handled by an operation.

    ``shared``: each event is handled once by one instance (queue group / load-balanced
    webhook); ``each``: every instance gets its own copy (broadcast).
    """

    subject: str = Field(min_length=1)
    """Subject pattern heard, with NATS wildcards (* one token, > the rest)."""
    operation: str
    """Operation of this service that handles each event."""
    delivery: Literal["shared", "each"] = "shared"
    """'shared': each event handled once by one instance (queue group); 'each': every instance gets a copy."""


class Service(Strict):
    """A service: identical instances, each with its own cores where requests queue (FIFO)."""

    instances: int = Field(1, ge=0, le=MAX_INSTANCES_PER_SERVICE)
    """Identical instances at the start (count; 0: none running)."""
    cores: int = Field(1, ge=1, le=256)
    """Cores of each instance, where its requests queue FIFO (count)."""
    memory: Size = cited(128 * 2**20, "assumption: a small JVM/Go service container", ge=0)
    """Resident memory of each instance, in bytes (a bare number means bytes; '128MiB' also works)."""
    region: str | None = None
    """Region the instances run in (a name from placement.regions; none: the first)."""
    operations: dict[str, Operation] = Field(default_factory=dict)
    """The service's operations, by name."""
    subscriptions: list[Subscription] = Field(default_factory=list)
    """Events this service listens to."""
    listen_only: bool = Field(False, description="audit-style: receives copies, never replies")
    startup: Duration = cited(
        2.0,
        "assumption: container start plus initialisation of a small Go/JVM service, "
        "for instances started during a run (those present at time 0 are up)",
        ge=0,
    )
    """Seconds from start to ready for instances started during a run."""
    autoscale: Autoscale | None = Field(
        None, description="target-utilisation autoscaler (sim.faults.autoscale); none: fixed"
    )


# --------------------------------------------------------------------------- workload
class Flow(Strict):
    """An entry point of external load: a share of the arrivals calls service.operation."""

    name: str
    """Name of the flow in results."""
    service: str
    """The service external requests of this flow call."""
    operation: str
    """The operation they call."""
    weight: float = Field(1.0, gt=0)
    """Relative share of all arrivals that belong to this flow."""


class Poisson(Strict):
    kind: Literal["poisson"]
    """Which arrival process: 'poisson' (exponential gaps)."""
    rate: float = Field(gt=0, le=MAX_RATE, description="arrivals per second")


class ConstantRate(Strict):
    kind: Literal["constant"]
    """Which arrival process: 'constant' (equal gaps)."""
    rate: float = Field(gt=0, le=MAX_RATE)
    """Arrivals per second."""


class Mmpp(Strict):
    """Two-state Markov-modulated Poisson process: bursts of `rates[1]` amid `rates[0]`."""

    kind: Literal["mmpp"]
    """Which arrival process: 'mmpp' (two-state Markov-modulated Poisson)."""
    rates: tuple[float, float]
    """Arrivals per second in the calm and the burst state."""
    mean_sojourn: tuple[Duration, Duration]
    """Mean time spent in each state, in seconds."""

    @model_validator(mode="after")
    def _check(self) -> Mmpp:
        if min(self.rates) < 0 or max(self.rates) <= 0 or max(self.rates) > MAX_RATE:
            raise ValueError("rates must be >= 0, one of them > 0, at most 1e6")
        if min(self.mean_sojourn) <= 0:
            raise ValueError("mean_sojourn must be > 0")
        return self


class Step(Strict):
    at: Duration = Field(ge=0)
    """When the step starts, in seconds from the start of the run."""
    rate: float = Field(ge=0, le=MAX_RATE)
    """Arrivals per second from then on."""
    ramp: Duration = Field(0.0, ge=0, description="linear ramp from the previous rate")


class Profile(Strict):
    """Non-homogeneous Poisson arrivals following steps and ramps (sampled by thinning)."""

    kind: Literal["profile"]
    """Which arrival process: 'profile' (steps and ramps of the rate)."""
    steps: list[Step] = Field(min_length=1)
    """The rate's steps, in time order."""

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
    """Which arrival process: 'closed' (a fixed population of users)."""
    users: int = Field(ge=1, le=1_000_000)
    """Users, each with one request outstanding at a time (count)."""
    think: Distribution
    """Think time between a reply and the user's next request, a distribution in seconds."""


MAX_REPLAY = 10_000_000  # instants a replayed trace may hold


class Replay(Strict):
    """Arrivals at given instants: a trace replayed as it was (measured traffic, or the sends
    of `sim validate --real`'s load processes), the same in every replication. Give the
    instants inline (`times`) or as `file: trace.csv` (one instant per line, or the first
    field of each CSV line; relative to the scenario's folder), read into `times` when the
    scenario loads."""

    kind: Literal["replay"]
    """Which arrival process: 'replay' (the instants listed in `times`)."""
    times: list[float] = Field(min_length=1, max_length=MAX_REPLAY)
    """When each request arrives, in seconds from the start of the run, in time order."""

    @field_validator("times")
    @classmethod
    def _in_order(cls, t: list[float]) -> list[float]:
        if t[0] < 0 or any(b < a for a, b in pairwise(t)):
            raise ValueError("times must be >= 0 and in time order")
        return t

    @property
    def rate(self) -> float:
        """The mean arrival rate over the trace: arrivals per second up to its last instant."""
        span = self.times[-1]
        return len(self.times) / span if span > 0 else MAX_RATE


Arrivals = Annotated[
    Poisson | ConstantRate | Mmpp | Profile | Closed | Replay, Field(discriminator="kind")
]


class Workload(Strict):
    arrivals: Arrivals
    """The arrival process of external requests (kind: poisson, constant, mmpp, profile, closed
    or replay)."""
    flows: list[Flow] = Field(min_length=1)
    """Entry points that share the arrivals."""
    clients: int = cited(
        16,
        "assumption: client processes at the edge, each with its own connection(s)",
        ge=1,
        le=MAX_CLIENTS,
    )
    """Client processes at the edge, each with its own connection(s) (count)."""


# --------------------------------------------------------------------------- placement
class Region(Strict):
    name: str
    """Name of the region."""
    zones: list[str] = Field(default_factory=lambda: ["a", "b", "c"], min_length=1)
    """Zones of the region; instances are spread over them."""


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
    """Round-trip time between two processes on one host, in seconds."""
    same_zone_rtt: Duration = cited(
        250e-6, "measured ping within one AWS us-east-1 zone, avg 0.26 ms (public blog)", ge=0
    )
    """Round-trip time between two hosts in one zone, in seconds."""
    cross_zone_rtt: Duration = cited(
        1e-3, "measured ping between AWS zones 0.9–1.1 ms; FlashGrid 2023: 0.5–1.5 ms", ge=0
    )
    """Round-trip time between two zones of a region, in seconds."""
    region_rtt: dict[str, dict[str, Annotated[Duration, Field(ge=0)]]] = cited(
        {},
        "scenario-specific; e.g. cloudping inter-region tables",
        description="RTT between two regions ({a: {b: 75ms}}; each pair once: the same both ways)",
    )
    default_region_rtt: Duration = cited(80e-3, "assumption: transatlantic RTT ≈80 ms", ge=0)
    """Round-trip time between two regions not in region_rtt, in seconds."""
    bandwidth: float = cited(10e9, "assumption: 10 Gbit/s NICs", gt=0, description="bits/s")


class Placement(Strict):
    regions: list[Region] = Field(default_factory=lambda: [Region(name="region-1")], min_length=1)
    """Regions and their zones (the first is where services without a region run)."""
    network: Network = Field(default_factory=lambda: Network())
    """Round-trip times and bandwidth by placement."""
    instances_per_host: int = Field(1, ge=1, description="service instances sharing one node")


# --------------------------------------------------------------------------- run
MAX_RUN_SECONDS = 30 * 86400  # a month of simulated time: far beyond any steady state
MIN_INTERVAL = 1e-3  # gauges of every component each interval: finer only costs memory


def _warmup(value: object) -> object:
    """``auto``, or a duration >= 0 (a number of seconds or a string with a unit)."""
    if value == "auto":
        return value
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError(f"expected a duration such as 10s, or auto; got {value!r}") from None
    if not 0 <= seconds <= MAX_RUN_SECONDS:
        raise ValueError(f"warmup must be >= 0 and <= {MAX_RUN_SECONDS:g} seconds (or auto)")
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

    duration: Duration = Field(60.0, gt=0, le=MAX_RUN_SECONDS, description="measured time")
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
    """Seed of every random stream: the same seed gives the same results."""
    replications: int = Field(1, ge=1, le=10_000)
    """Independent replications, paired across architectures (count)."""
    timeseries_interval: Duration = Field(
        1.0,
        ge=MIN_INTERVAL,
        le=MAX_RUN_SECONDS,
        description="Width of one timeseries bucket, in seconds (every component's gauges are "
        "sampled each interval).",
    )
    rows: Literal["all", "none"] = Field(
        "all",
        description="keep the raw request rows (all), or only streaming aggregates (none)",
    )


class Scenario(Strict):
    name: str = Field(min_length=1, max_length=200)
    """Name of the scenario (the default output folder is reports/<name>/)."""
    description: str = ""
    """One line saying what the scenario shows (sim list prints it)."""
    run: Run = Field(default_factory=lambda: Run())
    """How long to simulate, the warm-up, the seed and replications."""
    placement: Placement = Field(default_factory=lambda: Placement())
    """Regions, zones and network delays."""
    services: dict[str, Service] = Field(min_length=1, max_length=MAX_SERVICES)
    """The application's services, by name."""
    workload: Workload
    """The external load."""
    http: HttpSettings = Field(default_factory=lambda: HttpSettings())
    """The HTTP service-mesh architecture."""
    messaging: MessagingSettings = Field(default_factory=lambda: MessagingSettings())
    """The message-broker architecture."""
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
    cost: Cost = Field(
        default_factory=lambda: Cost(), description="nodes and prices (sim.results.cost)"
    )
    calibration: AppliedProfile | None = Field(
        None,
        description="a calibration profile file (sim calibrate) whose measured values are "
        "the defaults under this scenario's own; resolved on load to what it supplied",
    )
