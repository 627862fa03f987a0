"""Sweeps leave nothing behind and use only their own parts (issue 15): a ``kill -9`` or a
SIGTERM of ``sim sweep`` ends its pool workers and multiprocessing's resource tracker; a
damaged part file, or another point's part put in its place, is named and computed again;
parts are ordinary files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.sweep import run_sweep
from sim.sweep.store import Store

TINY = """
name: tiny
run: {duration: 1s, warmup: 0.2s, seed: 3, replications: 1}
services:
  a:
    operations:
      op: {demand: {dist: exponential, mean: 1ms}}
workload:
  arrivals: {kind: poisson, rate: 50}
  clients: 2
  flows: [{name: f, service: a, operation: op}]
"""
PARAMS = ["workload.arrivals.rate=20,40,60"]
HANG_GUARD = 120  # seconds: far above the few it takes


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("sweeps") / "tiny.yaml"
    p.write_text(TINY)
    return p


@pytest.fixture(scope="module")
def fresh(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    out = tmp_path_factory.mktemp("fresh")
    return run_sweep(tiny, PARAMS, executor="inprocess", out=out, progress=False), out


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.add(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_killed_sweep_leaves_no_process_behind(
    tiny: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    # a long point, so the workers are busy when the signal comes
    argv = [
        sys.executable,
        "-m",
        "sim.cli",
        "sweep",
        str(tiny),
        "--param",
        "run.duration=200,201",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "sw"),
        "--quiet",
    ]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + HANG_GUARD
    workers: set[int] = set()
    while time.monotonic() < deadline and child.poll() is None:
        workers = _children(child.pid)
        if len(workers) >= 3:  # two workers and the resource tracker
            break
        time.sleep(0.1)
    assert len(workers) >= 3, child.communicate()
    time.sleep(1.0)  # the workers have started their points
    os.kill(child.pid, sig)
    # the pipe closes only when every process holding it (the workers) has exited:
    # `sim sweep ... | tee` ends
    _, err = child.communicate(timeout=HANG_GUARD)
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not [p for p in workers if _alive(p)]
    if sig != signal.SIGKILL:
        assert child.returncode == 1
        assert b"interrupted: finished points are stored" in err and b"Traceback" not in err


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other-point"])
def test_a_bad_part_is_named_and_computed_again(
    tiny: Path,
    fresh: tuple[pd.DataFrame, Path],
    tmp_path: Path,
    damage: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    frame, src = fresh
    out = tmp_path / "sw"
    shutil.copytree(src, out)
    parts = sorted(out.glob("part-*.parquet"))
    victim = parts[0]
    if damage == "truncated":
        victim.write_bytes(victim.read_bytes()[: len(victim.read_bytes()) // 2])
    elif damage == "garbage":
        victim.write_bytes(b"not parquet at all" * 10)
    elif damage == "empty":
        victim.write_bytes(b"")
    else:  # another point's (valid) part under this point's name
        shutil.copy(parts[1], victim)
    capfd.readouterr()
    again = run_sweep(tiny, PARAMS, executor="inprocess", out=out, progress=False)
    err = capfd.readouterr().err
    assert f"{victim}: " in err and "computing this point again" in err
    pd.testing.assert_frame_equal(again, frame, check_exact=True)  # no duplicated rows
    assert Store(out).check(victim.name[len("part-") : -len(".parquet")]) is None


def test_parts_are_ordinary_files_that_name_their_point(fresh: tuple[pd.DataFrame, Path]) -> None:
    _, out = fresh
    mask = os.umask(0)
    os.umask(mask)
    store = Store(out)
    for p in out.glob("part-*.parquet"):
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask
        assert store.check(p.name[len("part-") : -len(".parquet")]) is None
