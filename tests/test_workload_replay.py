"""Replayed arrivals (``workload.arrivals.kind: replay``): requests start exactly at the
trace's instants, on both architectures, and a trace out of order is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.cli import main
from sim.validation.capacity import arrival_rate
from tests.helpers import minimal, requests_of

TIMES = [0.2, 0.2, 0.2013, 0.45, 0.9, 1.7, 2.25]  # a burst of three, then spaced

SCENARIO = """name: replay
services:
  svc:
    operations:
      op: {{demand: {{dist: constant, value: 1ms}}}}
workload:
  arrivals:
    kind: replay
    {arrivals}
  flows: [{{name: f, service: svc, operation: op}}]
"""


@pytest.mark.parametrize("arch", ["http", "messaging"])
def test_requests_start_at_the_trace_s_instants(arch: str) -> None:
    sc = minimal(f"workload.arrivals={{kind: replay, times: {TIMES}}}", "run.duration=3",
                 "run.warmup=0")  # fmt: skip
    req = requests_of(sim.simulate(sc, arch))
    starts = np.sort(req["start"].to_numpy())
    assert starts == pytest.approx(TIMES, abs=1e-12)  # every one, and no other
    assert (req["status"] == "ok").all()


def test_the_trace_s_mean_rate_is_its_count_over_its_span() -> None:
    sc = minimal(f"workload.arrivals={{kind: replay, times: {TIMES}}}")
    assert arrival_rate(sc) == pytest.approx(7 / 2.25)


def test_a_trace_out_of_order_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(arrivals="times: [0.1, 0.3, 0.2]"), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}:9" in err[0] and "in time order" in err[0], err


def test_a_trace_file_is_read_into_times_relative_to_the_scenario(tmp_path: Path) -> None:
    from sim.scenario.loader import load

    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "t.csv").write_text(
        "at,route\n0.2,/a\n\n# a pause\n0.2,/b\n0.45,/a\n", encoding="utf-8"
    )
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(arrivals="file: traces/t.csv"), encoding="utf-8")
    assert load(path).workload.arrivals.times == [0.2, 0.2, 0.45]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("arrivals", "trace", "where", "says"),
    [
        ("file: nope.csv", None, "s.yaml:9", "replay trace"),  # and 'no such file'
        ("file: t.csv", "0.1\n0.2\nsoon\n", "t.csv:3", "not a number of seconds: 'soon'"),
        ("file: t.csv\n    times: [1]", "0.1\n", "s.yaml:9", "either times or file"),
        ("file: t.csv", "# nothing\n", "s.yaml:9", "no instants in it"),
        ("file: t.csv", "0.3\n0.1\n", "t.csv:2", "in time order: 0.1 after 0.3"),
        ("file: t.csv", "-1\n", "t.csv:1", "not a time >= 0"),
    ],
)
def test_a_bad_trace_file_is_one_line_at_its_place(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arrivals: str,
    trace: str | None,
    where: str,
    says: str,
) -> None:
    if trace is not None:
        (tmp_path / "t.csv").write_text(trace, encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(arrivals=arrivals), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{tmp_path}/{where}:" in err[0] and says in err[0], err
