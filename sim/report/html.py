"""report.html: one self-contained file a team lead can forward, read offline and print.

The same :class:`~sim.report.document.Report` as the Markdown, rendered by a Jinja2
template with autoescaping on, so every scenario string is HTML-escaped. Nothing is
loaded from anywhere: figures are PNG bytes embedded as base64 ``data:`` URIs, the CSS is
inline, there is no script at all, and a Content-Security-Policy ``<meta>`` tells the
browser to refuse any other source (``default-src 'none'``) should one ever slip in.
Print styles keep figures and tables whole on a page and drop the navigation.

Headline cells carry their unrounded value in ``data-value`` (``repr`` of the float), so
a test can check the table against ``summary.csv`` without parsing formatted numbers.
"""

from __future__ import annotations

from sim.report.document import BUCKET_NOTE, Report
from sim.report.templating import ENV as _ENV
from sim.report.templating import data_uri

__all__ = ["data_uri", "render_html"]


def render_html(report: Report) -> str:
    """report.html text."""
    return _ENV.get_template("report.html.j2").render(r=report, bucket_note=BUCKET_NOTE)
