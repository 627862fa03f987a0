"""One simulation run: wire the application to one architecture, run it, collect rows.

The run is split at the end of the warm-up: every gauge is marked there so averages cover
only the measured window, and a sampler process records per-interval gauges by component
kind for the timeseries. Everything random comes from :class:`Streams` for this seed and
replication, so the same inputs give identical frames.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.app.application import Application, Observer
from sim.core.component import Component
from sim.core.network import Network
from sim.core.placement import Placer
from sim.core.recorder import Recorder
from sim.core.streams import Streams
from sim.http.mesh import HttpTransport
from sim.messaging.transport import MessagingTransport
from sim.scenario.model import Scenario

ARCHITECTURES = ("http", "messaging")


@dataclass
class RawRun:
    """What a run leaves behind before it becomes frames."""

    architecture: str
    replication: int
    seed: int
    scenario: Scenario
    recorder: Recorder
    components: list[Component]
    samples: list[tuple[float, str, str, float]]
    wall_time: float
    end: float
    extra: dict[str, Any] = field(default_factory=dict)


def run(
    sc: Scenario,
    architecture: str,
    seed: int,
    replication: int,
    observers: Mapping[str, tuple[Observer, ...]],
    trace_ids: set[int] | None = None,
) -> RawRun:
    """Simulate one replication of one architecture."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    t_wall = time.perf_counter()
    env = simpy.Environment()
    streams = Streams(seed, replication)
    recorder = Recorder()
    if trace_ids:
        recorder.trace_ids = set(trace_ids)
    app = Application(
        env, sc, streams, Network(sc.placement.network), Placer(sc.placement), recorder, observers
    )
    if architecture == "http":
        app.transport = HttpTransport(app, sc.http)
    else:
        app.transport = MessagingTransport(app, sc.messaging)
    app.start()

    def comps_now() -> list[Component]:  # infra first, then clients and instances
        return app.transport.components() + app.components()

    samples: list[tuple[float, str, str, float]] = []
    env.process(_sampler(env, comps_now, sc.run.timeseries_interval, samples))
    warmup, end = sc.run.warmup, sc.run.warmup + sc.run.duration
    if warmup > 0:
        env.run(until=warmup)
    for c in comps_now():
        for g in c.gauges():
            g.mark()
    env.run(until=end)
    return RawRun(
        architecture,
        replication,
        seed,
        sc,
        recorder,
        comps_now(),
        samples,
        time.perf_counter() - t_wall,
        end,
    )


def _sampler(
    env: Any,
    comps_now: Callable[[], list[Component]],
    interval: float,
    out: list[tuple[float, str, str, float]],
) -> Generator[Any, Any, None]:
    """Every interval: busy cores, open connections and memory, summed by component kind."""
    last: dict[int, float] = {}
    while True:
        yield env.timeout(interval)
        busy: dict[str, float] = defaultdict(float)
        conns: dict[str, float] = defaultdict(float)
        mem: dict[str, float] = defaultdict(float)
        for c in comps_now():
            if c.cpu is not None:
                a = c.cpu.busy.area()
                busy[c.kind] += (a - last.get(id(c), 0.0)) / interval
                last[id(c)] = a
            conns[c.kind] += c.conns_open.value
            mem[c.kind] += c.memory.gauge.value
        t = env.now
        for kind in sorted(conns):
            out.append((t, "cpu_cores", kind, busy.get(kind, 0.0)))
            out.append((t, "connections", kind, conns[kind]))
            out.append((t, "memory_bytes", kind, mem[kind]))
