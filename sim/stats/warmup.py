"""Warm-up (initial transient) detection with MSER-5.

Design
------
A simulation that starts empty and idle spends its first stretch in an unrepresentative
state; averaging over that stretch biases steady-state estimates. MSER (Marginal Standard
Error Rule, White 1997) picks the truncation point ``d`` that minimises

    MSER(d) = 1 / (n - d)^2 * sum_{i = d+1}^{n} (Z_i - mean(Z_{d+1..n}))^2,

i.e. roughly the squared standard error of the mean of what is kept: cutting more removes
bias (the residual sum of squares drops) but costs sample size (the denominator). MSER-5
(White, Cobb & Spratt 2000) applies the rule to the means ``Z_j`` of consecutive batches of 5
observations, which smooths the noise and makes the rule much more stable.

Following Hoad, Robinson & Davies (2010), the search is restricted to the first half of the
batches (``d < b / 2``): a minimum found late in the series is an artefact of the few points
left, and would signal that the run is too short to have a warm-up estimate at all.
A trailing incomplete batch (fewer than 5 observations) is ignored. NaN observations are
dropped before batching (as everywhere in :mod:`sim.stats`); ties in MSER go to the smallest
``d``.

Automatic warm-up of a run (:func:`pilot_warmup`)
------------------------------------------------
A simulation cannot go back in time to mark its time-weighted gauges, so the warm-up of a
run is chosen *while* it runs: it is simulated to a pilot length, MSER-5 is applied to
the observations so far, and if the minimum lies in the last tenth of the search range
(the statistic still falling where half the data would be discarded, so the pilot is too
short to show the end of the transient -- White 1997, Hoad et al. 2010) the pilot is
doubled, up to a limit. Measuring starts at the end of the first pilot that settles, which
is never before the MSER-5 point (that point is reported too, as ``truncation``).

References
----------
* K. P. White Jr., "An effective truncation heuristic for bias reduction in simulation
  output", *Simulation* 69(6), 1997, 323-334.
* K. P. White Jr., M. J. Cobb & S. C. Spratt, "A comparison of five steady-state truncation
  heuristics for simulation", *Proc. Winter Simulation Conference*, 2000, 755-760.
* K. Hoad, S. Robinson & R. Davies, "Automating warm-up length estimation", *Journal of the
  Operational Research Society* 61(9), 2010, 1389-1403.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.stats.intervals import clean

__all__ = [
    "BATCH",
    "PilotWarmup",
    "mser5",
    "mser5_settled",
    "mser5_time",
    "mser_statistic",
    "pilot_warmup",
]

#: Batch size of MSER-5.
BATCH = 5


def mser_statistic(z: npt.ArrayLike, max_d: int | None = None) -> np.ndarray:
    """MSER(d) for d = 0..max_d (default: all d < len(z) / 2) of the sequence ``z``."""
    zz = np.asarray(z, dtype=float)
    b = zz.size
    if b == 0:
        raise ValueError("mser_statistic: empty sequence")
    if max_d is None:
        max_d = (b + 1) // 2 - 1
    if not 0 <= max_d < b:
        raise ValueError(f"max_d must be in [0, {b - 1}], got {max_d}")
    # Centre first so the running sums of squares do not lose precision.
    c = zz - zz.mean()
    # Suffix sums: s1[d] = sum(c[d:]), s2[d] = sum(c[d:]**2).
    s1 = np.cumsum(c[::-1])[::-1]
    s2 = np.cumsum((c * c)[::-1])[::-1]
    d = np.arange(max_d + 1)
    kept = (b - d).astype(float)
    ss = np.maximum(s2[d] - s1[d] ** 2 / kept, 0.0)
    return ss / kept**2


def mser5(series: npt.ArrayLike) -> int:
    """MSER-5 truncation point, in original observations (a multiple of 5)."""
    x = clean(series)
    b = x.size // BATCH
    if b < 2:
        raise ValueError(f"mser5: need at least {2 * BATCH} non-NaN observations, got {x.size}")
    z = x[: b * BATCH].reshape(b, BATCH).mean(axis=1)
    d = int(np.argmin(mser_statistic(z)))
    return d * BATCH


def mser5_time(times: npt.ArrayLike, values: npt.ArrayLike) -> float:
    """Time of the MSER-5 truncation point for time-stamped observations.

    Pairs where the time or the value is NaN are dropped; the rest are ordered by time
    (stable). The result is the timestamp of the first retained observation, so keeping
    observations with ``time >= result`` keeps the MSER-5 steady-state part.
    """
    t = np.asarray(times, dtype=float).ravel()
    v = np.asarray(values, dtype=float).ravel()
    if t.shape != v.shape:
        raise ValueError(f"times and values differ in length: {t.size} != {v.size}")
    ok = ~(np.isnan(t) | np.isnan(v))
    t, v = t[ok], v[ok]
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    return float(t[mser5(v)])


#: The pilot is too short when the MSER-5 minimum lies in this last fraction of the range.
UNSETTLED_TAIL = 0.1
#: Fewest observations a pilot needs before MSER-5 is trusted (100 batches of 5).
MIN_PILOT_OBSERVATIONS = 100 * BATCH


def mser5_settled(series: npt.ArrayLike) -> tuple[int, bool]:
    """MSER-5 truncation point (observations) and whether it lies clear of the range's end."""
    x = clean(series)
    b = x.size // BATCH
    if b < 2:
        raise ValueError(f"mser5: need at least {2 * BATCH} non-NaN observations, got {x.size}")
    stat = mser_statistic(x[: b * BATCH].reshape(b, BATCH).mean(axis=1))
    d = int(np.argmin(stat))
    max_d = stat.size - 1
    return d * BATCH, d < max_d - UNSETTLED_TAIL * max_d or max_d == 0


@dataclass(frozen=True)
class PilotWarmup:
    """Outcome of :func:`pilot_warmup` (times in the run's clock, seconds)."""

    warmup: float  # where measuring starts: the end of the pilot that settled (or the limit)
    truncation: float  # MSER-5 point: time of the first retained observation (NaN if none)
    observations: int  # observations MSER-5 was applied to
    truncated: int  # how many of them it discards
    settled: bool  # False: the limit was reached with the minimum still at the range's end
    pilots: int  # pilot lengths tried


def pilot_warmup(
    observe: Callable[[float], tuple[np.ndarray, np.ndarray]],
    first: float,
    limit: float,
    min_observations: int = MIN_PILOT_OBSERVATIONS,
) -> PilotWarmup:
    """Warm-up chosen by MSER-5 on pilots of length first, 2·first, … up to limit.

    ``observe(t)`` advances the run to time ``t`` and returns the complete series so far as
    (times, values), in the order MSER-5 should see them.
    """
    if not 0 < first <= limit:
        raise ValueError(f"need 0 < first <= limit, got first={first}, limit={limit}")
    t, pilots = first, 0
    while True:
        pilots += 1
        times, values = observe(t)
        ok = ~np.isnan(values)
        times, values = np.asarray(times, dtype=float)[ok], values[ok]
        n = int(values.size)
        if n >= max(min_observations, 2 * BATCH):
            d, settled = mser5_settled(values)
            if settled or t >= limit:
                return PilotWarmup(t, float(times[d]), n, d, settled, pilots)
        elif t >= limit:
            return PilotWarmup(t, math.nan, n, 0, False, pilots)
        t = min(2 * t, limit)
