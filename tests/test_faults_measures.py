"""Recovery measures on synthetic request frames with a known disturbance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.faults.measures import recovery, rolling, status_series


def frame(
    rate: float, end: float, bad_from: float, bad_to: float, slow: float = 0.0
) -> pd.DataFrame:
    """Requests every 1/rate s with 10 ms latency; failed (or slow) inside [bad_from, bad_to)."""
    t = np.arange(0.0, end, 1.0 / rate)
    hit = (t >= bad_from) & (t < bad_to)
    lat = np.where(hit & (slow > 0), slow, 0.010)
    status = np.where(hit & (slow == 0), "error", "ok")
    return pd.DataFrame({"kind": "request", "start": t, "latency": lat, "status": status})


def test_rolling_window_counts_and_rates() -> None:
    df = frame(100, 20, 10, 12)
    r = rolling(df, 0, 20, window=5, step=1)
    at12 = r[r["t"] == 12].iloc[0]
    assert at12["n"] == 500
    assert at12["error_rate"] == 200 / 500


def test_errors_for_two_seconds_recover_when_the_window_is_clean() -> None:
    df = frame(100, 60, 30, 32)
    rec = recovery(df, 30.0, window=5, step=1, hold=5)
    # the last failed request started just before 32; the first window free of it ends at 37
    assert rec.recovered_at == 37.0
    assert rec.time_to_recover == 7.0
    assert rec.failed == 200
    assert rec.timeouts == 0


def test_a_latency_spike_counts_as_a_disturbance() -> None:
    df = frame(100, 60, 30, 35, slow=0.5)
    rec = recovery(df, 30.0, window=5, step=1, hold=5)
    assert rec.recovered_at == 40.0
    assert rec.failed == 0


def test_no_disturbance_means_zero_time_to_recover() -> None:
    df = frame(100, 60, 0, 0)
    rec = recovery(df, 30.0)
    assert rec.time_to_recover == 0.0


def test_never_recovering_is_nan() -> None:
    df = frame(100, 60, 30, 60)
    rec = recovery(df, 30.0)
    assert math.isnan(rec.recovered_at)
    assert rec.failed == 3000


def test_status_series_bins_by_start_time() -> None:
    df = frame(10, 3, 1, 2)
    s = status_series(df, 1.0)
    assert s[(s["t"] == 1.0) & (s["status"] == "error")]["count"].item() == 10
    assert s[(s["t"] == 0.0) & (s["status"] == "ok")]["count"].item() == 10
