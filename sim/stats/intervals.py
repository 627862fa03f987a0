"""Point estimates with confidence intervals for simulation output.

Design
------
Every function here takes plain numbers (a list, a numpy array or a pandas Series), never a
simulation object, and returns an :class:`Estimate`: a point value, a two-sided interval, the
number of independent units behind it and a short ``method`` string saying how it was built.

Missing values: NaN entries are **dropped** before anything is computed (``n`` counts the
values that remain). Infinite values are kept, so they propagate visibly. An input with no
values left raises :class:`ValueError`.

Which interval to use
---------------------
Observations *within* one simulation run (successive latencies, queue lengths...) are
autocorrelated, so the textbook i.i.d. formulas understate their variance. The simulator's
headline intervals therefore use the **method of independent replications**
(:func:`replication_interval`, Law 2015, ch. 9.4): each replication contributes one number --
its mean latency, its p99, its throughput -- and these numbers are i.i.d. across replications,
so a Student-t interval over them is valid. This is also how *quantiles* get their interval in
this project: the p99 of each replication is one observation, and the interval is taken across
replications (the estimator of a quantile from a finite run is slightly biased, O(1/run
length), which is negligible for the run lengths used here).

The other functions cover the remaining cases:

* :func:`mean_interval` -- Student-t interval for the mean of i.i.d. values.
* :func:`quantile_interval` -- distribution-free interval for a quantile from ONE i.i.d. sample
  by order statistics (Conover 1999, sec. 3.2; Hahn & Meeker 1991, sec. 5.2).
* :func:`batch_means_interval` -- non-overlapping batch means for one long, stationary run
  (Law 2015, sec. 9.5.3; Schmeiser 1982).

References
----------
* A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015, ch. 9.
* W. J. Conover, *Practical Nonparametric Statistics*, 3rd ed., Wiley, 1999, sec. 3.2.
* G. J. Hahn & W. Q. Meeker, *Statistical Intervals*, Wiley, 1991, sec. 5.2.
* R. J. Hyndman & Y. Fan, "Sample quantiles in statistical packages", *The American
  Statistician* 50(4), 1996, 361-365.
* B. Schmeiser, "Batch size effects in the analysis of simulation output",
  *Operations Research* 30(3), 1982.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats as st

__all__ = [
    "Estimate",
    "batch_means_interval",
    "check_level",
    "clean",
    "mean_interval",
    "quantile_interval",
    "replication_interval",
    "t_quantile",
]

#: Smallest batch size :func:`batch_means_interval` accepts.
MIN_BATCH_SIZE = 2


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided confidence interval ``[low, high]``."""

    value: float
    low: float
    high: float
    n: int
    level: float = 0.95
    method: str = ""

    @property
    def half_width(self) -> float:
        """Half the interval width, ``(high - low) / 2`` (inf for an unbounded interval)."""
        if self.low == self.high:
            return 0.0
        return (self.high - self.low) / 2.0

    @property
    def relative_half_width(self) -> float:
        """``half_width / |value|``; inf when value is 0 and half_width > 0, 0 when both are 0."""
        hw = self.half_width
        if hw == 0.0:
            return 0.0
        if self.value == 0.0:
            return math.inf
        return hw / abs(self.value)

    def contains(self, x: float) -> bool:
        """True when ``low <= x <= high``."""
        return bool(self.low <= x <= self.high)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields plus ``half_width`` (for reports and JSON)."""
        d = asdict(self)
        d["half_width"] = self.half_width
        return d


def clean(values: npt.ArrayLike) -> np.ndarray:
    """Return ``values`` as a 1-D float array with NaN entries dropped."""
    x = np.asarray(values, dtype=float).ravel()
    return x[~np.isnan(x)]


def _nonempty(values: npt.ArrayLike, what: str) -> np.ndarray:
    x = clean(values)
    if x.size == 0:
        raise ValueError(f"{what}: no non-NaN values")
    return x


def check_level(level: float) -> None:
    """Raise ValueError unless ``0 < level < 1``."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


@functools.lru_cache(maxsize=1024)
def t_quantile(level: float, dof: float) -> float:
    """Two-sided Student-t critical value ``t_{dof, 1 - (1 - level)/2}``."""
    check_level(level)
    return float(st.t.ppf(0.5 + level / 2.0, dof))


def _t_estimate(x: np.ndarray, level: float, method: str) -> Estimate:
    """Student-t interval for the mean of the (already cleaned, non-empty) array ``x``."""
    check_level(level)
    n = int(x.size)
    mean = float(np.mean(x))
    if n == 1:
        return Estimate(mean, -math.inf, math.inf, 1, level, f"{method}; n=1: interval unbounded")
    sd = float(np.std(x, ddof=1))
    hw = t_quantile(level, n - 1) * sd / math.sqrt(n)
    if hw == 0.0:
        return Estimate(mean, mean, mean, n, level, method)
    return Estimate(mean, mean - hw, mean + hw, n, level, method)


def mean_interval(values: npt.ArrayLike, level: float = 0.95) -> Estimate:
    """Student-t interval for the mean of i.i.d. values (n == 1 gives an unbounded interval)."""
    x = _nonempty(values, "mean_interval")
    return _t_estimate(x, level, "student-t mean")


def replication_interval(per_replication_values: npt.ArrayLike, level: float = 0.95) -> Estimate:
    """Student-t interval across independent replications, one statistic per replication.

    This is the method of independent replications (Law 2015, sec. 9.4): whatever the
    statistic is -- a mean, a p99, a throughput -- its per-replication values are i.i.d., so
    the t interval over them is valid even though observations within a run are correlated.
    Quantiles get their headline interval this way in this project.
    """
    x = _nonempty(per_replication_values, "replication_interval")
    return _t_estimate(x, level, "independent replications (student-t)")


@functools.lru_cache(maxsize=256)
def _order_statistic_ranks(n: int, q: float, level: float) -> tuple[int, int, float]:
    """1-based ranks ``(l, u)`` with P(X_(l) <= x_q <= X_(u)) >= level, and that coverage.

    ``Y = #{X_i <= x_q} ~ Binomial(n, q)`` and ``X_(l) <= x_q < X_(u)`` iff ``l <= Y <= u-1``,
    so the coverage is ``F(u-1) - F(l-1)``. Start equal-tailed (each tail <= alpha/2), then
    move one bound inwards by one rank if the total coverage stays >= level (the tightest
    such choice wins). A rank of 0 or n+1 means the bound is -inf or +inf.
    """
    alpha = 1.0 - level
    # smallest k with F(k) >= alpha/2 (so F(lo0-1) < alpha/2), and F(hi0-1) >= 1 - alpha/2
    lo0 = int(st.binom.ppf(alpha / 2.0, n, q))
    hi0 = int(st.binom.ppf(1.0 - alpha / 2.0, n, q)) + 1
    los = np.array([lo0, lo0 + 1, lo0, lo0 + 1])
    his = np.array([hi0, hi0, hi0 - 1, hi0 - 1])
    cov = st.binom.cdf(his - 1, n, q) - st.binom.cdf(los - 1, n, q)  # cdf(-1) == 0
    best = 0  # the equal-tailed choice always qualifies
    for k in range(1, 4):
        if los[k] < his[k] and level <= cov[k] < cov[best]:
            best = k
    return int(los[best]), int(his[best]), float(cov[best])


def quantile_interval(samples: npt.ArrayLike, q: float, level: float = 0.95) -> Estimate:
    """Distribution-free interval for the q-quantile of ONE i.i.d. sample (order statistics).

    Binomial / order-statistic method (Conover 1999, sec. 3.2; Hahn & Meeker 1991, sec. 5.2):
    the bounds are order statistics ``X_(l)``, ``X_(u)`` with ranks from the Binomial(n, q)
    distribution -- approximately equal-tailed, the tightest with coverage >= ``level`` for
    any continuous distribution (the exact coverage is given in ``method``). When the
    sample is too small for a tail the bound is infinite. The point value is the order
    statistic ``X_(ceil(n q))`` (Hyndman & Fan 1996, definition 1; numpy's
    ``"inverted_cdf"``), which always lies inside the interval.
    Only for i.i.d. data -- within-run samples are autocorrelated; use
    :func:`replication_interval` across replications for those.
    """
    check_level(level)
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q}")
    x = np.sort(_nonempty(samples, "quantile_interval"))
    n = int(x.size)
    lo, hi, coverage = _order_statistic_ranks(n, q, level)
    low = float(x[lo - 1]) if lo >= 1 else -math.inf
    high = float(x[hi - 1]) if hi <= n else math.inf
    value = float(np.quantile(x, q, method="inverted_cdf"))
    method = f"order statistics X_({lo}), X_({hi}) of n={n}; exact coverage {coverage:.4f}"
    return Estimate(value, low, high, n, level, method)


def batch_means_interval(
    series: npt.ArrayLike, n_batches: int = 20, level: float = 0.95
) -> Estimate:
    """Non-overlapping batch-means interval for the mean of one long stationary run.

    The series is cut into ``n_batches`` consecutive batches of ``m = len // n_batches``
    observations; the remainder is dropped *at the start* (where any leftover warm-up bias
    is). The batch means are treated as i.i.d. and a Student-t interval with
    ``n_batches - 1`` degrees of freedom is formed (Law 2015, sec. 9.5.3). ``n`` in the
    result is the number of batches. Raises ValueError when a batch would hold fewer than
    ``MIN_BATCH_SIZE`` observations. The series should already be truncated for warm-up
    (see :func:`sim.stats.warmup.mser5`).
    """
    if n_batches < 2:
        raise ValueError(f"n_batches must be >= 2, got {n_batches}")
    x = clean(series)
    m = x.size // n_batches
    if m < MIN_BATCH_SIZE:
        raise ValueError(
            f"batch_means_interval: {x.size} observations is too few for {n_batches} batches "
            f"(need at least {MIN_BATCH_SIZE * n_batches})"
        )
    kept = x[x.size - m * n_batches :]
    batch_means = kept.reshape(n_batches, m).mean(axis=1)
    est = _t_estimate(batch_means, level, f"batch means ({n_batches} batches of {m})")
    return est
