"""Time-weighted gauges and counters.

A :class:`Gauge` integrates its value over simulated time (area), remembers its peak, and
can be *marked* at the end of the warm-up so that averages cover only the measured window.
Recording is O(1) per change; nothing is sampled unless a timeseries asks for it.

A gauge's clock starts when it is created, not at t = 0: a component created mid-run (a
scaled-out instance, its sidecar) has its window start at its birth if that comes after the
mark, so its area and mean cover only the time it existed. Nothing is clamped: an average
above the peak or a busy area above cores × span is a bug to be seen, not hidden (the
invariant tests check the area against the CPU jobs' own start and end times).
"""

from __future__ import annotations

from typing import Any


class Gauge:
    """A quantity that changes at instants: open connections, busy cores, bytes in use."""

    __slots__ = ("_area", "_mark_area", "_mark_t", "_t", "env", "peak", "peak_window", "value")

    def __init__(self, env: Any, value: float = 0.0):
        self.env = env
        self.value = value
        self.peak = value
        self.peak_window = value
        self._t = env.now  # the gauge exists from now: nothing before its birth is counted
        self._area = 0.0
        self._mark_t = self._t  # born after the mark: its window starts at its birth
        self._mark_area = 0.0

    def set(self, value: float) -> None:
        now = self.env.now
        self._area += self.value * (now - self._t)
        self._t = now
        self.value = value
        if value > self.peak:
            self.peak = value
        if value > self.peak_window:
            self.peak_window = value

    def set_at(self, t: float, value: float) -> None:
        """:meth:`set` as it was due at time ``t`` (not before the last change, not after
        now): the same arithmetic as if it had been made then (a change worked out late,
        :class:`~sim.core.cpu.Cpu`'s tails)."""
        self._area += self.value * (t - self._t)
        self._t = t
        self.value = value
        if value > self.peak:
            self.peak = value
        if value > self.peak_window:
            self.peak_window = value

    def set_many(self, times: list[float], values: list[int]) -> None:
        """:meth:`set_at` for each ``(t, value)`` of ``zip(times, values)`` in turn (instants
        in order, none after now): changes logged by an owner that moves the gauge more often
        than anyone reads it (:class:`~sim.core.cpu.Cpu`), applied by the same arithmetic in
        the same order."""
        area, last, value = self._area, self._t, self.value
        peak, peak_window = self.peak, self.peak_window
        for t, v in zip(times, values, strict=True):
            area += value * (t - last)
            last = t
            value = v
            if v > peak:
                peak = v
            if v > peak_window:
                peak_window = v
        self._area, self._t, self.value = area, last, value
        self.peak, self.peak_window = peak, peak_window

    def add(self, delta: float) -> None:
        now = self.env.now  # set(value + delta), inlined: gauges move on every message
        value = self.value
        self._area += value * (now - self._t)
        self._t = now
        value += delta
        self.value = value
        if value > self.peak:
            self.peak = value
        if value > self.peak_window:
            self.peak_window = value

    def area(self) -> float:
        """Integral of the value from the gauge's creation to now."""
        return self._area + self.value * (self.env.now - self._t)

    def mark(self) -> None:
        """Start of the measured window (end of warm-up)."""
        self._mark_area = self.area()
        self._mark_t = self.env.now
        self.peak_window = self.value

    @property
    def since(self) -> float:
        """Where this gauge's window starts: the mark, or its creation if that came later."""
        return self._mark_t

    def window_area(self) -> float:
        """Integral of the value over the gauge's window (from :attr:`since` to now)."""
        return self.area() - self._mark_area

    def mean(self) -> float:
        """Time-average over the gauge's window (from :attr:`since` to now)."""
        span = self.env.now - self._mark_t
        if span <= 0:
            return self.value
        return self.window_area() / span


def _nothing() -> None:
    return None


class Settled(Gauge):
    """A gauge some of whose decreases come due by themselves, with no timer: bytes a server
    holds until their write completes (:mod:`sim.messaging.client`). Its owner keeps the
    due decreases and applies them with :meth:`add_at`, each at its own instant;
    ``settle()`` (the owner's) does that for those due by now, and runs before anything
    reads or changes the gauge. So every reader sees what a timer per decrease would have
    left, by the same arithmetic, without the timers (issue 17: one event less per write).
    """

    __slots__ = ("_v", "settle")

    def __init__(self, env: Any, value: float = 0.0, settle: Any = None):
        self.settle = settle if settle is not None else _nothing
        self._v = value
        super().__init__(env, value)

    @property
    def value(self) -> float:
        self.settle()
        return self._v

    @value.setter
    def value(self, v: float) -> None:
        self._v = v

    def add_at(self, t: float, delta: float) -> None:
        """:meth:`Gauge.add` of ``delta`` as it was due at time ``t`` (not before the last
        change, not after now), without settling (the owner calls it while settling)."""
        value = self._v
        self._area += value * (t - self._t)
        self._t = t
        value += delta
        self._v = value
        if value > self.peak:
            self.peak = value
        if value > self.peak_window:
            self.peak_window = value

    def set(self, value: float) -> None:
        self.set_at(self.env.now, value)

    def set_at(self, t: float, value: float) -> None:
        self.settle()  # then Gauge's arithmetic, through the value property
        Gauge.set_at(self, t, value)

    def add(self, delta: float) -> None:
        self.settle()
        now = self.env.now  # add_at(now, delta), inlined: this runs on every message written
        value = self._v
        self._area += value * (now - self._t)
        self._t = now
        value += delta
        self._v = value
        if value > self.peak:
            self.peak = value
        if value > self.peak_window:
            self.peak_window = value

    def area(self) -> float:
        self.settle()
        return self._area + self._v * (self.env.now - self._t)

    def mean(self) -> float:
        self.settle()
        return super().mean()
