"""A replayed trace's instants from a file: ``workload.arrivals: {kind: replay, file: F}``.

The file is resolved when the scenario loads, as a calibration profile is
(:mod:`sim.scenario.profile`): its instants become the arrivals' ``times``, so the validated
scenario (and what a run saves of it) holds the trace itself, and ``times`` stays the one way
the model knows it. ``F`` is relative to the scenario's folder unless absolute.

The format is what a spreadsheet, ``awk`` or a tracing tool's export writes: one instant per
line, in seconds from the start of the run, the first field of a CSV line (a header line
first is skipped; blank lines and lines starting with ``#`` too), in time order. A value that
is not a time, or comes before the one above it, is an error at its own line of the trace
(``FILE:LINE``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

WHERE = ("workload", "arrivals")


def resolve(data: Any, src: Any, scenario_file: Path) -> Any:
    """``data`` with a replay's ``file`` read into its ``times`` (unchanged otherwise)."""
    from sim.scenario.loader import ScenarioError

    arrivals = data.get("workload", {}).get("arrivals") if isinstance(data, dict) else None
    if not isinstance(arrivals, dict) or arrivals.get("kind") != "replay":
        return data
    named = arrivals.get("file")
    if named is None:
        return data
    if not isinstance(named, str):
        raise src.error((*WHERE, "file"), "expected the path of a file of instants")
    if "times" in arrivals:
        raise src.error((*WHERE, "file"), "give either times or file, not both")
    path = Path(named) if Path(named).is_absolute() else scenario_file.parent / named
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = "no such file" if isinstance(e, FileNotFoundError) else f"cannot read: {e}"
        raise src.error((*WHERE, "file"), f"replay trace {path}: {why}") from None
    times: list[float] = []
    for n, line in enumerate(text.splitlines(), 1):
        field = line.split(",", 1)[0].strip()
        if not field or field.startswith("#"):
            continue
        try:
            t = float(field)
        except ValueError:
            if n == 1:  # a header
                continue
            raise ScenarioError(str(path), n, (), f"not a number of seconds: {field!r}") from None
        if not math.isfinite(t) or t < 0:
            raise ScenarioError(str(path), n, (), f"not a time >= 0 in seconds: {field!r}")
        if times and t < times[-1]:
            raise ScenarioError(
                str(path), n, (), f"instants must be in time order: {t:g} after {times[-1]:g}"
            )
        times.append(t)
    if not times:
        raise src.error((*WHERE, "file"), f"replay trace {path}: no instants in it")
    out = dict(data)
    out["workload"] = dict(data["workload"])
    out["workload"]["arrivals"] = {k: v for k, v in arrivals.items() if k != "file"} | {
        "times": times
    }
    return out
