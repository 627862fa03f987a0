"""Tests for sim.stats.paired: paired-t on common random numbers, Fieller ratio, Welch."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as st

from sim.stats import independent_comparison, mean_interval, paired_comparison


def _crn_pairs(
    rng: np.random.Generator, n: int, mu_a: float, mu_b: float, rho: float, sd: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Bivariate normal pairs with correlation rho (what CRN produces)."""
    cov = sd * sd * np.array([[1.0, rho], [rho, 1.0]])
    ab = rng.multivariate_normal([mu_a, mu_b], cov, size=n)
    return ab[:, 0], ab[:, 1]


def test_paired_interval_narrower_than_independent_under_crn() -> None:
    # rho = 0.9: Var(b - a) = 2 (1 - rho) = 0.2 vs 2 for independent -> ~3.2x narrower.
    a, b = _crn_pairs(np.random.default_rng(1), 20, 10.0, 10.3, 0.9)
    paired = paired_comparison(a, b)
    welch = independent_comparison(a, b)
    assert paired.difference.half_width < 0.5 * welch.half_width
    assert paired.difference.value == pytest.approx(welch.value)
    assert paired.significant  # 0.3 with half-width ~0.2
    assert welch.contains(0.0)  # without pairing the same data cannot tell A from B


def test_pairing_gain_on_average() -> None:
    rng = np.random.default_rng(2)
    ratios = []
    for _ in range(200):
        a, b = _crn_pairs(rng, 10, 5.0, 5.0, 0.75)
        ratios.append(
            paired_comparison(a, b).difference.half_width / independent_comparison(a, b).half_width
        )
    # sqrt((1 - rho)) = 0.5 in expectation of the standard errors; t dof differ a little.
    assert 0.4 < float(np.mean(ratios)) < 0.65


def test_difference_is_b_minus_a_and_matches_mean_interval() -> None:
    a = np.array([10.0, 12.0, 11.0, 13.0, 12.5])
    b = a + np.array([2.0, 2.5, 1.5, 2.2, 1.9])
    r = paired_comparison(a, b)
    ref = mean_interval(b - a)
    assert (r.difference.value, r.difference.low, r.difference.high) == (
        ref.value,
        ref.low,
        ref.high,
    )
    assert r.difference.value > 0 and r.significant
    assert r.mean_a == mean_interval(a) and r.mean_b == mean_interval(b)
    assert r.n == 5
    flipped = paired_comparison(b, a)
    assert flipped.difference.high < 0 and flipped.significant


def test_not_significant_when_no_difference() -> None:
    a = np.linspace(5.0, 9.0, 12)
    b = a + np.array([1.0, -1.0] * 6)  # differences average exactly 0
    r = paired_comparison(a, b)
    assert r.difference.value == pytest.approx(0.0)
    assert r.difference.contains(0.0)
    assert not r.significant


def test_single_pair_is_not_significant() -> None:
    r = paired_comparison([1.0], [5.0])
    assert r.difference.low == -math.inf and not r.significant
    assert r.ratio.value == 5.0 and r.ratio.high == math.inf


def test_nan_pairs_dropped_and_length_mismatch() -> None:
    a = [1.0, 2.0, math.nan, 4.0, 5.0]
    b = [1.5, math.nan, 3.0, 4.8, 5.9]
    r = paired_comparison(a, b)
    assert r.n == 3
    assert r.difference == paired_comparison([1.0, 4.0, 5.0], [1.5, 4.8, 5.9]).difference
    with pytest.raises(ValueError):
        paired_comparison([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        paired_comparison([math.nan], [1.0])


def test_ratio_fieller_coverage() -> None:
    # Fieller's interval is exact for bivariate-normal pairs: 95 % coverage of mu_b / mu_a.
    rng = np.random.default_rng(3)
    mu_a, mu_b = 10.0, 13.0
    hits = []
    for _ in range(2000):
        a, b = _crn_pairs(rng, 8, mu_a, mu_b, 0.6, sd=2.0)
        hits.append(paired_comparison(a, b).ratio.contains(mu_b / mu_a))
    cov = float(np.mean(hits))
    assert 0.93 <= cov <= 0.97, cov


def test_ratio_known_case_and_degenerate() -> None:
    a = np.array([10.0, 11.0, 9.0, 10.5, 9.5])
    r = paired_comparison(a, 2.0 * a)  # b is exactly 2 a: ratio 2 with zero width
    assert r.ratio.value == pytest.approx(2.0)
    assert r.ratio.low == pytest.approx(2.0) and r.ratio.high == pytest.approx(2.0)
    noisy = paired_comparison([1.0, -1.0, 2.0, -2.0], [3.0, 4.0, 5.0, 6.0])
    assert noisy.ratio.low == -math.inf and noisy.ratio.high == math.inf  # mean(a) ~ 0
    assert "Fieller" in noisy.ratio.method


def test_independent_comparison_matches_scipy_welch() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.0, 1.0, 15), rng.normal(1.0, 3.0, 9)
    ci = st.ttest_ind(b, a, equal_var=False).confidence_interval(0.9)
    e = independent_comparison(a, b, level=0.9)
    assert (e.low, e.high) == pytest.approx((ci.low, ci.high))
    assert e.value == pytest.approx(b.mean() - a.mean())
    assert e.n == 24


def test_to_dict_is_json_ready() -> None:
    r = paired_comparison([1.0, 2.0, 3.0, 4.0], [1.5, 2.4, 3.6, 4.4])
    d = r.to_dict()
    assert set(d) == {"n", "significant", "mean_a", "mean_b", "difference", "ratio"}
    assert d["difference"]["value"] == pytest.approx(0.475)
    assert d["difference"]["half_width"] == pytest.approx(r.difference.half_width)
    json.dumps(d)
