"""Scheduling without SimPy processes: bare timed callbacks, and generators driven lightly.

SimPy's ``Environment.step`` pops an entry, runs its ``callbacks`` and checks ``_ok``; a
timer that nobody yields needs no more than that. These primitives keep the place in the
order of same-instant events that the heavier SimPy construct they replace would have had
(a ``Timeout`` for :func:`call_at` and :func:`at`; the ``Initialize`` event of
``env.process`` for :func:`call_soon` and :class:`Task`), so swapping one for the other
changes no result. A hot path reads the clock as ``env._now``, not through the ``now``
property (also pinned). :class:`Deadlines` puts every timeout of one length on one shared timer.

Fewer events (issue 17): an event that carries no simulated time and no choice is a direct
call where that leaves every result bit-identical (``tests/test_bit_identity.py`` compares
the output frames of every bundled scenario): a :class:`Task` may run its first step at
once (``inline``), :func:`fire` runs an event's callbacks without queueing it, and
:func:`first_of` races the awaited event itself against its timer. Where a direct call
*would* move a random draw or a same-instant order (a mirrored copy or a webhook routed
before the request that caused it), the entry stays.

SimPy internals: ``Environment.step`` processes any scheduled object with ``callbacks``
and reads its ``_ok`` (and ``_value`` if it failed) after running them, so a :class:`Call`
and a :class:`Signal` (a bare event a task yields: a Cpu job, a message's wake-up) carry
both, as class attributes; :func:`succeed_at` gives an event its outcome now and schedules it for later,
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

from simpy import Event
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


class Signal:
    """A bare event that succeeds with None, for a task or process to yield, without the
    ``Event`` (no environment, no pending value): either triggered by a direct call
    (``sig()`` runs its waiters at once, as :func:`fire` does for an ``Event``, with no
    ``partial`` to call it with), or scheduled, its outcome known at once (a Cpu job:
    ``Environment.step`` runs its callbacks when its work ends, as for a ``Timeout``). A
    waiter reads only ``callbacks``, ``_ok`` and ``_value`` (pinned internals, as for
    :class:`Call`)."""

    __slots__ = ("callbacks",)
    _ok = True
    _value = None

    def __init__(self) -> None:
        self.callbacks: list[Callable[[Any], None]] = []  # None once processed (as Event's)

    def __call__(self) -> None:
        callbacks = self.callbacks
        self.callbacks = None  # type: ignore[assignment]  # processed, as step leaves an event
        for cb in callbacks:
            cb(self)

    @property
    def processed(self) -> bool:
        """Have its waiters been run (as ``Event.processed``)?"""
        return self.callbacks is None


def succeed_at(env: Any, ev: Event, delay: float, priority: int = NORMAL) -> Event:
    """Trigger ``ev`` with success (value None) now, to be processed ``delay`` later: what a
    ``Timeout`` is, for an event created before its delay was known (pinned internals)."""
    ev._ok = True
    ev._value = None
    env.schedule(ev, priority, delay)
    return ev


def fire(ev: Event, value: Any = None) -> None:
    """Trigger ``ev`` with success (``value``, None unless given) and run its callbacks now,
    as ``Environment.step`` would when it came out of the queue (pinned internals), without
    the queue entry: a zero-delay hop made a direct call (the waiter goes on inside the
    caller's callback)."""
    ev._ok = True
    ev._value = value
    callbacks = ev.callbacks
    ev.callbacks = None  # type: ignore[assignment]  # processed, as Environment.step leaves it
    for cb in callbacks:
        cb(ev)


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
    """``ev`` itself, succeeded with None after ``limit`` seconds unless it was triggered
    before: ``ev | env.timeout(limit)`` without a condition event (a None value says the
    time ran out; ``ev``'s own value is never None)."""

    def check(_e: Any) -> None:
        if not ev.triggered:
            ev.succeed()

    env.schedule(Call(check), NORMAL, limit)
    return ev


class Task:
    """A generator driven as a SimPy process is, without the ``Process`` event around it.

    It starts where ``env.process`` would start it (an urgent entry now), resumes on each
    yielded event in that event's callback order, and when the generator returns, succeeds
    ``done`` with its value if it is given and not yet triggered, and is silent otherwise
    (a process nobody waits for only adds an event that does nothing when it is processed).
    ``done`` is processed at once (:func:`fire`): its waiter goes on inside this callback
    instead of from an urgent entry queued now, as a ``Process`` would have been (issue 17:
    one event less per timed attempt; checked to leave every result bit-identical, as the
    waiter only goes on with its own request at the instant it would have anyway).
    Failed events are thrown into the generator as ``Process._resume`` does; an exception
    the generator lets out fails ``done`` (its waiter gets it), or stops the run.
    """

    __slots__ = ("done", "gen", "resume")

    def __init__(
        self,
        env: Any,
        gen: Generator[Any, Any, Any],
        done: Event | None = None,
        inline: bool = False,
    ):
        self.gen = gen
        self.done = done
        self.resume = self._resume  # one bound method for every event it waits on
        if inline:  # its first step runs now, inside the caller's callback
            self._resume(_STARTED)
        else:
            env.schedule(Call(self.resume), URGENT, 0.0)

    def _resume(self, event: Any) -> None:
        gen = self.gen
        while True:
            try:
                if event._ok:  # the hot path: attributes, as Process._resume reads them
                    event = gen.send(event._value)
                else:
                    event.defused = True
                    event = gen.throw(_copy(event.value))
            except StopIteration as stop:
                done = self.done
                if done is not None and not done.triggered:
                    fire(done, stop.value)  # its waiter goes on now, not from a queue entry
                return
            except Exception as exc:
                done = self.done
                if done is None or done.triggered:
                    raise
                done.fail(exc)
                return
            if event.callbacks is not None:
                event.callbacks.append(self.resume)
                return


_STARTED = Call(lambda _e: None)  # what a task's first step is resumed with (ok, no value)


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

    Each timed attempt races its deadline on an event (``race``): the attempt succeeds it
    with its outcome when it ends in time; else this clock succeeds it with None when its
    deadline comes. Requests timed with the same limit expire in the order they started, so
    a FIFO of (deadline, race) and a single timer armed for the oldest race still open
    replace a heap entry (and an ``AnyOf`` condition) per request. The deadline triggers
    its race at the same instant the per-request timer would have fired (to within one
    rounding of ``start + limit``) and in the place of the interrupt a waiting process got
    before (an urgent entry now), so the waiter resumes where it did.
    """

    def __init__(self, env: Any, limit: float):
        self.env = env
        self.limit = limit
        self.queue: deque[tuple[float, Event]] = deque()
        self.armed = False

    def add(self, race: Event) -> None:
        now = self.env.now
        self.queue.append((now + self.limit, race))
        if not self.armed:
            self._arm(self.limit)

    def _arm(self, delay: float) -> None:
        self.armed = True
        self.env.timeout(delay).callbacks.append(self._fire)

    def _fire(self, _e: Any) -> None:
        self.armed = False
        q = self.queue
        env = self.env
        now = env.now
        while q:
            deadline, race = q[0]
            if race.triggered:  # answered in time: nothing to do
                q.popleft()
                continue
            if deadline > now:
                self._arm(deadline - now)
                return
            q.popleft()
            succeed_at(env, race, 0.0, URGENT)  # None: the deadline won
