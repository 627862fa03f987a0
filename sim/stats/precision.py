"""Sequential replications until the confidence intervals are tight enough.

Design
------
Rather than fixing the number of replications up front, keep adding independent replications
until every headline metric's interval is narrow *relative to its value* -- the sequential
procedure of Law (2015, sec. 9.4.1, "relative precision"), and what JMT (Bertoli, Casale &
Serazzi 2009) does when it stops a simulation at a requested confidence interval width.

After each replication ``r >= min_replications`` every headline metric gets a
:func:`~sim.stats.intervals.replication_interval` over its values so far; the procedure stops
at the first ``r`` where, for every metric,

    relative_half_width = half_width / |mean| <= target,

or where all of that metric's values so far are identical (a deterministic metric, e.g. a
count fixed by the scenario, counts as precise). If ``max_replications`` is reached first,
``reached`` is False. Law notes that such a sequential rule may cover slightly below the
nominal level for small ``r``; ``min_replications`` guards against stopping on a lucky
early streak.

Rules: NaN values of a metric are dropped (as everywhere in :mod:`sim.stats`); a metric with
no non-NaN value, or whose mean is exactly 0 while its values differ, is never precise.
Nothing here is random: given a deterministic ``run_one`` the result is deterministic.

References
----------
* A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015, sec. 9.4.1.
* M. Bertoli, G. Casale & G. Serazzi, "JMT: performance engineering tools for system
  modeling", *ACM SIGMETRICS Performance Evaluation Review* 36(4), 2009, 10-15.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.stats.intervals import Estimate, check_level, clean, replication_interval

__all__ = ["PrecisionResult", "run_until_precision"]


@dataclass(frozen=True, eq=False)
class PrecisionResult:
    """Outcome of :func:`run_until_precision`."""

    values: pd.DataFrame  # one row per replication (index "replication"), one column per key
    estimates: dict[str, Estimate]  # headline metric -> replication interval
    reached: bool  # every headline metric met the target
    replications: int  # number of replications run
    worst_metric: str  # headline metric with the largest relative half-width
    target: float = 0.05
    level: float = 0.95
    precise: dict[str, bool] = field(default_factory=dict)  # per-metric criterion met

    def summary(self) -> pd.DataFrame:
        """One row per headline metric: value, low, high, half-width, relative half-width."""
        rows = {
            m: {
                "value": e.value,
                "low": e.low,
                "high": e.high,
                "half_width": e.half_width,
                "relative_half_width": e.relative_half_width,
                "n": e.n,
                "precise": self.precise.get(m, False),
            }
            for m, e in self.estimates.items()
        }
        return pd.DataFrame.from_dict(rows, orient="index")


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _assess(values: np.ndarray, level: float, target: float) -> tuple[Estimate, bool, float]:
    """(estimate, precise?, score) for one metric; score ranks how far from precise."""
    x = clean(values)
    if x.size == 0:
        return (
            Estimate(math.nan, -math.inf, math.inf, 0, level, "no non-NaN values"),
            False,
            math.inf,
        )
    est = replication_interval(x, level)
    if x.size >= 2 and bool(np.all(x == x[0])):
        return est, True, 0.0
    rel = est.relative_half_width
    if math.isnan(rel):
        return est, False, math.inf
    return est, rel <= target, rel


def run_until_precision(
    run_one: Callable[[int], Mapping[str, float]],
    *,
    target: float = 0.05,
    min_replications: int = 3,
    max_replications: int = 50,
    level: float = 0.95,
    metrics: Sequence[str] | None = None,
) -> PrecisionResult:
    """Call ``run_one(0), run_one(1), ...`` until every metric's relative half-width <= target.

    ``metrics`` names the headline metrics; by default, every numeric key of the first
    replication's result. The DataFrame keeps every key ``run_one`` returns.
    """
    check_level(level)
    if not target >= 0.0:
        raise ValueError(f"target must be >= 0, got {target}")
    if min_replications < 2:
        raise ValueError(f"min_replications must be >= 2, got {min_replications}")
    if max_replications < min_replications:
        raise ValueError(
            f"max_replications ({max_replications}) < min_replications ({min_replications})"
        )
    names: list[str] | None = list(metrics) if metrics is not None else None
    rows: list[dict[str, Any]] = []
    assessed: dict[str, tuple[Estimate, bool, float]] = {}
    for i in range(max_replications):
        row = dict(run_one(i))
        if names is None:
            names = [k for k, v in row.items() if _is_number(v)]
        if not names:
            raise ValueError("run_until_precision: no (numeric) metrics to assess")
        missing = [m for m in names if m not in row]
        if missing:
            raise KeyError(f"replication {i} did not return metrics {missing}")
        rows.append(row)
        if len(rows) < min_replications:
            continue
        assessed = {
            m: _assess(np.array([r[m] for r in rows], dtype=float), level, target) for m in names
        }
        if all(ok for _, ok, _ in assessed.values()):
            break
    assert names is not None  # max_replications >= 2 so the loop ran
    worst = max(names, key=lambda m: assessed[m][2])  # first of equals wins
    return PrecisionResult(
        values=pd.DataFrame(rows, index=pd.RangeIndex(len(rows), name="replication")),
        estimates={m: assessed[m][0] for m in names},
        reached=all(assessed[m][1] for m in names),
        replications=len(rows),
        worst_metric=worst,
        target=target,
        level=level,
        precise={m: assessed[m][1] for m in names},
    )
