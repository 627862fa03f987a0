"""Scheduling without SimPy processes: bare timed callbacks, and generators driven lightly.

SimPy's ``Environment.step`` pops an entry, runs its ``callbacks`` and checks ``_ok``; a
timer that nobody yields needs no more than that. These primitives keep the place in the
order of same-instant events that the heavier SimPy construct they replace would have had
(a ``Timeout`` for :func:`call_at` and :func:`at`; the ``Initialize`` event of
``env.process`` for :func:`call_soon` and :class:`Task`; ``ev | env.timeout(limit)`` for
:func:`first_of`), so swapping one for the other changes no result. :class:`Deadlines`
puts every timeout of one length on one shared timer.

SimPy internals: ``Environment.step`` processes any scheduled object with ``callbacks``
and reads its ``_ok`` (and ``_value`` if it failed) after running them, so a :class:`Call`
carries both; :func:`succeed_at` gives an event its outcome now and schedules it for later,
as ``Timeout.__init__`` does (SimPy's public ``succeed`` only schedules at once); and
:class:`Task` reads ``_ok``/``_value`` on its hot path as ``Process._resume`` does. These are
checked against the SimPy version pinned in ``pyproject.toml`` by
``tests/test_core_simpy_pin.py``; everything else goes through the public API
(``triggered``, ``defused``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import Any

from simpy import Event, Process
from simpy.events import NORMAL, URGENT


class Call:
    """A bare scheduled callback: what a SimPy event is to the event loop, and no more.

    ``Environment.step`` pops an entry, runs its ``callbacks`` and checks ``_ok``; a timer
    that nobody yields needs nothing else, so this is lighter than a ``Timeout`` (no
    ``__dict__``, no value). It takes the same place in the queue as a ``Timeout`` scheduled
    at the same moment would, so replacing one with the other changes no event order.
    """

    __slots__ = ("callbacks",)
    _ok = True
    _value = None

    def __init__(self, callback: Callable[[Any], None]):
        self.callbacks: list[Callable[[Any], None]] | None = [callback]


def succeed_at(env: Any, ev: Event, delay: float, priority: int = NORMAL) -> Event:
    """Trigger ``ev`` with success (value None) now, to be processed ``delay`` later: what a
    ``Timeout`` is, for an event created before its delay was known (pinned internals)."""
    ev._ok = True
    ev._value = None
    env.schedule(ev, priority, delay)
    return ev


def call_at(env: Any, delay: float, callback: Callable[[Any], None]) -> None:
    """``callback(event)`` after ``delay`` simulated seconds (as a ``Timeout``'s callback)."""
    env.schedule(Call(callback), NORMAL, delay if delay > 0.0 else 0.0)


def call_soon(env: Any, callback: Callable[[Any], None]) -> None:
    """``callback(event)`` now, where ``env.process`` would start a new process: an urgent
    entry scheduled at this moment, as SimPy's ``Initialize`` event is (so a process replaced
    by callbacks keeps its place in the order of same-instant events)."""
    env.schedule(Call(callback), URGENT, 0.0)


def at(env: Any, delay: float, fn: Callable[[], None]) -> None:
    """Call fn after delay simulated seconds (a bare timeout with a callback, no process)."""
    env.schedule(Call(lambda _e: fn()), NORMAL, delay if delay > 0.0 else 0.0)


def first_of(env: Any, ev: Event, limit: float) -> Event:
    """An event that fires once ``ev`` has fired or ``limit`` seconds have passed, whichever
    comes first: ``ev | env.timeout(limit)`` without the condition's value (look at
    ``ev.triggered``), triggered at the same moments, so it keeps its place in the order."""
    either = Event(env)

    def check(_e: Any) -> None:
        if not either.triggered:
            either.succeed()

    env.schedule(Call(check), NORMAL, limit)
    if ev.callbacks is None:  # already processed: as the condition does, at once
        check(ev)
    else:
        ev.callbacks.append(check)
    return either


class Task:
    """A generator driven as a SimPy process is, without the ``Process`` event around it.

    It starts where ``env.process`` would start it (an urgent entry now), resumes on each
    yielded event in that event's callback order, and is silent when the generator returns:
    a process nobody waits for only adds an event that does nothing when it is processed.
    Failed events are thrown into the generator as ``Process._resume`` does.
    """

    __slots__ = ("gen",)

    def __init__(self, env: Any, gen: Generator[Any, Any, Any]):
        self.gen = gen
        env.schedule(Call(self._resume), URGENT, 0.0)

    def _resume(self, event: Any) -> None:
        gen = self.gen
        while True:
            try:
                if event._ok:  # the hot path: attributes, as Process._resume reads them
                    event = gen.send(event._value)
                else:
                    event.defused = True
                    event = gen.throw(_copy(event.value))
            except StopIteration:
                return
            if event.callbacks is not None:
                event.callbacks.append(self._resume)
                return


def _copy(exc: BaseException) -> BaseException:
    """A copy of a failed event's exception for one waiter (as ``Process._resume`` makes, so
    waiters do not share a traceback), with the original as its cause; the original itself
    when its class cannot be rebuilt from its ``args`` (a constructor with other arguments)."""
    try:
        copy = type(exc)(*exc.args)
    except Exception:
        return exc
    copy.__cause__ = exc
    return copy


class Deadlines:
    """Timeouts of one length for one run, on one shared timer instead of one per request.

    Requests timed with the same limit expire in the order they started, so a FIFO of
    (deadline, attempt, waiting process) and a single timer armed for the oldest attempt
    still running replace a heap entry (and an ``AnyOf`` condition) per request. When the
    timer fires, every attempt whose deadline has come and that is still running has its
    waiting process interrupted — at the same instant the per-request timer would have
    fired (to within one rounding of ``start + limit``).
    """

    def __init__(self, env: Any, limit: float):
        self.env = env
        self.limit = limit
        self.queue: deque[tuple[float, Process, Process]] = deque()
        self.armed = False

    def add(self, attempt: Process, waiter: Process) -> None:
        now = self.env.now
        self.queue.append((now + self.limit, attempt, waiter))
        if not self.armed:
            self._arm(self.limit)

    def _arm(self, delay: float) -> None:
        self.armed = True
        self.env.timeout(delay).callbacks.append(self._fire)

    def _fire(self, _e: Any) -> None:
        self.armed = False
        q = self.queue
        now = self.env.now
        while q:
            deadline, attempt, waiter = q[0]
            if attempt.triggered:  # answered in time: nothing to do
                q.popleft()
                continue
            if deadline > now:
                self._arm(deadline - now)
                return
            q.popleft()
            if waiter.is_alive:
                waiter.interrupt("deadline")
