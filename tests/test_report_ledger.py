"""The fairness ledger is generated, and complete.

*Generated*: it is a function of the resolved scenario and the run's components, so changing
a replica count or a setting changes it, and a component kind it has never heard of shows up.

*Complete*: with every overhead it lists switched off (sim.scenario.overheads.zero_overheads:
every ``io`` null, TLS none, proxies off, round trips and sizes zero, one queue per service,
no timeline), both architectures give identical request latencies on the same random numbers
— on every bundled scenario. Event flows that only one side delivers must be explained by a
ledger row (accounts and imports).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.api import override
from sim.report.ledger import build_ledger
from sim.scenario.overheads import overheads, zero_overheads
from tests.helpers import ROOT

TINY = ROOT / "tests" / "gold" / "tiny.yaml"
BUNDLED = [*sorted((ROOT / "scenarios").glob("*.yaml")), TINY]


def cells(sc: sim.Scenario, components: pd.DataFrame | None = None) -> dict[str, tuple[str, str]]:
    return {
        f"{r.topic}: {r.item}": (r.http, r.messaging) for r in build_ledger(sc, components).rows
    }


def test_changing_a_replica_count_changes_the_ledger() -> None:
    base = sim.load_scenario(TINY)
    more = override(base, ["http.gateway.replicas=3", "messaging.broker.servers=3"])
    a, b = cells(base), cells(more)
    assert a["replicas: entry point"][0].startswith("1 gateway replica")
    assert b["replicas: entry point"][0].startswith("3 gateway replica")
    assert a["replicas: between services"][1].startswith("1 server")
    assert b["replicas: between services"][1].startswith("3 server")
    assert "TLS: broker routes" not in a and "TLS: broker routes" in b  # a cluster has routes


def test_settings_and_components_flow_into_the_ledger() -> None:
    base = sim.load_scenario(TINY)
    changed = override(
        base,
        [
            "messaging.request_timeout=0.5",
            "http.sidecar.route.balancing=round_robin",
            "messaging.tls.version=none",
        ],
    )
    a, b = cells(base), cells(changed)
    inner = "retries and timeouts: service to service (HTTP: sidecar)"
    assert a[inner][1].startswith("timeout 2 s") and b[inner][1].startswith("timeout 0.5 s")
    assert b["balancing: service to service (HTTP: sidecar)"][0] == "round robin"
    assert b["TLS: edge"][1] == "clients → server: plaintext"
    # a component kind the ledger has never heard of is listed from the frame
    comps = pd.DataFrame(
        {
            "architecture": ["http", "messaging", "messaging"],
            "replication": [0, 0, 0],
            "kind": ["gateway", "broker", "ingress-bridge"],
        }
    )
    c = cells(base, comps)
    assert c["processes: ingress-bridge"] == ("–", "1 (infrastructure)")
    assert c["processes: counted as infrastructure"] == ("gateway", "broker, ingress-bridge")


def test_equal_settings_are_not_listed() -> None:
    # the in-service protocol costs are the same figures on both sides by default: no row
    rows = cells(sim.load_scenario(TINY))
    assert "I/O cost: protocol inside each service" not in rows
    changed = override(sim.load_scenario(TINY), ["messaging.client.io=null"])
    got = cells(changed)["I/O cost: protocol inside each service"]
    assert got[1] == "free (io: null)" and got[0].startswith("5.5 µs per wake-up")


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: Path(p).stem)
def test_zeroed_scenario_has_no_overhead_left_for_the_ledger(path: Path) -> None:
    sc = zero_overheads(sim.load_scenario(path))
    for path, what, v in overheads(sc):
        if what == "io":
            assert v is None, path
        elif what == "tls":
            assert v.version == "none", path
        else:
            assert not v.enabled, path
    topics = {r.topic for r in build_ledger(sc).rows}
    assert "I/O cost" not in topics and "TLS" not in topics


def _requests(res: sim.RunResult) -> pd.DataFrame:
    r = res.requests
    return r[r["kind"] == "request"].sort_values("request_id").reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: Path(p).stem)
def test_zero_overhead_architectures_are_identical(path: Path) -> None:
    """Every bundled scenario, overheads off: the same latency for every request."""
    sc = zero_overheads(sim.load_scenario(path))
    sc = override(sc, ["run.duration=3", "run.warmup=0.5", "run.replications=1", "run.rows=all"])
    h, m = sim.simulate(sc, "http", seed=5), sim.simulate(sc, "messaging", seed=5)
    hr, mr = _requests(h), _requests(m)
    assert len(hr) > 20
    np.testing.assert_array_equal(hr["request_id"].to_numpy(), mr["request_id"].to_numpy())
    np.testing.assert_array_equal(hr["status"].to_numpy(), mr["status"].to_numpy())
    np.testing.assert_array_equal(hr["latency"].to_numpy(), mr["latency"].to_numpy())
    he, me = (r.requests[r.requests["kind"] != "request"] for r in (h, m))
    for flow in set(he["flow"]) & set(me["flow"]):
        a = np.sort(he[he["flow"] == flow]["latency"].to_numpy())
        b = np.sort(me[me["flow"] == flow]["latency"].to_numpy())
        np.testing.assert_array_equal(a, b, err_msg=flow)
    if set(he["flow"]) != set(me["flow"]):  # one side delivers what the other cannot
        assert "accounts: isolation" in cells(sc), "a one-sided event flow the ledger omits"
