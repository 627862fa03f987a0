"""Time-weighted gauges and counters.

A :class:`Gauge` integrates its value over simulated time (area), remembers its peak, and
can be *marked* at the end of the warm-up so that averages cover only the measured window.
Recording is O(1) per change; nothing is sampled unless a timeseries asks for it.
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
        self._t = 0.0
        self._area = 0.0
        self._mark_t = 0.0
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
        """Integral of the value from time 0 to now."""
        return self._area + self.value * (self.env.now - self._t)

    def mark(self) -> None:
        """Start of the measured window (end of warm-up)."""
        self._mark_area = self.area()
        self._mark_t = self.env.now
        self.peak_window = self.value

    def mean(self) -> float:
        """Time-average over the measured window."""
        span = self.env.now - self._mark_t
        if span <= 0:
            return self.value
        # an average never exceeds the window's peak; the area, summed piece by piece, can
        # round one ulp above peak × span (a core busy all along would show 1.0000000000000002)
        return min((self.area() - self._mark_area) / span, self.peak_window)
