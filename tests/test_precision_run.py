"""Replications, stopping at a precision, and batch means for a single run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.api import compare_until
from sim.cli import main
from sim.results import batches, compare_summaries, summarize
from sim.stats import replication_interval
from sim.stats.intervals import t_quantile
from sim.validation.precision import HEADLINE, add_precision_option
from tests.helpers import queue_scenario

MM1 = Path(__file__).resolve().parents[1] / "scenarios" / "validation" / "mm1.yaml"


def _small() -> sim.Scenario:
    """M/M/1 at ρ = 0.5 for 2 s; HTTP/2, so the open connections are one per pool (with
    HTTP/1.1 they follow each replication's peak concurrency, which 30 replications of 2 s
    do not pin down to 5 %)."""
    sc = queue_scenario(500, "{dist: exponential, mean: 1ms}", duration=2, warmup=0.2)
    return sim.override(sc, ["http.protocol=http2"])


def test_results_carry_their_replication_and_reproduce() -> None:
    sc = _small()
    cmp = sim.compare(sc, seed=3, replications=3)
    for runs in (cmp.http, cmp.messaging):
        assert [r.metadata["replication"] for r in runs] == [0, 1, 2]
        assert [set(r.requests["replication"]) for r in runs] == [{0}, {1}, {2}]
    means = [r.requests["latency"].mean() for r in cmp.http]
    assert len(set(means)) == 3  # independent streams per replication
    again = sim.simulate(sc, "http", 3, 2)
    assert again.requests["latency"].equals(cmp.http[2].requests["latency"])
    both = cmp.summary.dropna(subset=["http", "messaging"])
    assert set(both["n"]) == {3}


@pytest.mark.slow
def test_cli_replications(tmp_path: Path) -> None:
    out = tmp_path / "r"
    args = ["run", str(MM1), "--out", str(out), "--quiet", "--set", "run.duration=1"]
    assert main([*args, "--replications", "3"]) == 0
    summary = pd.read_csv(out / "summary.csv").dropna(subset=["http", "messaging"])
    assert set(summary["n"]) == {3}
    assert json.loads((out / "metadata.json").read_text())["replications"] == 3
    # without the flag, run.replications of the scenario (here overridden to 2) counts
    assert main([*args, "--set", "run.replications=2"]) == 0
    summary = pd.read_csv(out / "summary.csv").dropna(subset=["http", "messaging"])
    assert set(summary["n"]) == {2}


def _relative_half_widths(values: pd.DataFrame, names: list[str]) -> dict[str, float]:
    out = {}
    for n in names:
        x = values[n].to_numpy(dtype=float)
        out[n] = 0.0 if np.all(x == x[0]) else replication_interval(x).relative_half_width
    return out


def test_compare_until_stops_at_the_first_precise_replication() -> None:
    sc = _small()
    cmp = compare_until(sc, precision=0.1, max_replications=30)
    md = cmp.metadata
    n = md["replications"]
    assert md["precision_reached"] is True
    assert 3 < n < 30 and len(cmp.http) == len(cmp.messaging) == n
    s = cmp.summary.set_index(["flow", "metric"])
    for flow, metric in HEADLINE:
        for a in ("http", "messaging"):
            value, low, high = (s.loc[(flow, metric), k] for k in (a, f"{a}_low", f"{a}_high"))
            assert (high - low) / 2 <= 0.1 * abs(value) + 1e-15, (a, flow, metric)
    # one replication fewer was not enough for at least one headline metric
    from sim.results.summary import run_metrics

    rows = []
    for h, m in zip(cmp.http[:-1], cmp.messaging[:-1], strict=True):
        row = {}
        for a, r in (("http", h), ("messaging", m)):
            for f, name, _u, v in run_metrics(r):
                row[f"{a}/{f}/{name}"] = v
        rows.append(row)
    names = [f"{a}/{f}/{m}" for a in ("http", "messaging") for f, m in HEADLINE]
    assert max(_relative_half_widths(pd.DataFrame(rows), names).values()) > 0.1


def test_compare_until_gives_up_at_the_maximum() -> None:
    cmp = compare_until(_small(), precision=0.001, max_replications=4)
    assert cmp.metadata["replications"] == 4
    assert cmp.metadata["precision_reached"] is False
    assert cmp.metadata["precision_worst_relative_half_width"] > 0.001
    with pytest.raises(ValueError):
        compare_until(_small(), precision=0.0)


def test_precision_option_parses() -> None:
    import argparse

    p = argparse.ArgumentParser()
    add_precision_option(p)
    a = p.parse_args(["--precision", "0.05", "--max-replications", "20"])
    assert (a.precision, a.max_replications) == (0.05, 20)


# ------------------------------------------------------------------------ batch means
@pytest.fixture(scope="module")
def single() -> tuple[sim.RunResult, sim.RunResult]:
    sc = queue_scenario(600, "{dist: exponential, mean: 1ms}", duration=20, warmup=1)
    return sim.simulate(sc, "http"), sim.simulate(sc, "messaging")


def test_single_run_gets_batch_means_intervals(single: tuple[sim.RunResult, ...]) -> None:
    r = single[0]
    s = summarize([r])
    assert s.attrs["interval"] == batches.METHOD
    row = s[(s["flow"] == "all") & (s["metric"] == "latency_mean")].iloc[0]
    # by hand: 20 batches of 1 s of the measured window, requests by start time
    req = r.requests[r.requests["kind"] == "request"]
    k = ((req["start"] - 1.0) // 1.0).astype(int)
    means = req.groupby(k)["latency"].mean().to_numpy() * 1e3
    assert len(means) == 20
    hw = t_quantile(0.95, 19) * means.std(ddof=1) / math.sqrt(20)
    assert row["value"] == pytest.approx(req["latency"].mean() * 1e3)
    assert (row["high"] - row["low"]) / 2 == pytest.approx(hw)
    thr = s[(s["flow"] == "all") & (s["metric"] == "throughput")].iloc[0]
    per_batch = req[req["status"] == "ok"].groupby(k).size().to_numpy()
    assert per_batch.mean() == pytest.approx(thr["value"])  # equal batches: same mean
    util = s[(s["flow"] == "system") & (s["metric"] == "utilisation_service")].iloc[0]
    assert util["low"] < util["value"] < util["high"]


def test_batch_quantile_needs_enough_tail(single: tuple[sim.RunResult, ...]) -> None:
    """≈ 600 requests per batch: p99 has 6 expected beyond it (kept), p99.9 has 0.6 (none)."""
    s = summarize([single[0]]).set_index(["flow", "metric"])
    assert math.isfinite(s.loc[("all", "latency_p99"), "low"])
    assert math.isnan(s.loc[("all", "latency_p99.9"), "low"])
    assert math.isnan(s.loc[("all", "requests"), "low"])  # a count: no interval


def test_single_run_comparison_is_paired_batch_by_batch(
    single: tuple[sim.RunResult, ...],
) -> None:
    http, msg = single
    c = compare_summaries([http], [msg]).set_index(["flow", "metric"])
    assert c.attrs["interval"] == batches.METHOD
    row = c.loc[("all", "latency_mean")]
    # zero overhead: both architectures are the same queue, so every batch difference is 0
    assert row["difference"] == pytest.approx(0.0, abs=1e-9)
    assert row["difference_high"] - row["difference_low"] == pytest.approx(0.0, abs=1e-9)
    assert math.isfinite(row["http_low"]) and row["http_low"] < row["http"]
