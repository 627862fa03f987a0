"""Little's law and the utilisation law on every run of the flagship (both architectures),
and proof that the checks can fail."""

from __future__ import annotations

import dataclasses

import pytest

import sim
from sim.results import RunResult
from sim.validation.laws import check_run, littles_law, utilisation_law
from tests.helpers import flagship, queue_scenario


@pytest.fixture(scope="module")
def flagship_runs() -> tuple[sim.Scenario, list[RunResult]]:
    sc = flagship("run.duration=10", "run.warmup=2")
    cmp = sim.compare(sc, replications=2)
    return sc, cmp.results()


@pytest.mark.slow
def test_laws_hold_on_every_flagship_run(
    flagship_runs: tuple[sim.Scenario, list[RunResult]],
) -> None:
    sc, runs = flagship_runs
    assert len(runs) == 4  # 2 replications × 2 architectures
    for r in runs:
        checks = check_run(r, sc)
        assert {c.subject for c in checks[1:]} == set(sc.services)
        bad = [str(c) for c in checks if not c.ok]
        assert not bad, (r.architecture, r.metadata["replication"], bad)


def _scaled_latency(r: RunResult, factor: float) -> RunResult:
    req = r.requests.copy()
    req["latency"] = req["latency"] * factor
    return dataclasses.replace(r, requests=req)


@pytest.mark.slow
def test_littles_law_catches_a_wrong_latency(
    flagship_runs: tuple[sim.Scenario, list[RunResult]],
) -> None:
    """The edge allowance is about 1 % of L over a 10 s window: 2 % too much latency shows."""
    _sc, runs = flagship_runs
    for r in runs:
        assert littles_law(r).ok
        assert not littles_law(_scaled_latency(r, 1.02)).ok


@pytest.mark.slow
def test_utilisation_law_catches_missing_work(
    flagship_runs: tuple[sim.Scenario, list[RunResult]],
) -> None:
    sc, runs = flagship_runs
    comps = runs[0].components.copy()
    sel = comps["service"] == "order-create"
    comps.loc[sel, "cpu_seconds"] *= 0.8  # a fifth of the work lost
    bad = dataclasses.replace(runs[0], components=comps)
    verdict = {c.subject: c.ok for c in utilisation_law(bad, sc)}
    assert verdict["order-create"] is False
    assert verdict["order-dispatch"] is True


def test_laws_on_a_single_queue() -> None:
    """M/M/1 at ρ = 0.5 for 5 s: both laws on both architectures."""
    sc = queue_scenario(500, "{dist: exponential, mean: 1ms}", duration=5, warmup=0.5)
    for a in ("http", "messaging"):
        r = sim.simulate(sc, a)
        checks = check_run(r, sc)
        assert [c.ok for c in checks] == [True, True], [str(c) for c in checks]
        assert checks[1].expected == pytest.approx(0.5)


def test_utilisation_law_skips_non_poisson_arrivals() -> None:
    sc = queue_scenario(500, "{dist: exponential, mean: 1ms}", arrivals="constant", duration=1)
    assert utilisation_law(sim.simulate(sc, "http"), sc) == []
