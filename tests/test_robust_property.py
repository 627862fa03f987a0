"""The contract of `sim run` on any scenario a user can write (issue 15), as a property:
mutate a bundled scenario — one value replaced by a hostile one (a boolean, a negative, an
infinity, NaN, a huge number, text with control characters or TeX, an empty or nested
collection), a key renamed or removed — and the run either exits 0 with a complete output
folder or exits 2 with one ``FILE:LINE: …`` line; never a traceback, never exit 1.

Each example runs in this process, on a base shortened to one simulated second so that an
example takes seconds; ``SIM_TIME_LIMIT`` is lowered so that a mutation asking for a long
run is refused by the budget (itself part of the contract) instead of running. Hypothesis
draws a fixed sequence of examples (``derandomize``), so the test is the same on every run;
``MAX_EXAMPLES`` bounds it to about a minute here (`README.md` gives the figures). A hang
guard (an alarm far above any example's time) turns a run that never ends into a failure.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.output import RUN_FILES

ROOT = Path(__file__).resolve().parents[1]
BASES = ["order-service", "instance-crash", "messaging-cluster", "retry-storm", "scale-out"]
MAX_EXAMPLES = 40
HANG_GUARD = 300  # seconds for one example; a normal one takes a few

HOSTILE: list[Any] = [
    True,
    False,
    0,
    -1,
    -0.5,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
    2**70,
    "",
    "abc",
    "1us",
    "-5ms",
    "pay$\\x$",
    "\x1b[2J\x1b]2;owned\x07",
    "a b",
    "x" * 5000,
    None,
    [],
    {},
    [1, "two", None],
    {"kind": "poisson"},
]


class Hang(BaseException):
    """An example that ran past the hang guard (not an Exception: main() must not catch it)."""


def _base(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    data.setdefault("run", {})
    data["run"].update(duration=1.0, warmup=0.2, replications=1)
    return data


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    name = draw(st.sampled_from(BASES))
    data = _base(name)
    paths = _paths(data)
    path = draw(st.sampled_from(paths))
    how = draw(st.sampled_from(["value", "value", "value", "rename", "delete"]))
    parent: Any = data
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if how == "value" or isinstance(parent, list):
        parent[last] = draw(st.sampled_from(HOSTILE))
        what = f"{'.'.join(map(str, path))} = {parent[last]!r}"[:120]
    elif how == "rename":
        parent[draw(st.sampled_from(["x", "Instances", "\x1b", "rate "]))] = parent.pop(last)
        what = f"rename {'.'.join(map(str, path))}"
    else:
        del parent[last]
        what = f"delete {'.'.join(map(str, path))}"
    return name, data, what


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def _complete(out: Path) -> list[str]:
    """What a finished run's folder lacks (empty: complete)."""
    names = {p.name for p in out.iterdir()}
    rows = {"requests.parquet", "latencies.parquet"}
    missing = sorted(RUN_FILES - rows - names)
    if not rows & names:
        missing.append("requests.parquet or latencies.parquet")
    if len(list((out / "figures").glob("*.png"))) < 7:
        missing.append("figures")
    return missing


@pytest.mark.slow
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=mutated())
def test_run_refuses_in_one_line_or_writes_a_complete_folder(
    case: tuple[str, dict[str, Any], str],
) -> None:
    name, data, what = case
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIM_TIME_LIMIT", "60s")
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=False, sort_keys=False))
        out = Path(tmp) / "out"
        err, stdout = io.StringIO(), io.StringIO()
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(HANG_GUARD)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
                code = main(["run", str(path), "--out", str(out), "--quiet"])
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        text = err.getvalue()
        event(f"exit {code}")  # --hypothesis-show-statistics: how many ran, how many refused
        assert "Traceback" not in text, (what, text)
        assert code in (0, 2), (what, code, text)
        if code == 2:
            # one line per error of the file (every schema error is reported, in line order)
            lines = [ln for ln in text.splitlines() if ln.strip()]
            assert lines, (what, text)
            for ln in lines:
                assert re.match(rf"^{re.escape(str(path))}:\d+: ", ln), (what, ln)
            assert not out.exists(), what
        else:
            assert not _complete(out), (what, _complete(out))
