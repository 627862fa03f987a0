"""Round trip: simulate a bundled scenario with span export, import the spans onto the
scenario's infrastructure, simulate the import on other seeds; latency mean, p99 and each
service's throughput agree with the original within a Welch 95 % interval of the difference
(sim.stats.paired.independent_comparison over the replications)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

import sim
from sim.interop.roundtrip import round_trip

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_routing_network_survives_export_import_and_resimulation() -> None:
    path = ROOT / "scenarios/validation/routing.yaml"
    sc = sim.load_scenario(path)  # Jackson network: probabilistic calls, 2-core station, ρ ≤ 0.6
    rt = round_trip(sc, sample=1000, architectures=("messaging",))
    t = rt.table
    assert set(t["metric"]) == {
        "latency mean (ms)",
        "latency p99 (ms)",
        "throughput front (rps)",
        "throughput ledger (rps)",
        "throughput pricing (rps)",
    }
    bad = t[~t["agrees"]]
    assert bad.empty, bad.to_string()
    # the import learnt the structure: exponential demands, the two calls with their
    # probabilities within three binomial standard deviations of 0.5 and 0.3
    data = yaml.safe_load(rt.scenario_yaml)
    n = sum(f["weight"] for f in data["workload"]["flows"])
    front = data["services"]["front"]["operations"]["serve"]
    for call, p in zip(front["calls"], (0.5, 0.3), strict=True):
        assert abs(call["probability"] - p) < 3 * math.sqrt(p * (1 - p) / n)
    for svc in ("front", "ledger", "pricing"):
        (op,) = data["services"][svc]["operations"].values()
        assert op["demand"]["dist"] == "exponential"
