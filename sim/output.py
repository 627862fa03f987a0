"""Writing a run's results to a folder: frames, metadata and the Markdown report.

Every file is written atomically (:mod:`sim.io`), so an interrupted run leaves the previous
good files in place.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from sim.io import atomic_text, atomic_write
from sim.report import render_markdown, report_data
from sim.results import Comparison
from sim.scenario.model import Scenario


def _csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def write_run(out: Path, sc: Scenario, cmp: Comparison) -> None:
    """summary.csv, requests.parquet, components.csv, timeseries.csv, metadata.json, report.md."""
    out.mkdir(parents=True, exist_ok=True)
    requests = cmp.frame("requests")
    atomic_write(
        out / "requests.parquet", lambda f: requests.to_parquet(f, index=False), binary=True
    )
    atomic_text(out / "components.csv", _csv(cmp.frame("components")))
    atomic_text(out / "timeseries.csv", _csv(cmp.frame("timeseries")))
    atomic_text(out / "summary.csv", _csv(cmp.summary))
    meta = dict(cmp.metadata)
    meta["runs"] = [r.metadata for r in cmp.results()]
    atomic_text(out / "metadata.json", json.dumps(meta, indent=2, default=str))
    if cmp.http and cmp.messaging:
        atomic_text(out / "report.md", render_markdown(report_data(sc, cmp.summary, cmp.metadata)))
