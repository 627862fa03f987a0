"""Keep adding paired replications until the headline metrics are precise enough.

Like JMT's stopping rule (Bertoli, Casale & Serazzi 2009) and Law's sequential procedure
for relative precision (Law 2015, §9.4.1), :func:`compare_until` runs replication 0, 1, …
of BOTH architectures on common random numbers and stops at the first ``r >= 3`` where, for
each architecture and each headline metric, the 95 % Student-t interval across
replications has a relative half-width at most ``precision`` (or the values are all equal),
or at ``max_replications``. The sequential logic is :func:`sim.stats.run_until_precision`.

Headline metrics (flow ``all`` and ``system``): mean, p50 and p99 latency, throughput,
total CPU cores and mean open connections. The error rate is left out on purpose: a relative
precision on a rate that is usually 0 can never be reached (its mean is 0 or tiny), and the
p99.9 needs far more requests per replication than precision stopping should force.

The result is an ordinary :class:`sim.results.Comparison` (paired summary included) whose
metadata says whether the target was reached, with how many replications, and which
metric was the last to converge.
"""

from __future__ import annotations

from collections.abc import Sequence

from sim.engine import ARCHITECTURES
from sim.results import Comparison, RunResult, compare_summaries, summarize
from sim.results.summary import run_metrics
from sim.scenario.model import Scenario
from sim.stats import run_until_precision
from sim.validation.options import add_precision_option  # noqa: F401  (re-exported)

HEADLINE = (
    ("all", "latency_mean"),
    ("all", "latency_p50"),
    ("all", "latency_p99"),
    ("all", "throughput"),
    ("system", "cpu_cores_total"),
    ("system", "connections_mean"),
)
MIN_REPLICATIONS = 3


def compare_until(
    sc: Scenario,
    precision: float = 0.05,
    max_replications: int = 50,
    seed: int | None = None,
    architectures: Sequence[str] = ARCHITECTURES,
    metrics: Sequence[tuple[str, str]] = HEADLINE,
) -> Comparison:
    """Paired replications until every headline metric's relative half-width <= precision."""
    from sim.api import _meta, simulate

    if not 0 < precision < 1:
        raise ValueError(f"precision must be in (0, 1), got {precision}")
    if max_replications < MIN_REPLICATIONS:
        raise ValueError(f"max_replications must be >= {MIN_REPLICATIONS}")
    runs: dict[str, list[RunResult]] = {a: [] for a in ARCHITECTURES}
    wanted = set(metrics)

    def one(r: int) -> dict[str, float]:
        row: dict[str, float] = {}
        for a in architectures:
            res = simulate(sc, a, seed, r)
            runs[a].append(res)
            for flow, metric, _unit, value in run_metrics(res):
                if (flow, metric) in wanted:
                    row[f"{a}/{flow}/{metric}"] = value
        return row

    names = [f"{a}/{f}/{m}" for a in architectures for f, m in metrics]
    out = run_until_precision(
        one,
        target=precision,
        min_replications=MIN_REPLICATIONS,
        max_replications=max_replications,
        metrics=names,
    )
    cmp = Comparison(runs["http"], runs["messaging"])
    both = bool(runs["http"] and runs["messaging"])
    cmp.summary = compare_summaries(cmp.http, cmp.messaging) if both else summarize(cmp.results())
    cmp.metadata = {
        **_meta(sc),
        "seed": sc.run.seed if seed is None else seed,
        "replications": out.replications,
        "precision": precision,
        "precision_reached": out.reached,
        "precision_worst_metric": out.worst_metric,
        "precision_worst_relative_half_width": out.estimates[out.worst_metric].relative_half_width,
    }
    return cmp
