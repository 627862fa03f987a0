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
first callback. A tail needs a timer only if a job waits for its core: while the queue
is empty, the core's release at the tail's end is computed, not scheduled — applied when the
Cpu is next used or read (``busy``, ``free``, ``idle_since``), in order and each at its own
instant (:meth:`Gauge.set_at`), so the gauge's arithmetic is the one a timer would have
done; a job that queues while tails run gives them their timers then, landing exactly where
they would have. No SimPy process, no intermediate events.

The busy-core gauge changes at every start and release, and is read only now and then (the
mark, the end, an autoscaler's look): each change is logged (its instant and the busy
cores, in two lists: no object allocated per change, none for the garbage collector to
count) and the log is folded into the gauge when read (or when it grows long), by the
arithmetic :meth:`Gauge.set_at` would have done at each change, in the same order — the
same bits for two list appends per change instead of a method call.
"""

from __future__ import annotations

import math
from collections import deque
from heapq import heappop, heappush
from typing import Any, Protocol

from simpy.events import NORMAL

from sim.core.metrics import Gauge
from sim.core.schedule import Signal, call_at

FOLD_EVERY = 4096  # jobs between two folds of the busy-core log (bounds its memory)


class Batch(Protocol):
    """A job whose work is known only when it gets a core, and which is its own event
    (:class:`sim.core.io._Batch`): scheduled for the instant its work ends."""

    callbacks: list[Any] | None

    def seal(self) -> tuple[float, float]: ...

    def done(self, _e: Any) -> None: ...


class Cpu:
    """c identical cores with one FIFO queue."""

    __slots__ = (
        "_busy",
        "_changed_at",
        "_changed_to",
        "_free",
        "_idle_since",
        "_queue",
        "_release_cb",
        "_tails",
        "cores",
        "env",
        "jobs",
        "slowdown",
    )

    def __init__(self, env: Any, cores: int):
        self.env = env
        self.cores = cores
        self._free = cores
        # (event, work, tail); a batch's tail is -1 until it gets a core (execute_batch)
        self._queue: deque[tuple[Any, float, float]] = deque()
        self._idle_since = env.now  # when every core last became free (sim.core.io: cold wake-ups)
        self._busy = Gauge(env)
        # changes of the busy-core count not yet folded into the gauge: instants, busy cores
        self._changed_at: list[float] = []
        self._changed_to: list[int] = []
        # cores held by a tail that nobody waits for, released when read (_settle): (when
        # it ends, in what order it began)
        self._tails: list[tuple[float, int]] = []
        self.jobs = 0
        self.slowdown = 1.0
        self._release_cb = self._release  # one bound method, not one per job

    @property
    def busy(self) -> Gauge:
        """Busy cores, a time-weighted gauge (tails that ended by now released)."""
        tails = self._tails
        if tails and tails[0][0] <= self.env._now:
            self._settle()
        self._fold()
        return self._busy

    def _fold(self) -> None:
        """Apply the logged busy-core changes to the gauge, in order."""
        self._busy.set_many(self._changed_at, self._changed_to)
        self._changed_at.clear()
        self._changed_to.clear()

    @property
    def free(self) -> int:
        """Cores free now."""
        tails = self._tails
        if tails and tails[0][0] <= self.env._now:
            self._settle()
        return self._free

    @property
    def idle_since(self) -> float:
        """When every core last became free."""
        tails = self._tails
        if tails and tails[0][0] <= self.env._now:
            self._settle()
        return self._idle_since

    def idle(self) -> float:
        """Seconds every core has been free (-1 while any core is busy)."""
        now = self.env._now
        tails = self._tails
        if tails and tails[0][0] <= now:
            self._settle()
        return now - self._idle_since if self._free == self.cores else -1.0

    def awake(self) -> None:
        """The process runs now, woken by something whose wait is not a message's (its own
        timer): a read that arrives next waits to wake as after a sleep that began now
        (:meth:`idle`, ``Io.waking``), and a write now waits for nothing."""
        tails = self._tails
        if tails and tails[0][0] <= self.env._now:
            self._settle()
        if self._free == self.cores:
            self._idle_since = self.env._now

    def execute(self, work: float, tail: float = 0.0) -> Signal:
        """An event that fires once `work` seconds have been served on a core (a bare one:
        it is only yielded or given callbacks, never triggered by anyone else)."""
        ev = Signal()
        tails = self._tails
        if tails and tails[0][0] <= self.env._now:
            self._settle()
        if self._free > 0:
            self._start(ev, work, tail)
        else:
            self._wait(ev, work, tail)
        return ev

    def execute_batch(self, batch: Batch) -> None:
        """Like :meth:`execute`, but ``(work, tail) = batch.seal()``, asked for when the job
        gets a core (a batch of messages, :mod:`sim.core.io`, takes in whatever arrived
        until then), and ``batch`` is itself the event, ``batch.done`` its callback."""
        tails = self._tails
        if tails and tails[0][0] <= self.env._now:
            self._settle()
        if self._free > 0:
            self._start(batch, 0.0, -1.0)
        else:
            self._wait(batch, 0.0, -1.0)

    def background(self, work: float) -> None:
        """Occupy a core for `work` seconds with nobody waiting (off-path work)."""
        if work > 0:
            tails = self._tails
            if tails and tails[0][0] <= self.env._now:
                self._settle()
            if self._free > 0:
                self._start(None, 0.0, work)
            else:
                self._wait(None, 0.0, work)

    def _wait(self, ev: Any, work: float, tail: float) -> None:
        """Every core is busy: queue the job. The cores held by tails now get the timers
        that hand them to the queue when their tails end."""
        self._queue.append((ev, work, tail))
        tails = self._tails
        while tails:
            t, _ = heappop(tails)
            call_at(self.env, _until(self.env._now, t), self._release_cb)

    def _start(self, ev: Any, work: float, tail: float) -> None:
        env = self.env
        if tail < 0:  # a batch: its work is known now (before this core counts as busy)
            work, tail = ev.seal()
            served = work * self.slowdown if work > 0 else 0.0
            if tail <= 0:  # free the core before the batch's messages go on
                ev.callbacks = [self._release_cb, ev.done]
            else:
                ev.callbacks = [ev.done]
            env.schedule(ev, NORMAL, served)  # its outcome known now (always ok), as a Timeout
        else:
            served = work * self.slowdown if work > 0 else 0.0
            if ev is not None:  # a Signal: ok, delivered when the work ends (as a Timeout)
                env.schedule(ev, NORMAL, served)
                if tail <= 0:
                    ev.callbacks.insert(0, self._release_cb)  # free the core first
        now = env._now
        free = self._free - 1
        self._free = free
        jobs = self.jobs + 1
        self.jobs = jobs
        self._changed_at.append(now)
        self._changed_to.append(self.cores - free)
        if not jobs % FOLD_EVERY:
            self._fold()
        if tail <= 0 and ev is not None:
            return
        if self._queue:  # someone waits for this core: a timer hands it over
            call_at(env, served + tail, self._release_cb)
        else:  # the core stays busy through the tail, released when next looked at
            heappush(self._tails, (now + (served + tail), jobs))

    def _settle(self) -> None:
        """Release the cores whose tails have ended by now, in order, each at its instant (as
        the timer of each would have, the queue being empty)."""
        tails = self._tails
        now = self.env._now
        while tails and tails[0][0] <= now:
            self._tail_ended(heappop(tails)[0])

    def _tail_ended(self, t: float) -> None:
        """A core held by a tail alone is free again from time ``t`` (not after now)."""
        free = self._free + 1
        self._free = free
        self._changed_at.append(t)
        self._changed_to.append(self.cores - free)
        if free == self.cores:
            self._idle_since = t

    def _release(self, _e: Any) -> None:
        now = self.env._now
        tails = self._tails
        if tails and tails[0][0] <= now:
            self._settle()
        queue = self._queue
        if queue:
            ev, work, tail = queue.popleft()
            self._free += 1
            # the core passes straight to the next job: the process never slept (a batch
            # starting now must not count as a cold wake-up, sim.core.io)
            self._idle_since = now
            self._start(ev, work, tail)
        else:
            free = self._free + 1
            self._free = free
            self._changed_at.append(now)
            cores = self.cores
            self._changed_to.append(cores - free)
            if free == cores:
                self._idle_since = now

    @property
    def queue_length(self) -> int:
        return len(self._queue)


def _until(now: float, t: float) -> float:
    """The delay that lands a timer scheduled now exactly at time ``t`` (``now + d == t``
    in floating point, as the timer scheduled when the tail began would have landed)."""
    d = t - now
    while now + d < t:
        d = math.nextafter(d, math.inf)
    while now + d > t:
        d = math.nextafter(d, -math.inf)
    return d
