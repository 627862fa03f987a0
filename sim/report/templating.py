"""The one Jinja2 environment both report formats render with.

Escaping is chosen by the template's format, once, here: ``*.html.j2`` templates are
autoescaped (every scenario string HTML-escaped, :mod:`sim.report.html`); in ``*.md.j2``
templates every printed value passes through :func:`md_finalize` (Jinja's ``finalize``
hook), which makes scenario text inert Markdown unless it was built on purpose as Markdown
and marked safe (:mod:`sim.report.markdown`). Filters of both formats (``code``,
``data_uri``) live on the same environment.
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any

import jinja2
from markupsafe import Markup

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")


def esc(s: object) -> str:
    """Scenario text made inert in Markdown: no tags, links, emphasis or table breaks."""
    text = html.escape(str(s), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\r", " ").replace("\n", " ")


def code(s: object) -> Markup:
    """Scenario text as a Markdown code span (HTML is inert there; backticks and pipes are
    not)."""
    text = str(s).replace("`", "'").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    return Markup(f"`{text}`")


def data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:image/png;base64,…`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@jinja2.pass_context
def md_finalize(ctx: Any, value: Any) -> Any:
    """Every value a Markdown template prints is escaped unless marked safe; other formats
    are left to autoescaping."""
    if not (ctx.name or "").endswith(".md.j2"):
        return value
    if isinstance(value, Markup):
        return str(value)
    return esc(value)


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("sim.report", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    finalize=md_finalize,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
ENV.filters["code"] = code
ENV.filters["data_uri"] = data_uri
