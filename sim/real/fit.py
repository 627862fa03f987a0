"""Fit the cost model's parameters to measured CPU: non-negative least squares.

The simulator charges a component (:mod:`sim.core` cost model, issue 13)

    CPU = wakeup·wakeups + cold_wakeup·cold_wakeups + deep_wakeup·deep_wakeups
          + per_message·messages + per_byte·bytes + tls_per_record·tls_records
          + tls_per_byte·tls_bytes,

linear in the parameters once the counts are known. The counts come from simulating each
measured case (they depend only weakly on the parameters, through batching), so
:func:`fit` solves ``min ‖A·x − y‖₂, x ≥ 0`` (Lawson–Hanson, :func:`scipy.optimize.nnls`)
with one row per case: ``A`` the simulated counts per request, ``y`` the measured CPU per
request. Rows are weighted by 1/y so that a 60 µs case counts as much as a 200 µs one
(relative, not absolute, error is what the ±30 % target judges).

Not every term can be told apart by every grid: without TLS cases the TLS terms are never
exercised, and when no case batches (every message its own wake-up) the wake-up and
per-message columns are proportional. Columns are taken greedily in :data:`TERMS` order and
a column that is (nearly) a combination of those already taken — smallest singular value of
the unit-normalised columns below :data:`COLLINEAR` — is not fitted: it keeps its value from
``fixed`` (the scenario's cited default), its share is subtracted from the measured CPU, and
it is reported as not identified.

A term measured on its own (``known``: ``deep_wakeup``, from round trips to the server one at
a time, :func:`sim.real.measure.own_wake`) is not fitted: its share is subtracted first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

TERMS = ("wakeup", "cold_wakeup", "per_message", "per_byte", "tls_per_record", "tls_per_byte")
COLLINEAR = 0.05
PER_REQUEST = "per_request"  # a proxy's L7 work per request (http.*.cpu_per_request)
COUNTERS = {
    PER_REQUEST: "requests",
    "wakeup": "io_wakeups",
    "cold_wakeup": "io_cold_wakeups",
    "deep_wakeup": "io_deep_wakeups",
    "per_message": "io_messages",
    "per_byte": "io_bytes",
    "tls_per_record": "io_tls_records",
    "tls_per_byte": "io_tls_bytes",
}


@dataclass(frozen=True)
class Fit:
    """Fitted parameters (seconds per unit), the fit's R² and its relative residuals."""

    values: dict[str, float]
    identified: dict[str, bool]
    r2: float
    residuals: list[float]  # (predicted - measured) / measured, per row

    @property
    def worst(self) -> float:
        """The largest relative residual."""
        return max((abs(r) for r in self.residuals), default=0.0)


def identifiable(a: np.ndarray) -> np.ndarray:
    """Which columns of ``a`` to fit: used, and not (nearly) spanned by earlier columns."""
    keep = np.zeros(a.shape[1], dtype=bool)
    norms = np.linalg.norm(a, axis=0)
    for j in range(a.shape[1]):
        if norms[j] == 0:
            continue
        trial = keep.copy()
        trial[j] = True
        cols = a[:, trial] / norms[trial]
        if np.linalg.svd(cols, compute_uv=False).min() >= COLLINEAR:
            keep = trial
    return keep


def fit(
    counts: Sequence[Mapping[str, float]],
    cpu: Sequence[float],
    fixed: Mapping[str, float] | None = None,
    terms: Sequence[str] = TERMS,
    known: Mapping[str, float] | None = None,
) -> Fit:
    """Fit ``terms`` to measured ``cpu`` from per-row ``counts`` (keys: :data:`COUNTERS`).

    Terms that cannot be identified from these rows keep their value from ``fixed`` (0 when
    absent). Earlier terms win over later ones they are collinear with. ``known``: terms
    measured otherwise (not in ``terms``), whose share of each row is taken off first."""
    if len(counts) != len(cpu) or not counts:
        raise ValueError("need one measured CPU figure per row of counts, and at least one row")
    a = np.array([[float(c.get(COUNTERS[t], 0.0)) for t in terms] for c in counts])
    y = np.asarray(cpu, dtype=float)
    if np.any(y <= 0):
        raise ValueError("measured CPU must be > 0 in every row")
    given = np.array([predict(c, known or {}) for c in counts])
    w = 1.0 / y
    used = identifiable(a * w[:, None])
    x = np.array(
        [0.0 if used[i] else float((fixed or {}).get(t, 0.0)) for i, t in enumerate(terms)]
    )
    rest = y - given - a @ x  # what the fitted terms must explain
    scale = np.abs(a[:, used]).max(axis=0) if used.any() else np.ones(0)
    if used.any():
        from scipy.optimize import nnls  # only when fitting: the CLI's parser imports this

        x_scaled, _ = nnls((a[:, used] / scale) * w[:, None], rest * w)
        x[used] = x_scaled / scale
    pred = given + a @ x
    ss_res = float(np.sum((pred - y) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    return Fit(
        values={t: float(v) for t, v in zip(terms, x, strict=True)},
        identified={t: bool(u) for t, u in zip(terms, used, strict=True)},
        r2=r2,
        residuals=[float(r) for r in (pred - y) / y],
    )


def predict(counts: Mapping[str, float], values: Mapping[str, float]) -> float:
    """CPU the model charges for ``counts`` with parameter ``values``."""
    return sum(v * float(counts.get(COUNTERS[t], 0.0)) for t, v in values.items())
