"""scenarios/SOURCES.md is generated from the scenario models (:func:`sim.docs.sources_markdown`).

Run ``SIM_UPDATE_SOURCES=1 .venv/bin/pytest tests/test_sources.py`` after changing a default or
its source; without it the test fails on any difference. Nothing in the repository may cite a
file outside it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sim.docs import sources_markdown
from sim.scenario.model import Scenario

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "scenarios" / "SOURCES.md"


def test_sources_table_is_generated_from_the_models() -> None:
    text = sources_markdown()
    if os.environ.get("SIM_UPDATE_SOURCES") == "1":
        SOURCES.write_text(text, encoding="utf-8")
    assert SOURCES.read_text(encoding="utf-8") == text, (
        "scenarios/SOURCES.md is out of date: run "
        "SIM_UPDATE_SOURCES=1 .venv/bin/pytest tests/test_sources.py"
    )


def test_every_cost_default_is_in_the_table_with_a_source() -> None:
    text = sources_markdown()
    for path in (
        "messaging.broker.io.wakeup",
        "messaging.broker.io.cold_wakeup",
        "messaging.client.io.per_message",
        "http.stack.io.tls_per_byte",
        "http.sidecar.cpu_per_request",
        "messaging.broker.memory_per_connection",
    ):
        row = next((ln for ln in text.splitlines() if ln.startswith(f"| `{path}` |")), None)
        assert row is not None, path
        assert row.rstrip().split("|")[-2].strip(), f"{path} has no source"
    assert Scenario.model_fields["calibration"].default is None


def test_nothing_in_the_repository_points_outside_it() -> None:
    files = subprocess.run(
        ["git", "ls-files", "sim", "scenarios", "notebooks", "README.md", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    bad = [
        f
        for f in files
        if (ROOT / f).is_file() and "CALIBRATION.md" in (ROOT / f).read_text(errors="ignore")
    ]
    assert bad == [], f"these cite a file that is not in the repository: {bad}"
