"""Comparing two architectures on common random numbers (CRN).

Design
------
The simulator runs replication ``i`` of architecture A and of architecture B with the same
random-number streams, so ``a[i]`` and ``b[i]`` share arrivals and service demands and are
positively correlated. Then ``Var(b_i - a_i) = Var(a) + Var(b) - 2 Cov(a, b)`` is smaller than
for independent runs and the *paired-t* interval on the differences ``d_i = b_i - a_i`` is
narrower (Law 2015, sec. 10.2.1 and 11.2 on CRN). :func:`independent_comparison` (Welch) is
provided to show how much pairing buys.

Conventions
-----------
* The difference is **b minus a** (``B - A``): positive means B has the larger value, e.g. a
  higher latency for B.
* The ratio is ``mean(b) / mean(a)`` with a **Fieller** interval (Fieller 1954; see also
  Franz 2007): the set of ``theta`` for which the paired t-test of ``b_i - theta * a_i`` does
  not reject zero. It uses the sample covariance of the pairs, so it benefits from CRN too,
  it is exact for bivariate-normal pairs, and unlike the delta method it becomes unbounded
  (reported as ``[-inf, inf]``) when ``mean(a)`` is not clearly away from 0.
* NaN: a pair is dropped when either of its two values is NaN (``n`` counts complete pairs).
* ``significant`` is True when the difference interval excludes 0.

References
----------
* A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015, ch. 10-11.
* E. C. Fieller, "Some problems in interval estimation", *JRSS B* 16(2), 1954, 175-185.
* V. Franz, "Ratios: A short guide to confidence limits and proper use", arXiv:0710.2024, 2007.
* B. L. Welch, "The generalization of 'Student's' problem when several different population
  variances are involved", *Biometrika* 34, 1947, 28-35.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.stats.intervals import Estimate, check_level, clean, mean_interval, t_quantile

__all__ = ["PairedResult", "fieller_ratio", "independent_comparison", "paired_comparison"]


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of B against A: means, difference (b minus a), ratio (b / a)."""

    mean_a: Estimate
    mean_b: Estimate
    difference: Estimate
    ratio: Estimate
    significant: bool
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (each Estimate via ``Estimate.to_dict``)."""
        return {
            "n": self.n,
            "significant": self.significant,
            "mean_a": self.mean_a.to_dict(),
            "mean_b": self.mean_b.to_dict(),
            "difference": self.difference.to_dict(),
            "ratio": self.ratio.to_dict(),
        }


def _pairs(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float, with every pair containing a NaN dropped."""
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} != {y.size}")
    ok = ~(np.isnan(x) | np.isnan(y))
    if not ok.any():
        raise ValueError("paired_comparison: no complete (non-NaN) pairs")
    return x[ok], y[ok]


def fieller_ratio(a: npt.ArrayLike, b: npt.ArrayLike, level: float = 0.95) -> Estimate:
    """Fieller interval for ``mean(b) / mean(a)`` from paired observations."""
    check_level(level)
    x, y = _pairs(a, b)
    n = int(x.size)
    ma, mb = float(x.mean()), float(y.mean())
    value = mb / ma if ma != 0.0 else math.nan
    method = "Fieller (paired, t with n-1 dof)"
    if n < 2:
        return Estimate(value, -math.inf, math.inf, n, level, f"{method}; n=1: unbounded")
    cov = np.cov(x, y, ddof=1) / n  # covariance matrix of the two sample means
    t2 = t_quantile(level, n - 1) ** 2
    # theta is inside iff (mb - theta*ma)^2 <= t2 * Var(mb - theta*ma), i.e.
    # qa*theta^2 - 2*qb*theta + qc <= 0.
    qa = ma * ma - t2 * cov[0, 0]
    qb = ma * mb - t2 * cov[0, 1]
    qc = mb * mb - t2 * cov[1, 1]
    if qa <= 0.0:
        return Estimate(
            value, -math.inf, math.inf, n, level, f"{method}; unbounded: mean(a) not clearly != 0"
        )
    root = math.sqrt(max(qb * qb - qa * qc, 0.0))
    low, high = (qb - root) / qa, (qb + root) / qa
    if root == 0.0:
        low = high = value
    return Estimate(value, float(low), float(high), n, level, method)


def paired_comparison(a: npt.ArrayLike, b: npt.ArrayLike, level: float = 0.95) -> PairedResult:
    """Paired-t comparison of replications ``a[i]``, ``b[i]`` run on common random numbers."""
    x, y = _pairs(a, b)
    diff = mean_interval(y - x, level)
    diff = Estimate(diff.value, diff.low, diff.high, diff.n, level, "paired-t, b minus a")
    significant = bool(diff.low > 0.0 or diff.high < 0.0)
    return PairedResult(
        mean_a=mean_interval(x, level),
        mean_b=mean_interval(y, level),
        difference=diff,
        ratio=fieller_ratio(x, y, level),
        significant=significant,
        n=int(x.size),
    )


def independent_comparison(a: npt.ArrayLike, b: npt.ArrayLike, level: float = 0.95) -> Estimate:
    """Welch interval for ``mean(b) - mean(a)`` from independent samples (``n = len a + len b``).

    NaN values are dropped from each sample separately. With fewer than two values in
    either sample the interval is unbounded.
    """
    check_level(level)
    x, y = clean(a), clean(b)
    if x.size == 0 or y.size == 0:
        raise ValueError("independent_comparison: each sample needs a non-NaN value")
    n = int(x.size + y.size)
    value = float(y.mean() - x.mean())
    method = "Welch (b minus a, Welch-Satterthwaite dof)"
    if x.size < 2 or y.size < 2:
        return Estimate(value, -math.inf, math.inf, n, level, f"{method}; unbounded: n < 2")
    va = float(x.var(ddof=1)) / x.size
    vb = float(y.var(ddof=1)) / y.size
    se2 = va + vb
    if se2 == 0.0:
        return Estimate(value, value, value, n, level, method)
    dof = se2**2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    hw = t_quantile(level, dof) * math.sqrt(se2)
    return Estimate(value, value - hw, value + hw, n, level, method)
