"""CPU as a pool of cores where work queues first-come first-served.

``execute(work, tail)`` returns an event that fires when ``work`` seconds of service have
been given after waiting for a free core; the core then stays busy ``tail`` more seconds
(work done after the reply, such as a proxy's telemetry) without delaying the caller. With
``tail = 0`` it is exactly the c-server FIFO queue of M/M/c. Busy cores are a time-weighted
gauge, so utilisation over the measured window is exact. ``slowdown`` (1 unless a fault
throttles the cores, :mod:`sim.faults`) multiplies the time every job started from then on
takes.

It is callback-driven, one event per job: when a job gets a core, the event handed to the
caller is scheduled straight for the instant its work ends (SimPy's ``Timeout`` does the
same: an event whose outcome is known when it is scheduled), with the core's release as its
first callback; a job with a tail gets one more timer, for the release at the end of the
tail. No SimPy process, no intermediate events.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from simpy import Event

from sim.core.metrics import Gauge
from sim.core.schedule import succeed_at


class Cpu:
    """c identical cores with one FIFO queue."""

    __slots__ = (
        "_queue",
        "_release_cb",
        "busy",
        "cores",
        "env",
        "free",
        "idle_since",
        "jobs",
        "slowdown",
    )

    def __init__(self, env: Any, cores: int):
        self.env = env
        self.cores = cores
        self.free = cores
        self._queue: deque[tuple[Event | None, Any, float]] = deque()
        self.idle_since = env.now  # when every core last became free (sim.core.io: cold wake-ups)
        self.busy = Gauge(env)
        self.jobs = 0
        self.slowdown = 1.0
        self._release_cb = self._release  # one bound method, not one per job

    def execute(self, work: float, tail: float = 0.0) -> Event:
        """An event that fires once `work` seconds have been served on a core."""
        ev = Event(self.env)
        if self.free > 0:
            self._start(ev, work, tail)
        else:
            self._queue.append((ev, work, tail))
        return ev

    def execute_batch(self, seal: Callable[[], tuple[float, float]]) -> Event:
        """Like :meth:`execute`, but ``(work, tail) = seal()``, asked for when the job gets a
        core: a batch of messages (:mod:`sim.core.io`) takes in whatever arrived until then."""
        ev = Event(self.env)
        if self.free > 0:
            self._start(ev, seal, -1.0)
        else:
            self._queue.append((ev, seal, -1.0))
        return ev

    def background(self, work: float) -> None:
        """Occupy a core for `work` seconds with nobody waiting (off-path work)."""
        if work > 0:
            if self.free > 0:
                self._start(None, 0.0, work)
            else:
                self._queue.append((None, 0.0, work))

    def _start(self, ev: Event | None, work: Any, tail: float) -> None:
        if tail < 0:  # a batch: its work is known now (before this core counts as busy)
            work, tail = work()
        free = self.free - 1
        self.free = free
        self.jobs += 1
        self.busy.set(self.cores - free)
        env = self.env
        served = work * self.slowdown if work > 0 else 0.0
        if ev is not None:
            succeed_at(env, ev, served)  # the outcome is known now; delivered when work ends
            if tail <= 0:
                ev.callbacks.insert(0, self._release_cb)  # free the core before the caller goes on
                return
        t = env.timeout(served + tail)  # the core stays busy through the tail
        t.callbacks.append(self._release_cb)

    def _release(self, _e: Any) -> None:
        if self._queue:
            ev, work, tail = self._queue.popleft()
            self.free += 1
            # the core passes straight to the next job: the process never slept (a batch
            # starting now must not count as a cold wake-up, sim.core.io)
            self.idle_since = self.env.now
            self._start(ev, work, tail)
        else:
            free = self.free + 1
            self.free = free
            self.busy.set(self.cores - free)
            if free == self.cores:
                self.idle_since = self.env.now

    @property
    def queue_length(self) -> int:
        return len(self._queue)
