"""The grid of small real topologies, and the simulator scenario equivalent to each.

Three shapes (issue 13), each at several rates (requests per second):

* ``reqreply``: ``clients`` requester connections → nats-server → a queue group of 2
  responders; 4 messages through the server per request (request in, request out, reply in,
  reply out).
* ``fanout``: as ``reqreply`` with one responder that also publishes an event per request to
  ``subscribers`` plain subscribers (1:n fan-out): 4 + 1 + n messages per request.
* ``proxy``: ``clients`` processes with keep-alive HTTP/1.1 connections → one L7 proxy →
  one keep-alive HTTP backend.

:func:`scenario` writes the same topology as a scenario dict for the normal loader
(:func:`sim.api.scenario_from_dict`): one host, every RTT what a loopback round trip
leaves to the hops once the servers' and peers' CPU is charged (``Loopback.hop_rtt``), no gateway or
sidecar unless the case has a proxy, the requesters as the workload's clients, and each
service's demand set to what the real peer process (a Python responder or backend) was
measured to spend per request, so the simulator and the real system run the same work (that
CPU includes the peer's own socket I/O, so the in-service protocol costs, ``messaging.client.io``
and ``http.stack.io``, cost no CPU: counted once, not twice). What the machine itself adds —
the round trip and the waits of a wake-up after a long and a brief sleep (``cold_latency``,
``idle_latency``), and the idle times between which one grows into the other
(``cold_latency_after``, ``cold_latency_full_after``) — is measured here
(:class:`~sim.real.measure.Loopback`) and given to every process, as the RTT is (the load
processes too: as the workload's clients, with the peers' I/O, each waits to wake for its
reply; their own CPU is in the hops' round trip); the
server's own wait after a long sleep is measured on the server itself
(:func:`~sim.real.measure.own_wake`), since its runtime's way of waking is not a
Python process's, and so is what it adds to a message's path beyond what the model charges
there (``handoff_latency``, :func:`handoff_for`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

    from sim.real.measure import Loopback
    from sim.scenario.profile import Profile

Kind = Literal["reqreply", "fanout", "proxy"]
RATES = (100, 200, 400, 800, 1200, 2000)
QUICK_RATES = (200, 800)
IO_COSTS = (
    "wakeup",
    "cold_wakeup",
    "deep_wakeup",
    "per_message",
    "per_byte",
    "tls_per_record",
    "tls_per_byte",
)
PAYLOAD = 128  # bytes per request and reply body (small RPCs, as in nats bench -s 128)
BIG = 16384  # bytes: a large body, to separate per-byte from per-message costs
WARMUP = 0.5  # s of the simulated run before the load, not measured


@dataclass(frozen=True)
class Case:
    """One real topology at one rate."""

    kind: Kind
    rate: float
    tls: bool = False
    clients: int = 2  # load processes (one NATS connection each)
    responders: int = 2
    subscribers: int = 0
    request_bytes: int = PAYLOAD
    response_bytes: int = PAYLOAD
    event_bytes: int = PAYLOAD
    connections_per_client: int = 4  # HTTP keep-alive connections per load process
    seed: int = 1

    @property
    def name(self) -> str:
        """A short label, e.g. ``reqreply-tls@800``."""
        shape = f"fanout{self.subscribers}" if self.kind == "fanout" else self.kind
        size = f"-{self.request_bytes // 1024}k" if self.request_bytes >= 1024 else ""
        return f"{shape}{size}{'-tls' if self.tls else ''}@{self.rate:g}"

    @property
    def component(self) -> str:
        """Which server the case measures: ``broker`` or ``gateway``."""
        return "gateway" if self.kind == "proxy" else "broker"

    @property
    def messages_per_request(self) -> int:
        """Messages through the broker per request (in and out), or 4 proxied HTTP messages."""
        if self.kind == "proxy":
            return 4  # request in, request out, response in, response out
        return 4 + (1 + self.subscribers if self.kind == "fanout" else 0)

    @property
    def messages_in_per_request(self) -> int:
        """Messages the server reads per request: the request and the reply (and the event)."""
        return 2 + (1 if self.kind == "fanout" else 0)

    @property
    def expected_connections(self) -> int:
        """Established connections the server holds during the run."""
        if self.kind == "proxy":
            # clients' keep-alive connections, plus at least one pooled to the backend
            return self.clients * self.connections_per_client
        return self.clients + self.responders + self.subscribers


def grid(rates: tuple[float, ...] = RATES, tls: bool = True, big: bool = False) -> list[Case]:
    """Every shape at every rate (TLS request/reply too, for the TLS cost terms).

    ``big`` adds request/reply with :data:`BIG` payloads at every other rate, so that the
    per-byte terms can be told apart from the per-message ones (fixed-size payloads make
    their columns proportional)."""
    cases: list[Case] = []
    for i, r in enumerate(rates):
        cases.append(Case("reqreply", r))
        if tls:
            cases.append(Case("reqreply", r, tls=True))
        cases.append(Case("fanout", r, responders=1, subscribers=3))
        cases.append(Case("proxy", r, responders=1))
        if big and i % 2 == 0:
            cases.append(Case("reqreply", r, request_bytes=BIG, response_bytes=BIG))
            if tls:
                cases.append(Case("reqreply", r, tls=True, request_bytes=BIG, response_bytes=BIG))
            cases.append(Case("proxy", r, responders=1, request_bytes=BIG, response_bytes=BIG))
    return cases


def with_rate(case: Case, rate: float) -> Case:
    """The same case at another rate."""
    return replace(case, rate=rate)


def scenario(
    case: Case,
    demand: float,
    net: Loopback,
    duration: float,
    profile: Profile | None = None,
    server_cold: float | None = None,
    sends: Sequence[float] | np.ndarray = (),
    server_extra: float | None = None,
) -> dict[str, Any]:
    """The simulator scenario of ``case``; ``demand`` is the peer's CPU per request (s),
    ``net`` this machine's loopback, ``server_cold`` the server's own wait to wake from idle
    (:func:`~sim.real.measure.own_wake`; None: a Python process's, ``net``'s).

    ``profile``: a calibration profile, applied under the scenario's own values (the peers'
    in-service ``io``, set here in full, takes none of it).

    ``sends``: when the real load processes sent each request (s from the first send,
    :attr:`~sim.real.measure.Measurement.sends`). Given, the simulator replays them after an
    idle :data:`WARMUP` (the servers idle before the load, as the real ones were), those
    that fall within ``duration``: their timers, of millisecond resolution, send what fell
    due while they slept in one burst, which a Poisson process at the same rate does not
    (measured: the proxy's record of busy connections rises with it). Not given: Poisson
    arrivals at the case's rate.

    ``server_extra``: what the real server added to a message's one-way time, through it
    against directly (:attr:`~sim.real.transit.Transit.extra`). Given, the server's
    ``handoff_latency`` is what of it the model does not already charge
    (:func:`handoff_for`); not given, the profile's or the default."""
    rtts = {k: f"{net.hop_rtt}s" for k in ("same_host_rtt", "same_zone_rtt", "cross_zone_rtt")}
    # the peers and the load processes (Python processes): the peers' CPU is the measured
    # demand, the load processes' the hops' round trip; what stays is the wait to wake them,
    # the loopback's (the edge clients take the in-service I/O below)
    after, full = net.wake_ramp
    waking = {
        "cold_latency": net.cold_latency,
        "idle_latency": net.idle_latency,
        "cold_latency_after": after,
        "cold_latency_full_after": full,
    }
    peer_io = {k: 0.0 for k in IO_COSTS} | waking
    # the server's waits to wake (its costs come from the profile): its own after a sleep
    if server_cold is not None:
        waking = waking | {"cold_latency": server_cold}
    op: dict[str, Any] = {
        "subject": "svc.req",
        "demand": {"dist": "constant", "value": f"{max(demand, 0.0)}s"},
        "request_bytes": case.request_bytes,
        "response_bytes": case.response_bytes,
    }
    services: dict[str, Any] = {
        "svc": {"instances": case.responders, "cores": 1, "operations": {"req": op}}
    }
    if case.kind == "fanout":
        op["emits"] = [{"subject": "fan.event", "bytes": case.event_bytes}]
        services["sink"] = {
            "instances": case.subscribers,
            "cores": 1,
            "listen_only": True,
            "operations": {"take": {"demand": {"dist": "constant", "value": "0s"}}},
            "subscriptions": [{"subject": "fan.event", "operation": "take", "delivery": "each"}],
        }
    tls = {"version": "1.3"} if case.tls else {"version": "none"}
    clients = case.clients * (case.connections_per_client if case.kind == "proxy" else 1)
    sc: dict[str, Any] = {
        "name": f"real-{case.name}",
        "description": f"sim validate --real: {case.name}",
        "run": {
            "duration": f"{duration}s",
            "warmup": f"{WARMUP}s",
            "seed": case.seed,
            "replications": 1,
        },
        "placement": {"network": rtts, "instances_per_host": 64},
        "services": services,
        "workload": {
            "arrivals": _arrivals(case, sends, duration),
            "clients": clients,
            "flows": [{"name": case.kind, "service": "svc", "operation": "req"}],
        },
        "http": {
            "gateway": {"enabled": case.kind == "proxy", "replicas": 1, "io": dict(waking)},
            # each load process keeps its connections_per_client open and holds a request
            # that finds them all busy until one frees: one connection per simulated client
            "client_max_connections": 1,
            "sidecar": {"enabled": False},
            "tls": {"version": "none"},
            "stack": {"io": dict(peer_io)},
        },
        "messaging": {
            "broker": {"servers": 1, "io": dict(waking)},
            "tls": tls,
            "client": {"io": dict(peer_io)},
        },
    }
    if profile is not None:
        from sim.scenario.profile import apply

        sc = apply(sc, profile, profile.name)[0]
    if server_extra is not None:
        section = sc["http"]["gateway"] if case.kind == "proxy" else sc["messaging"]["broker"]
        section["io"]["handoff_latency"] = handoff_for(sc, case, net, server_extra)
    return sc


def handoff_for(sc: dict[str, Any], case: Case, net: Loopback, extra: float) -> float:
    """The case's server's ``handoff_latency`` in scenario ``sc``: ``extra`` (what the real
    server added to a message's one-way time :data:`~sim.real.measure.WARM_GAP` apart,
    :mod:`sim.real.transit`) less what the model charges on that path — the second loopback
    hop, the server's wait to wake after that sleep, its read and its write of one
    :data:`PAYLOAD`-byte message, and a proxy's L7 work on the request's way
    (``cpu_per_request × on_path_fraction / 2``) — never below 0."""
    from typing import cast

    from sim.api import scenario_from_dict
    from sim.core.cpu import Cpu
    from sim.core.io import Io
    from sim.real.measure import WARM_GAP

    model = scenario_from_dict(sc, name=f"<{sc['name']}>")
    if case.kind == "proxy":
        gw = model.http.gateway
        cost, l7 = gw.io, gw.cpu_per_request * gw.on_path_fraction / 2
    else:
        cost, l7 = model.messaging.broker.io, 0.0
    if cost is None:
        return extra
    io = Io(cast(Cpu, None), cost.model_copy(update={"handoff_latency": 0.0}))  # arithmetic only
    read = io.cost(1, PAYLOAD, False, WARM_GAP)[0]
    write = io.cost(1, PAYLOAD, False, -1.0)[0]
    charged = net.hop_rtt / 2 + io.waking(WARM_GAP) + read + write + l7
    return max(0.0, extra - charged)


def _arrivals(case: Case, sends: Sequence[float] | np.ndarray, duration: float) -> dict[str, Any]:
    """The workload's arrivals: the real sends replayed after the warm-up, or Poisson."""
    times = [WARMUP + float(t) for t in sends if t < duration]
    if not times:
        return {"kind": "poisson", "rate": case.rate}
    return {"kind": "replay", "times": times}


def architecture(case: Case) -> str:
    """The simulator architecture that matches the case."""
    return "http" if case.kind == "proxy" else "messaging"


@dataclass(frozen=True)
class Prediction:
    """What the simulator predicts for a case: per request, and for the measured server."""

    requests: int  # completed requests in the measured window
    p50: float  # seconds
    p99: float  # seconds
    server: dict[str, float]  # the server component's row (summed over its replicas)


def predict(sc: dict[str, Any], case: Case) -> Prediction:
    """Simulate scenario dict ``sc`` (built by :func:`scenario`) and read the case's figures."""
    from sim.api import scenario_from_dict, simulate

    res = simulate(scenario_from_dict(sc, name=f"<{sc['name']}>"), architecture(case))
    req = res.requests
    ok = req[(req["kind"] == "request") & (req["status"] == "ok")]
    comp = res.components
    rows = comp[comp["kind"] == case.component]
    numeric = rows.select_dtypes("number").sum()
    return Prediction(
        requests=len(ok),
        p50=float(ok["latency"].median()) if len(ok) else float("nan"),
        p99=float(ok["latency"].quantile(0.99)) if len(ok) else float("nan"),
        server={str(k): float(v) for k, v in numeric.items()},
    )
