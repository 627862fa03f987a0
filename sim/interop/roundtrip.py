"""Round trip: simulate with span export, import the spans, simulate the imported scenario.

The imported scenario keeps the original's infrastructure (``base``, as ``sim import traces
--base`` does) and takes from the traces what they observed: operations, self-time
distributions, call probabilities, events, the arrival rate and mix. It is simulated on
other seeds (an independent sample), and each metric is compared by a Welch interval for the
difference of the per-replication values (:func:`sim.stats.paired.independent_comparison`):
the round trip holds when every interval contains zero.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.api import compare, scenario_from_dict
from sim.interop.build import from_traces
from sim.interop.emit import dump
from sim.interop.export import export_otlp, sample_ids
from sim.interop.traces import analyse, read_spans
from sim.results import Comparison, RunResult
from sim.scenario.loader import read_yaml
from sim.scenario.model import Scenario
from sim.stats.paired import independent_comparison

SEED_OFFSET = 1000  # the imported scenario runs on seeds this far away: independent samples


@dataclass
class RoundTrip:
    original: Comparison
    imported: Comparison
    scenario_yaml: str
    table: pd.DataFrame  # architecture, metric, original, imported, difference [low, high], agrees


def per_replication(r: RunResult) -> dict[str, float]:
    """Latency mean and p99 (ms) and throughput per service (rps) of one run."""
    q = r.requests
    lat = q[(q["kind"] == "request") & (q["status"] == "ok")]["latency"].to_numpy() * 1e3
    out = {
        "latency mean (ms)": float(lat.mean()),
        "latency p99 (ms)": float(np.quantile(lat, 0.99)),
    }
    dur = float(r.metadata.get("simulated_time") or r.metadata["duration"])  # handled: whole run
    comps = r.components[r.components["kind"] == "service"]
    for svc, handled in comps.groupby("service")["handled"].sum().items():
        out[f"throughput {svc} (rps)"] = float(handled) / dur
    return out


def round_trip(
    sc: Scenario, sample: int = 1000, architectures: Sequence[str] = ("http", "messaging")
) -> RoundTrip:
    """Run the round trip for a scenario; ``sample`` requests per run are exported."""
    original = compare(sc, trace=sample_ids(sc, sample), architectures=architectures)
    base = sc.model_dump(mode="json", by_alias=True, exclude_unset=True)  # what the author set
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.otlp.json"
        export_otlp(sc, original, path)
        imp = from_traces(analyse(read_spans(path)), "traces.otlp.json", sc.name, base)
    text = dump(imp.data, imp.notes, "round trip")
    sc2 = scenario_from_dict(read_yaml(text, "imported")[0], name="imported")
    imported = compare(sc2, seed=sc.run.seed + SEED_OFFSET, architectures=architectures)
    rows = []
    for arch in architectures:
        a = [per_replication(r) for r in original.results() if r.architecture == arch]
        b = [per_replication(r) for r in imported.results() if r.architecture == arch]
        for metric in a[0]:
            x = [v[metric] for v in a]
            y = [v.get(metric, np.nan) for v in b]
            d = independent_comparison(x, y)
            rows.append(
                {
                    "architecture": arch,
                    "metric": metric,
                    "original": float(np.mean(x)),
                    "imported": float(np.nanmean(y)),
                    "difference": d.value,
                    "low": d.low,
                    "high": d.high,
                    "agrees": d.contains(0.0),
                }
            )
    return RoundTrip(original, imported, text, pd.DataFrame(rows))
