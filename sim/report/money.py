"""The report's cost section: each architecture's bill both ways (:mod:`sim.results.cost`).

Built from replication 0's components (the pods do not change between replications; the
usage bill of every replication is in the summary's ``cost_usage`` row, with its interval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.results.cost import Bill, bill, inputs
from sim.scenario.cost import GIB
from sim.scenario.model import Scenario


@dataclass(frozen=True)
class CostRow:
    """One architecture's bill, as text."""

    architecture: str
    pods: str
    requested: str  # cores and GiB requested
    nodes: str
    allocation: str  # $/month
    used: str  # cores and GiB used
    usage: str  # $/month


@dataclass(frozen=True)
class CostSection:
    rows: list[CostRow]
    prices: str  # the price basis, one sentence


def bills(sc: Scenario, components: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Bill]:
    """Replication 0's bill per architecture."""
    data = meta.get("cost") or inputs(sc)
    c = components
    if "replication" in c and len(c):
        c = c[c["replication"] == c["replication"].min()]
    return {
        a: bill(c[c["architecture"] == a], sc.run.duration, data)
        for a in ("http", "messaging")
        if (c["architecture"] == a).any()
    }


def cost_section(sc: Scenario, components: pd.DataFrame, meta: dict[str, Any]) -> CostSection:
    """The cost table of a report and the sentence saying what it is priced at."""
    rows = [
        CostRow(
            a,
            str(len(b.pods)),
            f"{b.requested_cores:.3g} cores, {b.requested_gib:.3g} GiB",
            f"{b.nodes} × {b.node}",
            f"{b.allocation:,.0f}",
            f"{b.used_cores:.3g} cores, {b.used_gib:.3g} GiB",
            f"{b.usage:,.2f}",
        )
        for a, b in bills(sc, components, meta).items()
    ]
    cost = sc.cost
    node = cost.instances[cost.node]
    prices = (
        f"Allocation: pods' CPU and memory requests packed first-fit decreasing onto "
        f"{cost.node} nodes ({node.vcpu:g} vCPU, {node.memory / GIB:g} GiB, "
        f"{node.hourly:g} $/h); usage: measured cores at {cost.vcpu_hour:g} $ per vCPU-hour "
        f"and memory at {cost.gib_hour:g} $ per GiB-hour; {cost.hours_per_month:g} hours a "
        "month. AWS us-east-1 on-demand list prices (EC2 and Fargate, 2025); every figure "
        "can be changed in the scenario's cost block."
    )
    return CostSection(rows, prices)
