"""Typed scenario model, YAML loading with ``FILE:LINE`` errors, and defaults with sources."""

from sim.scenario.loader import ScenarioError, load, scenario_hash
from sim.scenario.model import Scenario

__all__ = ["Scenario", "ScenarioError", "load", "scenario_hash"]
