"""Every bundled scenario gives bit-identical output frames: hashes against a gold file.

Speed work (fewer SimPy events, arithmetic instead of timers, books computed at the end)
must not change a single result: the same random draws in the same order, the same
floating-point operations in the same order. This test runs every scenario under
``scenarios/`` (and ``scenarios/validation/``), shortened by the overrides in ``CASES`` (the
timelines moved into the short window so that the faults still happen), on both
architectures and several seeds, with a few requests traced hop by hop, and compares a hash
of each output frame (requests, components, timeseries, links, transport), of the
metadata (wall time and dates left out) and of the traces with ``tests/gold/frame-hashes.json``.

A change that is *meant* to change results (a model change, or another branch's merge that
does) regenerates the file with one command; say why in the commit message:

    SIM_UPDATE_HASHES=1 .venv/bin/pytest tests/test_bit_identity.py

A new scenario file fails the test until it has an entry in ``CASES`` (its overrides, maybe
none) and the file is regenerated.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sim.api import load_scenario, simulate
from sim.app.names import ARCHITECTURES

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "tests" / "gold" / "frame-hashes.json"
UPDATE = os.environ.get("SIM_UPDATE_HASHES", "") not in ("", "0")
SEEDS = (1, 2)
TRACE = (3, 40)  # request ids traced hop by hop (their hops are hashed too)
SHORT = ["run.warmup=1s", "run.duration=5s"]

# scenario file (relative to scenarios/) → overrides on top of SHORT that keep its point
CASES: dict[str, list[str]] = {
    "audit-listener.yaml": [],
    "broadcast.yaml": [],
    "consul-discovery.yaml": ["timeline.0.at=2s"],
    "instance-addressing.yaml": [],
    "instance-crash.yaml": ["timeline.0.at=3s"],
    "internal-gateway.yaml": [],
    "large-mesh.yaml": ["run.duration=1s", "run.warmup=0.5s"],
    "messaging-accounts.yaml": [],
    "messaging-cluster.yaml": [],
    "messaging-supercluster.yaml": [],
    "order-service-minimal.yaml": [],
    "order-service.yaml": [],
    "region-failover.yaml": ["timeline.0.at=2s"],
    "retry-storm.yaml": ["timeline.0.at=2s", "timeline.0.duration=2s"],
    "rolling-upgrade.yaml": ["timeline.0.at=2s", "timeline.0.interval=1s"],
    "scale-out.yaml": ["timeline.0.at=2s", "timeline.1.at=4s"],
    "validation/md1.yaml": [],
    "validation/mg1.yaml": [],
    "validation/mm1.yaml": [],
    "validation/mmc.yaml": [],
    "validation/routing.yaml": [],
    "validation/tandem.yaml": [],
}
VOLATILE = {"wall_time", "created", "started", "finished", "timestamp", "version", "python"}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def frame_hash(df: pd.DataFrame) -> str:
    """Column names, dtypes and every value (floats by their bits) of a frame."""
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _plain(v: Any) -> Any:
    """A JSON-able value whose text keeps every bit of a float (repr round-trips)."""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items() if str(k) not in VOLATILE}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, int | str | bool) or v is None:
        return v
    return repr(v)


def run_hashes(name: str, arch: str, seed: int) -> dict[str, str]:
    sc = load_scenario(ROOT / "scenarios" / name, [*SHORT, *CASES[name]])
    r = simulate(sc, arch, seed=seed, trace=TRACE)
    out = {
        frame: frame_hash(getattr(r, frame))
        for frame in ("requests", "components", "timeseries", "links", "transport")
    }
    out["metadata"] = _digest(json.dumps(_plain(r.metadata), sort_keys=True).encode())
    traces = {str(k): _plain(vars_of(t)) for k, t in sorted(r.traces.items())}
    out["traces"] = _digest(json.dumps(traces, sort_keys=True).encode())
    out["rows"] = str(len(r.requests))  # a readable sanity figure beside the hashes
    return out


def vars_of(t: Any) -> dict[str, Any]:
    """A trace's fields (slots or a dict)."""
    names = getattr(type(t), "__slots__", None) or vars(t)
    return {n: getattr(t, n) for n in names}


def _load() -> dict[str, Any]:
    return json.loads(GOLD.read_text(encoding="utf-8")) if GOLD.exists() else {}


def test_every_bundled_scenario_has_a_case() -> None:
    files = sorted(
        str(p.relative_to(ROOT / "scenarios"))
        for pat in ("*.yaml", "validation/*.yaml")
        for p in (ROOT / "scenarios").glob(pat)
    )
    assert files == sorted(CASES), "add the new scenario to CASES, then SIM_UPDATE_HASHES=1"


@pytest.mark.parametrize("name", sorted(CASES))
def test_frames_are_bit_identical(name: str) -> None:
    got = {
        f"{arch} seed={seed}": run_hashes(name, arch, seed)
        for arch in ARCHITECTURES
        for seed in SEEDS
    }
    gold = _load()
    if UPDATE:
        gold[name] = got
        GOLD.write_text(json.dumps(gold, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return
    assert name in gold, f"no hashes for {name}: SIM_UPDATE_HASHES=1 .venv/bin/pytest {__file__}"
    want = gold[name]
    diff = {
        f"{run} {frame}": (want.get(run, {}).get(frame), h)
        for run, hs in got.items()
        for frame, h in hs.items()
        if want.get(run, {}).get(frame) != h
    }
    assert not diff, (
        f"{name}: results changed (gold, now): {diff}; if intended, regenerate with "
        "SIM_UPDATE_HASHES=1 .venv/bin/pytest tests/test_bit_identity.py and say why"
    )
