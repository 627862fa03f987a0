"""Per-operation self-time distributions: a fitted family, or the observations themselves.

For each operation the candidate families the scenario can express (constant, exponential,
lognormal, gamma; :mod:`sim.scenario.distributions`) are fitted by maximum likelihood with
``scipy.stats`` (location fixed at 0: a time), ranked by AIC, and the best one is tested with
``scipy.stats.goodness_of_fit`` — a Kolmogorov–Smirnov statistic whose null distribution is
simulated *with the parameters re-estimated on every sample*, so the p-value is honest (the
plain KS p-value would be too high after fitting). If the best family is rejected at
``ALPHA`` the operation gets an empirical distribution: the observations themselves when
there are few, else a histogram on quantile bins, which the simulator samples uniformly
within a bin (``dist: empirical``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.05  # reject a family when the goodness-of-fit p-value is below this (99 Monte
# Carlo samples resolve p down to 0.01)
MC_SAMPLES = 99  # Monte Carlo samples for the goodness-of-fit null distribution
TEST_MAX = 1000  # the test runs on at most this many observations (an even subsample)
SAMPLES_MAX = 400  # empirical: the observations themselves up to this many, else bins
BINS = 100
FAMILIES = {"exponential": stats.expon, "lognormal": stats.lognorm, "gamma": stats.gamma}


@dataclass
class Fit:
    """The chosen distribution of one operation's self-time, and how well it fits."""

    family: str  # a scenario dist name, or "empirical"
    spec: dict[str, Any]  # the scenario's distribution mapping
    n: int
    mean: float
    ks: float | None = None  # KS statistic of the chosen family
    p_value: float | None = None  # goodness_of_fit (parameters re-estimated), None: not tested
    aic: dict[str, float] = field(default_factory=dict)
    params: tuple[float, ...] = ()
    note: str = ""

    def cdf(self, x: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The chosen distribution's CDF at x (empirical: the observations' own)."""
        if self.family in FAMILIES:
            return np.asarray(FAMILIES[self.family].cdf(x, *self.params))
        if self.family == "constant":
            return (x >= self.mean).astype(float)
        return np.searchsorted(np.sort(observed), x, side="right") / len(observed)


def ms(seconds: float, digits: int = 6) -> str:
    """A duration as the scenario writes it, in milliseconds."""
    return f"{seconds * 1e3:.{digits}g}ms"


def fit_times(x: np.ndarray, seed: int = 0) -> Fit:
    """Fit one operation's self-times (seconds, >= 0)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return Fit("constant", {"dist": "constant", "value": 0.0}, 0, 0.0, note="no spans")
    mean = float(x.mean())
    if float(x.max() - x.min()) <= 1e-9 + 1e-6 * abs(mean):
        return Fit("constant", {"dist": "constant", "value": ms(mean)}, n, mean, note="all equal")
    positive = x[x > 0]
    if len(positive) < max(8, 0.99 * n):  # zeros (or too few points) rule out these families
        return _empirical(x, "too few positive values for a family")
    aic: dict[str, float] = {}
    params: dict[str, tuple[float, ...]] = {}
    for name, dist in FAMILIES.items():
        p = dist.fit(positive, floc=0)
        params[name] = tuple(float(v) for v in p)
        aic[name] = 2 * (len(p) - 1) - 2 * float(np.sum(dist.logpdf(positive, *p)))
    best = min(aic, key=aic.__getitem__)
    test = positive
    if len(test) > TEST_MAX:  # an even subsample (sorted order, every k-th): deterministic
        test = np.sort(test)[:: math.ceil(len(test) / TEST_MAX)]
    known = {"loc": 0.0}
    res = stats.goodness_of_fit(
        FAMILIES[best],
        test,
        known_params=known,
        statistic="ks",
        n_mc_samples=MC_SAMPLES,
        rng=np.random.default_rng(seed),
    )
    p_value = float(res.pvalue)
    ks = float(stats.kstest(positive, FAMILIES[best].cdf, args=params[best]).statistic)
    if p_value < ALPHA:
        f = _empirical(x, f"{best} rejected (p = {p_value:.3g} < {ALPHA})")
        f.aic, f.ks, f.p_value = aic, ks, p_value
        return f
    return Fit(best, _spec(best, params[best]), n, mean, ks, p_value, aic, params[best])


def _spec(family: str, p: tuple[float, ...]) -> dict[str, Any]:
    if family == "exponential":  # expon(loc, scale)
        return {"dist": "exponential", "mean": ms(p[1])}
    if family == "lognormal":  # lognorm(s, loc, scale): sigma = s, mu = ln(scale)
        return {"dist": "lognormal", "mu": round(math.log(p[2]), 6), "sigma": round(p[0], 6)}
    # gamma(a, loc, scale): mean = a · scale
    return {"dist": "gamma", "shape": round(p[0], 6), "mean": ms(p[0] * p[2])}


def _empirical(x: np.ndarray, why: str) -> Fit:
    xs = np.sort(x)
    mean = float(xs.mean())
    if len(xs) <= SAMPLES_MAX:
        spec: dict[str, Any] = {"dist": "empirical", "samples": [ms(v, 9) for v in xs]}
    else:
        edges = np.unique(np.quantile(xs, np.linspace(0, 1, BINS + 1)))
        counts = np.histogram(xs, bins=edges)[0]
        spec = {
            "dist": "empirical",
            "edges": [ms(v, 9) for v in edges],
            "weights": [int(c) for c in counts],
        }
    return Fit("empirical", spec, len(xs), mean, note=why)
