"""Parameter sweeps and crossover search over both architectures.

``run_sweep(path, params, replications=…, executor=…)`` runs a grid of points, each for both
architectures on common random numbers, and returns a tidy DataFrame; with ``out=`` every
completed point is a Parquet part and an interrupted sweep resumes. ``crossover(path, param,
lo, hi, metric)`` finds by bisection where the two architectures' metric cross. Executors:
in-process, a local process pool (default) and Dask. Plots are in :mod:`sim.sweep.plots`,
the command-line verbs in :mod:`sim.sweep.commands`.
Names are imported on first use (PEP 562), so the CLI's part costs nothing until it runs.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.sweep.crossover import Crossing, crossover
    from sim.sweep.grid import Grid, GridError, parse_param
    from sim.sweep.runner import METRICS, run_sweep

_LAZY = {
    "Crossing": "crossover",
    "crossover": "crossover",
    "Grid": "grid",
    "GridError": "grid",
    "parse_param": "grid",
    "METRICS": "runner",
    "run_sweep": "runner",
}

__all__ = ["METRICS", "Crossing", "Grid", "GridError", "crossover", "parse_param", "run_sweep"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    """The function ``crossover`` shares its name with the submodule that defines it. Loading
    the submodule first (as ``sim.sweep.plots`` does) would make the import system bind the
    package attribute to the module; keep the attribute for the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "crossover" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
