"""Writing a run's results to a folder: frames, metadata, and the report (Markdown + HTML).

Every file is written atomically (:mod:`sim.io`), so an interrupted run leaves the previous
good files in place.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from sim.io import atomic_text, atomic_write
from sim.report import from_comparison, write_report
from sim.report.data import (
    LATENCIES_FILE,
    TracedRequest,
    sample_request,
    scenario_json,
    traces_json,
)
from sim.results import Comparison
from sim.scenario.model import Scenario


def _csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def write_run(out: Path, sc: Scenario, cmp: Comparison, trace_sample: bool = True) -> None:
    """summary.csv, requests.parquet (with ``run.rows: none``: latencies.parquet instead),
    components.csv, timeseries.csv, links.csv, metadata.json, scenario.json, traces.json,
    report.md, report.html and figures/."""
    out.mkdir(parents=True, exist_ok=True)
    kept, dropped = ("requests.parquet", LATENCIES_FILE)
    if sc.run.rows == "none":  # each measured request's latency, 8 bytes, for the figures
        kept, dropped = dropped, kept
    frame = cmp.frame("requests" if sc.run.rows == "all" else "latencies")
    atomic_write(out / kept, lambda f: frame.to_parquet(f, index=False), binary=True)
    (out / dropped).unlink(missing_ok=True)  # not a stale file of an earlier run here
    atomic_text(out / "components.csv", _csv(cmp.frame("components")))
    atomic_text(out / "timeseries.csv", _csv(cmp.frame("timeseries")))
    atomic_text(out / "summary.csv", _csv(cmp.summary))
    meta = dict(cmp.metadata)
    meta["runs"] = [r.metadata for r in cmp.results()]
    atomic_text(out / "metadata.json", json.dumps(meta, indent=2, default=str))
    atomic_text(out / "links.csv", _csv(cmp.frame("links")))
    atomic_text(out / "broker.csv", _csv(cmp.frame("broker")))
    atomic_text(out / "scenario.json", scenario_json(sc))
    if cmp.http or cmp.messaging:  # one architecture gets its report too
        res = from_comparison(sc, cmp)
        picked = sample_request(res.requests, meta["runs"]) if trace_sample else None
        if not res.traces and picked is not None:  # re-run just past the first measured request
            from sim.api import trace_request

            traced = trace_request(
                sc,
                picked[0],
                cmp.metadata.get("seed"),
                0,
                architectures=res.architectures,
                until=picked[1] + 1e-3,
            )
            res.sample, res.traces = picked[0], {a: TracedRequest.of(t) for a, t in traced.items()}
        atomic_text(out / "traces.json", traces_json(res.sample, res.traces))
        write_report(out, res)
