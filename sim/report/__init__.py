"""Reports: the comparison a person reads, built as data first, then rendered.

``data`` gathers the results (from memory or a results folder), ``document`` builds the
report as data, ``markdown`` and ``html`` render it, ``plots``, ``topology`` and
``sequence`` draw the figures, ``files`` writes them, ``commands`` is the CLI's part.
"""

from sim.report.data import Results, TracedRequest, from_comparison, load_results
from sim.report.document import Report, build_report
from sim.report.files import regenerate, write_report
from sim.report.html import render_html
from sim.report.markdown import render_markdown
from sim.report.table import side_by_side

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
