"""The cost-model fit recovers known parameters from synthetic counts (sim.real.fit)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.real.fit import COUNTERS, TERMS, fit, predict

TRUE = {
    "wakeup": 12e-6,
    "cold_wakeup": 20e-6,
    "per_message": 1.5e-6,
    "per_byte": 2e-9,
    "tls_per_record": 3e-6,
    "tls_per_byte": 1e-9,
}


def synthetic(rows: int, seed: int, tls: bool = True) -> list[dict[str, float]]:
    """Counts per request as a batching server would show them at different rates/sizes."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rows):
        messages = float(rng.choice([4, 5, 8]))
        wakeups = messages * rng.uniform(0.3, 1.0)  # batching: fewer wake-ups at high rates
        size = float(rng.choice([128, 1024, 4096]))
        on = tls and rng.random() < 0.5
        out.append(
            {
                "io_wakeups": wakeups,
                "io_cold_wakeups": wakeups * rng.uniform(0.0, 0.6),
                "io_messages": messages,
                "io_bytes": messages * size,
                "io_tls_records": messages if on else 0.0,
                "io_tls_bytes": messages * size if on else 0.0,
            }
        )
    return out


def test_fit_recovers_exact_parameters() -> None:
    counts = synthetic(30, seed=1)
    cpu = [predict(c, TRUE) for c in counts]
    result = fit(counts, cpu)
    for t in TERMS:
        assert result.values[t] == pytest.approx(TRUE[t], rel=1e-6), t
    assert result.r2 == pytest.approx(1.0)
    assert result.worst < 1e-6


def test_fit_with_noise_stays_close() -> None:
    counts = synthetic(60, seed=2)
    rng = np.random.default_rng(3)
    cpu = [predict(c, TRUE) * rng.normal(1.0, 0.02) for c in counts]
    result = fit(counts, cpu)
    # the two large terms are well determined by 60 rows at 2 % noise
    assert result.values["wakeup"] == pytest.approx(TRUE["wakeup"], rel=0.15)
    assert result.values["per_byte"] == pytest.approx(TRUE["per_byte"], rel=0.15)
    assert result.r2 > 0.9
    assert all(v >= 0 for v in result.values.values())


def test_terms_no_row_exercises_are_zero_and_flagged() -> None:
    counts = synthetic(20, seed=4, tls=False)
    cpu = [predict(c, TRUE) for c in counts]
    result = fit(counts, cpu)
    assert not result.identified["tls_per_record"] and not result.identified["tls_per_byte"]
    assert result.values["tls_per_record"] == 0.0
    assert result.values["wakeup"] == pytest.approx(TRUE["wakeup"], rel=1e-6)


def test_fit_rejects_mismatched_or_empty_input() -> None:
    with pytest.raises(ValueError):
        fit([], [])
    with pytest.raises(ValueError):
        fit([{"io_wakeups": 1.0}], [1e-6, 2e-6])
    with pytest.raises(ValueError):
        fit([{"io_wakeups": 1.0}], [0.0])


def test_counter_names_match_the_components_frame() -> None:
    assert set(COUNTERS.values()) == {
        "requests",
        "io_wakeups", "io_cold_wakeups", "io_deep_wakeups", "io_messages", "io_bytes",
        "io_tls_records", "io_tls_bytes",
    }  # fmt: skip


def test_a_known_term_s_share_is_taken_off_before_fitting_the_rest() -> None:
    """deep_wakeup, measured on the server itself, is not fitted: the rest fit what it leaves."""
    counts = synthetic(30, seed=5)
    rng = np.random.default_rng(6)
    for c in counts:
        c["io_deep_wakeups"] = c["io_cold_wakeups"] * rng.uniform(0.0, 1.0)  # 0..1 each
    deep = {"deep_wakeup": 90e-6}
    cpu = [predict(c, TRUE | deep) for c in counts]
    result = fit(counts, cpu, known=deep)
    assert "deep_wakeup" not in result.values
    for t in TERMS:
        assert result.values[t] == pytest.approx(TRUE[t], rel=1e-6), t
    assert result.r2 == pytest.approx(1.0)
    # without it, the other terms absorb the deep share and no longer fit exactly
    assert fit(counts, cpu).worst > 1e-3


def test_proportional_columns_keep_the_given_default() -> None:
    """No batching: wake-ups = messages in every row, so per_message is not identifiable."""
    counts = [
        {"io_wakeups": m, "io_messages": m, "io_bytes": m * size}
        for m, size in [(4, 128), (5, 128), (8, 1024), (4, 4096), (5, 16384)]
    ]
    truth = {"wakeup": 10e-6, "per_message": 7e-6, "per_byte": 1e-9}
    cpu = [predict(c, truth) for c in counts]
    result = fit(counts, cpu, fixed={"per_message": 7e-6})
    assert result.identified["wakeup"] and result.identified["per_byte"]
    assert not result.identified["per_message"]
    assert result.values["per_message"] == 7e-6
    assert result.values["wakeup"] == pytest.approx(10e-6, rel=1e-6)
    assert result.values["per_byte"] == pytest.approx(1e-9, rel=1e-6)


def test_a_leading_per_request_term_wins_over_collinear_io_terms() -> None:
    """A proxy: 4 messages and 4 wake-ups per request, so per_request is fitted first."""
    counts = [
        {"requests": 1, "io_wakeups": 4, "io_messages": 4, "io_cold_wakeups": c, "io_bytes": b}
        for c, b in [(1.0, 512), (0.6, 512), (0.3, 65536), (0.1, 512), (0.8, 65536)]
    ]
    defaults = {"wakeup": 2e-6, "per_message": 2.5e-6}
    truth = {"per_request": 30e-6, "cold_wakeup": 90e-6, "per_byte": 0.3e-9} | defaults
    cpu = [predict(c, truth) for c in counts]
    result = fit(counts, cpu, fixed=defaults, terms=("per_request", *TERMS))
    assert result.identified["per_request"] and not result.identified["wakeup"]
    assert result.values["per_request"] == pytest.approx(30e-6, rel=1e-6)
    assert result.values["cold_wakeup"] == pytest.approx(90e-6, rel=1e-6)
