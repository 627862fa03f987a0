"""Output analysis for the simulator: confidence intervals, warm-up, comparisons, precision.

Pure statistics over numpy arrays / pandas objects -- nothing here runs a simulation or
imports another part of :mod:`sim`. NaN values are dropped everywhere (pairwise for paired
data). Modules:

* :mod:`~sim.stats.intervals` -- :class:`Estimate`, Student-t, order-statistic, replication
  and batch-means intervals (Law 2015, ch. 9; Conover 1999).
* :mod:`~sim.stats.warmup` -- MSER-5 truncation (White 1997; Hoad et al. 2010) and the
  automatic warm-up of a run by MSER-5 on growing pilots.
* :mod:`~sim.stats.paired` -- paired-t comparison on common random numbers, Fieller ratio,
  Welch interval for independent samples.
* :mod:`~sim.stats.precision` -- sequential replications to a relative precision target.
"""

from sim.stats.intervals import (
    Estimate,
    batch_means_interval,
    mean_interval,
    quantile_interval,
    replication_interval,
)
from sim.stats.paired import PairedResult, independent_comparison, paired_comparison
from sim.stats.precision import PrecisionResult, run_until_precision
from sim.stats.warmup import PilotWarmup, mser5, mser5_time, pilot_warmup

__all__ = [
    "Estimate",
    "PairedResult",
    "PilotWarmup",
    "PrecisionResult",
    "batch_means_interval",
    "independent_comparison",
    "mean_interval",
    "mser5",
    "mser5_time",
    "paired_comparison",
    "pilot_warmup",
    "quantile_interval",
    "replication_interval",
    "run_until_precision",
]
