"""Independent evidence for the invariant tests: what a run's figures are checked against.

* :func:`logging_jobs` logs when each CPU job took a core and when it gave it back
  (:class:`JobLog`), so CPU seconds can be computed without the busy-cores gauge;
* :func:`simulate_with_evidence` runs a scenario file with that log;
* the ``check_*`` functions compare a run's frames with the log and with the rows.
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
def logging_jobs() -> Iterator[JobLog]:
    log = JobLog()
    start, release = cpu_module.Cpu._start, cpu_module.Cpu._release
    tail_ended = cpu_module.Cpu._tail_ended  # a tail nobody waited for: released late, at t

    def logged_start(self: Any, ev: Any, work: float, tail: float) -> None:
        log.starts[id(self)].append(self.env.now)
        start(self, ev, work, tail)

    def logged_release(self: Any, e: Any) -> None:
        log.ends[id(self)].append(self.env.now)
        release(self, e)

    def logged_tail_ended(self: Any, t: float) -> None:
        log.ends[id(self)].append(t)
        tail_ended(self, t)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(cpu_module.Cpu, "_start", logged_start)
        m.setattr(cpu_module.Cpu, "_release", logged_release)
        m.setattr(cpu_module.Cpu, "_tail_ended", logged_tail_ended)
        yield log


def simulate_with_evidence(
    monkeypatch: pytest.MonkeyPatch, file: str, arch: str, *sets: str
) -> tuple[RawRun, RunResult, JobLog]:
    sc = sim.load_scenario(file, sets)
    with logging_jobs() as log:
        raw = run(sc, arch, sc.run.seed, 0, observers(sc))
        res = frames_from_raw(raw, _meta(sc))  # reading a Cpu releases its ended tails (logged)
    return raw, res, log


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
