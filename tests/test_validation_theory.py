"""Closed forms (sim.validation.theory) against values worked out by hand, and the exact
values each validation scenario yields (sim.validation.queueing)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

import sim
from sim.scenario.distributions import (
    Constant,
    Empirical,
    Erlang,
    Exponential,
    Gamma,
    Lognormal,
    TruncatedNormal,
    Uniform,
)
from sim.validation import theory
from sim.validation.queueing import NotAQueue, expected, overheads
from sim.validation.suite import case_files
from tests.helpers import FLAGSHIP, queue_scenario

MS = 1e-3


def test_mm1_by_hand() -> None:
    assert theory.mm1_response(700, 1000) == pytest.approx(1 / 300)
    assert theory.mm1_response_quantile(700, 1000, 0.5) == pytest.approx(math.log(2) / 300)
    assert theory.mm1_response_quantile(700, 1000, 0.99) == pytest.approx(math.log(100) / 300)
    with pytest.raises(ValueError, match="unstable"):
        theory.mm1_response(1000, 1000)


def test_erlang_c_by_hand() -> None:
    assert theory.erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = ρ
    assert theory.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # c = 4, a = 3: Σ_{k<4} a^k/k! = 1 + 3 + 4.5 + 4.5 = 13; a^4/4!/(1 - ρ) = 3.375/0.25 = 13.5
    assert theory.erlang_c(4, 3.0) == pytest.approx(13.5 / (13 + 13.5))
    # the Erlang B recursion stays finite where a^c/c! would overflow
    assert 0 < theory.erlang_c(500, 480.0) < 1
    assert theory.mmc_wait(3000, 1000, 4) == pytest.approx(13.5 / 26.5 / 1000)


def test_pollaczek_khinchine_by_hand() -> None:
    # M/D/1 at ρ = 0.8, S = 1 ms: W_q = ρS/(2(1 - ρ)) = 2 ms
    assert theory.pk_wait(800, MS, 0.0) == pytest.approx(2 * MS)
    # exponential service (SCV 1) gives M/M/1: W_q = ρ/(μ - λ)
    assert theory.pk_wait(700, MS, 1.0) == pytest.approx(0.7 / 300)


def test_hypoexponential_against_numerical_convolution() -> None:
    a, b, t = 500.0, 300.0, 0.006

    def density(u: float) -> float:  # of the sum of Exp(a) and Exp(b), by convolution
        return integrate.quad(lambda s: a * math.exp(-a * s) * b * math.exp(-b * (u - s)), 0, u)[0]

    tail = 1 - integrate.quad(density, 0, t)[0]
    assert theory.hypoexponential_survival([a, b], t) == pytest.approx(tail, rel=1e-8)
    q = theory.hypoexponential_quantile([a, b], 0.99)
    assert theory.hypoexponential_survival([a, b], q) == pytest.approx(0.01, rel=1e-9)
    with pytest.raises(ValueError):
        theory.hypoexponential_survival([b, b], t)


def test_mean_value_analysis_by_hand() -> None:
    assert theory.closed_single_server(1, 0.1, MS) == pytest.approx((MS, 1 / 0.101))
    # N = 2: R1 = S, X1 = 1/(S+Z), Q1 = S/(S+Z); R2 = S(1 + Q1)
    s, z = MS, 0.01
    r2 = s * (1 + s / (s + z))
    assert theory.closed_single_server(2, z, s)[0] == pytest.approx(r2)
    # heavy load: throughput tends to 1/S and R to N S - Z
    r, x = theory.closed_single_server(200, 0.05, MS)
    assert x == pytest.approx(1000, rel=1e-6)
    assert r == pytest.approx(0.2 - 0.05, rel=1e-4)


@pytest.mark.parametrize(
    ("dist", "scv"),
    [
        (Constant(dist="constant", value=0.002), 0.0),
        (Exponential(dist="exponential", mean=0.002), 1.0),
        (Erlang(dist="erlang", k=4, mean=0.002), 0.25),
        (Gamma(dist="gamma", shape=0.5, mean=0.002), 2.0),
        (Uniform(dist="uniform", low=0.0, high=0.002), (0.002**2 / 12) / 0.001**2),
        (Lognormal(dist="lognormal", mu=-7.0, sigma=0.5), math.exp(0.25) - 1),
        (Empirical(dist="empirical", samples=[1.0, 3.0]), 1.0 / 4.0),
        # two equal bins on [0, 1) and [1, 2): uniform on [0, 2): var 1/3, mean 1
        (Empirical(dist="empirical", edges=[0.0, 1.0, 2.0], weights=[1.0, 1.0]), 1.0 / 3.0),
    ],
)
def test_scv_of_each_distribution(dist: object, scv: float) -> None:
    assert theory.scv(dist) == pytest.approx(scv)  # type: ignore[arg-type]


def test_scv_of_truncated_normal_against_sampling() -> None:
    d = TruncatedNormal(dist="normal", mean=0.001, sd=0.001)
    from sim.core.distributions import draw

    x = draw(d, np.random.default_rng(5), 400_000)
    assert theory.scv(d) == pytest.approx(x.var() / x.mean() ** 2, rel=0.01)


# exact values of each validation case, worked out by hand in the files' comments
HAND = {
    "mm1": {"latency_mean": 1 / 300, "latency_p99": math.log(100) / 300, "p_wait": 0.7},
    "mmc": {"latency_mean": 13.5 / 26.5 / 1000 + MS, "p_wait": 13.5 / 26.5},
    "md1": {"latency_mean": 3 * MS, "wait_mean": 2 * MS, "utilisation/station": 0.8},
    "mg1": {"utilisation/station": 0.6},
    "tandem": {"latency_mean": 1 / 500 + 1 / 300, "wait_mean": 1 / 500 + 1 / 300 - 2.25 * MS},
    "routing": {
        "utilisation/ledger": 0.6,
        "utilisation/pricing": 0.45,
        "latency_mean": 1 / 650 + 0.5 / 200 + 0.3 * (0.279310 / 220 + 5 * MS),
    },
}


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_validation_case_exact_values(path: object) -> None:
    sc = sim.load_scenario(path)  # type: ignore[arg-type]
    assert overheads(sc) == []
    got = expected(sc)
    for metric, value in HAND[path.stem].items():  # type: ignore[attr-defined]
        assert got[metric] == pytest.approx(value, rel=1e-5), metric


def test_all_six_cases_exist() -> None:
    assert {p.stem for p in case_files()} == set(HAND)


def test_mg1_uses_the_lognormal_second_moment() -> None:
    sc = sim.load_scenario(next(p for p in case_files() if p.stem == "mg1"))
    d = sc.services["station"].operations["serve"].demand
    sigma = d.log_params[1]  # type: ignore[union-attr]
    wait = 600 * MS * MS * math.exp(sigma**2) / (2 * 0.4)
    assert expected(sc)["wait_mean"] == pytest.approx(wait)


def test_overheads_refuse_the_flagship() -> None:
    sc = sim.load_scenario(FLAGSHIP)
    assert "http.sidecar.enabled" in overheads(sc)
    with pytest.raises(NotAQueue, match="overheads"):
        expected(sc)


def test_mgc_without_closed_form_is_refused() -> None:
    sc = queue_scenario(1000, "{dist: constant, value: 1ms}", cores=2)
    with pytest.raises(NotAQueue, match="M/G/c"):
        expected(sc)
