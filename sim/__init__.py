"""Simulate one order-service application over an HTTP service mesh and over a NATS-style
message broker, and compare what each costs in latency, connections and resources.

The names below are imported on first use (PEP 562), so ``import sim`` and commands that
need only the scenario layer (``sim list``, ``sim validate``) do not pay for the engine,
pandas, SciPy and matplotlib before doing anything.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sim.api import compare, load_scenario, override, scenario_from_dict, simulate
    from sim.scenario import Scenario, ScenarioError

_LAZY = {
    "compare": "sim.api",
    "load_scenario": "sim.api",
    "override": "sim.api",
    "scenario_from_dict": "sim.api",
    "simulate": "sim.api",
    "Scenario": "sim.scenario",
    "ScenarioError": "sim.scenario",
}

__all__ = [
    "Scenario",
    "ScenarioError",
    "__version__",
    "compare",
    "load_scenario",
    "override",
    "scenario_from_dict",
    "simulate",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
