"""Probability distributions as they are written in a scenario, each knowing its analytic mean.

A distribution is a small pydantic model with a ``dist`` discriminator::

    demand: {dist: exponential, mean: 2ms}
    demand: {dist: lognormal, mean: 2ms, p99: 20ms}
    demand: {dist: erlang, k: 4, mean: 2ms}
    demand: {dist: empirical, samples: [1ms, 2ms, 5ms]}

Sampling lives in :mod:`sim.core.distributions`; this module only describes and validates.
Lognormal by mean and p99 solves ``mean = exp(mu + s²/2)`` and ``p99 = exp(mu + z·s)``
(z = Φ⁻¹(0.99)) for the smaller root s, the usual way latency tails are specified.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from sim.scenario.base import unbool_fields
from sim.scenario.units import Duration

Z99 = 2.3263478740408408  # standard normal 0.99 quantile


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    # parameters that may be infinite (a truncation bound); every other one must be finite,
    # or sampling overflows (uniform up to .inf) or never returns a usable time
    unbounded: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        return unbool_fields(cls, data)

    @model_validator(mode="after")
    def _finite(self) -> _Dist:
        for name, info in type(self).model_fields.items():
            if name in self.unbounded:
                continue
            value = getattr(self, name)
            values = value if isinstance(value, list | tuple) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                raise ValueError(f"{info.alias or name} must be finite, got {value!r}")
        return self

    @property
    def mean(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError


class Constant(_Dist):
    """Always the same value (M/D/1 service, fixed delays)."""

    dist: Literal["constant"]
    """Which distribution: 'constant'."""
    value: Duration = Field(ge=0)
    """The value, in seconds (a bare number means seconds; '2ms' also works)."""

    @property
    def mean(self) -> float:
        return self.value


class Exponential(_Dist):
    """Memoryless, the M in M/M/1."""

    dist: Literal["exponential"]
    """Which distribution: 'exponential'."""
    mean_: Duration = Field(alias="mean", gt=0)
    """Mean, in seconds (a bare number means seconds)."""

    @property
    def mean(self) -> float:
        return self.mean_


class Uniform(_Dist):
    """Uniform between low and high."""

    dist: Literal["uniform"]
    """Which distribution: 'uniform'."""
    low: Duration = Field(ge=0)
    """Lowest value, in seconds."""
    high: Duration = Field(ge=0)
    """Highest value, in seconds (at least low)."""

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


class TruncatedNormal(_Dist):
    """Normal(mean, sd) truncated to [low, high] (low defaults to 0: times are never negative)."""

    dist: Literal["normal"]
    """Which distribution: 'normal' (truncated to [low, high])."""
    unbounded: ClassVar[tuple[str, ...]] = ("low", "high")
    mu: Duration = Field(alias="mean", ge=0)
    """Mean of the normal before truncation, in seconds."""
    sd: Duration = Field(ge=0)
    """Standard deviation of the normal before truncation, in seconds."""
    low: Duration = 0.0
    """Lower truncation bound, in seconds (times are never negative)."""
    high: Duration = math.inf
    """Upper truncation bound, in seconds ('.inf': none)."""

    @model_validator(mode="after")
    def _order(self) -> TruncatedNormal:
        if self.high <= self.low:
            raise ValueError("high must be > low")
        return self

    @property
    def mean(self) -> float:
        if self.sd == 0:
            return min(max(self.mu, self.low), self.high)
        from scipy.stats import truncnorm

        a, b = (self.low - self.mu) / self.sd, (self.high - self.mu) / self.sd
        return float(truncnorm.mean(a, b, loc=self.mu, scale=self.sd))


class Lognormal(_Dist):
    """Lognormal given either (mean, p99) or (mu, sigma) of the underlying normal."""

    dist: Literal["lognormal"]
    """Which distribution: 'lognormal' (give mean and p99, or mu and sigma)."""
    mean_: Duration | None = Field(default=None, alias="mean", gt=0)
    """Mean, in seconds (with p99)."""
    p99: Duration | None = Field(default=None, gt=0)
    """99th percentile, in seconds (with mean; must exceed it)."""
    mu: float | None = None
    """Mean of the underlying normal (of ln seconds), with sigma."""
    sigma: float | None = Field(default=None, ge=0)
    """Standard deviation of the underlying normal (of ln seconds), with mu."""
    _params_: tuple[float, float] = PrivateAttr(default=(0.0, 0.0))

    @model_validator(mode="after")
    def _params(self) -> Lognormal:
        by_mean = self.mean_ is not None and self.p99 is not None
        by_mu = self.mu is not None and self.sigma is not None
        if by_mean == by_mu:
            raise ValueError("give either mean and p99, or mu and sigma")
        if by_mean:
            assert self.mean_ is not None and self.p99 is not None
            if self.p99 <= self.mean_:
                raise ValueError("p99 must be greater than mean")
            # ln p99 - ln mean = z·s - s²/2  →  s² - 2 z s + 2 ln(p99/mean) = 0
            c = 2 * math.log(self.p99 / self.mean_)
            disc = Z99 * Z99 - c
            if disc < 0:
                raise ValueError("p99/mean too large for a lognormal (p99/mean must be < 15.0)")
            s = Z99 - math.sqrt(disc)
            self._params_ = (math.log(self.mean_) - s * s / 2, s)
        else:
            assert self.mu is not None and self.sigma is not None
            self._params_ = (self.mu, self.sigma)
        return self

    @property
    def log_params(self) -> tuple[float, float]:
        """(mu, sigma) of the underlying normal, whichever way the scenario gave them."""
        return self._params_

    @property
    def mean(self) -> float:
        mu, sigma = self._params_
        return math.exp(mu + sigma**2 / 2)


class Gamma(_Dist):
    """Gamma with a shape and a mean; Erlang-k is the integer-shape special case."""

    dist: Literal["gamma"]
    """Which distribution: 'gamma'."""
    shape: float = Field(gt=0)
    """Shape k (squared coefficient of variation is 1/k)."""
    mean_: Duration = Field(alias="mean", gt=0)
    """Mean, in seconds."""

    @property
    def mean(self) -> float:
        return self.mean_


class Erlang(_Dist):
    """Erlang-k: the sum of k exponential phases, squared coefficient of variation 1/k."""

    dist: Literal["erlang"]
    """Which distribution: 'erlang' (k exponential phases)."""
    k: int = Field(ge=1)
    """Number of exponential phases (count)."""
    mean_: Duration = Field(alias="mean", gt=0)
    """Mean of the whole sum, in seconds."""

    @property
    def mean(self) -> float:
        return self.mean_


class Empirical(_Dist):
    """Resampling of observed values, or a histogram (bin edges and weights, uniform in bins)."""

    dist: Literal["empirical"]
    """Which distribution: 'empirical' (samples, or a histogram of edges and weights)."""
    samples: list[Duration] | None = None
    """Observed values to resample, in seconds."""
    edges: list[Duration] | None = None
    """Histogram bin edges, in seconds, increasing (one more than the weights)."""
    weights: list[float] | None = None
    """Relative weight of each histogram bin (values uniform within a bin)."""

    @model_validator(mode="after")
    def _params(self) -> Empirical:
        if (self.samples is None) == (self.edges is None):
            raise ValueError("give either samples, or edges and weights")
        if self.samples is not None:
            if not self.samples or min(self.samples) < 0:
                raise ValueError("samples must be a non-empty list of non-negative times")
        else:
            assert self.edges is not None
            if self.weights is None or len(self.weights) != len(self.edges) - 1:
                raise ValueError("a histogram needs len(weights) == len(edges) - 1")
            if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
                raise ValueError("edges must increase")
            if min(self.weights) < 0 or sum(self.weights) <= 0:
                raise ValueError("weights must be non-negative with a positive sum")
        return self

    @property
    def mean(self) -> float:
        if self.samples is not None:
            return sum(self.samples) / len(self.samples)
        assert self.edges is not None and self.weights is not None
        total = sum(self.weights)
        mids = [(a + b) / 2 for a, b in zip(self.edges, self.edges[1:], strict=False)]
        return sum(w * m for w, m in zip(self.weights, mids, strict=True)) / total


Distribution = Annotated[
    Constant | Exponential | Uniform | TruncatedNormal | Lognormal | Gamma | Erlang | Empirical,
    Field(discriminator="dist"),
]
