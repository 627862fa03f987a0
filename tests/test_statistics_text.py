"""What the statistics text says (issue 16, item 7): no ``*`` for a difference too small to
matter, "no significant difference" where none is, and no negative bound on a quantity that
cannot be negative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.report.table import PRACTICAL, headline_rows
from sim.stats import paired_comparison
from sim.sweep.crossover import Evaluation, find_crossing, paired


def _summary(http: float, messaging: float, significant: bool) -> pd.DataFrame:
    d = messaging - http
    return pd.DataFrame(
        [
            {
                "flow": "system",
                "metric": "memory_app",
                "unit": "MiB",
                "http": http,
                "http_low": np.nan,
                "http_high": np.nan,
                "messaging": messaging,
                "messaging_low": np.nan,
                "messaging_high": np.nan,
                "difference": d,
                "difference_low": d - 0.01,
                "difference_high": d + 0.01,
                "ratio": messaging / http,
                "significant": significant,
            }
        ]
    )


def test_a_significant_but_negligible_difference_is_not_starred() -> None:
    tiny = headline_rows(_summary(1152.0, 1152.09, significant=True))[0]
    assert tiny["ratio"].endswith("(n.s.)") and tiny["unit"] == "MiB"
    big = headline_rows(_summary(1152.0, 1152.0 * (1 + 2 * PRACTICAL), significant=True))[0]
    assert big["ratio"].endswith(" *")
    assert headline_rows(_summary(100.0, 150.0, significant=False))[0]["ratio"].endswith("(n.s.)")


def _noisy(xs: list[float]) -> list[Evaluation]:
    """messaging − http is pure noise around +0.05 with sd 1 at every x: no real difference."""
    out = []
    for x in xs:
        rng = np.random.Generator(np.random.PCG64(3))
        http = 10 + rng.normal(0, 1, 5)
        msg = http + 0.05 + rng.normal(0, 1, 5)
        pr = paired_comparison(http, msg)
        out.append(Evaluation(x, pr.difference, pr.mean_a, pr.mean_b))
    return out


def test_a_crossover_without_any_significant_difference_says_so() -> None:
    c = find_crossing(_noisy, 0.0, 10.0)
    assert not c.found
    assert "no significant difference in range" in c.message
    assert "stays above" not in c.message


def test_a_latency_bound_is_never_negative() -> None:
    rows = pd.DataFrame(
        [
            {
                "replication": r,
                "architecture": a,
                "flow": "all",
                "metric": "latency_p99",
                "value": v,
            }
            for r, (h, m) in enumerate([(0.1, 0.2), (9.0, 8.0), (0.2, 0.1)])
            for a, v in (("http", h), ("messaging", m))
        ]
    )
    h, m, d = paired(rows, "all", "latency_p99")
    assert h.low == 0.0 and m.low == 0.0  # the t interval would reach far below zero
    assert d.low < 0  # a difference may be negative
    assert h.value == pytest.approx(np.mean([0.1, 9.0, 0.2]))
