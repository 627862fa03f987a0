"""Every mechanism of the source article, demonstrated by a bundled scenario (scenarios/README.md
maps each to its file): each runs briefly on both architectures and the mechanism is checked
by what happened — counts of requests, deliveries and who handled them — not by exit codes."""

from __future__ import annotations

import pandas as pd
import pytest

import sim
from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # each runs both architectures for 10–40 simulated seconds


def _compare(name: str, *sets: str) -> sim.Comparison:
    return sim.compare(sim.load_scenario(str(ROOT / "scenarios" / f"{name}.yaml"), list(sets)))


def _handled(r: sim.RunResult) -> dict[str, int]:
    """Requests or deliveries each component handled over the run, by name."""
    c = r.components
    return {n: int(h) for n, h in zip(c["name"], c["handled"], strict=True)}


def _by_kind(r: sim.RunResult, kind: str) -> pd.DataFrame:
    return r.components[r.components["kind"] == kind]


def _requests(r: sim.RunResult) -> pd.DataFrame:
    return r.requests[r.requests["kind"] == "request"]


def _deliveries(r: sim.RunResult, flow: str) -> int:
    ev = r.requests[r.requests["kind"] != "request"]
    return int((ev["flow"] == flow).sum())


def _runs(cmp: sim.Comparison) -> tuple[sim.RunResult, sim.RunResult]:
    return cmp.http[0], cmp.messaging[0]


def test_internal_calls_through_the_gateway_double_its_work_sidecars_take_it_over() -> None:
    short = ("run.duration=10s", "run.warmup=2s")
    h, m = _runs(_compare("internal-gateway", *short))
    gw = _by_kind(h, "gateway")["handled"].sum()
    total = 12 * 200  # every order of the run (warm-up included) passes the gateway
    assert gw > 1.8 * total and len(_by_kind(h, "sidecar")) == 0  # edge + internal passes
    assert (_requests(h)["status"] == "ok").all() and len(_requests(h)) > 1800
    hm, _ = _runs(
        _compare(
            "internal-gateway", *short, "http.internal_route=mesh", "http.sidecar.enabled=true"
        )
    )
    assert _by_kind(hm, "gateway")["handled"].sum() < 1.2 * total  # the edge only
    assert len(_by_kind(hm, "sidecar")) == 6
    assert len(_by_kind(m, "gateway")) == 0 and _by_kind(m, "bridge")["handled"].sum() > 0


def test_consul_is_fed_by_the_orchestrator_the_broker_needs_no_catalog() -> None:
    h, m = _runs(_compare("consul-discovery", "run.duration=20s", "run.warmup=5s"))
    consul = _by_kind(h, "discovery")
    assert list(consul["name"]) == ["consul-server"]
    assert consul["handled"].iloc[0] >= 1  # the new instance's registration went out
    new = "order-dispatch-2"
    assert _handled(h)[new] > 0 and _handled(m)[new] > 0
    # the subscription is the registration: the broker's new member worked longer
    assert _handled(m)[new] > 1.5 * _handled(h)[new]
    assert len(_by_kind(m, "discovery")) == 0


def test_rolling_upgrade_replaces_every_instance_and_loses_no_order() -> None:
    h, m = _runs(_compare("rolling-upgrade", "run.duration=35s", "run.warmup=5s"))
    for r in (h, m):
        served = _handled(r)
        assert all(served[f"order-dispatch-{i}"] > 0 for i in (3, 4, 5))  # the new version
        assert (_requests(r)["status"] == "ok").all()
    assert len(_by_kind(m, "broker")) == 3  # no broker change, no discovery component


def test_one_to_one_addressing_reaches_only_the_named_instance() -> None:
    h, m = _runs(_compare("instance-addressing", "run.duration=10s", "run.warmup=2s"))
    for r in (h, m):
        served = _handled(r)
        assert served["session-store-1"] > 2000
        assert served["session-store-0"] == served["session-store-2"] == 0


def test_broadcast_gives_every_instance_a_copy_of_every_event() -> None:
    h, m = _runs(_compare("broadcast", "run.duration=10s", "run.warmup=2s"))
    for r in (h, m):
        served = _handled(r)
        events = served["pricing-0"] + served["pricing-1"]
        assert all(served[f"price-cache-{i}"] == events for i in range(4))
        assert _deliveries(r, "PRICES.changed → price-cache") > 3.5 * len(_requests(r))


def test_queue_group_shares_each_event_once_over_the_members() -> None:
    sets = ("run.duration=10s", "run.warmup=2s")
    cmp = sim.compare(sim.load_scenario(str(ROOT / "scenarios" / "order-service.yaml"), sets))
    for r in _runs(cmp):
        served = _handled(r)
        notify = [served["order-notify-0"], served["order-notify-1"]]
        created = sum(served[f"order-create-{i}"] for i in range(3))
        assert abs(sum(notify) - created) <= 5  # once per event (a few in flight at the end)
        assert min(notify) > 0.4 * sum(notify)  # shared, not all on one member


def test_listen_only_audit_hears_every_order_message_on_both_sides() -> None:
    h, m = _runs(_compare("audit-listener", "run.duration=10s", "run.warmup=2s"))
    for flow in ("ORDERS.cmd.create", "ORDERS.cmd.dispatch", "ORDERS.created"):
        nh, nm = _deliveries(h, f"{flow} → order-audit"), _deliveries(m, f"{flow} → order-audit")
        assert nh > 1900 and abs(nh - nm) <= 5
    # over HTTP each copy is one more request through the auditor's sidecar
    side = _by_kind(h, "sidecar")
    assert side[side["service"] == "order-audit"]["handled"].sum() == _handled(h)["order-audit-0"]


def test_scaling_by_starting_an_instance_broker_members_work_before_mesh_endpoints() -> None:
    h, m = _runs(_compare("scale-out", "run.duration=40s", "run.warmup=10s"))
    for r in (h, m):
        served = _handled(r)
        assert served["order-dispatch-2"] > 0 and served["order-dispatch-3"] > 0
    assert _handled(m)["order-dispatch-2"] > _handled(h)["order-dispatch-2"]


def test_geographic_failover_moves_dispatch_to_the_other_region_on_both_sides() -> None:
    h, m = _runs(_compare("region-failover", "run.duration=25s", "run.warmup=10s"))
    for r in (h, m):
        served = _handled(r)
        assert sum(served[f"order-dispatch-us-{i}"] for i in range(3)) > 5 * 200 * 0.8
        assert (_requests(r)["status"] != "ok").sum() <= 50
