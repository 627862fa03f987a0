"""Where do the two architectures cross? Bisection on paired runs, with an interval.

For one swept parameter ``x`` and one metric, let ``d(x)`` be the paired difference
*messaging − http* over the replications at ``x`` (both architectures on common random
numbers, so the paired-t interval of ``d`` is narrow: Law 2015, §10.2.1), and
``[d⁻(x), d⁺(x)]`` its 95 % interval (:func:`sim.stats.paired_comparison`). If ``d(lo)``
and ``d(hi)`` have the same sign there is no crossing in range and we say so. Otherwise:

1. the **estimate** is the zero of ``d``: bisection on the sign of the mean difference,
   then linear interpolation inside the last bracket;
2. the **interval** inverts the pointwise intervals: below it ``d``'s whole interval is on
   ``lo``'s side of zero, above it on ``hi``'s side; each end is found by its own bisection
   (on ``d⁻`` and ``d⁺``), and each is reported at the last evaluated point known to be
   decided, so the interval is conservative at the resolution of the search. If an end of
   the range is not decided, the interval reaches that end and says it is open there.

All bisections share one cache of evaluated points. With ``batch = k`` workers each round
evaluates ``k`` equally spaced interior points at once (k-section), shrinking the bracket
``k + 1`` times per round. Integer parameters (both ends written as integers: instances,
observers, clients) are searched over integers and stop at a bracket of width 1. A
non-monotone difference may cross more than once; bisection then finds one crossing.

The search itself (:func:`find_crossing`) takes any function from a batch of ``x`` to
paired estimates, which is how it is tested against a synthetic curve with a known zero;
:func:`crossover` plugs in the simulator (runs stored like a sweep's, so a rerun resumes).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.scenario.base import InputError
from sim.stats import Estimate, paired_comparison
from sim.sweep.grid import Point
from sim.sweep.runner import METRICS, execute, plan
from sim.sweep.store import Store

MAX_ROUNDS = 60


@dataclass(frozen=True)
class Evaluation:
    """The paired estimates at one parameter value."""

    x: float
    difference: Estimate  # messaging − http
    http: Estimate | None = None
    messaging: Estimate | None = None


@dataclass
class Crossing:
    """The result of a crossover search."""

    param: str
    metric: str
    lo: float
    hi: float
    found: bool
    value: float = math.nan
    low: float = math.nan
    high: float = math.nan
    open_low: bool = False
    open_high: bool = False
    message: str = ""
    evaluations: list[Evaluation] = field(default_factory=list)
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)

    def frame(self) -> pd.DataFrame:
        """One row per evaluated value: both architectures and the difference, with intervals."""
        out = []
        for e in sorted(self.evaluations, key=lambda e: e.x):
            row: dict[str, float] = {"x": e.x}
            for name, est in (
                ("http", e.http),
                ("messaging", e.messaging),
                ("difference", e.difference),
            ):
                if est is not None:
                    row[name], row[f"{name}_low"], row[f"{name}_high"] = (
                        est.value,
                        est.low,
                        est.high,
                    )
            out.append(row)
        return pd.DataFrame(out)

    def __str__(self) -> str:
        return self.message


class _Search:
    """A cache of evaluations in the orientation where d is positive at lo."""

    def __init__(self, evaluate: Callable[[list[float]], list[Evaluation]], integer: bool):
        self.evaluate = evaluate
        self.integer = integer
        self.cache: dict[float, Evaluation] = {}
        self.sign = 1.0

    def need(self, xs: Sequence[float]) -> None:
        todo = sorted({x for x in xs if x not in self.cache})
        if todo:
            for e in self.evaluate(todo):
                self.cache[e.x] = e

    def f(self, x: float, which: str) -> float:
        """Oriented mean ("mid"), lower ("low") or upper ("high") bound of d at x."""
        d = self.cache[x].difference
        lo, hi = (d.low, d.high) if self.sign > 0 else (-d.high, -d.low)
        return {"mid": self.sign * d.value, "low": lo, "high": hi}[which]

    def interior(self, a: float, b: float, k: int) -> list[float]:
        xs = [a + (b - a) * j / (k + 1) for j in range(1, k + 1)]
        if self.integer:
            xs = sorted({round(x) for x in xs} - {a, b})
        return [x for x in xs if a < x < b]

    def bisect(self, which: str, a: float, b: float, tol: float, k: int) -> tuple[float, float]:
        """Shrink [a, b] with f(a) > 0 >= f(b) (``which`` curve) until b − a <= tol."""
        for _ in range(MAX_ROUNDS):
            xs = self.interior(a, b, k)
            if b - a <= tol or not xs:
                break
            self.need(xs)
            for x in xs:  # the first sign change from the left
                if self.f(x, which) > 0:
                    a = x
                else:
                    b = x
                    break
        return a, b


def find_crossing(
    evaluate: Callable[[list[float]], list[Evaluation]],
    lo: float,
    hi: float,
    tol: float | None = None,
    batch: int = 1,
    param: str = "x",
    metric: str = "metric",
) -> Crossing:
    """Bisection for the zero of the paired difference on [lo, hi] (see module docstring)."""
    if not lo < hi:
        raise InputError(f"crossover range needs lo < hi, got {lo}..{hi}")
    integer = isinstance(lo, int) and isinstance(hi, int)
    tol = (1 if integer else (hi - lo) / 100) if tol is None else tol
    s = _Search(evaluate, integer)
    s.need([lo, hi])
    d_lo, d_hi = s.cache[lo].difference.value, s.cache[hi].difference.value
    res = Crossing(param, metric, lo, hi, found=False)
    if d_lo == 0 or d_hi == 0 or (d_lo > 0) != (d_hi > 0):
        s.sign = 1.0 if d_lo > 0 or (d_lo == 0 and d_hi < 0) else -1.0
    else:
        side = "above" if d_lo > 0 else "below"
        ends = [s.cache[lo].difference, s.cache[hi].difference]
        if all(d.low <= 0 <= d.high for d in ends):  # neither end tells the two apart
            verdict = "no significant difference in range (every difference interval includes 0)"
        else:
            verdict = f"messaging stays {side} http"
        res.message = (
            f"no crossing of {metric} for {param} in [{lo:g}, {hi:g}]: {verdict} "
            f"(difference {d_lo:.4g} at {lo:g}, {d_hi:.4g} at {hi:g})"
        )
        res.evaluations = list(s.cache.values())
        return res
    k = max(1, batch)
    if s.f(lo, "mid") == 0:
        a = b = lo
    elif s.f(hi, "mid") == 0:
        a = b = hi
    else:
        a, b = s.bisect("mid", lo, hi, tol, k)
    fa, fb = s.f(a, "mid"), s.f(b, "mid")
    res.value = a if a == b or fa == fb else a + (b - a) * fa / (fa - fb)
    # lower end: last point whose whole interval is on lo's side, searched below b
    decided_lo = [x for x in s.cache if x <= b and s.f(x, "low") > 0]
    if decided_lo:
        la = max(decided_lo)
        lb = min([x for x in s.cache if x > la and s.f(x, "low") <= 0], default=b)
        res.low, _ = s.bisect("low", la, lb, tol, k)
    else:
        res.low, res.open_low = lo, True
    decided_hi = [x for x in s.cache if x >= a and s.f(x, "high") < 0]
    if decided_hi:
        ub = min(decided_hi)
        ua = max([x for x in s.cache if x < ub and s.f(x, "high") >= 0], default=a)
        _, res.high = s.bisect("high", ua, ub, tol, k)
    else:
        res.high, res.open_high = hi, True
    res.low, res.high = min(res.low, res.value), max(res.high, res.value)
    res.found = True
    res.evaluations = list(s.cache.values())
    lo_txt = f"≤{res.low:g}" if res.open_low else f"{res.low:g}"
    hi_txt = f"≥{res.high:g}" if res.open_high else f"{res.high:g}"
    res.message = (
        f"{metric} crosses at {param} ≈ {res.value:.4g} (95 % interval [{lo_txt}, {hi_txt}]): "
        f"http is {'lower' if s.sign > 0 else 'higher'} below it, "
        f"{'higher' if s.sign > 0 else 'lower'} above; {len(s.cache)} points evaluated"
    )
    return res


def resolve_metric(metric: str) -> tuple[str, str]:
    """A short name (p99, connections, cpu, memory…), ``flow:metric`` or a metric of flow all."""
    if metric in METRICS:
        return METRICS[metric]
    if ":" in metric:
        flow, name = metric.split(":", 1)
        return flow, name
    system = {
        "connections_mean",
        "connections_peak",
        "tls_handshakes",
        "cpu_cores_infra",
        "cpu_cores_app",
        "cpu_cores_total",
        "memory_infra",
        "memory_app",
        "memory_total",
        "infra_processes",
    }
    return ("system" if metric in system else "all"), metric


def paired(rows: pd.DataFrame, flow: str, metric: str) -> tuple[Estimate, Estimate, Estimate]:
    """(http, messaging, messaging − http) over the replications of one point's rows."""
    sel = rows[(rows["flow"] == flow) & (rows["metric"] == metric)]
    if sel.empty:
        raise InputError(f"no metric {flow}:{metric} in the results")
    wide = sel.pivot_table(index="replication", columns="architecture", values="value")
    if "http" not in wide or "messaging" not in wide:
        raise InputError(f"{flow}:{metric} is not measured on both architectures")
    a = wide["http"].to_numpy(dtype=float)
    b = wide["messaging"].to_numpy(dtype=float)
    pr = paired_comparison(a, b)
    return _floored(pr.mean_a, a), _floored(pr.mean_b, b), pr.difference


def _floored(est: Estimate, values: Any) -> Estimate:
    """A metric that cannot be negative (latency, connections, cores) has no negative bound."""
    if est.low < 0 and bool((values >= 0).all()):
        return dataclasses.replace(est, low=0.0)
    return est


def crossover(
    path: str | Path,
    param: str,
    lo: float,
    hi: float,
    metric: str = "p99",
    replications: int = 5,
    executor: Any = "process",
    workers: int | None = None,
    scheduler: Any = None,
    out: str | Path | None = None,
    sets: Sequence[str] = (),
    seed: int | None = None,
    tol: float | None = None,
    progress: bool = True,
) -> Crossing:
    """Find where messaging − http of `metric` changes sign as `param` goes from lo to hi."""
    from sim.api import load_scenario
    from sim.sweep.executors import make_executor
    from sim.sweep.grid import Param, column_kind
    from sim.sweep.runner import sweep_info

    flow, name = resolve_metric(metric)
    base = load_scenario(path, sets)
    s = base.run.seed if seed is None else seed
    kind = column_kind([lo, hi])
    kinds = {param: kind}
    store = Store(out) if out is not None else None
    frames: list[pd.DataFrame] = []
    ex = make_executor(executor, workers, scheduler)

    def evaluate(xs: list[float]) -> list[Evaluation]:
        pts = [Point(((param, x),)) for x in xs]
        planned = plan(path, pts, sets, replications, s)
        info = sweep_info(path, base, sets, [Param(param, tuple(xs))], replications, s)
        info["crossover"] = {"metric": f"{flow}:{name}", "lo": lo, "hi": hi}
        got = execute(
            planned, kinds, replications, s, ex, store, info, progress=progress, desc="crossover"
        )
        out_ = []
        for p, x in zip(planned, xs, strict=True):
            frames.append(got[p.key])
            h, m, d = paired(got[p.key], flow, name)
            out_.append(Evaluation(x, d, h, m))
        return out_

    try:
        res = find_crossing(evaluate, lo, hi, tol, ex.workers, param, metric)
    finally:
        ex.close()
    if frames:
        rows = pd.concat(frames, ignore_index=True)
        res.rows = rows.sort_values(param, kind="stable").reset_index(drop=True)
    return res
