"""Running the points of a sweep and gathering them into one tidy frame.

Each point is the scenario file with the point's ``path=value`` overrides applied after the
user's own (:func:`sim.api.load_scenario`), validated in the calling process so that a bad
value fails before anything runs. The point is then run by :func:`sim.api.compare`: both
architectures, replication by replication, on common random numbers (Law 2015, §11.2), so
every row of ``http`` has a ``messaging`` twin with the same seed and replication.

A point's result is tidy: one row per (architecture, replication, flow, metric) with the
metrics of :func:`sim.results.summary.run_metrics`, plus ``system/memory_total`` (infra +
services), tagged with one column per swept path and the point's key. Wall-clock times are
kept out of the rows (they go to the manifest) so that the dataset is bit-identical
whichever executor produced it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from sim import __version__
from sim.scenario import Scenario, scenario_hash
from sim.sweep.executors import Executor, make_executor
from sim.sweep.grid import Grid, Param, Point, column_kind
from sim.sweep.store import Store, point_key

ROW_COLUMNS = ("architecture", "replication", "flow", "metric", "unit", "value")
METRICS = {  # short names used by `sim crossover --metric`
    "p99": ("all", "latency_p99"),
    "p50": ("all", "latency_p50"),
    "latency": ("all", "latency_mean"),
    "connections": ("system", "connections_mean"),
    "cpu": ("system", "cpu_cores_total"),
    "memory": ("system", "memory_total"),
    "cost": ("system", "cost_allocation"),  # sim.results.cost: nodes × price per month
    "cost-usage": ("system", "cost_usage"),
}


@dataclass(frozen=True)
class PointTask:
    """What a worker needs to run one point: nothing from the caller's process state."""

    scenario: Scenario
    seed: int
    replications: int


@dataclass(frozen=True)
class PlannedPoint:
    point: Point
    scenario: Scenario
    key: str


def run_point(task: PointTask) -> pd.DataFrame:
    """Both architectures, paired, over the point's replications: tidy metric rows."""
    from sim.api import compare
    from sim.results.summary import run_metrics

    cmp = compare(task.scenario, seed=task.seed, replications=task.replications)
    rows: list[tuple[str, int, str, str, str, float]] = []
    for r in cmp.results():
        rep = int(r.metadata["replication"])
        mem = 0.0
        for flow, metric, unit, value in run_metrics(r):
            rows.append((r.architecture, rep, flow, metric, unit, float(value)))
            if flow == "system" and metric in ("memory_infra", "memory_app"):
                mem += value
        rows.append((r.architecture, rep, "system", "memory_total", "MiB", float(mem)))
    return pd.DataFrame(rows, columns=list(ROW_COLUMNS))


def _cast(values: Sequence[Any], kind: str) -> pa.Array:
    if kind == "int":
        return pa.array(values, pa.int64())
    if kind == "float":
        return pa.array([float(v) for v in values], pa.float64())
    if kind == "bool":
        return pa.array(values, pa.bool_())
    return pa.array([str(v) for v in values], pa.string())


def tag(frame: pd.DataFrame, planned: PlannedPoint, kinds: Mapping[str, str]) -> pd.DataFrame:
    """The point's rows with its swept values and key in front, normalised through Arrow."""
    n = len(frame)
    cols: dict[str, pa.Array] = {}
    for path, value in planned.point.items:
        cols[path] = _cast([value] * n, kinds[path])
    cols["point_key"] = pa.array([planned.key] * n, pa.string())
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name in ROW_COLUMNS:
        cols[name] = table.column(name)
    # one Arrow round trip for every frame, stored or not, so dtypes never depend on the path
    return pa.table(cols).to_pandas()


def plan(
    path: str | Path, points: Sequence[Point], sets: Sequence[str], replications: int, seed: int
) -> list[PlannedPoint]:
    """Load and validate every point's scenario; keys from scenario + point + reps + seed."""
    from sim.api import load_scenario

    out = []
    for pt in points:
        sc = load_scenario(path, [*sets, *pt.sets()])
        out.append(
            PlannedPoint(pt, sc, point_key(scenario_hash(sc), pt.as_dict(), replications, seed))
        )
    return out


def execute(
    planned: Sequence[PlannedPoint],
    kinds: Mapping[str, str],
    replications: int,
    seed: int,
    executor: Executor,
    store: Store | None,
    sweep_info: Mapping[str, Any],
    progress: bool = True,
    on_point: Callable[[PlannedPoint, pd.DataFrame], None] | None = None,
    desc: str = "sweep",
) -> dict[str, pd.DataFrame]:
    """Run the points not yet stored; returns every point's rows by key."""
    from tqdm import tqdm

    keys = [p.key for p in planned]
    done = store.done(keys) if store is not None else set()
    if store is not None:
        for path, why in store.damaged.items():  # computed again below, and said so
            print(f"sim: {path}: {why}; computing this point again", file=sys.stderr)
        store.damaged.clear()
    results: dict[str, pd.DataFrame] = {}
    todo = [p for p in planned if p.key not in done]
    entries: dict[str, dict[str, Any]] = {p.key: {"point": p.point.as_dict()} for p in planned}
    if store is not None:
        store.write_manifest(sweep_info, entries)
    bar = tqdm(
        total=len(planned),
        initial=len(planned) - len(todo),
        unit="point",
        desc=desc,
        disable=not progress,
        dynamic_ncols=True,
    )
    tasks = [PointTask(p.scenario, seed, replications) for p in todo]
    t0 = time.perf_counter()
    try:
        for i, frame in executor.run(run_point, tasks):
            p = todo[i]
            tagged = tag(frame, p, kinds)
            if store is not None:
                about = {
                    "point": p.point.as_dict(),
                    "scenario_hash": sweep_info.get("scenario_hash"),
                }
                store.write_part(p.key, tagged, about)
                entries[p.key]["wall_seconds"] = round(time.perf_counter() - t0, 3)
                store.write_manifest(sweep_info, entries)
            results[p.key] = tagged
            if on_point is not None:
                on_point(p, tagged)
            bar.update(1)
    finally:
        bar.close()
    if store is not None:
        for k in keys:
            if k not in results:
                results[k] = store.read_part(k)
    return results


def run_sweep(
    path: str | Path,
    params: Sequence[str] | Mapping[str, Sequence[Any]],
    replications: int | None = None,
    executor: str | Executor = "process",
    workers: int | None = None,
    scheduler: Any = None,
    out: str | Path | None = None,
    sets: Sequence[str] = (),
    seed: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run every grid point for both architectures; one tidy row per point, architecture,
    replication, flow and metric. With `out`, parts are stored and a rerun resumes."""
    from sim.api import load_scenario

    grid = Grid.parse(params)
    base = load_scenario(path, sets)
    reps = base.run.replications if replications is None else replications
    if reps < 1:
        raise ValueError("replications must be >= 1")
    s = base.run.seed if seed is None else seed
    planned = plan(path, list(grid.points()), sets, reps, s)
    kinds = {p.path: p.kind for p in grid.params}
    info = sweep_info(path, base, sets, grid.params, reps, s)
    store = Store(out) if out is not None else None
    ex = make_executor(executor, workers, scheduler)
    try:
        results = execute(planned, kinds, reps, s, ex, store, info, progress)
    finally:
        ex.close()
    frame = pd.concat([results[p.key] for p in planned], ignore_index=True)
    index = {p.key: i for i, p in enumerate(planned)}
    frame.insert(0, "point", frame["point_key"].map(index).astype("int64"))
    return frame


def sweep_info(
    path: str | Path,
    base: Scenario,
    sets: Sequence[str],
    params: Sequence[Param],
    replications: int,
    seed: int,
) -> dict[str, Any]:
    """What a sweep is, for its manifest."""
    return {
        "scenario": str(path),
        "scenario_name": base.name,
        "scenario_hash": scenario_hash(base),
        "sets": list(sets),
        "params": [{"path": p.path, "values": list(p.values)} for p in params],
        "replications": replications,
        "seed": seed,
        "version": __version__,
    }


def kinds_of(params: Sequence[Param]) -> dict[str, str]:
    return {p.path: column_kind(p.values) for p in params}
