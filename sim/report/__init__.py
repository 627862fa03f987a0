"""Reports: the comparison a person reads, built as data first, then rendered.

``data`` gathers the results (from memory or a results folder), ``document`` builds the
report as data, ``markdown`` and ``html`` render it, ``plots``, ``topology`` and
``sequence`` draw the figures, ``files`` writes them, ``commands`` is the CLI's part.

Names are imported on first use (PEP 562): ``sim.report.commands`` (the CLI's part) must not
pull in matplotlib and pandas for ``sim list``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.report.data import Results, TracedRequest, from_comparison, load_results
    from sim.report.document import Report, build_report
    from sim.report.files import regenerate, write_report
    from sim.report.html import render_html
    from sim.report.markdown import render_markdown
    from sim.report.table import side_by_side

_LAZY = {
    "Results": "data",
    "TracedRequest": "data",
    "from_comparison": "data",
    "load_results": "data",
    "Report": "document",
    "build_report": "document",
    "regenerate": "files",
    "write_report": "files",
    "render_html": "html",
    "render_markdown": "markdown",
    "side_by_side": "table",
}

__all__ = [
    "Report",
    "Results",
    "TracedRequest",
    "build_report",
    "from_comparison",
    "load_results",
    "regenerate",
    "render_html",
    "render_markdown",
    "side_by_side",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
