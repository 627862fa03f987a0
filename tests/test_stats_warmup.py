"""Tests for sim.stats.warmup (MSER-5)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.stats import mean_interval, mser5, mser5_time
from sim.stats.warmup import mser_statistic

N = 2000
TAU = 50.0  # time constant of the transient, in observations
SEEDS = range(20)


def _transient(n: int = N, amplitude: float = 10.0) -> np.ndarray:
    return amplitude * np.exp(-np.arange(n) / TAU)


def _reference_mser5(x: np.ndarray) -> int:
    """Direct transcription of White (1997) MSER applied to batch means of 5."""
    b = len(x) // 5
    z = [float(np.mean(x[5 * j : 5 * j + 5])) for j in range(b)]
    best_d, best = 0, math.inf
    for d in range(b):
        if not d < b / 2:
            break
        kept = z[d:]
        mean = sum(kept) / len(kept)
        stat = sum((v - mean) ** 2 for v in kept) / len(kept) ** 2
        if stat < best:
            best_d, best = d, stat
    return 5 * best_d


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n", [10, 11, 37, 200, 1003])
def test_mser5_matches_direct_definition(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    x = 3.0 + _transient(n, 4.0) + rng.normal(size=n)
    assert mser5(x) == _reference_mser5(x)


@pytest.mark.parametrize("seed", SEEDS)
def test_mser5_truncates_past_transient_and_removes_bias(seed: int) -> None:
    # 5 + 10 exp(-t/50) + N(0, 1): untruncated, the bias of the mean is ~0.25, five times
    # the ~0.045 half-width, so returning 0 (or too small a d) fails the bias check.
    rng = np.random.default_rng(seed)
    transient = _transient()
    x = 5.0 + transient + rng.normal(size=N)
    d = mser5(x)
    assert d % 5 == 0
    assert 2 * TAU <= d <= N / 2, d  # at t = 2 tau the transient is still 1.35 sd
    bias = transient[d:].mean()
    assert bias < mean_interval(x[d:]).half_width, (d, bias)


def test_untruncated_mean_would_be_biased() -> None:
    # Guards the test above: it is only meaningful if no truncation fails it.
    rng = np.random.default_rng(0)
    transient = _transient()
    x = 5.0 + transient + rng.normal(size=N)
    assert transient.mean() > 3 * mean_interval(x).half_width


def test_mser5_stationary_series_truncates_little() -> None:
    ds = np.array([mser5(np.random.default_rng(1000 + s).normal(size=N)) for s in SEEDS])
    assert np.median(ds) <= 10, ds
    assert ds.max() <= 0.1 * N, ds


def test_mser5_searches_first_half_only() -> None:
    # Noise, then a perfectly flat tail: MSER is 0 inside the tail (the last 40 %), so an
    # unrestricted search would truncate there; the first-half rule must not.
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(size=600), np.zeros(400)])
    z = x.reshape(-1, 5).mean(axis=1)
    assert int(np.argmin(mser_statistic(z, max_d=len(z) - 1))) >= 120
    d = mser5(x)
    assert d < len(x) / 2


def test_mser5_nan_dropped_and_short_series() -> None:
    x = np.r_[10.0, 9.0, 8.0, np.arange(20.0) * 0.0 + 1.0]
    with_nan = np.insert(x, [1, 5], math.nan)
    assert mser5(with_nan) == mser5(x)
    assert mser5(pd.Series(list(x))) == mser5(x)
    with pytest.raises(ValueError):
        mser5([1.0] * 9)
    assert mser5([1.0] * 10) == 0


def test_mser5_time_returns_timestamp_of_truncation() -> None:
    rng = np.random.default_rng(11)
    x = 5.0 + _transient() + rng.normal(size=N)
    times = 3.0 + 0.5 * np.arange(N)
    d = mser5(x)
    assert mser5_time(times, x) == times[d]
    # Unsorted input with NaN pairs gives the same answer.
    perm = rng.permutation(N)
    t2 = np.r_[times[perm], math.nan, 7.0]
    x2 = np.r_[x[perm], 1.0, math.nan]
    assert mser5_time(t2, x2) == times[d]
    with pytest.raises(ValueError):
        mser5_time(times[:-1], x)
