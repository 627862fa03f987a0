"""The contenders the benchmarks time: this simulator, Ciw, hand-made SimPy models.

Each returns a dict with ``secs`` (CPU seconds of this process spent in the event loop:
``time.process_time``, which equals wall time on an idle machine and is not inflated when
other processes compete for the cores), ``n`` (requests or customers) and ``mean`` (mean
latency or time in system, seconds) so that the runner can compute rates and check that
the contenders simulate the same thing. Scenarios for the
M/M/1 and mesh-growth runs are generated here as YAML and loaded through the normal
validation path. ``child`` is what a fresh subprocess runs to measure memory.
"""

from __future__ import annotations

import os
import resource
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FLAGSHIP = ROOT / "scenarios" / "order-service-minimal.yaml"  # the path the hand-made model walks
CLOCK = time.process_time  # CPU seconds of this process (the sampler thread sleeps)

MM1_RATE, MM1_MU = 800.0, 1000.0


def _load_text(text: str) -> Any:
    from sim.api import load_scenario

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        return load_scenario(f.name)
    finally:
        os.unlink(f.name)


def mm1_scenario(duration: float) -> Any:
    """The shipped M/M/1 validation scenario (every overhead off), at λ = MM1_RATE, one
    replication, no warm-up."""
    from sim.api import load_scenario

    return load_scenario(
        ROOT / "scenarios" / "validation" / "mm1.yaml",
        [
            f"run.duration={duration}",
            "run.warmup=0",
            "run.replications=1",
            f"workload.arrivals.rate={MM1_RATE}",
            f"services.station.operations.serve.demand.mean={1 / MM1_MU}",
        ],
    )


def mesh_scenario(services: int, duration: float) -> Any:
    svc = "\n".join(
        f"  s{i}: {{operations: {{op: {{demand: {{dist: exponential, mean: 1ms}}}}}}}}"
        for i in range(services)
    )
    flows = ", ".join(f"{{name: f{i}, service: s{i}, operation: op}}" for i in range(services))
    return _load_text(
        f"""
name: mesh-{services}
run: {{duration: {duration}, warmup: 1, seed: 1}}
services:
{svc}
workload:
  arrivals: {{kind: poisson, rate: 200}}
  flows: [{flows}]
"""
    )


# --------------------------------------------------------------------------- contenders
def ours(sc: Any, arch: str) -> dict[str, float]:
    """One run of this simulator. The engine times its event loop (``wall_time``); that
    share of simulate()'s CPU time is the loop's, the rest is building frames."""
    from sim.api import simulate

    t, c = time.perf_counter(), CLOCK()
    r = simulate(sc, arch)
    cpu, wall = CLOCK() - c, time.perf_counter() - t
    loop = cpu * min(1.0, float(r.metadata["wall_time"]) / wall)
    req = r.requests[r.requests["kind"] == "request"]
    return {
        "secs": loop,
        "frames": cpu - loop,
        "n": float(r.metadata["generated"]),
        "mean": float(req["latency"].mean()),
    }


def handmade(sc: Any, arch: str) -> dict[str, float]:
    import handmade_path

    m = handmade_path.Model(handmade_path.Params.from_scenario(sc), arch)
    c = CLOCK()
    n, mean = m.run()
    return {"secs": CLOCK() - c, "n": float(n), "mean": mean}


def ciw_mm1(duration: float) -> dict[str, float]:
    import ciw

    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=MM1_RATE)],
        service_distributions=[ciw.dists.Exponential(rate=MM1_MU)],
        number_of_servers=[1],
    )
    ciw.seed(1)  # Ciw's own API: it seeds a global generator
    c = CLOCK()
    q = ciw.Simulation(net)
    q.simulate_until_max_time(duration)
    secs = CLOCK() - c
    recs = q.get_all_records()
    sojourn = [r.exit_date - r.arrival_date for r in recs]
    return {"secs": secs, "n": float(len(recs)), "mean": sum(sojourn) / len(sojourn)}


def simpy_mm1(duration: float) -> dict[str, float]:
    import random

    import simpy

    env = simpy.Environment()
    server = simpy.Resource(env, 1)
    rng_a, rng_s = random.Random("arrivals"), random.Random("service")
    sojourn: list[float] = []

    def customer() -> Any:
        t0 = env.now
        with server.request() as req:
            yield req
            yield env.timeout(rng_s.expovariate(MM1_MU))
        sojourn.append(env.now - t0)

    def source() -> Any:
        while True:
            yield env.timeout(rng_a.expovariate(MM1_RATE))
            env.process(customer())

    env.process(source())
    c = CLOCK()
    env.run(until=duration)
    return {"secs": CLOCK() - c, "n": float(len(sojourn)), "mean": sum(sojourn) / len(sojourn)}


# --------------------------------------------------------------------------- memory runs
def _rss_mb() -> float:
    """Resident set size now (Linux /proc; elsewhere the high-water mark)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssPeak:
    """Samples RSS every 5 ms on a thread: the peak during a block, above RSS before it.

    ``ru_maxrss`` alone cannot separate a run from the imports (importing scipy, pandas and
    pyarrow peaks higher than a short run's working set)."""

    def __enter__(self) -> RssPeak:
        self.before = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_mb())


def child(spec: dict[str, Any]) -> dict[str, float]:
    """Runs in a fresh process: wall time and peak RSS of one simulate()."""
    from sim.api import simulate
    from sim.sweep import runner  # noqa: F401  (the same imports a sweep worker has)

    if spec["kind"] == "mesh":
        sc = mesh_scenario(spec["services"], spec["duration"])
    else:
        from sim.api import load_scenario

        sets = [f"run.duration={spec['duration']}", f"run.rows={spec.get('rows', 'all')}"]
        sc = load_scenario(FLAGSHIP, sets)
    with RssPeak() as mem:
        t, c = time.perf_counter(), CLOCK()
        r = simulate(sc, spec["arch"])
        cpu, wall = CLOCK() - c, time.perf_counter() - t
    return {
        "secs": cpu * min(1.0, float(r.metadata["wall_time"]) / wall),
        "total": cpu,
        "n": float(r.metadata["generated"]),
        "base_mb": mem.before,
        "peak_mb": mem.peak,
        "run_mb": mem.peak - mem.before,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --------------------------------------------------------------------------- event floor
class counted_events:
    """Count every event SimPy schedules while the block runs (wraps
    ``simpy.Environment.schedule``, the one door every event goes through)."""

    def __enter__(self) -> counted_events:
        import simpy.core

        self.n = 0
        self._orig = orig = simpy.core.Environment.schedule

        def schedule(env: Any, event: Any, priority: Any = 1, delay: Any = 0) -> None:
            self.n += 1
            orig(env, event, priority, delay)

        simpy.core.Environment.schedule = schedule  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        import simpy.core

        simpy.core.Environment.schedule = self._orig  # type: ignore[method-assign]


def bare_events(n: int = 200_000) -> dict[str, float]:
    """SimPy's floor: a chain of ``n`` timeouts, each scheduling the next from its callback
    (no process, no generator, no logic): CPU seconds per event."""
    import simpy

    env = simpy.Environment()
    left = [n]

    def step(_e: Any) -> None:
        left[0] -= 1
        if left[0] > 0:
            env.timeout(0.001).callbacks.append(step)

    env.timeout(0.001).callbacks.append(step)
    c = CLOCK()
    env.run()
    return {"secs": CLOCK() - c, "n": float(n)}
