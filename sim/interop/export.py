"""Which simulated requests become spans, and writing them (``sim run --traces otlp``).

A sample of consecutive requests is traced: those whose ids follow the expected number of
warm-up arrivals (rate × warm-up, plus three Poisson standard deviations, for Poisson and
constant arrivals; else from the first, and those that began in the warm-up are left out), so
that the exported file also tells the arrival rate (consecutive arrivals) and holds measured
requests. Tracing a request only keeps its hop list; it changes nothing else in the run.
"""

from __future__ import annotations

import math
from pathlib import Path

from sim.interop.otlp import traces_data, write_otlp
from sim.report.data import TracedRequest
from sim.results import Comparison
from sim.scenario.model import ConstantRate, Poisson, Scenario

DEFAULT_SAMPLE = 200


def sample_ids(sc: Scenario, n: int = DEFAULT_SAMPLE) -> range:
    """Ids of n consecutive requests expected to arrive after the warm-up."""
    arr = sc.workload.arrivals
    warm = sc.run.warmup if isinstance(sc.run.warmup, float) else 0.0
    if not isinstance(arr, Poisson | ConstantRate):
        return range(0, max(n, 0))
    expected = arr.rate * warm  # arrivals in the warm-up; three Poisson sd more to be past it
    first = int(expected + 3 * math.sqrt(expected))
    return range(first, first + max(n, 0))


def traced_requests(
    cmp: Comparison, warmup_only: bool = True
) -> list[tuple[str, int, int, str, TracedRequest]]:
    """(architecture, replication, id, flow, trace) of every traced request that completed
    after its run's warm-up, in id order."""
    out = []
    for r in cmp.results():
        warm = float(r.metadata.get("warmup", 0.0) or 0.0)
        rep = int(r.metadata.get("replication", 0))
        for rid in sorted(r.traces):
            tr = r.traces[rid]
            if tr.hops is None or (warmup_only and tr.start < warm):
                continue
            out.append((r.architecture, rep, rid, tr.flow, TracedRequest.of(tr)))
    return out


def export_otlp(sc: Scenario, cmp: Comparison, path: Path) -> int:
    """Write the comparison's traced requests as OTLP JSON; returns how many requests."""
    reqs = traced_requests(cmp)
    write_otlp(path, traces_data(reqs, sc))
    return len(reqs)
