"""CPU as a pool of cores where work queues first-come first-served.

``execute(work, tail)`` returns an event that fires when ``work`` seconds of service have
been given after waiting for a free core; the core then stays busy ``tail`` more seconds
(work done after the reply, such as a proxy's telemetry) without delaying the caller. It is
callback-driven (no SimPy process per job) and with ``tail = 0`` it is exactly the c-server
FIFO queue of M/M/c. Busy cores are a time-weighted gauge, so utilisation over the
measured window is exact. ``slowdown`` (1 unless a fault throttles the cores, :mod:`sim.faults`)
multiplies the time every job started from then on takes.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from simpy import Event

from sim.core.metrics import Gauge


class Cpu:
    """c identical cores with one FIFO queue."""

    __slots__ = ("_queue", "busy", "cores", "env", "free", "jobs", "slowdown")

    def __init__(self, env: Any, cores: int):
        self.env = env
        self.cores = cores
        self.free = cores
        self._queue: deque[tuple[Event, float, float]] = deque()
        self.busy = Gauge(env)
        self.jobs = 0
        self.slowdown = 1.0

    def execute(self, work: float, tail: float = 0.0) -> Event:
        """An event that fires once `work` seconds have been served on a core."""
        ev = Event(self.env)
        if self.free > 0:
            self._start(ev, work, tail)
        else:
            self._queue.append((ev, work, tail))
        return ev

    def background(self, work: float) -> None:
        """Occupy a core for `work` seconds with nobody waiting (off-path work)."""
        if work > 0:
            self.execute(0.0, work)

    def _start(self, ev: Event, work: float, tail: float) -> None:
        self.free -= 1
        self.jobs += 1
        self.busy.set(self.cores - self.free)
        if work > 0:
            t = self.env.timeout(work * self.slowdown)
            t.callbacks.append(lambda _e: self._served(ev, tail))
        else:
            self._served(ev, tail)

    def _served(self, ev: Event, tail: float) -> None:
        ev.succeed()
        if tail > 0:
            t = self.env.timeout(tail)
            t.callbacks.append(self._release)
        else:
            self._release(None)

    def _release(self, _e: Any) -> None:
        if self._queue:
            ev, work, tail = self._queue.popleft()
            self.free += 1
            self._start(ev, work, tail)
        else:
            self.free += 1
            self.busy.set(self.cores - self.free)

    @property
    def queue_length(self) -> int:
        return len(self._queue)
