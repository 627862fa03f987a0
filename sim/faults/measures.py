"""Measures of a disturbance, computed from a run's request rows (pure pandas/numpy).

* **time to recover**: once the disturbance shows (the rolling p99 or error rate leaves the
  *pre-event band*), the first time from which both are back inside the band and stay there
  for ``hold`` seconds; zero when the event never shows outside the band. The band
  is the range the rolling metrics took in the ``baseline`` seconds before the event (their
  maximum, since lower latency or fewer errors is never a deviation), widened by ``slack``
  (relative) so that the noise of a calm system does not count as a disturbance.
* **failed requests**: requests that ended with a status other than ``ok`` between the event
  and the recovery (by start time: the requests the disturbance affected). Requests still
  unanswered at the end of the run (``unanswered``: their start times) count as failed
  with status ``unanswered`` and the time they had waited as latency, so that a
  disturbance is not judged by the requests that survived it — those that had waited
  longer than any successful request since the event took (the others may simply be on
  their way).
* **last failure**: the start of the last failed request of the disturbance (exact, to one
  request: the mechanisms' sums are checked against it).
* **error and timeout series**: per-bin counts by status around the event.

The rolling window is evaluated every ``step`` seconds on requests grouped by *start* time,
so a slow request is charged to the moment it was sent (what a client experiences).

:func:`disturbance_table` gathers, for every action of the timeline and every run, the time
to detect (the architecture's own detection event, :mod:`sim.faults.detection`), the time to
recover, the requests failed, timed out and never answered, the retry amplification
(attempts / logical requests between the event and recovery, from the run's counters) and
the connections and handshakes redone meanwhile, and the books at the event.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Recovery:
    """How one architecture came through one event."""

    event_time: float
    recovered_at: float  # nan when it never came back inside the run
    band_p99: float
    band_error_rate: float
    failed: int
    timeouts: int
    last_failure: float = math.nan  # start of the last failed request before recovery
    unanswered: int = 0  # failed requests that were still waiting at the end of the run

    @property
    def time_to_recover(self) -> float:
        """Seconds from the event to recovery (nan when it never recovered)."""
        return self.recovered_at - self.event_time


def rolling(
    requests: pd.DataFrame, start: float, end: float, window: float = 5.0, step: float = 1.0
) -> pd.DataFrame:
    """Rolling p99 latency (s) and error rate at t = start+window, …, end (window ending at t)."""
    r = requests[requests["kind"] == "request"]
    t0 = r["start"].to_numpy()
    lat = r["latency"].to_numpy()
    bad = (r["status"] != "ok").to_numpy()
    order = np.argsort(t0, kind="stable")
    t0, lat, bad = t0[order], lat[order], bad[order]
    rows = []
    t = start + window
    while t <= end + 1e-9:
        lo, hi = np.searchsorted(t0, [t - window, t], side="left")
        n = hi - lo
        if n:
            p99 = float(np.percentile(lat[lo:hi], 99))
            err = float(bad[lo:hi].mean())
        else:
            p99, err = math.nan, math.nan
        rows.append((t, n, p99, err))
        t += step
    return pd.DataFrame(rows, columns=["t", "n", "p99", "error_rate"])


def recovery(
    requests: pd.DataFrame,
    event_time: float,
    *,
    baseline: float = 20.0,
    window: float = 5.0,
    step: float = 1.0,
    hold: float = 5.0,
    slack: float = 0.1,
    end: float | None = None,
    unanswered: Sequence[float] = (),
    run_end: float | None = None,
) -> Recovery:
    """Time to recover from an event at ``event_time`` (see the module docstring);
    ``unanswered``: start times of requests still waiting at ``run_end``."""
    r = requests[requests["kind"] == "request"]
    before = rolling(r, max(0.0, event_time - baseline - window), event_time, window, step)
    before = before[before["n"] > 0]
    band_p99 = float(before["p99"].max()) * (1 + slack) if len(before) else math.inf
    band_err = float(before["error_rate"].max()) + slack * 0.01 if len(before) else 0.0
    if len(unanswered):
        stop_at = run_end if run_end is not None else float(r["end"].max())
        since = r[(r["start"] >= event_time) & (r["status"] == "ok")]["latency"]
        longest = max(float(since.max()) if len(since) else 0.0, band_p99)
        starts = np.asarray(unanswered, dtype=float)
        starts = starts[stop_at - starts > longest]  # the others may be on their way
        waiting = pd.DataFrame(
            {"kind": "request", "start": starts, "latency": stop_at - starts}
        ).assign(status="unanswered")
        r = pd.concat([r[["kind", "start", "latency", "status"]], waiting], ignore_index=True)
    last = float(r["start"].max()) if len(r) else event_time
    stop = last if end is None else end
    after = rolling(r, event_time - window, stop, window, step)
    after = after[after["t"] >= event_time]
    ok = (after["n"] > 0) & (after["p99"] <= band_p99) & (after["error_rate"] <= band_err)
    good = ok.to_numpy()
    ts = after["t"].to_numpy()
    recovered = math.nan
    if good.all():
        recovered = event_time  # the disturbance never showed outside the band
    else:
        need = max(1, round(hold / step))
        first_bad = int(np.argmin(good))
        run = 0
        for i in range(first_bad, len(good)):
            run = run + 1 if good[i] else 0
            if run >= need:
                recovered = float(ts[i - need + 1])  # back in the band from here on
                break
    upto = recovered if not math.isnan(recovered) else math.inf
    hit = r[(r["start"] >= event_time) & (r["start"] < upto)]
    bad = hit[hit["status"] != "ok"]
    return Recovery(
        event_time=event_time,
        recovered_at=recovered,
        band_p99=band_p99,
        band_error_rate=band_err,
        failed=len(bad),
        timeouts=int((bad["status"] == "timeout").sum()),
        last_failure=float(bad["start"].max()) if len(bad) else math.nan,
        unanswered=int((bad["status"] == "unanswered").sum()),
    )


def status_series(requests: pd.DataFrame, interval: float = 1.0) -> pd.DataFrame:
    """Requests per status per interval of start time (tidy: t, status, count)."""
    r = requests[requests["kind"] == "request"]
    if r.empty:
        return pd.DataFrame(columns=["t", "status", "count"])
    b = (np.floor(r["start"].to_numpy() / interval) * interval).round(9)
    out = r.assign(t=b).groupby(["t", "status"]).size().rename("count").reset_index()
    return out


def _at(series: dict[str, list[float]], key: str, t: float) -> float:
    """A cumulative counter's value at time t (the last sample at or before t)."""
    ts = series.get("t", [])
    if not ts:
        return math.nan
    i = int(np.searchsorted(np.asarray(ts), t + 1e-9, side="right")) - 1
    return float(series[key][max(i, 0)])


def disturbance_table(cmp: Any, **recovery_kw: Any) -> pd.DataFrame:
    """One row per timeline action × run: detection, recovery, losses, retries, churn.

    ``cmp`` is a :class:`~sim.results.Comparison` or a list of run results (their
    ``outcomes`` when they have them, else their ``requests``); keyword arguments go to
    :func:`recovery` (``window``, ``baseline``, ``hold``…)."""
    runs = cmp.results() if hasattr(cmp, "results") else list(cmp)
    rows = []
    for run in runs:
        md = run.metadata
        events = md.get("events", [])
        series = md.get("fault_series", {})
        found = {e.get("entry"): e for e in events if e.get("kind") == "detection"}
        end = float(md.get("simulated_time", math.nan))
        waiting = [s for s in md.get("unanswered", []) if s >= float(md.get("warmup", 0.0))]
        actions = [e for e in events if e.get("kind") == "action"]
        # run.rows: none keeps no requests frame: RunResult.outcomes rebuilds what is read here
        requests = getattr(run, "outcomes", run.requests) if actions else None
        for e in actions:
            t0 = float(e["t"])
            rec = recovery(requests, t0, unanswered=waiting, run_end=end, **recovery_kw)
            upto = rec.recovered_at if math.isfinite(rec.recovered_at) else end
            d = found.get(e.get("entry"))
            attempts = _at(series, "attempts", upto) - _at(series, "attempts", t0)
            logical = _at(series, "requests", upto) - _at(series, "requests", t0)
            rows.append(
                {
                    "architecture": run.architecture,
                    "replication": md.get("replication", 0),
                    "t": t0,
                    "event": e["label"],
                    "time_to_detect": float(d["after"]) if d else math.nan,
                    "converged": float(d["converged"]) - t0 if d and "converged" in d else math.nan,
                    "time_to_recover": rec.time_to_recover,
                    "last_failure": rec.last_failure - t0,
                    "failed": rec.failed,
                    "timeouts": rec.timeouts,
                    "unanswered": rec.unanswered,
                    "retry_amplification": attempts / logical if logical > 0 else math.nan,
                    "retries": _at(series, "retries", upto) - _at(series, "retries", t0),
                    "connections_opened": _at(series, "connections", upto)
                    - _at(series, "connections", t0),
                    "handshakes": _at(series, "handshakes", upto) - _at(series, "handshakes", t0),
                    "generated": e.get("generated"),
                    "completed": e.get("completed"),
                    "in_flight": e.get("in_flight"),
                }
            )
    return pd.DataFrame(rows)
