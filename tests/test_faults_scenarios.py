"""The fault scenarios load (with their documented ``--set`` variants) and teach what their
comment blocks say; the full runs are marked slow (each takes 10–20 s per variant)."""

from __future__ import annotations

import math

import pytest

import sim
from sim.faults.measures import disturbance_table
from tests.helpers import ROOT

FILES = ("scale-out", "instance-crash", "region-failover", "retry-storm")
VARIANTS = {
    "instance-crash": [["timeline.0.mode=silent"]],
    "scale-out": [["timeline=[]", "services.order-dispatch.autoscale={target: 0.5, period: 15s}"]],
    "region-failover": [["http.failover=dns"]],
    "retry-storm": [
        [
            "http.routes.inventory.retries.budget_percent=20",
            "messaging.requests.inventory.retries.budget_percent=20",
        ]
    ],
}
BUDGET = VARIANTS["retry-storm"][0]


def _path(name: str) -> str:
    return str(ROOT / "scenarios" / f"{name}.yaml")


@pytest.mark.parametrize("name", FILES)
def test_scenario_and_its_variants_load_and_say_what_they_teach(name: str) -> None:
    text = (ROOT / "scenarios" / f"{name}.yaml").read_text(encoding="utf-8")
    assert "What it teaches" in text
    for sets in [[], *VARIANTS.get(name, [])]:
        sc = sim.load_scenario(_path(name), sets)
        assert sc.timeline or any(s.autoscale for s in sc.services.values())


def _row(cmp: sim.Comparison, arch: str) -> dict[str, float]:
    t = disturbance_table(cmp)
    return dict(t[t["architecture"] == arch].iloc[0])


@pytest.mark.slow
def test_region_failover_both_move_within_seconds_with_mesh_locality() -> None:
    cmp = sim.compare(sim.load_scenario(_path("region-failover")))
    m, h = _row(cmp, "messaging"), _row(cmp, "http")
    assert m["failed"] <= 5  # what the crashed members held, if anything
    # the mesh: endpoints removed within ≈1.2 s and refused hosts ejected at once; Istio's
    # retries (connect-failure) hide the rest
    assert h["failed"] <= 50 and h["converged"] < 3
    req = cmp.http[0].requests[cmp.http[0].requests["kind"] == "request"]
    assert (req["status"] != "ok").mean() < 0.001  # DNS-only failover: ≈25 % (test below)


@pytest.mark.slow
def test_region_failover_the_broker_moves_at_once_http_after_dns() -> None:
    cmp = sim.compare(sim.load_scenario(_path("region-failover"), ["http.failover=dns"]))
    m, h = _row(cmp, "messaging"), _row(cmp, "http")
    assert m["failed"] <= 5  # what the crashed members held, if anything
    # HTTP: every call fails from the crash until order-create's cached answers move to us:
    # the flip (3 × 10 s health checks) plus up to the 60 s TTL
    assert 20 <= h["last_failure"] <= 20 + 60 + 1
    assert h["failed"] >= 200 * 20
    for r in cmp.results():  # afterwards, the 75 ms round trip on every order
        req = r.requests[r.requests["kind"] == "request"]
        before = req[req["start"] < 29]["latency"].median()
        after = req[req["start"] > 115]["latency"].median()
        assert 0.070 < after - before < 0.080


@pytest.mark.slow
def test_retry_storm_outlives_its_trigger_unless_a_budget_caps_it() -> None:
    storm = sim.compare(sim.load_scenario(_path("retry-storm")))
    capped = sim.compare(sim.load_scenario(_path("retry-storm"), BUDGET))
    for arch in ("http", "messaging"):
        s, c = _row(storm, arch), _row(capped, arch)
        assert math.isnan(s["time_to_recover"])  # still failing at the end of the run
        assert s["retry_amplification"] > 1.5
        assert c["retry_amplification"] < 1.25
        assert c["time_to_recover"] < 40 and c["failed"] < s["failed"]
