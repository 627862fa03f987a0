"""report.html: every figure present, nothing loaded from anywhere, headline numbers equal to
summary.csv, scenario strings escaped, and a clean render in headless Chromium.

The Chromium tests need ``/usr/bin/chromium`` (Debian: ``apt-get install -y chromium``);
where it is absent they skip and say so. Each check that could pass vacuously has a control:
the console detector must catch a page that logs an error, and the offline check must catch
a page that tries to load an external image.
"""

from __future__ import annotations

import base64
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.output import write_run
from sim.report.table import HEADLINE, fmt
from tests.test_report_fixtures import TINY, TinyRun, tiny_run

__all__ = ["tiny_run"]

FIGURES = (
    "latency",
    "breakdown",
    "sequence",
    "connections",
    "resources",
    "over-time",
    "topology",
    "moving-parts",
)
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "nav",
    "a", "section", "table", "thead", "tbody", "tr", "th", "td", "figure", "img", "figcaption",
    "strong", "em", "code", "pre", "details", "summary", "ul", "li", "footer",
}  # fmt: skip


class Page(HTMLParser):
    """Tags, attributes and text of an HTML page, plus the headline table's data cells."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.cells: dict[tuple[str, str], tuple[float, str]] = {}
        self._row = ""
        self._cell: tuple[str, float] | None = None
        self._figure = ""
        self.figures: dict[str, dict[str, str]] = {}
        self._in_caption = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "tr":
            self._row = a.get("data-key", "")
        if tag == "td" and "data-value" in a:
            self._cell = (a["data-arch"], float(a["data-value"]))
        if tag == "figure":
            self._figure = a.get("id", "").removeprefix("fig-")
            self.figures[self._figure] = {"src": "", "caption": ""}
        if tag == "img" and self._figure:
            self.figures[self._figure]["src"] = a.get("src", "")
        if tag == "figcaption":
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self._in_caption = False
        if tag == "figure":
            self._figure = ""

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            arch, value = self._cell
            self.cells[(self._row, arch)] = (value, data)
            self._cell = None
        if self._in_caption and self._figure:
            self.figures[self._figure]["caption"] += data


@pytest.fixture(scope="module")
def page(tiny_run: TinyRun) -> Page:
    return Page((tiny_run.out / "report.html").read_text(encoding="utf-8"))


def test_every_figure_is_embedded_as_a_png_with_a_sentence(page: Page) -> None:
    assert set(page.figures) == set(FIGURES)
    for key, f in page.figures.items():
        assert f["src"].startswith("data:image/png;base64,"), key
        png = base64.b64decode(f["src"].split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n", key
        assert len(png) > 5000, key  # a drawn figure, not an empty canvas
        caption = f["caption"].strip()
        assert caption.endswith(".") and len(caption) > 40, key


def test_nothing_is_loaded_from_anywhere(page: Page) -> None:
    tags = {t for t, _ in page.tags}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS  # no script, link, iframe, object…
    for tag, attrs in page.tags:
        for k, v in attrs.items():
            assert not k.startswith("on"), (tag, k)
            if k in ("src", "href", "srcset", "poster", "action", "data"):
                assert v.startswith(("data:", "#")), (tag, k, v)
            assert "http://" not in v and "https://" not in v, (tag, k, v)
    csp = [a["content"] for t, a in page.tags if t == "meta" and "http-equiv" in a]
    assert csp == ["default-src 'none'; img-src data:; style-src 'unsafe-inline'"]


def test_headline_numbers_are_those_of_summary_csv(tiny_run: TinyRun, page: Page) -> None:
    s = pd.read_csv(tiny_run.out / "summary.csv")
    checked = 0
    for flow, metric, _label in HEADLINE:
        row = s[(s["flow"] == flow) & (s["metric"] == metric)]
        if row.empty:
            continue
        r = row.iloc[0]
        for arch in ("http", "messaging"):
            value, text = page.cells[(f"{flow}/{metric}", arch)]
            want = float(r[arch])
            assert value == want or (math.isnan(value) and math.isnan(want)), (metric, arch)
            assert text == fmt(want, r[f"{arch}_low"], r[f"{arch}_high"]), (metric, arch)
            checked += 1
    assert checked >= 20


def test_report_md_links_every_figure_file(tiny_run: TinyRun) -> None:
    md = (tiny_run.out / "report.md").read_text(encoding="utf-8")
    for key in FIGURES:
        assert f"](figures/{key}.png)" in md
        assert (tiny_run.out / "figures" / f"{key}.png").read_bytes()[:4] == b"\x89PNG"


HOSTILE_NAME = '<script>alert("name")</script>'
HOSTILE_DESC = (
    "a | b\n[link](javascript:alert(1)) <img src=x onerror=alert(2)> https://evil.example/x.png"
)
HOSTILE_SERVICE = "b<i>ack</i>"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = TINY.read_text(encoding="utf-8").replace("back", HOSTILE_SERVICE)
    sc = sim.scenario_from_dict(
        {**__import__("yaml").safe_load(text), "name": HOSTILE_NAME, "description": HOSTILE_DESC}
    )
    out = tmp_path_factory.mktemp("hostile")
    write_run(out, sc, sim.compare(sc))
    return out


def test_scenario_strings_cannot_inject_markup_into_html(hostile: Path) -> None:
    text = (hostile / "report.html").read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert "<i>" not in text and "onerror=alert" not in text.replace("onerror=alert(2)&gt;", "")
    p = Page(text)
    assert {t for t, _ in p.tags} <= ALLOWED_TAGS
    assert all(not k.startswith("on") for _, a in p.tags for k in a)
    imgs = [a["src"] for t, a in p.tags if t == "img"]
    assert imgs and all(src.startswith("data:image/png;base64,") for src in imgs)
    visible = "".join(p.text)
    assert HOSTILE_NAME in visible  # shown as text, exactly
    assert f"{HOSTILE_SERVICE}-0" in visible  # in the hop table of the sample request


def test_scenario_strings_cannot_inject_markup_into_markdown(hostile: Path) -> None:
    md = (hostile / "report.md").read_text(encoding="utf-8")
    assert "<script" not in md.lower() and "<img" not in md and "<i>" not in md
    assert "&lt;script&gt;" in md
    assert re.search(r"(?<!\\)\]\(javascript:", md) is None  # no live link: \[link\](…)
    assert "\\[link\\]" in md
    assert "a \\| b" in md  # a pipe cannot break a table
    mermaid = md.split("```mermaid", 1)[1].split("```", 1)[0]
    assert "<" not in mermaid and "b_i_ack__i_-0" in mermaid


# ------------------------------------------------------------------ headless Chromium
CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and Path(p).exists()), None
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (/usr/bin/chromium); on Debian: apt-get install -y chromium",
)


def chromium(page: Path, tmp: Path, *args: str) -> tuple[str, list[str]]:
    """Render a page offline; returns stdout and the console messages Chromium logged."""
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any lookup fails
        f"--user-data-dir={tmp / 'profile'}",
        *args,
        page.resolve().as_uri(),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr[-2000:]
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    return p.stdout, console


@needs_chromium
def test_report_renders_in_chromium_without_console_messages(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    dom, console = chromium(tiny_run.out / "report.html", tmp_path, "--dump-dom")
    assert console == []
    for key in FIGURES:
        assert f'id="fig-{key}"' in dom
    pdf = tmp_path / "report.pdf"
    chromium(
        tiny_run.out / "report.html", tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer"
    )
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 3


@needs_chromium
def test_console_detector_catches_errors_and_external_loads(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    html = (tiny_run.out / "report.html").read_text(encoding="utf-8")
    bad = tmp_path / "bad.html"
    bad.write_text(
        html.replace("</footer>", '</footer><img src="https://example.com/x.png">'),
        encoding="utf-8",
    )
    _, console = chromium(bad, tmp_path, "--dump-dom")
    assert any("example.com" in line for line in console)  # refused by the page's CSP
    noisy = tmp_path / "noisy.html"
    noisy.write_text(
        "<!DOCTYPE html><p>x</p><script>console.error('boom')</script>", encoding="utf-8"
    )
    _, console = chromium(noisy, tmp_path, "--dump-dom")
    assert any("boom" in line for line in console)
