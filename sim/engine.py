"""One simulation run: wire the application to one architecture, run it, collect rows.

The run is split at the end of the warm-up: every gauge is marked there so averages cover
only the measured window, and a sampler process records per-interval gauges by component
kind for the timeseries. With ``run.warmup: auto`` the end of the warm-up is chosen while
the run goes, by MSER-5 on the per-request latencies in arrival order
(:func:`sim.stats.pilot_warmup`; arrival order because a request belongs to the measured
window by its start, as with a fixed warm-up, and because the delay of the i-th arriving
customer is the classic output series of MSER: White 1997, Law 2015 §9.1). Everything
random comes from :class:`Streams` for this seed and replication, so the same inputs give
identical frames.
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import simpy

from sim.app.application import Application, Observer
from sim.app.transport import Transport
from sim.architectures import ARCHITECTURES, TRANSPORTS
from sim.core.component import Component
from sim.core.metrics import Gauge
from sim.core.network import Network
from sim.core.placement import Placer
from sim.core.raw import RawRun
from sim.core.recorder import Recorder
from sim.core.schedule import at
from sim.core.streams import Streams
from sim.faults.timeline import Faults, has_faults, schedule
from sim.observers import observers_of
from sim.results.batches import BATCHES
from sim.results.stream import Aggregate
from sim.scenario.model import Scenario
from sim.stats.warmup import pilot_warmup

__all__ = ["ARCHITECTURES", "TRANSPORTS", "RawRun", "World", "build", "run", "scripted_run"]


@dataclass
class World:
    """Environment, application on one architecture, and its faults: built, not started."""

    env: Any
    app: Application
    faults: Faults | None  # the timeline, autoscalers and failover (None when there are none)

    @property
    def transport(self) -> Transport:
        return self.app.transport

    @property
    def recorder(self) -> Recorder:
        return self.app.recorder


def build(
    sc: Scenario,
    architecture: str,
    seed: int,
    replication: int = 0,
    observers: Mapping[str, tuple[Observer, ...]] | None = None,
    recorder: Recorder | None = None,
) -> World:
    """Wire one run: environment, streams, application, transport, faults (the one place
    this is done: the runner, the broker sandbox and the test worlds all build here).
    ``observers`` default to the scenario's (:func:`observers`)."""
    if architecture not in TRANSPORTS:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    env = simpy.Environment()
    app = Application(
        env,
        sc,
        Streams(seed, replication),
        Network(sc.placement.network),
        Placer(sc.placement),
        Recorder() if recorder is None else recorder,
        observers_of(sc) if observers is None else observers,
    )
    app.transport = TRANSPORTS[architecture](app, sc)
    return World(env, app, schedule(app))


Script = Sequence[tuple[float, Callable[[Any], None]]]


def scripted_run(
    sc: Scenario,
    until: float,
    script: Script = (),
    seed: int | None = None,
    architecture: str = "messaging",
) -> Any:
    """Run a scenario's application until ``until``, calling each scripted action
    ``(t, fn(transport))`` at its time (crash instances, kill servers…); the transport."""
    w = build(sc, architecture, sc.run.seed if seed is None else seed)
    w.app.start()
    for t, fn in script:
        at(w.env, t, partial(fn, w.transport))
    w.env.run(until=until)
    return w.transport


def run(
    sc: Scenario,
    architecture: str,
    seed: int,
    replication: int,
    observers: Mapping[str, tuple[Observer, ...]],
    trace_ids: set[int] | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> RawRun:
    """Simulate one replication of one architecture; ``progress(now, end)`` is told the
    simulated time as the run goes (about a hundred times; it changes no result)."""
    t_wall = time.perf_counter()
    recorder = Recorder(_sink(sc))
    if trace_ids:
        recorder.trace_ids = set(trace_ids)
    world = build(sc, architecture, seed, replication, observers, recorder)
    env, app, faults = world.env, world.app, world.faults
    recorder.in_system = Gauge(env)
    app.start()

    def comps_now() -> list[Component]:  # infra first, then clients and instances
        return app.transport.components() + app.components()

    samples: list[tuple[float, str, str, float]] = []
    sampler = _Sampler(env, comps_now, sc.run.timeseries_interval, samples)
    env.process(sampler.run())
    # Everything built so far (scenario, components, imported modules) lives through the run:
    # frozen, the collector's full passes stop re-scanning it (CPython gc.freeze; the
    # objects the run creates are collected as usual). Thawed when the loop ends.
    gc.freeze()
    try:
        extra: dict[str, Any] = {}
        if sc.run.warmup == "auto":
            warmup = _auto_warmup(env, recorder, sc.run.duration, extra)
        else:
            warmup = sc.run.warmup
            if warmup > 0:
                _run_until(env, warmup, warmup + sc.run.duration, progress)
        extra.update(
            in_system_at_warmup=recorder.in_system.value, generated_at_warmup=recorder.generated
        )
        recorder.in_system.mark()
        for c in comps_now():
            c.mark(warmup > 0)  # gauges, I/O books, connection and handshake counters
        end = warmup + sc.run.duration
        _run_until(env, end, end, progress)
    finally:
        gc.unfreeze()
    sampler.finish(end)
    if faults is not None:
        extra.update(faults.results())
    raw = RawRun(
        architecture,
        replication,
        seed,
        sc,
        recorder,
        comps_now(),
        samples,
        time.perf_counter() - t_wall,
        end,
        extra,
        warmup,
    )
    raw.observations = app.transport.observations()  # the architecture's own books
    return raw


def _run_until(
    env: Any, until: float, end: float, progress: Callable[[float, float], None] | None
) -> None:
    """``env.run(until=until)``, in steps of end/100 when someone watches. A stop event only
    takes the next event id, so the order of every other event, and every result, is the
    same as in one call (tests/test_progress.py)."""
    if progress is None:
        env.run(until=until)
        return
    step = end / 100
    while env.now < until:
        t = min(until, env.now + step)
        env.run(until=t)
        progress(t, end)


def _sink(sc: Scenario) -> Aggregate | None:
    """The streaming aggregate when the scenario keeps no rows (``run.rows: none``), with
    what the fault measures need when it has a timeline (:mod:`sim.results.stream`); else
    None (the recorder keeps rows)."""
    if sc.run.rows == "all":
        return None

    # warmup: auto — the aggregate keeps the pilot's series until _auto_warmup fixes the warm-up;
    # a timeline's disturbance measures read each request's start, latency and status; the
    # fault log's books (timeline, autoscaling, failover) which requests were answered
    return Aggregate(
        None if sc.run.warmup == "auto" else sc.run.warmup,
        sc.run.duration,
        sc.run.timeseries_interval,
        BATCHES,
        outcomes=bool(sc.timeline),
        answered=has_faults(sc),
    )


def _auto_warmup(env: Any, recorder: Recorder, duration: float, extra: dict[str, Any]) -> float:
    """Run pilots of duration/16, /8, /4, /2, 1 until MSER-5 settles; returns where to measure."""

    def observe(t: float) -> tuple[Any, Any]:
        env.run(until=t)
        starts, latencies = recorder.arrival_series()
        return np.asarray(starts), np.asarray(latencies)

    choice = pilot_warmup(observe, duration / 16, duration)
    recorder.sink.measure_from(choice.warmup)
    extra.update(
        warmup_mser=choice.truncation,
        warmup_settled=choice.settled,
        warmup_observations=choice.observations,
        warmup_truncated=choice.truncated,
    )
    return choice.warmup


class _Sampler:
    """Every interval: busy cores, open connections, memory and the cores spent moving messages
    (sim.core.io), summed by component kind."""

    def __init__(
        self,
        env: Any,
        comps_now: Callable[[], list[Component]],
        interval: float,
        out: list[tuple[float, str, str, float]],
    ):
        self.env, self.comps_now, self.interval, self.out = env, comps_now, interval, out
        self.last: dict[int, float] = {}
        self.last_io: dict[int, float] = {}
        self.t = 0.0  # when the last sample was taken

    def run(self) -> Generator[Any, Any, None]:
        while True:
            yield self.env.timeout(self.interval)
            self.sample()

    def finish(self, end: float) -> None:
        """The sample due at the very end: ``env.run(until=end)`` stops before running it."""
        if abs(self.t + self.interval - end) <= 1e-9 * max(1.0, end):
            self.sample()

    def sample(self) -> None:
        busy: dict[str, float] = defaultdict(float)
        conns: dict[str, float] = defaultdict(float)
        mem: dict[str, float] = defaultdict(float)
        proto: dict[str, float] = defaultdict(float)
        last, last_io, interval = self.last, self.last_io, self.interval
        for c in self.comps_now():
            if c.cpu is not None:
                a = c.cpu.busy.area()
                busy[c.kind] += (a - last.get(id(c), 0.0)) / interval
                last[id(c)] = a
            if c.io is not None:  # CPU moving messages (charged when each wake-up starts)
                s = c.io.seconds
                proto[c.kind] += (s - last_io.get(id(c), 0.0)) / interval
                last_io[id(c)] = s
            conns[c.kind] += c.conns_open.value
            mem[c.kind] += c.memory.gauge.value
        t = self.t = self.env.now
        for kind in sorted(conns):
            self.out.append((t, "cpu_cores", kind, busy.get(kind, 0.0)))
            self.out.append((t, "connections", kind, conns[kind]))
            self.out.append((t, "memory_bytes", kind, mem[kind]))
            self.out.append((t, "protocol_cores", kind, proto.get(kind, 0.0)))
