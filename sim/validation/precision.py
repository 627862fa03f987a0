"""Keep adding paired replications until the headline metrics are precise enough.

Like JMT's stopping rule (Bertoli, Casale & Serazzi 2009) and Law's sequential procedure
for relative precision (Law 2015, §9.4.1), :func:`sim.api.compare_until` runs replication 0, 1, …
of BOTH architectures on common random numbers and stops at the first ``r >= 3`` where, for
each architecture and each headline metric, the 95 % Student-t interval across
replications has a relative half-width at most ``precision`` (or the values are all equal),
or at ``max_replications``. The sequential logic is :func:`sim.stats.run_until_precision`;
this module holds what it is applied to (the headline metrics) and the CLI options.

Headline metrics (flow ``all`` and ``system``): mean, p50 and p99 latency, throughput,
total CPU cores and mean open connections. The error rate is left out on purpose: a relative
precision on a rate that is usually 0 can never be reached (its mean is 0 or tiny), and the
p99.9 needs far more requests per replication than precision stopping should force.

The result is an ordinary :class:`sim.results.Comparison` (paired summary included) whose
metadata says whether the target was reached, with how many replications, and which
metric was the last to converge.
"""

from __future__ import annotations

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
