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
    path.write_text(
        "name: replay\n"
        "services:\n"
        "  svc:\n"
        "    operations:\n"
        "      op: {demand: {dist: constant, value: 1ms}}\n"
        "workload:\n"
        "  arrivals:\n"
        "    kind: replay\n"
        "    times: [0.1, 0.3, 0.2]\n"
        "  flows: [{name: f, service: svc, operation: op}]\n",
        encoding="utf-8",
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}:9" in err[0] and "in time order" in err[0], err
