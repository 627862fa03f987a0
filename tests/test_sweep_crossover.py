"""Crossover search: synthetic curves with a known zero, and a simulated closed-form crossing.

The simulated case: one service behind a sidecar (no gateway, no control plane, no TLS,
kube-proxy discovery with no endpoint changes)
against a broker whose every read or write costs one 50 µs wake-up (sim.core.io; nothing per
message, byte or cold start). A request costs the broker four — request and reply, each read
and written — 4 × 50 µs = 200 µs of CPU (two messages of one connection share a wake-up about
1 % of the time at 200/s, within the 5 % asked); it costs the mesh one sidecar's
``cpu_per_request`` (its I/O and the services' stacks are free here). The application's CPU
is the same on both sides (common random numbers), so total CPU crosses where
``cpu_per_request`` = 200 µs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from sim.stats import paired_comparison
from sim.sweep import crossover
from sim.sweep.commands import add_parser
from sim.sweep.crossover import Evaluation, find_crossing
from sim.sweep.plots import plot_crossover, plot_metric
from tests.test_sweep_resume import TINY

CPU = """
name: cpu-crossing
run: {duration: 1s, warmup: 0.2s, seed: 5, replications: 3}
services:
  svc:
    instances: 1
    operations:
      op: {demand: {dist: exponential, mean: 1ms}}
workload:
  arrivals: {kind: poisson, rate: 200}
  clients: 2
  flows: [{name: f, service: svc, operation: op}]
http:
  gateway: {enabled: false}
  control_plane: {enabled: false}
  discovery: {propagation: kube-proxy}
  sidecar: {io: null}
  stack: {io: null}
  tls: {version: none}
messaging:
  tls: {version: none}
  client: {io: null}
  broker: {io: {wakeup: 50us, per_message: 0, cold_wakeup: 0, deep_wakeup: 0, per_byte: 0}}
"""


def synthetic(x0: float, slope: float, noise: float, seed: int, n: int = 8):  # type: ignore[no-untyped-def]
    """Paired replications with messaging − http = slope·(x − x0) + noise (CRN across x)."""

    def evaluate(xs: list[float]) -> list[Evaluation]:
        out = []
        for x in xs:
            rng = np.random.Generator(np.random.PCG64(seed))  # the same streams at every x
            http = 10 + rng.normal(0, 1, n)
            msg = http + slope * (x - x0) + rng.normal(0, noise, n)
            pr = paired_comparison(http, msg)
            out.append(Evaluation(x, pr.difference, pr.mean_a, pr.mean_b))
        return out

    return evaluate


def test_exact_curve_is_bracketed_to_the_tolerance() -> None:
    c = find_crossing(synthetic(3.7, 1.0, 0.0, 1), 0.0, 10.0, tol=0.01)
    assert c.found and not (c.open_low or c.open_high)
    assert c.value == pytest.approx(3.7, abs=1e-9)  # linear: interpolation is exact
    assert c.low <= 3.7 <= c.high and c.high - c.low <= 0.02
    assert "http is higher below it" in c.message  # messaging − http < 0 below


def test_integer_parameter_stops_between_neighbours() -> None:
    c = find_crossing(synthetic(7.5, -2.0, 0.0, 1), 1, 64)
    assert c.found and (c.low, c.high) == (7, 8) and c.value == pytest.approx(7.5)
    assert all(isinstance(e.x, int) for e in c.evaluations)
    assert "http is lower below it" in c.message


def test_noisy_interval_is_the_inverted_paired_test() -> None:
    # With the same streams at every x, d(x) = (x − x0) + ē, so the set where the paired
    # interval contains 0 is [x0 − ē − h, x0 − ē + h]: it holds x0 exactly when the paired
    # test at x0 does not reject. The search must reproduce that decision seed by seed
    # (its coverage is then the t interval's, 95 %).
    for seed in range(20):
        evaluate = synthetic(3.7, 1.0, 0.5, seed)
        at_x0 = evaluate([3.7])[0].difference
        c = find_crossing(evaluate, 0.0, 10.0, batch=3)
        assert c.found and c.low <= c.value <= c.high
        assert (c.low <= 3.7 <= c.high) == (at_x0.low <= 0 <= at_x0.high), seed
        half = (at_x0.high - at_x0.low) / 2
        # and it is no wider than the exact set plus the search resolution on each side
        assert c.high - c.low <= 2 * half + 2 * 0.1 + 1e-9


def test_batched_search_finds_the_same_crossing() -> None:
    one = find_crossing(synthetic(2.2, 1.0, 0.0, 3), 0.0, 10.0, tol=0.05, batch=1)
    four = find_crossing(synthetic(2.2, 1.0, 0.0, 3), 0.0, 10.0, tol=0.05, batch=4)
    assert one.value == pytest.approx(2.2) and four.value == pytest.approx(2.2)
    assert len(four.evaluations) < 2 * len(one.evaluations)


def test_no_crossing_in_range_is_said() -> None:
    c = find_crossing(synthetic(-5.0, 1.0, 0.1, 2), 0.0, 10.0)
    assert not c.found
    assert c.message.startswith("no crossing") and "messaging stays above http" in c.message
    with pytest.raises(ValueError, match="lo < hi"):
        find_crossing(synthetic(1.0, 1.0, 0.0, 1), 5.0, 5.0)


@pytest.mark.slow
def test_simulated_cpu_crossing_matches_the_closed_form(tmp_path: Path) -> None:
    path = tmp_path / "cpu.yaml"
    path.write_text(CPU, encoding="utf-8")
    c = crossover(
        path,
        "http.sidecar.cpu_per_request",
        50e-6,
        500e-6,
        metric="cpu",
        replications=3,
        executor="inprocess",
        tol=10e-6,
        out=tmp_path / "runs",
        progress=False,
    )
    assert c.found, c.message
    assert c.low <= 200e-6 <= c.high
    assert c.high - c.low <= 40e-6
    assert c.value == pytest.approx(200e-6, rel=0.05)
    fig = plot_crossover(c, xlabel="sidecar CPU per request (s)")
    assert len(fig.axes) == 2
    # every axis says its unit: the metric's from the search's rows, the parameter's as given
    assert [ax.get_ylabel() for ax in fig.axes] == ["cpu (cores)", "messaging − http (cores)"]
    assert fig.axes[1].get_xlabel() == "sidecar CPU per request (s)"
    # a rerun reuses every stored point
    stored = sorted(p.name for p in (tmp_path / "runs").glob("part-*.parquet"))
    again = crossover(
        path,
        "http.sidecar.cpu_per_request",
        50e-6,
        500e-6,
        metric="cpu",
        replications=3,
        executor="inprocess",
        tol=10e-6,
        out=tmp_path / "runs",
        progress=False,
    )
    assert (again.value, again.low, again.high) == (c.value, c.low, c.high)
    assert sorted(p.name for p in (tmp_path / "runs").glob("part-*.parquet")) == stored


def _cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sim")
    add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return int(args.func(args))


@pytest.mark.slow
def test_cli_sweep_writes_dataset_summary_and_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    out = tmp_path / "sw"
    argv = ["sweep", str(path), "--param", "workload.clients=2,4", "--executor", "inprocess"]
    assert _cli([*argv, "--out", str(out), "--quiet"]) == 0
    assert len(list(out.glob("part-*.parquet"))) == 2
    assert {"summary.csv", "p99.png", "connections.png", "cpu.png", "memory.png"} <= {
        p.name for p in out.iterdir()
    }
    import pandas as pd

    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["workload.clients"]) == {2, 4}
    fig = plot_metric(
        pd.concat([pd.read_parquet(p) for p in out.glob("part-*")]), "workload.clients"
    )
    assert len(fig.axes) == 2
    assert fig.axes[1].get_ylabel() == "messaging − http (ms)"  # p99, in its unit


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["sweep", "{f}", "--param", "a.b=1..5:0"], "steps must be a whole number"),
        (["sweep", "{f}", "--param", "workload.clients=0,1"], "workload.clients"),
        (["sweep", "missing.yaml", "--param", "a.b=1,2"], "no such file"),
        (["crossover", "{f}", "--param", "a.b=5..1"], "lo < hi"),
        (["crossover", "{f}", "--param", "a.b=1..5", "--replications", "1"], ">= 2"),
        (["sweep", "{f}", "--param", "a.b=1,2", "--executor", "dask"], "needs --scheduler"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    argv = [a.replace("{f}", str(path)) for a in argv]
    assert _cli([*argv, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and fragment in err
