"""report.md against a gold file (coverage.py's goldtest, in small).

The tiny scenario's report.md is compared line by line with tests/gold/tiny-report.md after
scrubbing what legitimately changes between runs and machines: the version, the scenario
hash (it moves with every new model default) and any wall time or timestamp. Everything
else — numbers, tables, the Mermaid diagrams, the parameter sources — must match, so a
change to what the report says shows up as a reviewable diff of the gold file.

To accept an intended change, regenerate the gold file and review its diff:

    SIM_UPDATE_GOLD=1 .venv/bin/pytest tests/test_report_gold.py
"""

from __future__ import annotations

import difflib
import os
import re

from sim.report import load_results, render_markdown
from sim.report.document import build_report
from tests.test_report_fixtures import GOLD, TinyRun, tiny_run

__all__ = ["tiny_run"]

GOLD_MD = GOLD / "tiny-report.md"
UPDATE = os.environ.get("SIM_UPDATE_GOLD", "") not in ("", "0")
SCRUBS = [
    (re.compile(r"^sim \S+ · scenario hash \S+$", re.M), "sim VERSION · scenario hash HASH"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?"), "TIMESTAMP"),
    (re.compile(r"wall[ _]time[^|\n]*"), "wall time SCRUBBED"),
]


def scrub(text: str) -> str:
    """The report with its volatile parts replaced by placeholders."""
    for pattern, repl in SCRUBS:
        text = pattern.sub(repl, text)
    return text


def check_gold(actual: str) -> None:
    """Compare with the gold file, or rewrite it when SIM_UPDATE_GOLD is set."""
    if UPDATE or not GOLD_MD.exists():
        GOLD_MD.write_text(actual, encoding="utf-8")
        if not UPDATE:
            raise AssertionError(f"{GOLD_MD} did not exist: written now, review and commit it")
        return
    want = GOLD_MD.read_text(encoding="utf-8")
    if actual != want:
        diff = "".join(
            difflib.unified_diff(
                want.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                str(GOLD_MD),
                "report.md (scrubbed)",
            )
        )
        raise AssertionError(
            f"report.md differs from the gold file; if intended, regenerate with "
            f"SIM_UPDATE_GOLD=1 .venv/bin/pytest tests/test_report_gold.py\n{diff}"
        )


def test_report_md_matches_gold(tiny_run: TinyRun) -> None:
    check_gold(scrub((tiny_run.out / "report.md").read_text(encoding="utf-8")))


def test_report_regenerated_from_the_folder_is_the_same(tiny_run: TinyRun) -> None:
    # `sim report DIR` reads the CSV/Parquet/JSON files back: not a character may change
    again = render_markdown(build_report(load_results(tiny_run.out), render=False))
    assert again == (tiny_run.out / "report.md").read_text(encoding="utf-8")


def test_scrub_replaces_only_volatile_parts() -> None:
    text = "| a | 1.5 |\n\n---\nsim 0.1.0 · scenario hash 5811a5454c7936cf\n"
    assert scrub(text) == "| a | 1.5 |\n\n---\nsim VERSION · scenario hash HASH\n"
    assert scrub("at 2026-11-27T04:59:01.5Z") == "at TIMESTAMP"
