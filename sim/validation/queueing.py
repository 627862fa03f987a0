"""The queueing network a zero-overhead scenario reduces to, and its exact values.

With every overhead off (see :func:`overheads`), a request spends its time only waiting
for and using cores, so a scenario is a network of FIFO multi-server stations: one per
service (one instance whose ``cores`` share one queue), visited once per request it
receives. A synchronous call is the next station of a tandem, because the caller's core
is released while it waits (:mod:`sim.app.service`); a call with probability ``p`` is
Markov routing. Nothing here is typed in by hand: the arrival rate comes from the
scenario's Poisson arrivals, each station's rate from the call graph
(:func:`sim.validation.capacity.flow_rates` and the visit ratios below), and its service
time from the demand distribution's analytic mean and SCV.

Which closed form applies (:func:`expected`):

* one station, one core: M/G/1 by Pollaczek–Khinchine (any demand distribution), with
  P(wait) = ρ (PASTA);
* one station, c cores, exponential demand: M/M/c by Erlang C, P(wait) = C(c, a);
* several stations, all exponential: an open Jackson network; end-to-end mean
  ``sum_i v_i W_i``; if it is a pure tandem of single-core stations (every visit ratio 1),
  also the p50 and p99 of the hypoexponential end-to-end time (Reich 1957);
* M/M/1: the p50 and p99 of its exponential response time.

Anything else raises :class:`NotAQueue` with the reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from sim.scenario import model as m
from sim.scenario.distributions import Exponential
from sim.validation import theory
from sim.validation.capacity import flow_rates

QUANTILES = {"latency_p50": 0.5, "latency_p99": 0.99}


class NotAQueue(ValueError):
    """The scenario is not one of the networks this module has a closed form for."""


@dataclass(frozen=True)
class Station:
    """One service as a queue: arrival rate, cores, service mean and SCV, visits/request."""

    service: str
    arrival_rate: float
    cores: int
    mean: float
    scv: float
    visits: float
    exponential: bool

    @property
    def utilisation(self) -> float:
        """ρ = λ E[S] / c."""
        return self.arrival_rate * self.mean / self.cores


def overheads(sc: m.Scenario) -> list[str]:
    """What is still switched on that a textbook queue does not have (empty: none)."""
    out = []
    h, g = sc.http, sc.messaging
    if h.gateway.enabled:
        out.append("http.gateway.enabled")
    if h.sidecar.enabled:
        out.append("http.sidecar.enabled")
    if h.tls.version != "none":
        out.append("http.tls.version")
    if g.tls.version != "none":
        out.append("messaging.tls.version")
    for path, cost in (
        ("messaging.broker.io", g.broker.io),
        ("messaging.client.io", g.client.io),
        ("http.stack.io", h.stack.io),
    ):
        if cost is not None and any(cost.model_dump().values()):
            out.append(path)
    n = sc.placement.network
    rtts = [n.same_host_rtt, n.same_zone_rtt, n.cross_zone_rtt, n.default_region_rtt]
    rtts += [v for row in n.region_rtt.values() for v in row.values()]
    if any(r > 0 for r in rtts):
        out.append("placement.network RTTs")
    for name, svc in sc.services.items():
        for op_name, op in svc.operations.items():
            if op.request_bytes > 0 or op.response_bytes > 0:
                out.append(f"services.{name}.operations.{op_name} request/response bytes")
    return out


def stations(sc: m.Scenario) -> list[Station]:
    """The stations a zero-overhead scenario with Poisson arrivals reduces to."""
    problems = overheads(sc)
    if problems:
        raise NotAQueue("overheads are on: " + ", ".join(problems))
    if not isinstance(sc.workload.arrivals, m.Poisson):
        raise NotAQueue("arrivals must be Poisson")
    visits: dict[str, float] = defaultdict(float)
    rates = flow_rates(sc)
    total = sum(rates.values())

    def walk(service: str, operation: str, v: float) -> None:
        svc = sc.services[service]
        op = svc.operations[operation]
        if op.emits or svc.subscriptions or svc.listen_only:
            raise NotAQueue(f"{service}.{operation}: events are not part of these networks")
        visits[service] += v
        for c in op.calls:
            walk(c.service, c.operation, v * c.probability)

    for f in sc.workload.flows:
        walk(f.service, f.operation, rates[f.name] / total)
    out = []
    for service, v in visits.items():
        svc = sc.services[service]
        if svc.instances != 1:
            raise NotAQueue(f"{service}: one instance (one queue) per station, got {svc.instances}")
        demands = [op.demand for op in svc.operations.values()]
        if len({d.model_dump_json() for d in demands}) != 1:
            raise NotAQueue(f"{service}: all its operations need the same demand distribution")
        d = demands[0]
        out.append(
            Station(
                service,
                total * v,
                svc.cores,
                d.mean,
                theory.scv(d),
                v,
                isinstance(d, Exponential),
            )
        )
    return out


def expected(sc: m.Scenario) -> dict[str, float]:
    """Exact values of the metrics :mod:`sim.validation.suite` measures, by name."""
    st = stations(sc)
    out: dict[str, float] = {}
    for s in st:
        if s.utilisation >= 1:
            raise NotAQueue(f"{s.service}: utilisation {s.utilisation:.3f} >= 1 (unstable)")
        out[f"utilisation/{s.service}"] = s.utilisation
    if len(st) == 1:
        s = st[0]
        if s.cores == 1:
            wait = theory.pk_wait(s.arrival_rate, s.mean, s.scv)
            out["p_wait"] = s.utilisation
        elif s.exponential:
            wait = theory.mmc_wait(s.arrival_rate, 1 / s.mean, s.cores)
            out["p_wait"] = theory.erlang_c(s.cores, s.arrival_rate * s.mean)
        else:
            raise NotAQueue(f"{s.service}: M/G/c has no closed form; use exponential demand")
        out["wait_mean"] = wait
        out["latency_mean"] = wait + s.mean
        if s.cores == 1 and s.exponential:
            for name, q in QUANTILES.items():
                out[name] = theory.mm1_response_quantile(s.arrival_rate, 1 / s.mean, q)
        return out
    if not all(s.exponential for s in st):
        raise NotAQueue("a network of stations needs exponential demands (Jackson)")
    waits = [s.visits * theory.mmc_wait(s.arrival_rate, 1 / s.mean, s.cores) for s in st]
    out["wait_mean"] = math.fsum(waits)
    out["latency_mean"] = out["wait_mean"] + math.fsum(s.visits * s.mean for s in st)
    if all(s.cores == 1 and s.visits == 1 for s in st):
        rates = [1 / s.mean - s.arrival_rate for s in st]
        if len(set(rates)) == len(rates):
            for name, q in QUANTILES.items():
                out[name] = theory.hypoexponential_quantile(rates, q)
    return out
