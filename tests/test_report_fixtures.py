"""Shared fixture of the report tests: one tiny comparison, written once per session.

``tiny_run`` simulates tests/gold/tiny.yaml (both architectures, one replication, about a
second of wall time) and writes its results folder with :func:`sim.output.write_run`, the
path ``sim run`` takes, including the traced sample request and the report itself. Test
modules import the fixture (``from tests.test_report_fixtures import tiny_run``); pytest
would build a module-imported session fixture once per module, so the run is cached here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

import sim
from sim.output import write_run
from sim.results import Comparison
from sim.scenario import Scenario

GOLD = Path(__file__).resolve().parent / "gold"
TINY = GOLD / "tiny.yaml"


@dataclass
class TinyRun:
    scenario: Scenario
    cmp: Comparison
    out: Path


_CACHE: dict[str, TinyRun] = {}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """The tiny scenario compared over both architectures and written to a folder."""
    if "tiny" not in _CACHE:
        sc = sim.load_scenario(TINY)
        cmp = sim.compare(sc)
        out = tmp_path_factory.mktemp("tiny")
        write_run(out, sc, cmp)
        _CACHE["tiny"] = TinyRun(sc, cmp, out)
    return _CACHE["tiny"]
