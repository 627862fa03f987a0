"""Writing a report next to its results: report.md, report.html and figures/*.png.

Every file is written atomically (:mod:`sim.io`), so an interrupted write leaves the
previous good report in place. :func:`regenerate` is ``sim report DIR``: it reads a results
folder and writes the same report again, without running anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sim.io import atomic_text, atomic_write
from sim.report.data import Results, load_results
from sim.report.document import Report, build_report
from sim.report.html import render_html
from sim.report.markdown import render_markdown

FIGURES_DIR = "figures"


def write_report(out: str | Path, res: Results) -> Report:
    """Build the report of ``res`` and write report.md, report.html and the figures into ``out``."""
    d = Path(out)
    rep = build_report(res)
    for f in rep.figures:
        atomic_write(d / FIGURES_DIR / f"{f.key}.png", _writer(f.png), binary=True)
    atomic_text(d / "report.md", render_markdown(rep, FIGURES_DIR))
    atomic_text(d / "report.html", render_html(rep))
    return rep


def regenerate(folder: str | Path, out: str | Path | None = None) -> Report:
    """Read a results folder and write its report again (into ``out``, default the folder)."""
    return write_report(folder if out is None else out, load_results(folder))


def _writer(data: bytes) -> Callable[[IO[Any]], None]:
    def write(fh: IO[Any]) -> None:
        fh.write(data)

    return write
