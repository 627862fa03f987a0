"""report.md: the :class:`~sim.report.document.Report` rendered by a Jinja2 template.

The report data holds raw strings; escaping happens here, once, for every value the template
prints (Jinja's ``finalize`` hook), so no template line can forget it. A scenario string
(service names, the description) becomes inert text: HTML-escaped (no tags reach a
Markdown viewer), with ``|`` escaped (no broken tables), ``[]`` and friends escaped (no
links) and newlines folded. Values built here on purpose as Markdown — the Mermaid
diagrams, which :mod:`sim.report.sequence` reduces to a safe alphabet — are marked safe.
Figures are linked as ``figures/<key>.png`` next to the report.
"""

from __future__ import annotations

from markupsafe import Markup

from sim.report.document import BUCKET_NOTE, Report
from sim.report.templating import ENV as _ENV
from sim.report.templating import code, esc

__all__ = ["code", "esc", "render_markdown"]


def render_markdown(report: Report, figures_dir: str = "figures") -> str:
    """report.md text; figures are expected at ``figures_dir/<key>.png``."""
    mermaid = {a: Markup(t) for a, t in report.sample.get("mermaid", {}).items()}
    return _ENV.get_template("report.md.j2").render(
        r=report, figures_dir=Markup(figures_dir), mermaid=mermaid, bucket_note=BUCKET_NOTE
    )
