"""What a run will cost, from the scenario alone, and whether this machine can afford it.

A scenario can ask for more than any machine has: a month of simulated time at a million
requests per second, a gauge sample every millisecond of a long run, a million clients. Such
a run would exhaust memory or never end, so :func:`check_budget` refuses it before it
starts (``sim validate`` and ``sim run``), naming the key that drives the cost, the estimate
and the limit, as one ``FILE:LINE`` error.

The estimate multiplies counts the scenario fixes by per-unit costs measured on the
flagship (``benchmarks/README.md``, tables (a), (d) and (e)); every unit cost is taken at or
below what was measured, so the estimate errs towards letting a run through:

* **hops**: messages routed plus copies delivered per request, as the capacity check walks
  the call graph (:class:`sim.validation.capacity._Tally`): 13 for the flagship. A run holds
  ``rate × (warm-up + duration)`` requests per replication and architecture.
* **memory per hop**: 3.76 KB per flagship request with rows kept (table (d)) is 290 B per
  hop, taken as :data:`ROW_BYTES_PER_HOP`; with ``run.rows: none`` 0.145 KB per request is
  11 B per hop (:data:`TALLY_BYTES_PER_HOP`). Every replication's results stay in memory
  until the report is written, so they add up.
* **memory per gauge interval**: 145 MB for 20,100 one-millisecond intervals over both
  architectures of a six-kind scenario: 600 B per interval and component kind
  (:data:`SAMPLE_BYTES_PER_KIND`).
* **memory per client**: 514 MB for 100,000 clients over both architectures: 2.5 KB per
  client and run (:data:`CLIENT_BYTES`).
* **time per hop**: 343 µs (http) and 240 µs (messaging) per flagship request of 13 hops
  (table (a)) is 18–26 µs; :data:`SECONDS_PER_HOP` is 18 µs.
* **instances** (table (e), mesh growth): 990 more instances cost 0.48 s more http loop
  and 42 MB more memory; 30 % of that time is the sidecars' xDS configuration size, a sum
  over every cluster for every proxy (n² terms: 0.19 µs each at n = 1,000), the rest
  grows with n (0.34 ms an instance). Taken as :data:`INSTANCE_SECONDS`,
  :data:`CONFIG_TERM_SECONDS` (http with sidecars only) and :data:`INSTANCE_BYTES`.

Limits: memory is what this machine has — the smaller of its physical memory and the
cgroup limit, of which :data:`MEMORY_SHARE` is left to one run — or ``SIM_MEMORY_LIMIT``
(e.g. ``8GB``); time is :data:`TIME_LIMIT` of CPU per run (``SIM_TIME_LIMIT``, seconds or
with a unit, e.g. ``48h``), a policy rather than a property of the machine: a run longer
than a day is more often a slip of a digit than an intent.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

from sim.scenario import model as m
from sim.scenario.units import parse_duration, parse_size

ROW_BYTES_PER_HOP = 250.0  # measured 290 B (module docstring)
TALLY_BYTES_PER_HOP = 10.0  # measured 11 B
SAMPLE_BYTES_PER_KIND = 600.0  # per gauge interval and component kind
CLIENT_BYTES = 2_500.0  # per client and run
SECONDS_PER_HOP = 18e-6  # CPU per hop (messaging, the faster side)
CLIENT_SECONDS = 30e-6  # CPU per client and run to start it (measured 34 µs)
INSTANCE_SECONDS = 3e-4  # CPU per instance and run (measured 0.34 ms)
CONFIG_TERM_SECONDS = 1.5e-7  # CPU per (proxy, cluster) pair, http with sidecars (0.19 µs)
INSTANCE_BYTES = 40e3  # per instance, one run at a time (measured 42 KB)
MEMORY_SHARE = 0.8  # of the machine's memory, for one run (the rest: the OS, the report)
TIME_LIMIT = 24 * 3600.0  # CPU seconds per run (module docstring)
GB = 1e9


@dataclass(frozen=True)
class Estimate:
    """What one ``sim run`` of a scenario is expected to need."""

    requests: float  # per replication and architecture
    hops: float  # per request
    memory: float  # bytes at the end of the run (every replication kept)
    seconds: float  # CPU seconds, both architectures, every replication
    memory_driver: tuple[str, ...]  # the key whose value drives the memory
    time_driver: tuple[str, ...]  # the key whose value drives the time
    parts: dict[str, float]  # memory by cause, bytes


def _kinds(sc: m.Scenario) -> int:
    """Component kinds sampled each interval (clients, services, proxies or brokers…)."""
    return 6 if sc.http.sidecar.enabled else 4


def _rate(sc: m.Scenario) -> float:
    from sim.validation.capacity import arrival_rate

    a = sc.workload.arrivals
    if isinstance(a, m.Closed):  # users wait for replies: at most one request per think
        op = sc.services[sc.workload.flows[0].service].operations[sc.workload.flows[0].operation]
        floor = max(a.think.mean + op.demand.mean, sc.placement.network.same_host_rtt, 1e-6)
        return a.users / floor
    return arrival_rate(sc)


def _hops(sc: m.Scenario, rate: float) -> float:
    """Messages routed plus copies delivered, per request (at least 2: request and reply)."""
    from sim.validation.capacity import EDGE, _Tally, flow_rates

    if rate <= 0 or not math.isfinite(rate):
        return 2.0
    t = _Tally(sc)
    for f in sc.workload.flows:
        t.request(EDGE, (f.service, None), f.operation, flow_rates(sc)[f.name])
    return max(2.0, (t.messages + t.deliveries) / rate)


def estimate(sc: m.Scenario, replications: int | None = None) -> Estimate:
    """The expected requests, memory and CPU time of running ``sc`` on both architectures."""
    reps = sc.run.replications if replications is None else replications
    warm = sc.run.duration if sc.run.warmup == "auto" else float(sc.run.warmup)
    span = warm + sc.run.duration  # simulated seconds per run (an auto pilot ≤ duration)
    rate = _rate(sc)
    requests = rate * span
    hops = _hops(sc, rate)
    runs = 2 * reps
    n = sum(s.instances for s in sc.services.values())
    per_hop = ROW_BYTES_PER_HOP if sc.run.rows == "all" else TALLY_BYTES_PER_HOP
    parts = {
        "requests": runs * requests * hops * per_hop,
        "timeseries": runs * span / sc.run.timeseries_interval * _kinds(sc) * SAMPLE_BYTES_PER_KIND,
        "clients": CLIENT_BYTES * sc.workload.clients,  # one run's clients live at a time
        "instances": INSTANCE_BYTES * n,
    }
    config = CONFIG_TERM_SECONDS * n * n if sc.http.sidecar.enabled else 0.0
    times = {
        "requests": runs * requests * hops * SECONDS_PER_HOP,
        "clients": runs * sc.workload.clients * CLIENT_SECONDS,
        "instances": runs * n * INSTANCE_SECONDS + reps * config,
    }
    seconds = sum(times.values())
    keys = {
        "requests": ("workload", "arrivals"),
        "timeseries": ("run", "timeseries_interval"),
        "clients": ("workload", "clients"),
        "instances": ("services",),
    }
    top = max(parts, key=lambda k: parts[k])
    slow = max(times, key=lambda k: times[k])
    return Estimate(requests, hops, sum(parts.values()), seconds, keys[top], keys[slow], parts)


def memory_limit() -> float:
    """Bytes one run may use: ``SIM_MEMORY_LIMIT``, else a share of this machine's memory."""
    given = os.environ.get("SIM_MEMORY_LIMIT")
    if given:
        return parse_size(given)
    total = math.inf
    with contextlib.suppress(ValueError, OSError, AttributeError):  # not POSIX: no figure
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:  # a container's limit (cgroup v2), when it is lower
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            total = min(total, float(text))
    except OSError:
        pass
    return MEMORY_SHARE * total


def time_limit() -> float:
    """CPU seconds one run may take: ``SIM_TIME_LIMIT``, else :data:`TIME_LIMIT`."""
    given = os.environ.get("SIM_TIME_LIMIT")
    return parse_duration(given) if given else TIME_LIMIT


def over_budget(
    sc: m.Scenario, replications: int | None = None
) -> tuple[tuple[str, ...], str] | None:
    """``(path, message)`` when the run would exceed this machine's memory or the time limit."""
    e = estimate(sc, replications)
    mem, cpu = memory_limit(), time_limit()
    what = (
        f"{e.requests:.3g} requests per run × {e.hops:.3g} hops, "
        f"{sc.run.replications if replications is None else replications} replication(s) "
        "× 2 architectures"
    )
    if e.memory > mem:
        parts = ", ".join(f"{k} {v / GB:.3g}" for k, v in e.parts.items() if v >= 0.01 * e.memory)
        return e.memory_driver, (
            f"this run would need about {e.memory / GB:.3g} GB of memory ({parts} GB; {what}); "
            f"the limit is {mem / GB:.3g} GB (SIM_MEMORY_LIMIT)"
        )
    if e.seconds > cpu:
        return e.time_driver, (
            f"this run would take about {e.seconds / 3600:.3g} CPU hours ({what}); "
            f"the limit is {cpu / 3600:.3g} h (SIM_TIME_LIMIT)"
        )
    return None
