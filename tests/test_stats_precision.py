"""Tests for sim.stats.precision.run_until_precision."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from sim.stats import mean_interval, replication_interval, run_until_precision


def _alternating(i: int) -> float:
    return 100.0 if i % 2 == 0 else 102.0


class Recorder:
    """run_one that records the indices it was called with."""

    def __init__(self, fn: Callable[[int], Mapping[str, float]]) -> None:
        self.fn = fn
        self.calls: list[int] = []

    def __call__(self, i: int) -> Mapping[str, float]:
        self.calls.append(i)
        return self.fn(i)


def test_stops_at_first_replication_meeting_target() -> None:
    # 100, 102, 100, ...: relative half-widths (t interval, 95 %) after r replications are
    # r=3: 0.0285, 4: 0.0182, 5: 0.0135, 6: 0.0114, 7: 0.0098 -> first <= 0.01 at r = 7.
    run = Recorder(lambda i: {"latency": _alternating(i)})
    res = run_until_precision(run, target=0.01, min_replications=3, max_replications=50)
    assert res.reached
    assert res.replications == 7
    assert run.calls == list(range(7))
    seq = [_alternating(i) for i in range(7)]
    assert mean_interval(seq[:6]).relative_half_width > 0.01
    assert res.estimates["latency"] == replication_interval(seq)
    assert res.estimates["latency"].relative_half_width <= 0.01
    assert list(res.values["latency"]) == seq
    assert res.values.index.name == "replication"
    assert res.worst_metric == "latency"


def test_constant_metric_stops_at_min_replications() -> None:
    run = Recorder(lambda i: {"count": 42.0})
    res = run_until_precision(run, target=0.0, min_replications=4)
    assert res.reached and res.replications == 4 and run.calls == [0, 1, 2, 3]
    assert res.estimates["count"].half_width == 0.0


def test_respects_max_and_reports_not_reached() -> None:
    # +-50 % swings around 1: relative half-width ~ 1 / sqrt(r) never gets to 1 % by r = 12.
    run = Recorder(lambda i: {"x": 1.0 + 0.5 * (-1) ** i, "y": 3.0})
    res = run_until_precision(run, target=0.01, min_replications=3, max_replications=12)
    assert not res.reached
    assert res.replications == 12 and run.calls == list(range(12))
    assert res.worst_metric == "x"
    assert res.precise == {"x": False, "y": True}
    assert len(res.values) == 12


def test_slowest_metric_decides_and_identical_counts_as_precise() -> None:
    # "fast" meets 1 % at r = 3, "slow" (alternating) only at r = 7, "fixed" never varies.
    def run_one(i: int) -> dict[str, float]:
        return {"fast": 1000.0 + (i % 2), "slow": _alternating(i), "fixed": 5.0}

    res = run_until_precision(run_one, target=0.01)
    assert res.reached and res.replications == 7
    assert set(res.estimates) == {"fast", "slow", "fixed"}
    summary = res.summary()
    assert summary.loc["slow", "relative_half_width"] == max(summary["relative_half_width"])
    assert bool(summary["precise"].all())


def test_metrics_selects_headline_metrics_but_values_keep_all() -> None:
    def run_one(i: int) -> dict[str, float]:
        return {"noisy": float((-1) ** i), "steady": _alternating(i)}

    res = run_until_precision(run_one, target=0.01, metrics=["steady"], max_replications=20)
    assert res.reached and res.replications == 7
    assert set(res.estimates) == {"steady"}
    assert list(res.values.columns) == ["noisy", "steady"]


def test_default_metrics_skip_non_numeric() -> None:
    def run_one(i: int) -> dict[str, Any]:
        return {"arch": "mesh", "ok": True, "p99": 2.0}

    res = run_until_precision(run_one)
    assert set(res.estimates) == {"p99"} and res.replications == 3


def test_nan_values_dropped_and_all_nan_never_precise() -> None:
    def run_one(i: int) -> dict[str, float]:
        return {"x": math.nan if i == 1 else 10.0, "missing": math.nan}

    res = run_until_precision(run_one, metrics=["x"])
    assert res.reached and res.replications == 3
    assert res.estimates["x"].n == 2
    res2 = run_until_precision(run_one, max_replications=5)
    assert not res2.reached and res2.worst_metric == "missing"
    assert math.isnan(res2.estimates["missing"].value)


def test_deterministic() -> None:
    def run_one(i: int) -> dict[str, float]:
        return {"x": float(np.random.default_rng(i).exponential())}

    r1 = run_until_precision(run_one, target=0.2)
    r2 = run_until_precision(run_one, target=0.2)
    assert r1.replications == r2.replications
    assert r1.estimates == r2.estimates
    assert r1.values.equals(r2.values)


def test_invalid_arguments() -> None:
    def one(i: int) -> dict[str, float]:
        return {"x": 1.0}

    with pytest.raises(ValueError):
        run_until_precision(one, min_replications=1)
    with pytest.raises(ValueError):
        run_until_precision(one, min_replications=5, max_replications=4)
    with pytest.raises(ValueError):
        run_until_precision(one, target=-0.1)
    with pytest.raises(ValueError):
        run_until_precision(one, level=1.5)
    with pytest.raises(KeyError):
        run_until_precision(one, metrics=["y"])
    with pytest.raises(ValueError):
        run_until_precision(lambda i: {})
