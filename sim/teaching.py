"""What the teaching notebooks share: their set-up, the comparison table they read, sentences
whose direction comes from the numbers, predict-then-check cells, and claims the test suite
checks.

A notebook's prose must never go stale when a model default changes, so a conclusion is
either *computed* (:func:`than`, :func:`between` choose the words from the result) or, where
the text states a direction in advance, *claimed*: :func:`claim` shows a ✓ or ✗ line in the
notebook and tags its output with :data:`CLAIM_MIME`, and ``tests/test_notebooks.py`` fails
on any ✗ — in the committed outputs and when it executes the notebook again. A student sees a
✗ as a warning, never as an error that stops the notebook.

:func:`check` is the predict-then-run cell: with no guess recorded it asks for one (without
failing); with a guess it says how far off it was. :func:`answer` folds a computed answer into
a ``<details>`` block, collapsed until the student opens it.

Nothing here imports IPython at module level: the returned objects render themselves in
Jupyter (``_repr_markdown_``, ``_repr_mimebundle_``), and :func:`claim` displays through
IPython only when it is there (a plain ``print`` otherwise).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

CLAIM_MIME = "application/vnd.meshsim.claim+json"


@dataclass(frozen=True)
class Setup:
    """Where a notebook finds the scenarios, and the scratch folder it writes into."""

    root: Path
    scenarios: Path
    out: Path


def setup(name: str, cwd: Path | None = None) -> Setup:
    """The repository's folders seen from a notebook (which runs in ``notebooks/`` or a
    folder below it), a fresh scratch folder (never inside the repository) and the
    notebooks' pandas display options."""
    here = (cwd or Path.cwd()).resolve()
    root = next((p for p in (here, *here.parents) if (p / "scenarios").is_dir()), here)
    pd.options.display.float_format = "{:.4g}".format
    pd.options.display.width = 120
    out = Path(tempfile.mkdtemp(prefix=f"meshsim-{name}-"))
    return Setup(root, root / "scenarios", out)


def metrics(cmp: Any, names: Sequence[str], flow: str = "system") -> pd.DataFrame:
    """Chosen metrics of a comparison: unit, http, messaging and the ratio messaging/http
    (one column per architecture that ran, without a ratio when only one did)."""
    s = cmp.summary
    s = s[(s["flow"] == flow) & s["metric"].isin(names)]
    if "architecture" in s.columns:  # a run of one architecture only: no pairing, no ratio
        s = s.pivot_table(
            index=["metric", "unit"], columns="architecture", values="value"
        ).reset_index()
    s = s.set_index("metric")
    cols = ["unit"] + [c for c in ("http", "messaging", "ratio") if c in s.columns]
    return s.loc[[n for n in names if n in s.index], cols]


@dataclass(frozen=True)
class Pair:
    """One metric of a paired comparison: both sides, messaging − http with its 95 %
    interval, and whether that interval excludes zero."""

    metric: str
    unit: str
    http: float
    messaging: float
    difference: float
    low: float
    high: float
    significant: bool

    @property
    def ratio(self) -> float:
        return self.messaging / self.http if self.http else math.nan

    def interval(self, digits: int = 2) -> str:
        """``+2.61 ms [+2.41, +2.80]``: the difference and its interval, or the difference
        alone when the run gives no interval (a p99 from one short run)."""
        d = f"{self.difference:+.{digits}f} {self.unit}"
        if math.isnan(self.low) or math.isnan(self.high):
            return f"{d} (no interval from this run)"
        return f"{d} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def pair(cmp: Any, metric: str, flow: str = "all") -> Pair:
    """The paired comparison of one metric, from ``cmp.summary``."""
    s = cmp.summary
    row = s[(s["flow"] == flow) & (s["metric"] == metric)]
    if row.empty:
        raise KeyError(f"no metric {flow}:{metric} in this comparison")
    r = row.iloc[0]
    return Pair(
        metric,
        str(r["unit"]),
        float(r["http"]),
        float(r["messaging"]),
        float(r["difference"]),
        float(r["difference_low"]),
        float(r["difference_high"]),
        bool(r["significant"]),
    )


def than(
    a: float,
    b: float,
    more: str = "higher than",
    less: str = "lower than",
    same: str = "about the same as",
    rel: float = 0.05,
) -> str:
    """Words for how ``a`` compares with ``b``: ``same`` when they differ by at most ``rel``
    of the larger magnitude, else ``more`` or ``less``."""
    if math.isclose(a, b, rel_tol=rel, abs_tol=0.0):
        return same
    return more if a > b else less


def between(
    p: Pair,
    more: str = "higher than",
    less: str = "lower than",
    same: str = "not distinguishable from",
) -> str:
    """How messaging compares with http on a paired metric, as the 95 % interval says:
    ``same`` unless the interval excludes zero (with no interval, by the sign alone)."""
    if math.isnan(p.low) or math.isnan(p.high):
        return than(p.messaging, p.http, more, less, same, rel=0.0)
    if not p.significant:
        return same
    return more if p.difference > 0 else less


def times(x: float) -> str:
    """A ratio as people say it: ``1.48×``, ``0.067×``."""
    return f"{x:.3g}×"


@dataclass(frozen=True)
class Markdown:
    """Markdown that renders in Jupyter (and reads as text anywhere else)."""

    text: str

    def _repr_markdown_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


def answer(text: str, title: str = "Answer") -> Markdown:
    """``text`` folded into a collapsed ``<details>`` block titled ``title``."""
    return Markdown(f"<details><summary>{title}</summary>\n\n{text}\n\n</details>")


@dataclass(frozen=True)
class Check:
    """The outcome of a predict-then-run cell. ``ok`` is None when no guess was recorded."""

    text: str
    ok: bool | None

    def _repr_markdown_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


def check(
    guess: Any,
    result: Any,
    unit: str = "",
    what: str = "the result",
    close: float = 0.25,
) -> Check:
    """Compare a recorded guess with the simulated ``result``.

    No guess (None): a reminder to write one down first, not a failure. A number: how far
    off it was, and whether within ``close`` (a fraction of the result) — near enough to
    have predicted the mechanism. Anything else (a word, True/False): right or wrong, case
    and surrounding blanks ignored for words."""
    u = f" {unit}" if unit else ""
    if guess is None:
        return Check(
            f"**Record a guess first.** Set `my_guess` in the cell above ({what}"
            f"{', in ' + unit if unit else ''}), run it, then run this cell again.",
            None,
        )
    if isinstance(result, int | float) and not isinstance(result, bool):
        try:
            g = float(guess)
        except (TypeError, ValueError):
            return Check(f"Your guess {guess!r} is not a number: {what} is a number{u}.", None)
        r = float(result)
        off = g - r
        rel = abs(off) / abs(r) if r else math.inf if off else 0.0
        ok = rel <= close
        side = "high" if off > 0 else "low"
        how = (
            f"within {close:.0%}: you had the mechanism."
            if ok
            else f"{rel:.0%} {side}: read on for what you missed."
        )
        return Check(f"You guessed {g:.4g}{u}; {what} is {r:.4g}{u}: {how}", ok)
    norm = (lambda v: v.strip().lower()) if isinstance(result, str) else (lambda v: v)
    ok = bool(norm(guess) == norm(result)) if isinstance(guess, type(result)) else False
    verdict = "right." if ok else f"not quite: {what} is {result!r}."
    return Check(f"You said {guess!r}: {verdict}", ok)


@dataclass(frozen=True)
class Claim:
    """A direction the notebook's text states, checked against its own result."""

    text: str
    holds: bool
    detail: str = ""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            "text/markdown": self.markdown(),
            "text/plain": self.markdown(),
            CLAIM_MIME: {"claim": self.text, "holds": self.holds, "detail": self.detail},
        }

    def __str__(self) -> str:
        return self.markdown()

    def markdown(self) -> str:
        mark = "✓" if self.holds else "✗ **the result no longer supports this:**"
        extra = f" ({self.detail})" if self.detail else ""
        return f"{mark} {self.text}{extra}"


def claim(text: str, holds: bool, detail: str = "") -> None:
    """Show that a stated direction holds (✓) or no longer does (✗, which the test suite
    reports as a failure; the notebook carries on)."""
    c = Claim(text, bool(holds), detail)
    try:
        from IPython.display import display
    except ImportError:  # outside Jupyter
        print(c.markdown())
        return
    display(c)


def failed_claims(outputs: Sequence[dict[str, Any]]) -> list[str]:
    """The claims that do not hold among a notebook's outputs (nbformat output dicts)."""
    out = []
    for o in outputs:
        c = o.get("data", {}).get(CLAIM_MIME)
        if c is not None and not c.get("holds", False):
            out.append(str(c.get("claim", "")))
    return out
