"""Tests for sim.stats.intervals: exact values on small cases, and coverage by simulation.

Coverage tests: with N independent trials the empirical coverage of a correct 95 % interval
has standard deviation sqrt(0.95 * 0.05 / N) ~= 0.0034 for N = 4000, so the window
[0.93, 0.97] is about +-6 standard deviations. Sample sizes are small enough (n = 10) that a
normal (z) critical value instead of Student-t would cover only ~92 % and fail.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import signal
from scipy import stats as st

from sim.stats import (
    Estimate,
    batch_means_interval,
    mean_interval,
    quantile_interval,
    replication_interval,
)

TRIALS = 4000
COVERAGE_WINDOW = (0.93, 0.97)


def _coverage(estimates: list[Estimate], truth: float) -> float:
    return float(np.mean([e.contains(truth) for e in estimates]))


# --- Estimate ---------------------------------------------------------------------------


def test_estimate_properties() -> None:
    e = Estimate(value=10.0, low=9.0, high=11.5, n=5)
    assert e.half_width == pytest.approx(1.25)
    assert e.relative_half_width == pytest.approx(0.125)
    assert e.contains(9.0) and e.contains(11.5) and e.contains(10.0)
    assert not e.contains(8.99) and not e.contains(11.51)
    assert e.level == 0.95
    assert e.to_dict()["half_width"] == pytest.approx(1.25)


def test_relative_half_width_edge_cases() -> None:
    assert Estimate(0.0, -1.0, 1.0, 3).relative_half_width == math.inf
    assert Estimate(0.0, 0.0, 0.0, 3).relative_half_width == 0.0
    assert Estimate(-4.0, -5.0, -3.0, 3).relative_half_width == pytest.approx(0.25)
    assert Estimate(1.0, -math.inf, math.inf, 1).half_width == math.inf
    assert Estimate(2.0, 2.0, 2.0, 4).half_width == 0.0


# --- mean_interval / replication_interval -----------------------------------------------


def test_mean_interval_known_values() -> None:
    # mean 3, s = sqrt(2.5), t_{4, 0.975} = 2.7764451051977987 (tables).
    e = mean_interval([1, 2, 3, 4, 5])
    hw = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert e.value == pytest.approx(3.0)
    assert e.low == pytest.approx(3.0 - hw)
    assert e.high == pytest.approx(3.0 + hw)
    assert e.n == 5 and e.level == 0.95


def test_mean_interval_matches_scipy_ttest() -> None:
    x = np.random.default_rng(1).normal(7.0, 2.0, size=13)
    ci = st.ttest_1samp(x, 0.0).confidence_interval(0.9)
    e = mean_interval(x, level=0.9)
    assert (e.low, e.high) == pytest.approx((ci.low, ci.high))


def test_mean_interval_accepts_list_array_series_and_drops_nan() -> None:
    vals = [1.0, 2.0, math.nan, 4.0]
    expected = mean_interval([1.0, 2.0, 4.0])
    for v in (vals, np.array(vals), pd.Series(vals)):
        e = mean_interval(v)
        assert e == expected
        assert e.n == 3


def test_mean_interval_single_value_is_unbounded() -> None:
    e = mean_interval([4.2, math.nan])
    assert e.value == 4.2 and e.n == 1
    assert e.low == -math.inf and e.high == math.inf
    assert "unbounded" in e.method


def test_mean_interval_constant_values_zero_width() -> None:
    e = mean_interval([3.0, 3.0, 3.0])
    assert (e.low, e.value, e.high) == (3.0, 3.0, 3.0)
    assert e.relative_half_width == 0.0


@pytest.mark.parametrize("bad", [[], [math.nan, math.nan]])
def test_mean_interval_empty_raises(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        mean_interval(bad)


@pytest.mark.parametrize("level", [0.0, 1.0, 95.0, -0.5])
def test_invalid_level_raises(level: float) -> None:
    with pytest.raises(ValueError):
        mean_interval([1.0, 2.0, 3.0], level=level)


def test_replication_interval_same_numbers_as_mean_interval() -> None:
    x = [10.2, 11.0, 9.7, 10.5]
    r, m = replication_interval(x), mean_interval(x)
    assert (r.value, r.low, r.high, r.n) == (m.value, m.low, m.high, m.n)
    assert "replication" in r.method


def test_mean_interval_coverage_normal() -> None:
    rng = np.random.default_rng(20240601)
    data = rng.normal(5.0, 3.0, size=(TRIALS, 10))
    cov = _coverage([mean_interval(row) for row in data], 5.0)
    assert COVERAGE_WINDOW[0] <= cov <= COVERAGE_WINDOW[1], cov


def test_replication_interval_coverage_of_a_quantile() -> None:
    # Each "replication" yields its p90 of 500 exponential(1) latencies; the interval across
    # 10 replications should cover the true p90 = ln 10 (estimator bias is O(1/500), ~2 %
    # of the ~0.1 half-width; much shorter runs make the p90 skewed enough to undercover).
    rng = np.random.default_rng(7)
    p90 = np.concatenate(
        [  # in chunks of 500 trials to bound memory
            np.quantile(rng.exponential(1.0, size=(500, 10, 500)), 0.9, axis=2)
            for _ in range(TRIALS // 500)
        ]
    )
    cov = _coverage([replication_interval(row) for row in p90], math.log(10.0))
    assert COVERAGE_WINDOW[0] <= cov <= COVERAGE_WINDOW[1], cov


# --- quantile_interval -------------------------------------------------------------------


def test_quantile_interval_textbook_median_n20() -> None:
    # Conover (1999), sec. 3.2: for n = 20 the 95 % interval for the median is
    # (X_(6), X_(15)) with exact coverage 0.9586.
    e = quantile_interval(np.arange(1.0, 21.0)[::-1], 0.5)
    assert (e.low, e.high) == (6.0, 15.0)
    assert e.value == 10.0  # X_(ceil(n q)) = X_(10)
    assert "0.9586" in e.method


@pytest.mark.parametrize("n", [20, 50, 100, 200, 500, 1000])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_quantile_interval_exact_coverage_is_at_least_level(n: int, q: float) -> None:
    # With data 1..n the bounds are the ranks; recompute the coverage with scipy.
    e = quantile_interval(np.arange(1.0, n + 1.0), q)
    lo = 0 if e.low == -math.inf else int(e.low)
    hi = n + 1 if e.high == math.inf else int(e.high)
    dist = st.binom(n, q)
    coverage = dist.cdf(hi - 1) - (dist.cdf(lo - 1) if lo >= 1 else 0.0)
    assert coverage >= 0.95
    if n >= 100 and hi <= n:  # not needlessly conservative once n is moderate
        assert coverage <= 0.97


@pytest.mark.parametrize("n", [1, 2, 3, 7, 30, 101])
@pytest.mark.parametrize("q", [0.01, 0.3, 0.5, 0.99])
def test_quantile_interval_point_inside_interval(n: int, q: float) -> None:
    x = np.random.default_rng(n).lognormal(size=n)
    e = quantile_interval(x, q)
    assert e.value == np.quantile(x, q, method="inverted_cdf")
    assert e.contains(e.value)


def test_quantile_interval_small_sample_has_infinite_bound() -> None:
    e = quantile_interval([1.0, 2.0, 3.0, 4.0, 5.0], 0.99)
    assert e.high == math.inf
    assert math.isfinite(e.low)


@pytest.mark.parametrize("q", [0.0, 1.0, 1.5])
def test_quantile_interval_bad_q(q: float) -> None:
    with pytest.raises(ValueError):
        quantile_interval([1.0, 2.0, 3.0], q)


def test_quantile_interval_coverage_iid() -> None:
    rng = np.random.default_rng(99)
    data = rng.exponential(2.0, size=(TRIALS, 200))
    truth = -2.0 * math.log(0.1)  # p90 of exponential with mean 2
    cov = _coverage([quantile_interval(row, 0.9) for row in data], truth)
    assert COVERAGE_WINDOW[0] <= cov <= COVERAGE_WINDOW[1], cov


# --- batch_means_interval ----------------------------------------------------------------


def _ar1(rng: np.random.Generator, trials: int, n: int, phi: float, mu: float) -> np.ndarray:
    """Stationary AR(1) paths: x_t = mu + phi (x_{t-1} - mu) + e_t, e_t ~ N(0, 1)."""
    e = rng.normal(size=(trials, n))
    e[:, 0] /= math.sqrt(1.0 - phi * phi)  # start in the stationary distribution
    return mu + signal.lfilter([1.0], [1.0, -phi], e, axis=1)


def test_batch_means_coverage_on_ar1_and_wider_than_naive() -> None:
    # phi = 0.7: Var(mean) is (1 + phi) / (1 - phi) ~= 5.7 times the i.i.d. formula, so the
    # naive interval is ~2.4x too narrow. Batches of 500 make batch-mean correlation tiny.
    trials, mu = 1000, 3.0
    x = _ar1(np.random.default_rng(5), trials, 10_000, 0.7, mu)
    bm = [batch_means_interval(row, n_batches=20) for row in x]
    naive = [mean_interval(row) for row in x]
    cov_bm, cov_naive = _coverage(bm, mu), _coverage(naive, mu)
    assert COVERAGE_WINDOW[0] <= cov_bm <= COVERAGE_WINDOW[1], cov_bm
    assert cov_naive < 0.75, cov_naive
    ratio = np.mean([b.half_width / a.half_width for a, b in zip(naive, bm, strict=True)])
    assert 1.8 < ratio < 3.2, ratio


def test_batch_means_drops_remainder_at_start() -> None:
    # 3 warm-up junk values + 4 batches of 3 -> the junk is the remainder and is dropped.
    series = [1000.0, 1000.0, 1000.0, *range(12)]
    e = batch_means_interval(series, n_batches=4)
    assert e.value == pytest.approx(5.5)
    assert e.n == 4
    # batch means 1, 4, 7, 10 -> s = sqrt(15), t_{3, 0.975} = 3.182446305284263
    hw = 3.182446305284263 * math.sqrt(15.0) / 2.0
    assert e.half_width == pytest.approx(hw)


def test_batch_means_too_few_raises() -> None:
    with pytest.raises(ValueError):
        batch_means_interval(np.arange(39.0), n_batches=20)
    with pytest.raises(ValueError):
        batch_means_interval(np.arange(100.0), n_batches=1)
    assert batch_means_interval(np.arange(40.0), n_batches=20).n == 20
