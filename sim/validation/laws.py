"""Laws every run must obey: Little's law and the utilisation law.

:func:`littles_law` compares L, the time-average number of logical requests in the system
over the measured window (a time-weighted gauge kept by the recorder, independent of the
request rows), with λW: λ the arrivals in the window per second, W the mean response time
of the requests that arrived in the window. Over a finite window the two differ only by
edge effects, the requests already present when the window opens and those still present
when it closes (Kim & Whitt 2013), so the check allows
``(N(start) + N(end)) · W_max / T`` with ``W_max`` the longest response observed.

:func:`utilisation_law` compares each service's measured utilisation of its cores by the
application (busy cores over its cores, over the window, less the CPU its NATS client library
or HTTP stack took moving messages, ``protocol_cpu_seconds``, :mod:`sim.core.io`) with ``λ E[S] / c`` computed from the scenario along the call graph
(:func:`sim.validation.capacity.service_work`). With Poisson arrivals the work a service
receives in a window of length T is compound Poisson, so the measured value has standard
deviation ``sqrt(second / T) / cores`` (Ross 2014, §5.4.2, variance of a compound Poisson
variable); the check allows 3.29 of them (two-sided 99.9 %), and is skipped for other
arrival processes. Its edge effect (work straddling the window's ends) has mean zero in
steady state.

References: S.-H. Kim & W. Whitt, "Statistical analysis with Little's law", *Operations
Research* 61(4), 2013; S. M. Ross, *Introduction to Probability Models*, 11th ed., 2014;
P. J. Denning & J. P. Buzen, *ACM Computing Surveys* 10(3), 1978 (utilisation law U = XS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.scenario import model as m
from sim.validation.capacity import service_work

if TYPE_CHECKING:
    from sim.results.frames import RunResult

Z999 = 3.2905267314919255  # standard normal 0.9995 quantile (two-sided 99.9 %)


@dataclass(frozen=True)
class LawCheck:
    """One law on one run: measured and expected values, the allowed gap, the verdict."""

    law: str
    subject: str
    measured: float
    expected: float
    tolerance: float

    @property
    def ok(self) -> bool:
        """|measured - expected| <= tolerance."""
        return abs(self.measured - self.expected) <= self.tolerance

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "VIOLATED"
        return (
            f"{self.law} [{self.subject}]: {self.measured:.6g} vs {self.expected:.6g} "
            f"(allowed ±{self.tolerance:.3g}): {verdict}"
        )


def littles_law(r: RunResult) -> LawCheck:
    """L (time-average in system) against λW over the measured window of one run."""
    md = r.metadata
    span = float(md["duration"])
    req = r.requests[r.requests["kind"] == "request"]
    lam = float(md["arrivals_measured"]) / span
    w = float(req["latency"].mean()) if len(req) else 0.0
    w_max = float(req["latency"].max()) if len(req) else 0.0
    edge = (float(md["in_system_at_warmup"]) + float(md["in_system_end"])) * w_max / span
    return LawCheck(
        "Little's law L = λW", r.architecture, float(md["in_system_mean"]), lam * w, edge + 1e-12
    )


def utilisation_law(r: RunResult, sc: m.Scenario) -> list[LawCheck]:
    """Each service's utilisation against λE[S]/c from the scenario (Poisson arrivals only)."""
    if not isinstance(sc.workload.arrivals, m.Poisson):
        return []
    span = float(r.metadata["duration"])
    comps = r.components[r.components["kind"] == "service"]
    out = []
    for service, (mean, second) in sorted(service_work(sc).items()):
        mine = comps[comps["service"] == service]
        cores = float(mine["cores"].sum())
        if cores == 0:
            continue
        app = mine["cpu_seconds"] - mine.get("protocol_cpu_seconds", 0.0)
        measured = float(app.sum()) / (span * cores)
        sd = math.sqrt(second / span) / cores
        out.append(LawCheck("utilisation U = λE[S]/c", service, measured, mean / cores, Z999 * sd))
    return out


def check_run(r: RunResult, sc: m.Scenario) -> list[LawCheck]:
    """Every law on one run."""
    return [littles_law(r), *utilisation_law(r, sc)]
