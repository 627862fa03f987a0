"""Parameter sweeps and crossover search over both architectures.

``run_sweep(path, params, replications=…, executor=…)`` runs a grid of points, each for both
architectures on common random numbers, and returns a tidy DataFrame; with ``out=`` every
completed point is a Parquet part and an interrupted sweep resumes. ``crossover(path, param,
lo, hi, metric)`` finds by bisection where the two architectures' metric cross. Executors:
in-process, a local process pool (default) and Dask. Plots are in :mod:`sim.sweep.plots`,
the command-line verbs in :mod:`sim.sweep.commands`.
"""

from sim.sweep.crossover import Crossing, crossover
from sim.sweep.grid import Grid, GridError, parse_param
from sim.sweep.runner import METRICS, run_sweep

__all__ = ["METRICS", "Crossing", "Grid", "GridError", "crossover", "parse_param", "run_sweep"]
