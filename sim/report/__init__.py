"""Reports: the comparison a person reads, built as data first, then rendered."""

from sim.report.markdown import render_markdown, report_data
from sim.report.table import side_by_side

__all__ = ["render_markdown", "report_data", "side_by_side"]
