"""An interrupted sweep resumes where it stopped: nothing lost, nothing duplicated.

The interruption is real: a subprocess runs the sweep and is killed with SIGKILL as soon as
its first part file appears, so it dies wherever it is (perhaps mid-write). Rerunning the
same sweep must then give exactly the frame an uninterrupted sweep gives.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.sweep import run_sweep
from sim.sweep.store import MANIFEST, TMP_PREFIX, Store

# Seconds of simulated time: two services, one observer, Poisson arrivals. Each point runs
# both architectures twice in well under a second.
TINY = """
name: tiny
run: {duration: 1s, warmup: 0.2s, seed: 3, replications: 2}
services:
  front:
    instances: 2
    operations:
      get:
        demand: {dist: exponential, mean: 2ms}
        calls: [{service: back, operation: fetch}]
        emits: [{subject: EV.done}]
  back:
    instances: 1
    operations:
      fetch: {demand: {dist: exponential, mean: 1ms}}
  obs:
    instances: 1
    operations:
      note: {demand: {dist: constant, value: 0.1ms}}
    subscriptions: [{subject: "EV.>", operation: note}]
workload:
  arrivals: {kind: poisson, rate: 100}
  clients: 4
  flows: [{name: f, service: front, operation: get}]
"""
PARAMS = ["workload.arrivals.rate=40..180:8"]

# `sim sweep` as the CLI will run it (commands.add_parser on a parser of our own)
CHILD = """
import argparse, sys
from sim.sweep.commands import add_parser
p = argparse.ArgumentParser(prog="sim")
add_parser(p.add_subparsers(dest="command", required=True))
args = p.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("resume") / "tiny.yaml"
    p.write_text(TINY, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def fresh(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The uninterrupted sweep."""
    out = tmp_path_factory.mktemp("fresh")
    return run_sweep(tiny, PARAMS, executor="inprocess", out=out, progress=False)


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def interrupt(tiny: Path, out: Path, sig: signal.Signals) -> tuple[int, str]:
    """Start `sim sweep` in a subprocess; send `sig` once its first part file appears."""
    argv = ["sweep", str(tiny), "--param", PARAMS[0], "--executor", "inprocess"]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *argv, "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    try:
        while not parts(out) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.kill(child.pid, sig)
        _, err = child.communicate()
    return child.returncode, err.decode()


@pytest.mark.slow
def test_resume_after_kill_gives_the_uninterrupted_dataset(
    tiny: Path, fresh: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    code, err = interrupt(tiny, out, signal.SIGKILL)
    assert code == -signal.SIGKILL, err
    stored = parts(out)
    assert 1 <= len(stored) < 8, "the kill must land mid-sweep"
    before = {p.name: p.read_bytes() for p in stored}

    resumed = run_sweep(tiny, PARAMS, executor="inprocess", out=out, progress=False)

    pd.testing.assert_frame_equal(resumed, fresh, check_exact=True)
    assert len(parts(out)) == 8 and not list(out.glob(f"{TMP_PREFIX}*"))
    # parts written before the kill were kept as they were, not run again
    assert all((out / name).read_bytes() == blob for name, blob in before.items())
    assert resumed.groupby("point")["point_key"].nunique().eq(1).all()
    assert sorted(resumed["point"].unique()) == list(range(8))
    manifest = json.loads((out / MANIFEST).read_text())
    assert all(e["done"] for e in manifest["points"].values())
    assert len(manifest["points"]) == 8


@pytest.mark.slow
def test_ctrl_c_exits_1_with_a_resume_hint_and_resumes(
    tiny: Path, fresh: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "interrupted"
    code, err = interrupt(tiny, out, signal.SIGINT)
    assert code == 1, err
    assert err.strip().startswith("interrupted: finished points are stored in")
    assert "run the same command to resume" in err and "Traceback" not in err
    assert 1 <= len(parts(out)) < 8
    resumed = run_sweep(tiny, PARAMS, executor="inprocess", out=out, progress=False)
    pd.testing.assert_frame_equal(resumed, fresh, check_exact=True)


def test_rows_are_tidy_and_paired(tiny: Path) -> None:
    df = run_sweep(tiny, ["workload.arrivals.rate=50,100"], executor="inprocess", progress=False)
    assert list(df.columns[:3]) == ["point", "workload.arrivals.rate", "point_key"]
    assert set(df["architecture"]) == {"http", "messaging"}
    assert set(df["replication"]) == {0, 1}
    shared = ["latency_p99", "requests", "cpu_cores_total", "connections_mean", "memory_total"]
    both = df[df["metric"].isin(shared)]
    per = both.groupby(["point", "flow", "metric", "replication"])["architecture"].nunique()
    assert set(both["metric"]) == set(shared) and per.eq(2).all()  # each http row has its twin
    p99 = df[(df["metric"] == "latency_p99") & (df["flow"] == "all")]
    assert len(p99) == 2 * 2 * 2 and p99["value"].gt(0).all()
    mem = df[df["metric"].isin(["memory_infra", "memory_app", "memory_total"])]
    wide = mem.pivot_table(
        index=["point", "architecture", "replication"], columns="metric", values="value"
    )
    assert (wide["memory_total"] == wide["memory_infra"] + wide["memory_app"]).all()


@pytest.mark.slow
def test_a_changed_scenario_does_not_reuse_old_parts(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "sw"
    a = run_sweep(tiny, ["workload.clients=2,4"], executor="inprocess", out=out, progress=False)
    b = run_sweep(
        tiny, ["workload.clients=2,4"], executor="inprocess", out=out, progress=False, seed=9
    )
    assert set(a["point_key"]).isdisjoint(set(b["point_key"]))
    assert len(parts(out)) == 4
    assert not a["value"].equals(b["value"])
    again = run_sweep(tiny, ["workload.clients=2,4"], executor="inprocess", out=out, progress=False)
    pd.testing.assert_frame_equal(a, again, check_exact=True)
    assert Store(out).done(a["point_key"].unique()) == set(a["point_key"])
