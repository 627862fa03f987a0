"""A new user's first hour (issue 16): ``python -m sim``, commands that start without
importing the simulator, and a trace whose gaps are explained."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = str(ROOT / "scenarios" / "order-service.yaml")
HEAVY = ("pandas", "scipy", "matplotlib", "simpy", "networkx", "pyarrow", "dask", "sim.engine")


def _imported_by(code: str) -> set[str]:
    """Top-level modules a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.splitlines()[-1]
    return set(json.loads(out))


def test_python_dash_m_sim_is_the_cli() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "sim", "validate", FLAGSHIP], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{FLAGSHIP}: ok")
    r = subprocess.run([sys.executable, "-m", "sim", "nope"], capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice" in r.stderr


@pytest.mark.parametrize(
    "code",
    [
        "import sim",
        "from sim.cli import build_parser; build_parser()",
        "from sim.cli import main; main(['list'])",
        f"from sim.cli import main; main(['validate', {FLAGSHIP!r}])",
    ],
    ids=["import", "parser", "list", "validate"],
)
def test_quick_commands_do_not_import_the_simulator(code: str) -> None:
    """What makes start-up slow is measured by what is imported, not by a clock."""
    mods = _imported_by(code)
    assert not [m for m in HEAVY if m in mods]


def test_the_package_names_still_resolve() -> None:
    import sim
    import sim.report
    import sim.sweep

    assert callable(sim.compare) and callable(sim.load_scenario)
    assert callable(sim.report.side_by_side) and callable(sim.sweep.run_sweep)
    import sim.sweep.crossover  # the submodule of the same name must not hide the function
    from sim.sweep import crossover

    assert callable(crossover) and crossover.__name__ == "crossover"


def test_a_trace_explains_its_handshake_gap(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", FLAGSHIP, "--request", "0", "--format", "table"]) == 0
    out = capsys.readouterr().out
    http = out.split("messaging:")[0]
    gap = re.search(r"handshakes (\d+\.\d+) ms", http)
    assert gap is not None and float(gap.group(1)) > 1.0  # two RTTs of TCP + TLS 1.3, and CPU
    assert "TCP + TLS set-up" in http
    assert main(["trace", FLAGSHIP, "--request", "0", "--arch", "http"]) == 0
    assert "connection set-up (TCP + TLS handshakes)" in capsys.readouterr().out
