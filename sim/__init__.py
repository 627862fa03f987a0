"""Simulate one order-service application over an HTTP service mesh and over a NATS-style
message broker, and compare what each costs in latency, connections and resources."""

__version__ = "0.1.0"

from sim.api import compare, load_scenario, override, scenario_from_dict, simulate
from sim.scenario import Scenario, ScenarioError

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
