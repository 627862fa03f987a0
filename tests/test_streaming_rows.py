"""``run.rows: none``: the same summary, intervals and timeseries as the rows, without the rows.

The flagship, shortened, runs in both modes; the summaries (values, lows, highs) and the
request timeseries must be equal to the last bit, with one replication (batch means) and with
two (replication intervals). The bucket sums are folded into exact terms every few values
here (``COLLAPSE`` patched small) so that path is exercised too. Memory is checked by
structure, not by measuring it: no rows, and 8 bytes per measured row in typed arrays.
"""

from __future__ import annotations

import functools
import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import engine
from sim.api import compare, load_scenario, observers
from sim.cli import main
from sim.output import write_run
from sim.report import load_results
from sim.report.document import build_report
from sim.results import stream, summarize
from sim.results.batches import BATCHES
from sim.results.summary import window

ROOT = Path(__file__).resolve().parent.parent
FLAGSHIP = ROOT / "scenarios" / "order-service.yaml"
TINY = ROOT / "tests" / "gold" / "tiny.yaml"
SHORT = ["run.duration=10", "run.warmup=2"]


@functools.cache
def _pair(replications: int, duration: float) -> tuple[object, object]:
    sets = [f"run.duration={duration:g}", "run.warmup=2", f"run.replications={replications}"]
    rows = compare(load_scenario(FLAGSHIP, sets))
    patch = pytest.MonkeyPatch()
    patch.setattr(stream, "COLLAPSE", 7)  # fold the bucket sums often: the exact-terms path
    try:
        none = compare(load_scenario(FLAGSHIP, [*sets, "run.rows=none"]))
    finally:
        patch.undo()
    return rows, none


@pytest.mark.slow
@pytest.mark.parametrize(("replications", "duration"), [(1, 10.0), (2, 4.0)])
def test_summary_and_timeseries_equal_without_rows(replications: int, duration: float) -> None:
    rows, none = _pair(replications, duration)
    assert len(none.frame("requests")) == 0 and len(rows.frame("requests")) > 1000
    assert all(r.aggregate is not None for r in none.results())
    for arch in ("http", "messaging"):
        a = summarize(getattr(rows, arch))
        b = summarize(getattr(none, arch))
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert a.attrs["interval"] == b.attrs["interval"]
        if replications == 1:  # batch means gave intervals, so the batches matched too
            lat = a[(a["flow"] == "all") & (a["metric"] == "latency_mean")]
            assert np.isfinite(lat[["low", "high"]].to_numpy()).all()
    pd.testing.assert_frame_equal(rows.summary, none.summary, check_exact=True)
    pd.testing.assert_frame_equal(
        rows.frame("timeseries"), none.frame("timeseries"), check_exact=True
    )
    for r, n in zip(rows.results(), none.results(), strict=True):
        assert r.metadata["completed"] == n.metadata["completed"]
        first = r.requests[r.requests["kind"] == "request"].sort_values("request_id").iloc[0]
        assert n.metadata["first_request"] == (first["request_id"], first["end"])


@pytest.mark.slow
def test_request_series_streamed_equals_rows() -> None:
    rows, none = _pair(1, 10.0)
    for r, n in zip(rows.results(), none.results(), strict=True):
        ts = r.timeseries
        mine = n.timeseries
        for metric in ("throughput", "error_rate", "p99_latency"):
            a = ts[ts["metric"] == metric].reset_index(drop=True)
            b = mine[mine["metric"] == metric].reset_index(drop=True)
            assert len(a) == 10  # one point per second of the measured window
            pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_no_rows_kept_and_eight_bytes_per_measured_row() -> None:
    sc = load_scenario(FLAGSHIP, [*SHORT, "run.rows=none"])
    raw = engine.run(sc, "messaging", 1, 0, observers(sc))
    rec, tally = raw.recorder, raw.recorder.sink
    assert rec.rows == [] and isinstance(tally, stream.Aggregate)
    w = tally.window()
    measured = w.n_requests + w.n_events
    assert w.n_requests > 1500 and w.n_events > 3 * w.n_requests
    latency_arrays = tally.latency_arrays()
    assert {a.typecode for a in latency_arrays} == {"d"}
    assert sum(len(a) for a in latency_arrays) == measured  # 8 bytes each, nothing else per row
    buffers, terms = tally.bucket_storage()
    assert all(len(b) < stream.COLLAPSE * stream.NB for b in buffers)  # bounded per batch
    assert all(len(t) <= 64 for t in terms)
    # every array's allocation within array's growth rule (n + n/16 + 7 items) of its length
    assert tally.nbytes() <= sum((len(a) * 17 // 16 + 8) * 8 for a in latency_arrays) + sum(
        (len(b) * 17 // 16 + 8) * 8 for b in buffers
    )
    held, pending = tally.series_pending()
    assert held <= pending < w.n_requests / 5  # one interval of ten, at most
    tally.series()
    assert tally.series_pending()[0] == 0


def test_exact_terms_sum_exactly() -> None:
    rng = random.Random(5)
    values = [rng.uniform(-1, 1) * 10.0 ** rng.randint(-12, 6) for _ in range(5000)]
    terms: list[float] = []
    for i in range(0, len(values), 37):
        terms = stream.exact_terms([*terms, *values[i : i + 37]])
        assert len(terms) <= 40
    assert math.fsum(terms) == math.fsum(values)
    assert stream.exact_terms([1e16, 1.0, -1e16]) == [1.0]
    assert stream.exact_terms([]) == []


def test_batches_must_match_the_aggregate() -> None:
    _, none = _pair(1, 10.0)
    from sim.results.batches import batch_table

    with pytest.raises(ValueError, match=f"{BATCHES} batches, not 10"):
        batch_table(none.http, k=10)
    w = window(none.http[0])
    assert w.n_requests == sum(
        window(v).n_requests for v in [_batch(none.http[0], j) for j in range(BATCHES + 1)]
    )


def _batch(r: object, j: int) -> object:
    import copy

    v = copy.copy(r)
    v.batch = j  # type: ignore[attr-defined]
    return v


@pytest.mark.slow
def test_warmup_auto_without_rows_equals_rows(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """MSER-5 reads the pilot's series from the tally (24 bytes a request, dropped once the
    warm-up is fixed): the same warm-up, summary and timeseries as with the rows."""
    sets = ["run.duration=8", "run.warmup=auto"]
    rows = compare(load_scenario(FLAGSHIP, sets))
    none = compare(load_scenario(FLAGSHIP, [*sets, "run.rows=none"]))
    assert len(none.frame("requests")) == 0
    pd.testing.assert_frame_equal(rows.summary, none.summary, check_exact=True)
    for r, n in zip(rows.results(), none.results(), strict=True):
        for key in ("warmup", "warmup_mser", "warmup_observations", "warmup_truncated"):
            assert r.metadata[key] == n.metadata[key], (r.architecture, key)
        assert r.metadata["warmup"] > 0
        assert n.aggregate is not None and n.aggregate.pilot is None  # dropped when fixed
        assert n.aggregate.edges[0] == r.metadata["warmup"]
        pd.testing.assert_frame_equal(r.timeseries, n.timeseries, check_exact=True)
    text = FLAGSHIP.read_text(encoding="utf-8").replace("  seed: 1\n", "  seed: 1\n  rows: none\n")
    f = tmp_path / "auto.yaml"
    f.write_text(text.replace("warmup: 10s ", "warmup: auto"), encoding="utf-8")
    assert "warmup: auto" in f.read_text(encoding="utf-8")
    assert main(["validate", str(f)]) == 0, capfd.readouterr().err  # accepted in a file too


def test_pilot_series_is_the_rows_series() -> None:
    """The tally's pilot gives MSER-5 the rows' arrival series: complete prefix by id."""
    pilot = stream.Pilot()
    for rid, start, end in [(1, 0.2, 0.9), (0, 0.1, 0.5), (3, 0.4, 0.6)]:  # 2 still in flight
        pilot.add(rid, start, end)
    starts, lat = pilot.arrival_series()
    assert starts == [0.1, 0.2] and lat == [0.5 - 0.1, 0.9 - 0.2]
    assert pilot.rid.itemsize + pilot.start.itemsize + pilot.end.itemsize == 24


@pytest.mark.slow
def test_run_folder_and_report_without_rows(tmp_path: Path) -> None:
    sc = load_scenario(TINY, ["run.rows=none"])
    cmp = compare(sc)
    (tmp_path / "requests.parquet").write_text("stale")  # an earlier run into the same folder
    write_run(tmp_path, sc, cmp)
    assert not (tmp_path / "requests.parquet").exists()
    res = load_results(tmp_path)
    assert len(res.requests) == 0
    rep = build_report(res, render=False)
    assert any("Raw rows were not kept" in w for w in rep.warnings)
    keys = {f.key for f in rep.figures}
    assert {"latency", "breakdown", "over-time"} <= keys  # drawn from the aggregates
    assert rep.sample and rep.sample["first"]  # the traced sample request is still there
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "Raw rows were not kept" in text and "figures/latency.png" in text
    # latencies.parquet: each measured request's latency, the very values of the rows
    rows = compare(load_scenario(TINY))
    key = ["architecture", "replication", "flow"]

    def by_key(df: pd.DataFrame) -> dict[tuple[object, ...], list[float]]:
        return {k: sorted(g["latency"]) for k, g in df.groupby(key, observed=True)}

    kept = res.latencies
    assert list(kept.columns) == [*key, "latency"] and len(kept) > 50
    assert by_key(kept) == by_key(rows.frame("latencies"))
    assert by_key(cmp.frame("latencies")) == by_key(kept)  # in memory as on disk
    write_run(tmp_path, load_scenario(TINY), rows)  # rows kept again: no stale latencies file
    assert (tmp_path / "requests.parquet").exists()
    assert not (tmp_path / "latencies.parquet").exists()


def test_breakdown_from_the_summary_is_the_rows_figure() -> None:
    """The report draws where the time goes from the summary's bucket means (which runs
    without rows have too): the same bars as the means over the rows (one replication; the
    sums differ only in rounding order: fsum vs pandas)."""
    from sim.report import plots

    cmp = compare(load_scenario(TINY))
    s = cmp.summary.set_index(["flow", "metric"])
    archs = ("http", "messaging")
    means = {a: {b: float(s.loc[("all", f"time_{b}"), a]) for b in stream.BUCKETS} for a in archs}
    ours = [p.get_width() for p in plots.breakdown_bars(means).axes[0].patches]
    rows = [p.get_width() for p in plots.time_breakdown(cmp.frame("requests")).axes[0].patches]
    assert len(ours) == len(rows) == 2 * len(stream.BUCKETS)
    assert ours == pytest.approx(rows, rel=1e-12, abs=1e-15)
