"""What a report is made from: one :class:`Results` bundle, from memory or from a folder.

A report never runs a simulation. It reads the frames a run produced — ``summary``,
``requests``, ``components``, ``timeseries``, ``links`` (who opened connections to whom),
``metadata`` — plus the scenario as it was run and the hops of one traced sample request.
:func:`from_comparison` builds the bundle from a :class:`~sim.results.Comparison` in
memory; :func:`load_results` reads the files :mod:`sim.output` wrote, so ``sim report DIR``
regenerates the same report from disk.

The scenario is saved as ``scenario.json`` with only the keys the author set
(``exclude_unset``): reloading it restores which values were defaults, which the parameter
table needs to say where each value came from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.core.recorder import COLUMNS
from sim.core.trace import BUCKETS, Trace
from sim.results import Comparison
from sim.scenario.base import InputError
from sim.scenario.model import Scenario

Hop = tuple[float, str, str, str]

SCENARIO_FILE = "scenario.json"
TRACES_FILE = "traces.json"
LATENCIES_FILE = "latencies.parquet"  # run.rows: none: each measured request's latency
FRAME_FILES = {
    "summary": "summary.csv",
    "requests": "requests.parquet",
    "components": "components.csv",
    "timeseries": "timeseries.csv",
    "links": "links.csv",
}


@dataclass(frozen=True)
class TracedRequest:
    """One request followed hop by hop in one architecture."""

    start: float
    latency: float
    hops: list[Hop]
    buckets: dict[str, float]

    @classmethod
    def of(cls, tr: Trace) -> TracedRequest:
        """From a run's :class:`~sim.core.trace.Trace` (its buckets sum to the latency)."""
        buckets = {b: float(getattr(tr, b)) for b in BUCKETS}
        return cls(float(tr.start), sum(buckets.values()), list(tr.hops or []), buckets)

    def as_json(self) -> dict[str, Any]:
        """Plain data for traces.json."""
        return {
            "start": self.start,
            "latency": self.latency,
            "buckets": self.buckets,
            "hops": [list(h) for h in self.hops],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TracedRequest:
        """Back from traces.json."""
        hops = [(float(h[0]), str(h[1]), str(h[2]), str(h[3])) for h in d["hops"]]
        buckets = {str(k): float(v) for k, v in d["buckets"].items()}
        return cls(float(d["start"]), float(d["latency"]), hops, buckets)


class ResultsError(InputError):
    """A results folder that cannot be read (missing or malformed file)."""


class _Loose(BaseModel):
    """A saved record: the keys a report reads must have their types; others pass."""

    model_config = ConfigDict(extra="allow", strict=False)


class _Event(_Loose):
    t: float
    label: str = ""


class _Run(_Loose):
    architecture: str = ""
    replication: int = 0
    warmup: float | None = None
    rows: Literal["all", "none"] = "all"
    events: list[_Event] = []
    first_request: tuple[int, float] | None = None


class _Disturbance(_Loose):
    event: str | None = None
    architecture: str | None = None
    time_to_detect: float | None = None
    time_to_recover: float | None = None
    failed: int | None = None
    timeouts: int | None = None
    unanswered: int | None = None
    retry_amplification: float | None = None
    connections_opened: float | None = None


class _Metadata(_Loose):
    """What ``metadata.json`` must hold for a report to be drawn from it."""

    seed: int | None = None
    replications: int | None = Field(None, ge=1)
    version: str = ""
    scenario_hash: str = ""
    runs: list[_Run] = []
    events: list[_Event] = []
    disturbance: list[_Disturbance] | None = None


_NUM, _TEXT = "number", "text"
# the columns a report reads from each saved frame, and what they hold
COLUMNS_READ: dict[str, dict[str, str]] = {
    "summary": {"flow": _TEXT, "metric": _TEXT, "unit": _TEXT},
    "requests": {
        "architecture": _TEXT,
        "replication": _NUM,
        "kind": _TEXT,
        "flow": _TEXT,
        "status": _TEXT,
        "start": _NUM,
        "end": _NUM,
        "latency": _NUM,
    },
    "components": {
        "architecture": _TEXT,
        "replication": _NUM,
        "name": _TEXT,
        "kind": _TEXT,
        "cores": _NUM,
        "cpu_seconds": _NUM,
        "utilisation": _NUM,
        "memory_mean": _NUM,
        "connections_mean": _NUM,
        "handled": _NUM,
    },
    "timeseries": {
        "architecture": _TEXT,
        "replication": _NUM,
        "t": _NUM,
        "metric": _TEXT,
        "kind": _TEXT,
        "value": _NUM,
    },
    "links": {"architecture": _TEXT, "source": _TEXT, "target": _TEXT, "opened": _NUM},
}


def check_frame(key: str, frame: pd.DataFrame, where: Path) -> pd.DataFrame:
    """The frame with the columns a report reads present and numeric where they must be;
    ResultsError naming the file and column otherwise."""
    out = frame
    for col, kind in COLUMNS_READ.get(key, {}).items():
        if col not in frame.columns:
            if len(frame) == 0:
                continue
            raise ResultsError(f"{where}: no column {col!r} (is this a file `sim run` wrote?)")
        if kind == _NUM and not pd.api.types.is_numeric_dtype(frame[col]):
            values = pd.to_numeric(frame[col], errors="coerce")
            if values.isna().sum() > frame[col].isna().sum():
                raise ResultsError(f"{where}: column {col!r} holds values that are not numbers")
            out = out.assign(**{col: values})
    return out


def check_metadata(meta: dict[str, Any], where: Path) -> None:
    """Raise ResultsError unless ``meta`` has the shape a run writes (tampered or damaged
    saved results are bad input: one line, not a crash while drawing)."""
    try:
        _Metadata.model_validate(meta)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ResultsError(f"{where}: {loc}: {err['msg']}") from None


@dataclass
class Results:
    """Everything a report shows, as frames and plain data."""

    scenario: Scenario
    summary: pd.DataFrame
    requests: pd.DataFrame
    components: pd.DataFrame
    timeseries: pd.DataFrame
    links: pd.DataFrame
    metadata: dict[str, Any]
    sample: int | None = None  # id of the traced sample request
    traces: dict[str, TracedRequest] = field(default_factory=dict)  # by architecture
    latency_frame: pd.DataFrame | None = None  # run.rows: none — latencies.parquet

    @property
    def latencies(self) -> pd.DataFrame:
        """architecture, replication, flow and latency of every measured successful request:
        from the requests frame, or from ``latencies.parquet`` when the runs kept no rows."""
        if self.latency_frame is not None:
            return self.latency_frame
        r = self.requests[(self.requests["kind"] == "request") & (self.requests["status"] == "ok")]
        return r[["architecture", "replication", "flow", "latency"]]

    @property
    def warmup(self) -> float:
        """Where measuring started: the scenario's warm-up, or the latest the runs chose (auto)."""
        w = self.scenario.run.warmup
        if w != "auto":
            return float(w)
        chosen = [float(r["warmup"]) for r in self.metadata.get("runs", []) if "warmup" in r]
        return max(chosen, default=0.0)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Fault and scaling events to mark on time plots: ``{"t", "label"[, "architecture"]}``.

        Read from the comparison's metadata (``events``: both architectures) and from each
        replication-0 run's metadata (``events``: tagged with that run's architecture).
        """
        out = [dict(e) for e in self.metadata.get("events", []) if isinstance(e, dict)]
        for run in self.metadata.get("runs", []):
            if run.get("replication", 0) != 0:
                continue
            for e in run.get("events", []):
                if isinstance(e, dict):
                    out.append({"architecture": run.get("architecture", ""), **e})
        return [e for e in out if isinstance(e.get("t"), int | float)]

    @property
    def architectures(self) -> list[str]:
        """The architectures present, http first."""
        present = set(self.components["architecture"]) if len(self.components) else set()
        return [a for a in ("http", "messaging") if a in present]


def from_comparison(
    sc: Scenario,
    cmp: Comparison,
    sample: int | None = None,
    traces: dict[str, TracedRequest] | None = None,
) -> Results:
    """The bundle of a comparison in memory; traces default to those replication 0 recorded."""
    if traces is None:
        traces = {}
        for r in cmp.results():
            if r.metadata.get("replication", 0) != 0 or not r.traces:
                continue
            rid = sample if sample is not None else min(r.traces)
            tr = r.traces.get(rid)
            if tr is not None and tr.hops is not None:
                traces[r.architecture] = TracedRequest.of(tr)
                sample = rid
    meta = dict(cmp.metadata)
    meta.setdefault("runs", [r.metadata for r in cmp.results()])
    return Results(
        sc,
        cmp.summary,
        cmp.frame("requests"),
        cmp.frame("components"),
        cmp.frame("timeseries"),
        cmp.frame("links"),
        meta,
        sample if traces else None,
        traces,
        cmp.frame("latencies") if any(r.aggregate for r in cmp.results()) else None,
    )


def sample_request(
    requests: pd.DataFrame, runs: Sequence[dict[str, Any]] = ()
) -> tuple[int, float] | None:
    """The first request measured in every architecture (replication 0), and the time by
    which all of them had finished it. Runs that kept no rows (``run.rows: none``) name their
    first measured request in their metadata (``runs``): it is the sample when it is the same
    request in every architecture."""
    r = requests[(requests["kind"] == "request") & (requests["replication"] == 0)]
    if r.empty:
        firsts = [m.get("first_request") for m in runs if m.get("replication", 0) == 0]
        pairs = [(int(f[0]), float(f[1])) for f in firsts if f]
        if not pairs or len(pairs) < len(firsts) or len({i for i, _ in pairs}) != 1:
            return None
        return pairs[0][0], max(t for _, t in pairs)
    n_archs = r["architecture"].nunique()
    everywhere = r.groupby("request_id")["architecture"].nunique()
    ids = everywhere[everywhere == n_archs].index
    if len(ids) == 0:
        return None
    rid = int(min(ids))
    return rid, float(r[r["request_id"] == rid]["end"].max())


def scenario_json(sc: Scenario) -> str:
    """The scenario as run, only the keys that were set (defaults stay defaults on reload)."""
    data = sc.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def traces_json(sample: int | None, traces: dict[str, TracedRequest]) -> str:
    """The traced sample request: its id and, per architecture, its start, buckets and hops."""
    body = {"request_id": sample, "traces": {a: t.as_json() for a, t in traces.items()}}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def load_results(folder: str | Path) -> Results:
    """Read a results folder written by :func:`sim.output.write_run`."""
    d = Path(folder)
    if not d.is_dir():
        raise ResultsError(f"{d}: no such results folder")
    frames: dict[str, pd.DataFrame] = {}
    for key, name in FRAME_FILES.items():
        p = d / name
        if not p.exists():
            if key == "links":  # written since the topology drawings; older folders lack it
                frames[key] = pd.DataFrame(columns=["architecture", "source", "target", "opened"])
                continue
            if key == "requests" and _kept_no_rows(d):  # run.rows: none
                frames[key] = pd.DataFrame(
                    columns=["architecture", "replication", *COLUMNS, "latency"]
                )
                continue
            raise ResultsError(f"{p}: missing (is this a folder written by `sim run`?)")
        try:
            frames[key] = pd.read_parquet(p) if name.endswith(".parquet") else _read_csv(p)
        except Exception as e:  # pandas raises many types for a damaged file
            raise ResultsError(f"{p}: cannot read: {e}") from None
        frames[key] = check_frame(key, frames[key], p)
    meta = _json(d / "metadata.json")
    check_metadata(meta, d / "metadata.json")
    sc_data = _json(d / SCENARIO_FILE)
    _check_text(sc_data, d / SCENARIO_FILE)
    try:
        sc = Scenario.model_validate(sc_data)
    except ValueError as e:
        raise ResultsError(f"{d / SCENARIO_FILE}: not a valid scenario: {e}") from None
    sample, traces = None, {}
    if (d / TRACES_FILE).exists():
        t = _json(d / TRACES_FILE)
        sample = t.get("request_id")
        try:
            traces = {a: TracedRequest.from_json(x) for a, x in t.get("traces", {}).items()}
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ResultsError(f"{d / TRACES_FILE}: malformed trace: {e}") from None
    latencies = None
    if (d / LATENCIES_FILE).exists():  # run.rows: none
        try:
            latencies = pd.read_parquet(d / LATENCIES_FILE)
        except Exception as e:  # pandas raises many types for a damaged file
            raise ResultsError(f"{d / LATENCIES_FILE}: cannot read: {e}") from None
    return Results(
        sc,
        frames["summary"],
        frames["requests"],
        frames["components"],
        frames["timeseries"],
        frames["links"],
        meta,
        sample,
        traces,
        latencies,
    )


def _check_text(data: Any, where: Path) -> None:
    """Refuse control characters in the saved scenario, as the loader does in a YAML file
    (they would reach report.md and terminals)."""
    from sim.scenario.loader import _CONTROL

    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
        elif isinstance(x, str) and _CONTROL.search(x):
            raise ResultsError(f"{where}: a control character in {x!r}")


def _kept_no_rows(d: Path) -> bool:
    """Whether the runs in a results folder kept no raw rows (``run.rows: none``)."""
    runs = _json(d / "metadata.json").get("runs", [])
    return (
        isinstance(runs, list)
        and bool(runs)
        and all(isinstance(r, dict) and r.get("rows") == "none" for r in runs)
    )


def _json(p: Path) -> dict[str, Any]:
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{p}: missing (is this a folder written by `sim run`?)") from None
    except (OSError, ValueError) as e:
        raise ResultsError(f"{p}: cannot read: {e}") from None
    except RecursionError:  # thousands of nested [ or {: no file sim writes
        raise ResultsError(f"{p}: nested too deeply to be a file sim wrote") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{p}: expected a JSON object")
    return data


def _read_csv(p: Path) -> pd.DataFrame:
    # pandas >= 3 parses floats exactly (round trip): the numbers read back are the very
    # floats that were written (tested against the report's headline cells)
    return pd.read_csv(p)
