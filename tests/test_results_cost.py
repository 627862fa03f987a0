"""Money (sim.results.cost): allocation by first-fit-decreasing packing, and usage, by hand.

The small case: a node type "n" with 2 vCPU and 4 GiB at 0.10 $/h, 100 hours a month,
1 $ per vCPU-hour and 0.5 $ per GiB-hour used. Components of one run over 10 s:

======================  =========  =====  ==========  ===========  ====================
name                    kind       cores  cpu busy    memory mean  requests (by rule)
======================  =========  =====  ==========  ===========  ====================
a-0                     service    1      5 s         1 GiB        service a: 1 core, 1 GiB
a-0.sidecar             sidecar    2      2 s         0.5 GiB      0.1 core, 128 MiB (Istio)
a-1                     service    1      5 s         1 GiB        1 core, 1 GiB
a-1.sidecar             sidecar    2      2 s         0.5 GiB      0.1 core, 128 MiB
nats-0                  broker     2      1 s         0.25 GiB     its cores (2), its peak (0.25 GiB)
clients                 client     4      0 s         1 GiB        not billed
======================  =========  =====  ==========  ===========  ====================

Pods: a-0 (1.1 cores, 1.125 GiB), a-1 (1.1, 1.125), nats-0 (2, 0.25). Shares of a node
(the larger of cpu/2 and memory/4): nats-0 1.0, a-0 0.55, a-1 0.55. First-fit decreasing:
nats-0 fills node 1; a-0 opens node 2 (0.9 cores left); a-1 does not fit there (1.1 > 0.9)
and opens node 3 ⇒ 3 nodes × 0.10 $/h × 100 h = 30 $.

Usage: busy cores (5+2+5+2+1)/10 = 1.5, memory 1+0.5+1+0.5+0.25 = 3.25 GiB (the client
is not billed) ⇒ (1.5 × 1 + 3.25 × 0.5) × 100 = 312.5 $.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sim.results.cost import Pod, bill, inputs, pack, pods
from sim.scenario import ScenarioError
from sim.scenario.cost import GIB, MIB, Cost, InstanceType
from tests.helpers import scenario

SETTINGS = {
    "node": "n",
    "instances": {"n": {"vcpu": 2, "memory": 4 * GIB, "hourly": 0.10}},
    "hours_per_month": 100,
    "vcpu_hour": 1.0,
    "gib_hour": 0.5,
}
SERVICES = {"a": {"cores": 1, "memory": GIB}}


def frame() -> pd.DataFrame:
    rows = [
        ("a-0", "service", "a", 1, 5.0, GIB, GIB),
        ("a-0.sidecar", "sidecar", "a", 2, 2.0, GIB / 2, GIB / 2),
        ("a-1", "service", "a", 1, 5.0, GIB, GIB),
        ("a-1.sidecar", "sidecar", "a", 2, 2.0, GIB / 2, GIB / 2),
        ("nats-0", "broker", "", 2, 1.0, GIB / 4, GIB / 4),
        ("clients", "client", "", 4, 0.0, GIB, GIB),
    ]
    cols = ["name", "kind", "service", "cores", "cpu_seconds", "memory_mean", "memory_peak"]
    return pd.DataFrame(rows, columns=cols)


def test_pods_join_sidecars_and_take_requests_by_kind() -> None:
    cost = Cost.model_validate(SETTINGS)
    got = {p.name: (p.containers, p.cpu, p.memory) for p in pods(frame(), cost, SERVICES)}
    assert got == {
        "a-0": (("a-0", "a-0.sidecar"), pytest.approx(1.1), GIB + 128 * MIB),
        "a-1": (("a-1", "a-1.sidecar"), pytest.approx(1.1), GIB + 128 * MIB),
        "nats-0": (("nats-0",), 2.0, GIB / 4),
    }


def test_allocation_and_usage_by_hand() -> None:
    b = bill(frame(), 10.0, {"settings": SETTINGS, "services": SERVICES})
    assert b.nodes == 3
    assert b.allocation == pytest.approx(30.0)
    assert b.used_cores == pytest.approx(1.5)
    assert b.used_gib == pytest.approx(3.25)
    assert b.usage == pytest.approx(312.5)


def test_first_fit_decreasing_packs_largest_first_and_fills_gaps() -> None:
    node = InstanceType(vcpu=2, memory=4 * GIB, hourly=1)
    # in this order first fit would need 3 nodes (0.5 + 0.5 | 1.5 | 1.5); largest first
    # needs 2 (1.5 + 0.5 | 1.5 + 0.5)
    cpus = [0.5, 0.5, 1.5, 1.5]
    p = [Pod(f"p{i}", "x", (f"p{i}",), c, 0.1 * GIB) for i, c in enumerate(cpus)]
    assert pack(p, node) == 2
    # memory decides: four pods of 0.1 core and 1.5 GiB fit two to a 4 GiB node
    mem = [Pod(f"m{i}", "x", (f"m{i}",), 0.1, 1.5 * GIB) for i in range(4)]
    assert pack(mem, node) == 2
    # a reservation takes room from every node: 3.5 GiB left holds only two of 1.5 GiB
    assert pack(mem, node, reserved_memory=0.5 * GIB) == 2
    assert pack(mem, node, reserved_memory=1.5 * GIB) == 4
    # a pod larger than a node gets whole nodes of its own: 5 cores on 2-vCPU nodes ⇒ 3
    assert pack([Pod("big", "x", ("big",), 5.0, 0.0)], node) == 3


def test_scenario_cost_block_overrides_key_by_key() -> None:
    sc = scenario(
        """
name: c
services: {a: {instances: 1, cores: 3, memory: 1GiB, operations: {op: {}}}}
workload: {arrivals: {kind: poisson, rate: 1}, flows: [{name: f, service: a, operation: op}]}
cost:
  node: c6i.large
  requests: {sidecar: {cpu: 0.2}}
  instances: {c6i.large: {vcpu: 2, memory: 4GiB, hourly: 0.5}}
"""
    )
    c = sc.cost
    assert c.node == "c6i.large" and c.instances["c6i.large"].hourly == 0.5
    assert c.instances["m6i.xlarge"].hourly == 0.192  # the rest of the price list stays
    assert c.request("sidecar").cpu == 0.2 and c.request("gateway").cpu == 0.1
    assert inputs(sc)["services"] == {"a": {"cores": 3, "memory": float(GIB)}}


def test_unknown_node_type_is_a_located_error() -> None:
    with pytest.raises(ScenarioError, match=r"<test>:\d+: cost.*not in instances"):
        scenario(
            """
name: c
services: {a: {instances: 1, operations: {op: {}}}}
workload: {arrivals: {kind: poisson, rate: 1}, flows: [{name: f, service: a, operation: op}]}
cost: {node: t9.huge}
"""
        )
