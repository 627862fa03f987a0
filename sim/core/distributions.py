"""Sampling from scenario distributions in vectorised batches.

A :class:`Sampler` draws ``batch`` values at once from its own stream and hands them out one
by one, which is several times faster than one numpy call per sample and gives the same
sequence whatever the batch size for the distributions numpy draws element-wise
(exponential, uniform, lognormal, gamma). Each distribution's analytic mean is on its
scenario model (``spec.mean``).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import truncnorm

from sim.scenario import distributions as d

BATCH = 1024


def draw(spec: d._Dist, rng: np.random.Generator, n: int) -> np.ndarray:
    """n samples of spec from rng (seconds)."""
    if isinstance(spec, d.Constant):
        return np.full(n, spec.value)
    if isinstance(spec, d.Exponential):
        return rng.exponential(spec.mean, n)
    if isinstance(spec, d.Uniform):
        return rng.uniform(spec.low, spec.high, n)
    if isinstance(spec, d.TruncatedNormal):
        if spec.sd == 0:
            return np.full(n, spec.mean)
        a, b = (spec.low - spec.mu) / spec.sd, (spec.high - spec.mu) / spec.sd
        return np.asarray(truncnorm.rvs(a, b, loc=spec.mu, scale=spec.sd, size=n, random_state=rng))
    if isinstance(spec, d.Lognormal):
        mu, sigma = spec.log_params
        return rng.lognormal(mu, sigma, n)
    if isinstance(spec, d.Gamma):
        return rng.gamma(spec.shape, spec.mean / spec.shape, n)
    if isinstance(spec, d.Erlang):
        return rng.gamma(spec.k, spec.mean / spec.k, n)
    if isinstance(spec, d.Empirical):
        if spec.samples is not None:
            return rng.choice(np.asarray(spec.samples), n)
        assert spec.edges is not None and spec.weights is not None
        edges = np.asarray(spec.edges)
        w = np.asarray(spec.weights, dtype=float)
        idx = rng.choice(len(w), n, p=w / w.sum())
        return edges[idx] + rng.random(n) * (edges[idx + 1] - edges[idx])
    raise TypeError(f"unknown distribution {spec!r}")


class Sampler:
    """One value at a time from a distribution, drawn in batches from a dedicated stream."""

    __slots__ = ("_buf", "_i", "_n", "batch", "constant", "rng", "spec")

    def __init__(self, spec: d._Dist, rng: np.random.Generator, batch: int = BATCH):
        self.spec, self.rng, self.batch = spec, rng, batch
        self.constant = spec.value if isinstance(spec, d.Constant) else None
        self._buf: list[float] = []
        self._i = self._n = 0

    def __call__(self) -> float:
        if self.constant is not None:
            return self.constant
        if self._i >= self._n:
            self._buf = draw(self.spec, self.rng, self.batch).tolist()
            self._i, self._n = 0, len(self._buf)
        v = self._buf[self._i]
        self._i += 1
        return v


class Uniforms:
    """Uniform [0, 1) numbers in batches (branch decisions, member picks)."""

    __slots__ = ("_buf", "_i", "rng")

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self.rng.random(BATCH).tolist()
            self._i = 0
        v = self._buf[self._i]
        self._i += 1
        return v
