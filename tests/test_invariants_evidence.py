"""Invariants checked from independent evidence, on calm, scaling and fault scenarios.

The figures of a run come from its own books (time-weighted gauges, the recorder's counters);
checking them against those same books proves nothing. Here each figure is compared with
evidence gathered another way:

* CPU seconds of every component against the start and end times of the CPU jobs
  themselves (logged as each job takes and releases a core), clipped to the measured window:
  a gauge that counts from t = 0 instead of from the component's birth, or a
  ``mean × duration`` that assumes every component lived through the whole window, fails.
  Utilisation is then at most 1 and memory means at most their peaks, with no clamp in the
  production code to make it so (the rounding of a summed area is allowed, 1e-12 relative).
* A component created mid-run (a scaled-out instance, its sidecar) has no memory before its
  birth: its window mean is at most its peak times the share of the window it existed.
* Conservation from the rows: every request id below ``generated`` has at most one row, the
  rows counted are ``completed``, the ids without one are ``in_flight``.
* The books the fault timeline writes at each event (completed, ok, failed, in flight)
  against the rows at the end of the run: the requests that had ended by then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import sim
from sim.api import _meta, observers
from sim.core import cpu as cpu_module
from sim.core.raw import RawRun
from sim.engine import run
from sim.results import RunResult, frames_from_raw
from tests.helpers import FLAGSHIP, ROOT

ARCHS = ("http", "messaging")
ULP = 1e-12  # a summed area can round a few ulps above cores × span


class JobLog:
    """When each CPU job took a core and when it gave it back, per Cpu."""

    def __init__(self) -> None:
        self.starts: dict[int, list[float]] = defaultdict(list)
        self.ends: dict[int, list[float]] = defaultdict(list)

    def busy(self, cpu: Any, lo: float, hi: float) -> float:
        """Core-seconds busy in [lo, hi]: each job's interval clipped to it. Clipping each
        start and each end on its own gives the same sum, with no need to pair them; a job
        still running at ``hi`` ends there."""
        s = np.clip(self.starts[id(cpu)], lo, hi)
        e = np.clip(self.ends[id(cpu)], lo, hi)
        running = len(s) - len(e)
        return float(e.sum() + running * hi - s.sum())


@contextmanager
def logging_jobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[JobLog]:
    log = JobLog()
    start, release = cpu_module.Cpu._start, cpu_module.Cpu._release

    def logged_start(self: Any, ev: Any, work: float, tail: float) -> None:
        log.starts[id(self)].append(self.env.now)
        start(self, ev, work, tail)

    def logged_release(self: Any, e: Any) -> None:
        log.ends[id(self)].append(self.env.now)
        release(self, e)

    with monkeypatch.context() as m:
        m.setattr(cpu_module.Cpu, "_start", logged_start)
        m.setattr(cpu_module.Cpu, "_release", logged_release)
        yield log


def simulate_with_evidence(
    monkeypatch: pytest.MonkeyPatch, file: str, arch: str, *sets: str
) -> tuple[RawRun, RunResult, JobLog]:
    sc = sim.load_scenario(file, sets)
    with logging_jobs(monkeypatch) as log:
        raw = run(sc, arch, sc.run.seed, 0, observers(sc))
    return raw, frames_from_raw(raw, _meta(sc)), log


# --------------------------------------------------------------------------- checks


def check_cpu_against_jobs(raw: RawRun, res: RunResult, log: JobLog) -> None:
    comps = res.components.set_index("name")
    w, end = raw.warmup, raw.end
    duration = end - w
    for c in raw.components:
        row = comps.loc[c.name]
        if c.cpu is None:
            assert row["cpu_seconds"] == 0.0
            continue
        jobs = log.busy(c.cpu, w, end)
        assert row["cpu_seconds"] == pytest.approx(jobs, rel=1e-9, abs=1e-9), c.name
        present = end - max(w, c.born)
        assert row["present_seconds"] == pytest.approx(present, abs=1e-9), c.name
        assert 0.0 <= row["utilisation"] <= 1.0 + ULP, c.name
        assert row["cpu_seconds"] <= c.cpu.cores * duration * (1 + ULP), c.name


def check_memory_and_connections(raw: RawRun, res: RunResult) -> None:
    c = res.components
    duration = raw.end - raw.warmup
    assert (c["memory_mean"] <= c["memory_peak"] * (1 + ULP)).all()
    assert (c["connections_mean"] <= c["connections_peak"] * (1 + ULP)).all()
    # nothing is counted before a component's birth
    assert (
        c["memory_mean"] * duration <= c["memory_peak"] * c["present_seconds"] * (1 + ULP)
    ).all(), c[["name", "memory_mean", "memory_peak", "present_seconds"]]


def check_conservation_from_rows(raw: RawRun, res: RunResult) -> None:
    md = res.metadata
    ids = [r[1] for r in raw.recorder.rows if r[0] == "request"]
    assert len(set(ids)) == len(ids), "a request answered twice"
    assert all(0 <= i < md["generated"] for i in ids)
    assert len(ids) == md["completed"]
    assert md["generated"] - len(ids) == md["in_flight"] >= 0
    measured = res.requests[res.requests["kind"] == "request"]
    assert set(measured["request_id"]) == {
        r[1] for r in raw.recorder.rows if r[0] == "request" and r[3] >= raw.warmup
    }


def check_event_books_from_rows(raw: RawRun) -> None:
    """Each fault-log event's books against the rows: the requests that had ended by then."""
    rows = [r for r in raw.recorder.rows if r[0] == "request"]
    end = np.asarray([r[4] for r in rows])
    bad = np.asarray([r[5] != "ok" for r in rows])
    events = raw.extra["events"]
    assert events
    for e in events:
        if "completed" not in e:  # a detection: no books
            continue
        t = e["t"]
        before, upto = end < t, end <= t  # a request ending at t may be booked either side
        assert int(before.sum()) <= e["completed"] <= int(upto.sum()), e
        assert int((bad & before).sum()) <= e["failed"] <= int((bad & upto).sum()), e
        assert e["in_flight"] == e["generated"] - e["completed"], e


# --------------------------------------------------------------------------- scenarios

CASES = [
    (str(FLAGSHIP), ("run.duration=5", "run.warmup=1")),
    # scaled out at 35 s (+2 s boot): two instances, and on HTTP their sidecars, born mid-run
    (str(ROOT / "scenarios" / "scale-out.yaml"), ("run.duration=40",)),
    (str(ROOT / "scenarios" / "instance-crash.yaml"), ("run.duration=30",)),
]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize(("file", "sets"), CASES, ids=["flagship", "scale-out", "crash"])
def test_figures_agree_with_independent_evidence(
    monkeypatch: pytest.MonkeyPatch, file: str, sets: tuple[str, ...], arch: str
) -> None:
    raw, res, log = simulate_with_evidence(monkeypatch, file, arch, *sets)
    check_cpu_against_jobs(raw, res, log)
    check_memory_and_connections(raw, res)
    check_conservation_from_rows(raw, res)
    if "events" in raw.extra:
        check_event_books_from_rows(raw)


@pytest.mark.parametrize("arch", ARCHS)
def test_instances_born_mid_run_are_measured_from_birth(
    monkeypatch: pytest.MonkeyPatch, arch: str
) -> None:
    """Scale-out: the two new order-dispatch instances exist from ≈37 s of a 10–50 s window
    (on HTTP they get traffic once ready, at 45 s)."""
    raw, res, log = simulate_with_evidence(
        monkeypatch, str(ROOT / "scenarios" / "scale-out.yaml"), arch, "run.duration=40"
    )
    born = [c for c in raw.components if c.born > raw.warmup]
    names = {c.name for c in born if c.kind == "service"}
    assert names == {"order-dispatch-2", "order-dispatch-3"}
    comps = res.components.set_index("name")
    for c in born:
        row = comps.loc[c.name]
        assert row["present_seconds"] == pytest.approx(raw.end - c.born)
        assert row["present_seconds"] < 0.4 * (raw.end - raw.warmup)
        if c.kind == "service":
            assert c.cpu is not None and row["cpu_seconds"] > 0
            assert row["cpu_seconds"] == pytest.approx(log.busy(c.cpu, c.born, raw.end))
            # the 128 MiB baseline counts only from birth
            share = row["present_seconds"] / (raw.end - raw.warmup)
            assert row["memory_mean"] == pytest.approx(128 * 2**20 * share, rel=1e-3)
