"""``sim validate --theory``: every validation case against its closed form, and the
calibration of the intervals themselves.

The suite runs each scenario of ``scenarios/validation/`` with its own ``run.replications``
(10) on both architectures; a case passes when each exact value lies inside its
Bonferroni-adjusted 95 % interval (family-wise over the case's metrics, see
sim/validation/suite.py). Coverage: over 100 seeds, the 95 % replication interval of the
M/M/1 mean response must contain the exact value 90 to 99 times (a calibrated interval
falls outside that range with probability ≈ 1.7 %, from Binomial(100, 0.95)).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import sim
from sim.api import observers
from sim.engine import run
from sim.stats import replication_interval
from sim.validation.queueing import NotAQueue
from sim.validation.suite import (
    SuiteResult,
    case_files,
    cmd_validate_theory,
    render_markdown,
    run_case,
    run_suite,
)
from tests.helpers import flagship, queue_scenario


def _args(report: Path, cases: list[str], replications: int | None = None) -> argparse.Namespace:
    return argparse.Namespace(
        theory=True, replications=replications, report=str(report), cases=cases
    )


@pytest.fixture(scope="module")
def suite() -> SuiteResult:
    return run_suite()


@pytest.mark.slow
def test_every_case_agrees_with_theory(suite: SuiteResult) -> None:
    assert suite.cases == [p.stem for p in case_files()]
    for case in suite.cases:
        rows = [r for r in suite.rows if r.case == case]
        assert {r.architecture for r in rows} == {"http", "messaging"}
        assert {r.estimate.n for r in rows} == {10}
        bad = [
            f"{r.architecture} {r.metric}: {r.family.low:.6g}..{r.family.high:.6g} vs {r.exact:.6g}"
            for r in rows
            if not r.family.contains(r.exact)
        ]
        assert suite.verdict(case), (case, bad)
    assert suite.passed


@pytest.mark.slow
def test_the_intervals_have_teeth(suite: SuiteResult) -> None:
    """Every mean-response interval (family level) has a half-width under 15 % of the exact
    value (M/G/1, the noisiest, ≈ 11 %), so a model error that large could not hide."""
    for r in suite.rows:
        if r.metric == "latency_mean":
            assert r.family.high - r.family.low < 0.3 * r.exact, (r.case, r.architecture)


@pytest.mark.slow
def test_report_table(suite: SuiteResult, tmp_path: Path) -> None:
    text = render_markdown(suite)
    for case in suite.cases:
        assert f"| {case} | 10 | pass |" in text
        assert f"## {case}" in text
    assert "| http | latency_mean |" in text and "| messaging | latency_mean |" in text


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_both_architectures_are_the_same_queue(path: Path) -> None:
    """With every overhead off, HTTP and messaging give every request the same latency."""
    sc = sim.load_scenario(path, ["run.duration=1"])
    http, msg = (
        sim.simulate(sc, a).requests.sort_values("request_id") for a in ("http", "messaging")
    )
    assert len(http) > 500
    assert http["latency"].to_numpy().tolist() == msg["latency"].to_numpy().tolist()


def test_command_writes_the_report_atomically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out" / "theory.md"
    code = cmd_validate_theory(_args(report, ["md1"], replications=3))
    assert code in (0, 1)  # 3 replications: the verdict is the suite's business
    assert report.read_text().startswith("# Validation against queueing theory")
    assert [p.name for p in report.parent.iterdir()] == ["theory.md"]  # no temp file left
    assert "wrote" in capsys.readouterr().out


def test_command_refuses_bad_input(tmp_path: Path) -> None:
    assert cmd_validate_theory(_args(tmp_path / "x.md", ["nope"])) == 2
    assert cmd_validate_theory(_args(tmp_path / "x.md", ["mm1"], replications=1)) == 2
    assert not (tmp_path / "x.md").exists()


def test_a_scenario_with_overheads_is_not_a_validation_case() -> None:
    with pytest.raises(NotAQueue, match="overheads are on"):
        run_case(flagship(), 2)


@pytest.mark.slow
def test_coverage_of_the_95_percent_interval() -> None:
    """M/M/1, λ = 300/s, exponential 1 ms: exact mean response 1/(μ - λ) = 1/700 s. Each
    seed runs 5 replications of 4 s after 0.2 s of warm-up (≈ 1200 requests each) on HTTP:
    with every overhead off both architectures are the same queue, request by request
    (:func:`test_both_architectures_are_the_same_queue`), and HTTP runs faster."""
    exact = 1 / 700
    hits = 0
    for seed in range(1, 101):
        sc = queue_scenario(
            300, "{dist: exponential, mean: 1ms}", duration=4, warmup=0.2, seed=seed
        )
        means = [_mean_response(sc, r) for r in range(5)]
        hits += replication_interval(means).contains(exact)
    assert 90 <= hits <= 99


def _mean_response(sc: sim.Scenario, replication: int) -> float:
    """Mean latency of the requests that start after the warm-up, straight from the engine
    (what :func:`sim.simulate` does, without building frames: 100 × 5 runs)."""
    raw = run(sc, "http", sc.run.seed, replication, observers(sc))
    warm = float(sc.run.warmup)
    lat = [r[4] - r[3] for r in raw.recorder.rows if r[0] == "request" and r[3] >= warm]
    return sum(lat) / len(lat)
