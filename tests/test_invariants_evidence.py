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

import pytest

from tests.evidence import (
    check_conservation_from_rows,
    check_cpu_against_jobs,
    check_event_books_from_rows,
    check_memory_and_connections,
    simulate_with_evidence,
)
from tests.helpers import FLAGSHIP, ROOT

ARCHS = ("http", "messaging")


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
