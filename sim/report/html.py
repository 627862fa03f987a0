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

import base64

import jinja2

from sim.report.document import BUCKET_NOTE, Report

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("sim.report", "templates"),
    autoescape=True,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:image/png;base64,…`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


_ENV.filters["data_uri"] = data_uri


def render_html(report: Report) -> str:
    """report.html text."""
    return _ENV.get_template("report.html.j2").render(r=report, bucket_note=BUCKET_NOTE)
