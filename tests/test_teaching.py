"""The notebooks' helpers (sim.teaching): words chosen by the numbers, the predict-then-check
cell, and claims the notebook suite reads back from the outputs."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from sim.teaching import (
    CLAIM_MIME,
    Claim,
    Pair,
    answer,
    between,
    check,
    claim,
    failed_claims,
    metrics,
    pair,
    setup,
    than,
)


def _summary() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("all", "latency_p50", "ms", 5.0, 8.0, 3.0, 2.5, 3.5, 1.6, True),
            ("all", "latency_p99", "ms", 14.0, 15.0, 1.0, math.nan, math.nan, 15 / 14, False),
            ("system", "cpu_cores_infra", "cores", 0.5, 0.49, -0.01, -0.03, 0.01, 0.98, False),
        ],
        columns=[
            "flow",
            "metric",
            "unit",
            "http",
            "messaging",
            "difference",
            "difference_low",
            "difference_high",
            "ratio",
            "significant",
        ],
    )


class _Cmp:
    summary = _summary()


def test_pair_and_between_follow_the_interval() -> None:
    p50 = pair(_Cmp(), "latency_p50")
    assert (p50.http, p50.messaging, p50.ratio) == (5.0, 8.0, 1.6)
    assert between(p50) == "higher than"
    assert p50.interval() == "+3.00 ms [+2.50, +3.50]"
    cpu = pair(_Cmp(), "cpu_cores_infra", flow="system")
    assert between(cpu, same="tied with") == "tied with"  # the interval holds 0
    p99 = pair(_Cmp(), "latency_p99")  # no interval: the sign alone, and the text says so
    assert between(p99) == "higher than"
    assert p99.interval().endswith("(no interval from this run)")
    with pytest.raises(KeyError, match="no metric all:nope"):
        pair(_Cmp(), "nope")


def test_than_has_a_tolerance_band() -> None:
    assert than(1.0, 1.04) == "about the same as"
    assert than(1.2, 1.0) == "higher than"
    assert than(0.8, 1.0, less="below") == "below"
    assert than(0.8, 1.0, rel=0.5) == "about the same as"


def test_metrics_picks_rows_in_the_order_asked() -> None:
    m = metrics(_Cmp(), ["latency_p99", "latency_p50"], flow="all")
    assert list(m.index) == ["latency_p99", "latency_p50"]
    assert list(m.columns) == ["unit", "http", "messaging", "ratio"]


def test_check_asks_for_a_guess_first_and_never_fails() -> None:
    c = check(None, 8.1, unit="ms", what="messaging's p50")
    assert c.ok is None and "Record a guess first" in c._repr_markdown_()
    assert "8.1" not in c.text  # the answer stays hidden until a guess is recorded


def test_check_says_how_far_off_a_number_was() -> None:
    near = check(7, 8.0, unit="ms")
    assert near.ok is True and "12% low" not in near.text and "within 25%" in near.text
    far = check(12, 8.0, unit="ms")
    assert far.ok is False and "50% high" in far.text
    assert check("ten", 8.0).ok is None  # not a number: said, not raised


def test_check_words_and_booleans() -> None:
    assert check(" HTTP ", "http").ok is True
    assert check("messaging", "http").ok is False
    assert check(True, True).ok is True
    assert check(1, True).ok is False  # a number is not a yes/no


def test_answer_is_collapsed() -> None:
    text = str(answer("because", title="Why"))
    assert text.startswith("<details><summary>Why</summary>") and text.endswith("</details>")


def test_claims_are_tagged_and_a_failed_one_is_found(capsys: pytest.CaptureFixture[str]) -> None:
    bundle = Claim("messaging holds fewer connections", True, "39 against 117")._repr_mimebundle_()
    assert bundle[CLAIM_MIME] == {
        "claim": "messaging holds fewer connections",
        "holds": True,
        "detail": "39 against 117",
    }
    assert bundle["text/markdown"].startswith("✓")
    bad = Claim("p50 crosses", False)._repr_mimebundle_()
    assert bad["text/markdown"].startswith("✗")
    outputs = [
        {"output_type": "display_data", "data": bundle},
        {"output_type": "display_data", "data": bad},
        {"output_type": "stream", "text": "x"},
    ]
    assert failed_claims(outputs) == ["p50 crosses"]
    claim("shown outside a notebook too", False)  # printed there; never raises
    assert "✗ **the result no longer supports this:** shown outside" in capsys.readouterr().out


def test_setup_finds_the_scenarios_from_a_notebook_folder(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    s = setup("t", root / "notebooks")
    assert s.scenarios == root / "scenarios" and s.out.is_dir()
    assert root not in s.out.parents  # scratch output never lands in the repository
    s.out.rmdir()
    assert setup("t", root / "notebooks" / "solutions").root == root
    assert isinstance(Pair("m", "ms", 1, 2, 1, 0.5, 1.5, True).ratio, float)
