"""Closed forms of queueing theory that the simulator must reproduce.

Every function is exact for its model and cites where the formula comes from. Times are in
seconds, rates per second; ``mu`` is the service rate of ONE server (core).

* M/M/1: response time is exponential with rate ``mu - lam`` (Kleinrock 1975, §3.2), so its
  mean is ``1/(mu - lam)`` and its q-quantile ``-ln(1 - q)/(mu - lam)``.
* M/M/c: Erlang's C formula for the probability of waiting, computed through the Erlang B
  recursion ``B(0) = 1``, ``B(k) = a B(k-1) / (k + a B(k-1))`` and
  ``C = c B / (c - a (1 - B))`` (numerically stable for large c; Gross, Shortle, Thompson &
  Harris 2008, §2.3 and §2.6); mean wait ``C / (c mu - lam)``.
* M/G/1: Pollaczek–Khinchine mean wait ``lam E[S²] / (2 (1 - rho))`` with
  ``E[S²] = E[S]² (1 + SCV)`` (Kleinrock 1975, §5.6); M/D/1 is SCV = 0.
* Open Jackson networks: each station behaves as an independent M/M/c queue with the
  arrival rate from the traffic equations (Jackson 1963; Gross et al. 2008, §4.2), so the
  mean end-to-end response is ``sum_i v_i W_i`` with ``v_i`` the visits per request.
* Tandem of M/M/1 stations: the sojourn times of one customer are independent (Reich 1957)
  and exponential (Burke 1956), so the end-to-end time is hypoexponential:
  ``P(T > t) = sum_i prod_{j != i} r_j / (r_j - r_i) · exp(-r_i t)`` for distinct rates.
* Closed loop of ``N`` users with think time ``Z`` in front of one exponential FCFS server:
  exact mean value analysis (Reiser & Lavenberg 1980), insensitive to the think-time
  distribution: ``R(n) = S (1 + Q(n-1))``, ``X(n) = n / (R(n) + Z)``, ``Q(n) = X(n) R(n)``.

The squared coefficient of variation (SCV = Var/mean²) of every scenario distribution is
here too (:func:`scv`), so a scenario's demands give P-K its second moment.

References
----------
* L. Kleinrock, *Queueing Systems, Vol. 1: Theory*, Wiley, 1975.
* D. Gross, J. F. Shortle, J. M. Thompson & C. M. Harris, *Fundamentals of Queueing
  Theory*, 4th ed., Wiley, 2008.
* J. R. Jackson, "Jobshop-like queueing systems", *Management Science* 10(1), 1963.
* P. J. Burke, "The output of a queuing system", *Operations Research* 4(6), 1956.
* E. Reich, "Waiting times when queues are in tandem", *Ann. Math. Statist.* 28(3), 1957.
* M. Reiser & S. S. Lavenberg, "Mean-value analysis of closed multichain queuing
  networks", *Journal of the ACM* 27(2), 1980.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sim.scenario import distributions as d


def _stable(lam: float, mu: float, c: int = 1) -> float:
    if lam < 0 or mu <= 0 or c < 1:
        raise ValueError(f"need lam >= 0, mu > 0, c >= 1; got {lam}, {mu}, {c}")
    rho = lam / (c * mu)
    if rho >= 1:
        raise ValueError(f"unstable queue: rho = {rho:.4g} >= 1")
    return rho


def mm1_response(lam: float, mu: float) -> float:
    """Mean response time (wait + service) of M/M/1."""
    _stable(lam, mu)
    return 1.0 / (mu - lam)


def mm1_response_quantile(lam: float, mu: float, q: float) -> float:
    """q-quantile of the M/M/1 FCFS response time (exponential with rate mu - lam)."""
    _stable(lam, mu)
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    return -math.log1p(-q) / (mu - lam)


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``a = lam / mu < c``."""
    if not 0 <= a < c:
        raise ValueError(f"need 0 <= a < c, got a={a}, c={c}")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1 - b))


def mmc_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c."""
    _stable(lam, mu, c)
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_response(lam: float, mu: float, c: int) -> float:
    """Mean response time of M/M/c."""
    return mmc_wait(lam, mu, c) + 1.0 / mu


def pk_wait(lam: float, mean: float, scv: float) -> float:
    """Mean wait in queue of M/G/1 (Pollaczek–Khinchine) for service mean and SCV."""
    rho = _stable(lam, 1.0 / mean) if mean > 0 else 0.0
    return lam * mean * mean * (1.0 + scv) / (2.0 * (1.0 - rho))


def hypoexponential_survival(rates: Sequence[float], t: float) -> float:
    """P(T > t) for T a sum of independent exponentials with distinct rates."""
    rs = list(rates)
    if len(set(rs)) != len(rs) or min(rs) <= 0:
        raise ValueError(f"rates must be positive and distinct, got {rs}")
    total = 0.0
    for i, ri in enumerate(rs):
        coef = math.prod(rj / (rj - ri) for j, rj in enumerate(rs) if j != i)
        total += coef * math.exp(-ri * t)
    return total


def hypoexponential_quantile(rates: Sequence[float], q: float) -> float:
    """q-quantile of a sum of independent exponentials with distinct rates."""
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    hi = -math.log1p(-q) * sum(1.0 / r for r in rates) * 4 + 1.0 / min(rates) * 50
    from scipy.optimize import brentq  # on first use: `sim validate` stays quick

    return float(brentq(lambda t: hypoexponential_survival(rates, t) - (1 - q), 0.0, hi))


def closed_single_server(users: int, think: float, demand: float) -> tuple[float, float]:
    """(mean response time, throughput) of N users with think time Z and one exp. server."""
    if users < 1 or think < 0 or demand <= 0:
        raise ValueError("need users >= 1, think >= 0, demand > 0")
    q = r = x = 0.0
    for n in range(1, users + 1):
        r = demand * (1.0 + q)
        x = n / (r + think)
        q = x * r
    return r, x


def scv(dist: d._Dist) -> float:
    """Squared coefficient of variation Var/mean² of a scenario distribution (0 if mean 0)."""
    mean = dist.mean
    if mean == 0:
        return 0.0
    return _variance(dist) / (mean * mean)


def _variance(dist: d._Dist) -> float:
    if isinstance(dist, d.Constant):
        return 0.0
    if isinstance(dist, d.Exponential):
        return dist.mean**2
    if isinstance(dist, d.Uniform):
        return (dist.high - dist.low) ** 2 / 12.0
    if isinstance(dist, d.TruncatedNormal):
        if dist.sd == 0:
            return 0.0
        from scipy.stats import truncnorm  # on first use: `sim validate` stays quick

        a, b = (dist.low - dist.mu) / dist.sd, (dist.high - dist.mu) / dist.sd
        return float(truncnorm.var(a, b, loc=dist.mu, scale=dist.sd))
    if isinstance(dist, d.Lognormal):
        sigma = dist.log_params[1]
        return (math.exp(sigma**2) - 1.0) * dist.mean**2
    if isinstance(dist, d.Gamma):
        return dist.mean**2 / dist.shape
    if isinstance(dist, d.Erlang):
        return dist.mean**2 / dist.k
    if isinstance(dist, d.Empirical):
        if dist.samples is not None:
            xs = dist.samples
            m = sum(xs) / len(xs)
            return sum((x - m) ** 2 for x in xs) / len(xs)
        assert dist.edges is not None and dist.weights is not None
        total = sum(dist.weights)
        second = sum(
            w * (a * a + a * b + b * b) / 3.0
            for w, a, b in zip(dist.weights, dist.edges, dist.edges[1:], strict=False)
        )
        return second / total - dist.mean**2
    raise TypeError(f"unknown distribution {dist!r}")


def second_moment(dist: d._Dist) -> float:
    """E[S²] of a scenario distribution."""
    return _variance(dist) + dist.mean**2
