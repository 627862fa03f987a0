"""What one run leaves behind before it becomes frames (:mod:`sim.results.frames`).

It sits below ``results`` (which turns it into frames) and below the runner that fills it
(:mod:`sim.engine`), so neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.core.component import Component
from sim.core.recorder import Recorder
from sim.scenario.model import Scenario


@dataclass
class RawRun:
    """The recorder, components, samples and books of one replication of one architecture."""

    architecture: str
    replication: int
    seed: int
    scenario: Scenario
    recorder: Recorder
    components: list[Component]
    samples: list[tuple[float, str, str, float]]
    wall_time: float
    end: float
    extra: dict[str, Any] = field(default_factory=dict)
    warmup: float = 0.0  # where the measured window starts (chosen when run.warmup is auto)
    observations: dict[str, Any] = field(default_factory=dict)  # Transport.observations()
