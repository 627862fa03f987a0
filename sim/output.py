"""Writing a run's results to a folder: frames, metadata, and the report (Markdown + HTML).

A run's outputs appear together or not at all: they are written into a temporary sibling
folder (``.NAME.sim-new-*``), which then takes the place of the destination by renames in
the same parent; the folder it replaces is moved aside (``.NAME.sim-old-*``), the files in
it that ``sim`` does not write are moved into the new folder, and it is removed. An
interruption at any instant leaves the old folder or the new one, never a mix; the next run
finishes or undoes what an interrupted one left (:func:`recover`).

:func:`prepare` is called before simulating: it refuses a destination that is a file or
lies under one, one that cannot be written, and a non-empty folder that ``sim`` did not
create (recognised by its ``metadata.json``) unless ``force`` — so a mistyped ``--out``
never overwrites someone's ``summary.csv`` and a read-only one is found before the run, not
after it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
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


# every name a run writes: only these are replaced; anything else in the folder is kept
RUN_FILES = frozenset(
    {
        "summary.csv",
        "requests.parquet",
        LATENCIES_FILE,
        "components.csv",
        "timeseries.csv",
        "links.csv",
        "broker.csv",
        "metadata.json",
        "scenario.json",
        "traces.json",
        "report.md",
        "report.html",
        "figures",
    }
)
NEW, OLD = "sim-new-", "sim-old-"


class OutputError(ValueError):
    """A destination ``sim`` must not or cannot write to (bad input: exit 2)."""


def is_sim_folder(out: Path) -> bool:
    """Whether ``out`` holds the results of a ``sim run`` (its ``metadata.json``)."""
    try:
        meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "scenario_hash" in meta and "version" in meta


def prepare(out: Path, force: bool = False) -> None:
    """Check, before simulating, that the run's outputs can go to ``out``; raise OutputError."""
    out = _real(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{out}: {parent} is a file, not a folder") from None
    except OSError as e:
        raise OutputError(f"{out}: cannot create {parent}: {e.strerror or e}") from None
    recover(out)
    if out.is_dir() and not force and any(out.iterdir()) and not is_sim_folder(out):
        raise OutputError(
            f"{out} is a folder that `sim run` did not write (no metadata.json of a run) and "
            "is not empty; choose another --out, or add --force to write into it (files "
            "sim does not write are kept)"
        )
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: not writable")
    try:  # what the run will do at the end: a sibling folder, renamed into place
        probe = tempfile.mkdtemp(prefix=f".{out.name}.{NEW}", dir=parent)
        os.rmdir(probe)
    except OSError as e:
        raise OutputError(f"{out}: cannot write in {parent}: {e.strerror or e}") from None


def recover(out: Path) -> None:
    """Finish or undo what an interrupted write left beside ``out``: a half-written new
    folder is removed; a folder moved aside is moved back (if ``out`` is missing) or has its
    files that sim does not write carried into ``out``, then removed."""
    for stale in out.parent.glob(f".{out.name}.{NEW}*"):
        shutil.rmtree(stale, ignore_errors=True)
    for old in sorted(out.parent.glob(f".{out.name}.{OLD}*")):
        if not out.exists():
            os.rename(old, out)
            continue
        _carry(old, out)
        shutil.rmtree(old, ignore_errors=True)


def _carry(old: Path, new: Path) -> None:
    """Move the entries of ``old`` that a run does not write into ``new``."""
    for entry in old.iterdir():
        mine = entry.name in RUN_FILES or entry.name.endswith(".tmp")
        if not mine and not (new / entry.name).exists():
            os.rename(entry, new / entry.name)


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A temporary sibling folder to write into; on success it becomes ``out``."""
    out = _real(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{NEW}", dir=out.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; outputs are ordinary folders
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.{OLD}{uuid.uuid4().hex[:12]}"
            os.rename(out, old)
        os.rename(tmp, out)
        if old is not None:
            _carry(old, out)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _real(out: Path) -> Path:
    """A link to a folder is written through (the folder it names is swapped, the link kept)."""
    return Path(os.path.realpath(out)) if out.is_symlink() else out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_run(out: Path, sc: Scenario, cmp: Comparison, trace_sample: bool = True) -> None:
    """summary.csv, requests.parquet (with ``run.rows: none``: latencies.parquet instead),
    components.csv, timeseries.csv, links.csv, metadata.json, scenario.json, traces.json,
    report.md, report.html and figures/ — all at once (see the module docstring)."""
    with staged(Path(out)) as tmp:
        _write(tmp, sc, cmp, trace_sample)


def _write(out: Path, sc: Scenario, cmp: Comparison, trace_sample: bool) -> None:
    kept = "requests.parquet"
    if sc.run.rows == "none":  # each measured request's latency, 8 bytes, for the figures
        kept = LATENCIES_FILE
    frame = cmp.frame("requests" if sc.run.rows == "all" else "latencies")
    atomic_write(out / kept, lambda f: frame.to_parquet(f, index=False), binary=True)
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
