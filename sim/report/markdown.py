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

import html
import re
from typing import Any

import jinja2
from markupsafe import Markup

from sim.report.document import BUCKET_NOTE, Report

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")


def esc(s: object) -> str:
    """Scenario text made inert in Markdown: no tags, links, emphasis or table breaks."""
    text = html.escape(str(s), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\r", " ").replace("\n", " ")


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup):
        return str(value)
    return esc(value)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("sim.report", "templates"),
    autoescape=False,
    finalize=_finalize,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def code(s: object) -> Markup:
    """Scenario text as a code span (HTML is inert there; backticks and pipes are not)."""
    text = str(s).replace("`", "'").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    return Markup(f"`{text}`")


_ENV.filters["code"] = code


def render_markdown(report: Report, figures_dir: str = "figures") -> str:
    """report.md text; figures are expected at ``figures_dir/<key>.png``."""
    mermaid = {a: Markup(t) for a, t in report.sample.get("mermaid", {}).items()}
    return _ENV.get_template("report.md.j2").render(
        r=report, figures_dir=Markup(figures_dir), mermaid=mermaid, bucket_note=BUCKET_NOTE
    )
