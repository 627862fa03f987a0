"""Sampling: every kind matches its analytic mean, tails and bounds hold, batching is invisible.

Tolerances come from the sampling error, never from rounding: a sample mean of n i.i.d.
values is within 4 standard errors (sample sd / sqrt(n)) of the true mean except with
probability ~6e-5; a binomial proportion within 4 * sqrt(p(1-p)/n) likewise. Each test draws
from its own seeded generator, so the outcome is fixed; the tolerance says what a failure
would mean.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter

from sim.core.distributions import BATCH, Sampler, Uniforms, draw
from sim.scenario import distributions as d

N = 200_000
Z = 4.0
DIST: TypeAdapter[d._Dist] = TypeAdapter(d.Distribution)


def spec(**kw: object) -> d._Dist:
    """A distribution as a scenario writes it (durations in seconds or with units)."""
    return DIST.validate_python(kw)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


KINDS = {
    "exponential": spec(dist="exponential", mean="2ms"),
    "uniform": spec(dist="uniform", low="1ms", high="3ms"),
    "normal": spec(dist="normal", mean="2ms", sd="0.5ms"),
    "normal-truncated-hard": spec(dist="normal", mean="1ms", sd="2ms", low="0.5ms", high="3ms"),
    "lognormal-mean-p99": spec(dist="lognormal", mean="1.5ms", p99="8ms"),
    "lognormal-mu-sigma": spec(dist="lognormal", mu=-7.0, sigma=0.8),
    "gamma": spec(dist="gamma", shape=0.5, mean="2ms"),
    "erlang": spec(dist="erlang", k=4, mean="2ms"),
    "empirical-samples": spec(dist="empirical", samples=["1ms", "2ms", "7ms"]),
    "empirical-histogram": spec(
        dist="empirical", edges=["0ms", "1ms", "2ms", "10ms"], weights=[1, 3, 0.5]
    ),
}


@pytest.mark.parametrize("name", list(KINDS))
def test_sample_mean_matches_analytic_mean(name: str) -> None:
    s = KINDS[name]
    x = draw(s, rng(1), N)
    assert x.shape == (N,)
    assert (x >= 0).all()
    se = x.std(ddof=1) / math.sqrt(N)
    assert abs(x.mean() - s.mean) < Z * se, (x.mean(), s.mean, se)


def test_constant_is_exact_and_consumes_no_randomness() -> None:
    s = spec(dist="constant", value="3ms")
    assert s.mean == 0.003
    g = rng(2)
    np.testing.assert_array_equal(draw(s, g, 5), np.full(5, 0.003))
    smp = Sampler(s, g)
    assert [smp() for _ in range(3)] == [0.003] * 3
    assert g.random() == rng(2).random()  # the generator was never advanced


def test_analytic_means_by_hand() -> None:
    """The closed forms the other tests rely on, computed independently."""
    assert KINDS["uniform"].mean == pytest.approx(0.002)
    assert KINDS["empirical-samples"].mean == pytest.approx(0.010 / 3)
    # histogram: bin midpoints 0.5, 1.5, 6 ms with weights 1, 3, 0.5
    assert KINDS["empirical-histogram"].mean == pytest.approx((0.5 + 4.5 + 3.0) / 4.5 * 1e-3)
    # lognormal mu, sigma: exp(mu + sigma^2 / 2)
    assert KINDS["lognormal-mu-sigma"].mean == pytest.approx(math.exp(-7.0 + 0.32))


def test_lognormal_by_mean_and_p99_has_that_p99() -> None:
    s = spec(dist="lognormal", mean="1.5ms", p99="8ms")
    assert isinstance(s, d.Lognormal)
    mu, sigma = s.log_params
    # the parameters solve both equations
    assert math.exp(mu + sigma**2 / 2) == pytest.approx(0.0015, rel=1e-12)
    assert math.exp(mu + d.Z99 * sigma) == pytest.approx(0.008, rel=1e-12)
    x = draw(s, rng(3), N)
    below = float((x <= 0.008).mean())
    assert abs(below - 0.99) < Z * math.sqrt(0.99 * 0.01 / N), below


def test_lognormal_impossible_tail_is_refused() -> None:
    with pytest.raises(ValueError, match="p99/mean too large"):
        spec(dist="lognormal", mean="1ms", p99="20ms")


@pytest.mark.parametrize(
    ("low", "high"), [(0.0, math.inf), (0.0005, 0.003), (0.0025, 0.0026)], ids=str
)
def test_truncated_normal_stays_in_bounds(low: float, high: float) -> None:
    bounds = {"low": low} if math.isinf(high) else {"low": low, "high": high}
    s = spec(dist="normal", mean="1ms", sd="2ms", **bounds)
    x = draw(s, rng(4), N)
    assert x.min() >= low
    assert x.max() <= high
    se = x.std(ddof=1) / math.sqrt(N)
    assert abs(x.mean() - s.mean) < Z * se


def test_normal_with_zero_sd_is_the_clamped_mean() -> None:
    s = spec(dist="normal", mean="5ms", sd=0, low="1ms", high="3ms")
    assert s.mean == 0.003
    np.testing.assert_array_equal(draw(s, rng(), 4), np.full(4, 0.003))


def test_empirical_histogram_bins_and_uniform_within_bins() -> None:
    edges = np.array([0.0, 0.001, 0.002, 0.010])
    w = np.array([1.0, 3.0, 0.5])
    s = spec(dist="empirical", edges=list(edges), weights=list(w))
    x = draw(s, rng(5), N)
    assert x.min() >= 0.0 and x.max() <= 0.010
    counts, _ = np.histogram(x, bins=edges)
    p = w / w.sum()
    for k in range(3):
        assert abs(counts[k] / N - p[k]) < Z * math.sqrt(p[k] * (1 - p[k]) / N)
        inside = x[(x >= edges[k]) & (x < edges[k + 1])]
        width = edges[k + 1] - edges[k]
        # uniform on the bin: mean at the midpoint, sd = width / sqrt(12)
        se = width / math.sqrt(12) / math.sqrt(len(inside))
        assert abs(inside.mean() - (edges[k] + edges[k + 1]) / 2) < Z * se


def test_empirical_samples_resamples_only_the_given_values() -> None:
    s = spec(dist="empirical", samples=["1ms", "2ms", "7ms"])
    x = draw(s, rng(6), N)
    assert set(np.unique(x)) == {0.001, 0.002, 0.007}
    for v in (0.001, 0.002, 0.007):
        assert abs((x == v).mean() - 1 / 3) < Z * math.sqrt(2 / 9 / N)


@pytest.mark.parametrize("name", ["exponential", "uniform", "lognormal-mean-p99", "gamma"])
def test_sampler_sequence_does_not_depend_on_batch_size(name: str) -> None:
    """Element-wise numpy draws: the same values one by one, in any batch size."""
    s = KINDS[name]
    n = 3000
    reference = draw(s, rng(7), n).tolist()
    for batch in (1, 7, 100, BATCH, 5000):
        smp = Sampler(s, rng(7), batch=batch)
        assert [smp() for _ in range(n)] == reference, batch


def test_uniforms_are_the_generator_sequence() -> None:
    u = Uniforms(rng(8))
    got = [u() for _ in range(2 * BATCH + 5)]
    assert got == rng(8).random(2 * BATCH + 5).tolist()
    assert all(0.0 <= v < 1.0 for v in got)


def test_unknown_distribution_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        draw(object(), rng(), 1)  # type: ignore[arg-type]
