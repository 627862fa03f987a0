"""``run.rows: none`` with a ``timeline:``: the disturbance measures without the rows.

With a timeline the streaming aggregate also keeps each measured request's start, end and
status in typed arrays (:class:`sim.results.stream.Outcomes`, 17 bytes a request), and the
fault log's books (answered ids, failures) in :class:`sim.results.stream.Answered`. Two
shipped failure scenarios, shortened so that the event still falls in the measured window,
run in both modes for both architectures: the disturbance table, the fault log (events with
their books, requests never answered) and the summary must be equal to the last bit.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pandas as pd
import pytest

from sim import engine
from sim.api import compare, load_scenario, observers
from sim.cli import main
from sim.faults.measures import disturbance_table, status_series
from sim.results import Comparison
from sim.results.stream import Aggregate, Answered, Outcomes

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
FLAGSHIP = SCENARIOS / "order-service.yaml"
# each scenario's first action at 30 s; 10 s warm-up + 25 s measured keeps it and 5 s after
FAILURES = {
    "instance-crash": ["run.duration=25"],
    "retry-storm": ["run.duration=25"],
}


@functools.cache
def _pair(name: str) -> tuple[Comparison, Comparison]:
    sets = FAILURES[name]
    rows = compare(load_scenario(SCENARIOS / f"{name}.yaml", sets))
    none = compare(load_scenario(SCENARIOS / f"{name}.yaml", [*sets, "run.rows=none"]))
    return rows, none


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAILURES))
def test_disturbance_table_without_rows_equals_rows(name: str) -> None:
    rows, none = _pair(name)
    assert len(none.frame("requests")) == 0 and len(rows.frame("requests")) > 1000
    a, b = disturbance_table(rows), disturbance_table(none)
    assert set(a["architecture"]) == {"http", "messaging"} and len(a) >= 2
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert rows.metadata["disturbance"] == none.metadata["disturbance"]  # what the report shows
    pd.testing.assert_frame_equal(rows.summary, none.summary, check_exact=True)
    for r, n in zip(rows.results(), none.results(), strict=True):
        assert r.architecture == n.architecture
        for key in ("events", "unanswered", "fault_series", "completed", "in_flight"):
            assert r.metadata[key] == n.metadata[key], (r.architecture, key)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAILURES))
def test_outcomes_frame_has_the_values_of_the_rows(name: str) -> None:
    rows, none = _pair(name)
    for r, n in zip(rows.results(), none.results(), strict=True):
        req = r.requests[r.requests["kind"] == "request"].reset_index(drop=True)
        mine = n.outcomes
        cols = ["kind", "start", "end", "latency", "status"]
        assert list(mine.columns) == cols
        pd.testing.assert_frame_equal(req[cols], mine, check_exact=True)
        pd.testing.assert_frame_equal(status_series(req), status_series(mine), check_exact=True)
        assert r.outcomes is r.requests  # rows kept: the measures read them as before
        assert len(n.requests) == 0  # and requests stays empty without rows


def test_compact_storage_is_typed_and_small() -> None:
    sc = load_scenario(SCENARIOS / "retry-storm.yaml", ["run.duration=5", "run.rows=none"])
    raw = engine.run(sc, "http", 1, 0, observers(sc))
    rec, tally = raw.recorder, raw.recorder.sink
    assert rec.rows == [] and isinstance(tally, Aggregate)
    out, books = tally.outcomes, tally.answered
    assert isinstance(out, Outcomes) and isinstance(books, Answered)
    n = tally.window().n_requests
    assert len(out) == n > 1000
    assert (out.start.typecode, out.end.typecode, out.status.typecode) == ("d", "d", "B")
    assert out.nbytes() == 17 * n  # per measured request: start, end, status code
    assert "ok" in out.names and len(out.names) < 10  # a few names, not a string per request
    assert len(books.bits) <= rec.generated // 8 + 1 + Answered.CHUNK  # one bit per request id
    assert books.failed >= int((out.frame()["status"] != "ok").sum())  # warm-up included


@pytest.mark.parametrize(
    "sets",
    [
        ["run.duration=2", "run.warmup=1"],  # no timeline, no faults at all
        # autoscaling without a timeline: the fault log's books, but no per-request storage
        ["run.duration=2", "run.warmup=1", "services.order-dispatch.autoscale={target: 0.5}"],
    ],
)
def test_no_compact_storage_without_a_timeline(sets: list[str]) -> None:
    sc = load_scenario(FLAGSHIP, [*sets, "run.rows=none"])
    assert not sc.timeline
    raw = engine.run(sc, "messaging", 1, 0, observers(sc))
    tally = raw.recorder.sink
    assert isinstance(tally, Aggregate) and tally.outcomes is None
    assert (tally.answered is not None) == ("autoscale" in " ".join(sets))
    r = compare(sc, architectures=("messaging",)).messaging[0]
    assert r.aggregate is not None and r.aggregate.outcomes is None
    assert len(r.outcomes) == 0  # the (empty) requests frame


@pytest.mark.slow
def test_autoscaling_books_without_rows_equal_rows() -> None:
    """The fault log's books (requests never answered) need no rows either."""
    sets = ["run.duration=4", "run.warmup=1", "services.order-dispatch.autoscale={target: 0.5}"]
    rows = compare(load_scenario(FLAGSHIP, sets))
    none = compare(load_scenario(FLAGSHIP, [*sets, "run.rows=none"]))
    for r, n in zip(rows.results(), none.results(), strict=True):
        assert r.metadata["unanswered"] == n.metadata["unanswered"]
        assert r.metadata["events"] == n.metadata["events"]
        assert 0 < len(n.metadata["unanswered"]) < 100  # those in flight at the end, not all


def test_timeline_with_rows_none_is_accepted(capfd: pytest.CaptureFixture[str]) -> None:
    for name in FAILURES:
        assert main(["validate", str(SCENARIOS / f"{name}.yaml"), "--set", "run.rows=none"]) == 0
    assert "cannot be used" not in capfd.readouterr().err


@pytest.mark.slow
def test_warmup_auto_with_a_timeline_without_rows_equals_rows() -> None:
    """warmup: auto, a timeline and no rows together: the same warm-up and disturbance table."""
    sets = ["run.duration=32", "run.warmup=auto"]  # measured from >= 2 s: the 30 s action is in
    path = SCENARIOS / "retry-storm.yaml"
    rows = compare(load_scenario(path, sets))
    none = compare(load_scenario(path, [*sets, "run.rows=none"]))
    for r, n in zip(rows.results(), none.results(), strict=True):
        assert r.metadata["warmup"] == n.metadata["warmup"] > 0
    a, b = disturbance_table(rows), disturbance_table(none)
    assert len(a) == 2  # the action, for each architecture
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(rows.summary, none.summary, check_exact=True)


@pytest.mark.slow
def test_cli_run_of_a_failure_scenario_without_rows(tmp_path: Path) -> None:
    name = "retry-storm"
    argv = ["run", str(SCENARIOS / f"{name}.yaml"), "--out", str(tmp_path), "--quiet"]
    for s in [*FAILURES[name], "run.rows=none"]:
        argv += ["--set", s]
    assert main(argv) == 0
    assert not (tmp_path / "requests.parquet").exists()
    for f in ("summary.csv", "report.md", "report.html", "metadata.json"):
        assert (tmp_path / f).stat().st_size > 0, f
    meta = json.loads((tmp_path / "metadata.json").read_text(encoding="utf-8"))
    rows, _ = _pair(name)
    assert meta["disturbance"] == json.loads(json.dumps(rows.metadata["disturbance"]))
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Faults and scaling" in report and "slow inventory" in report
    assert "Raw rows were not kept" in report
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert len(summary) > 10
