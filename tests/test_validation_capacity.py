"""The capacity check: expected utilisation from the scenario alone, overload warnings and
subject lints (sim.validation.capacity)."""

from __future__ import annotations

import pytest

import sim
from sim.scenario.http import Proxy
from sim.validation.capacity import (
    arrival_rate,
    capacity_report,
    expected_loads,
    flow_rates,
    service_work,
)
from tests.helpers import flagship, minimal, queue_scenario, scenario

MS = 1e-3


def _loads(sc: sim.Scenario) -> dict[str, float]:
    return {f"{ld.architecture}/{ld.component}": ld.utilisation for ld in expected_loads(sc)}


def _io(p: Proxy, tls: bool) -> float:
    """One read or write of 1 KB that is its own warm wake-up (sim.core.io)."""
    io = p.io
    assert io is not None
    plain = io.wakeup + io.per_message + 1024 * io.per_byte
    return plain + (io.tls_per_record + 1024 * io.tls_per_byte if tls else 0.0)


def _proxy_pass(p: Proxy, tls_links: int) -> float:
    """One request through a proxy, by hand: its L7 work and four reads or writes, two per
    link, on (m)TLS links or plain (a sidecar's app side)."""
    return p.cpu_per_request + 2 * tls_links * _io(p, True) + (4 - 2 * tls_links) * _io(p, False)


def test_flagship_loads_by_hand() -> None:
    """200 orders/s; each order: create (lognormal 1.5 ms) → dispatch (1 ms), ORDERS.created
    to notify (shared, 0.5 ms) and audit (each), audit also mirrors both request subjects."""
    sc = flagship()
    u = _loads(sc)
    side = _proxy_pass(sc.http.sidecar, 1) / 2  # per pass, over 2 cores
    # a gateway: the edge (TLS) and the mesh (mTLS), and the audit's mirror of each request
    # (written and its answer read on mTLS)
    gw = (_proxy_pass(sc.http.gateway, 2) + 2 * _io(sc.http.gateway, True)) / 2
    b = sc.messaging.broker.io
    assert b is not None
    op = b.wakeup + b.per_message + b.tls_per_record  # one read or write (bytes not estimated)
    for i in range(3):
        assert u[f"both/order-create-{i}"] == pytest.approx(200 / 3 * 1.5 * MS)
        assert u[f"both/order-dispatch-{i}"] == pytest.approx(200 / 3 * 1 * MS)
        # inbound 200/3, outbound call 200/3, two webhooks per order: 4 × 200/3 passes
        # … and its route mirrors ORDERS.cmd.dispatch to the audit: a write and a read on mTLS
        mirror = 200 / 3 * 2 * _io(sc.http.sidecar, True) / 2
        assert u[f"http/order-create-{i}.sidecar"] == pytest.approx(4 * 200 / 3 * side + mirror)
        assert u[f"http/order-dispatch-{i}.sidecar"] == pytest.approx(200 / 3 * side)
    for i in range(2):
        assert u[f"both/order-notify-{i}"] == pytest.approx(100 * 0.5 * MS)
        assert u[f"http/gateway-{i}"] == pytest.approx(100 * gw)
    # audit hears ORDERS.cmd.create, ORDERS.cmd.dispatch (mirrors) and ORDERS.created
    assert u["both/order-audit-0"] == pytest.approx(3 * 200 * 0.1 * MS)
    assert u["http/order-audit-0.sidecar"] == pytest.approx(600 * side)
    # NATS per order: 5 messages read (2 requests, 2 replies, 1 event) and 8 copies written
    # (create: responder + audit + reply; dispatch: the same; event: notify + audit)
    assert u["messaging/nats-0"] == pytest.approx(200 * (5 + 8) * op / 2)


def test_no_warning_for_the_flagship() -> None:
    assert capacity_report(flagship()) == []


def test_overload_is_reported_per_component() -> None:
    # 3000/s over 3 instances: order-create 1000/s × 1.5 ms = 1.5, order-dispatch 1000/s ×
    # 1 ms = 1.0 (exactly saturated); the audit (9000/s × 0.1 ms = 0.9) and its sidecar
    # (9000 × 0.2 ms / 2 cores = 0.9) are below 1
    warnings = capacity_report(flagship("workload.arrivals.rate=3000"))
    over = {w.where for w in warnings if w.code == "overload"}
    assert over == {f"order-{s}-{i}" for s in ("create", "dispatch") for i in range(3)}
    w = next(w for w in warnings if w.where == "order-create-0")
    assert w.utilisation == pytest.approx(1.5)
    assert "no steady state" in str(w)


def test_utilisation_of_exactly_one_is_an_overload() -> None:
    sc = queue_scenario(1000, "{dist: exponential, mean: 1ms}")
    assert [w.where for w in capacity_report(sc)] == ["svc-0"]


def test_arrival_rates_of_each_kind() -> None:
    base = flagship()
    mmpp = "workload.arrivals={kind: mmpp, rates: [100, 400], mean_sojourn: [3s, 1s]}"
    assert arrival_rate(flagship(mmpp)) == pytest.approx((100 * 3 + 400 * 1) / 4)
    prof = "workload.arrivals={kind: profile, steps: [{at: 0, rate: 50}, {at: 10s, rate: 900}]}"
    assert arrival_rate(flagship(prof)) == 900
    closed = "workload.arrivals={kind: closed, users: 40, think: {dist: constant, value: 0.2}}"
    assert arrival_rate(flagship(closed)) == pytest.approx(200)
    assert flow_rates(base) == {"create-order": 200}


SUBJECTS = """
name: lint
services:
  a:
    operations:
      op:
        demand: {dist: constant, value: 1ms}
        emits: [{subject: ORDERS.created}, {subject: ORDERS.lost}]
  b:
    operations:
      handle: {demand: {dist: constant, value: 1ms}}
    subscriptions:
      - {subject: ORDERS.created, operation: handle}
      - {subject: "PAYMENTS.>", operation: handle}
workload:
  arrivals: {kind: poisson, rate: 10}
  flows: [{name: f, service: a, operation: op}]
"""


def test_subject_lints() -> None:
    warnings = capacity_report(scenario(SUBJECTS))
    codes = {(w.code, w.where) for w in warnings}
    assert codes == {("unheard-subject", "ORDERS.lost"), ("unfed-subscription", "PAYMENTS.>")}
    assert "a.op" in next(str(w) for w in warnings if w.where == "ORDERS.lost")


def test_service_work_moments_by_hand() -> None:
    """Compound Poisson moments: rate × E[W] and rate × E[W²] per service."""
    sw = service_work(flagship())
    mean, second = sw["order-dispatch"]
    assert mean == pytest.approx(200 * 1 * MS)
    assert second == pytest.approx(200 * 2 * MS * MS)  # exponential: E[S²] = 2 mean²
    # audit: three independent constant 0.1 ms copies per order: W = 0.3 ms exactly
    mean, second = sw["order-audit"]
    assert (mean, second) == (pytest.approx(200 * 0.3 * MS), pytest.approx(200 * (0.3 * MS) ** 2))


def test_probabilistic_calls_in_service_work() -> None:
    sc = sim.load_scenario("scenarios/validation/routing.yaml")
    mean, second = service_work(sc)["ledger"]
    # W = B·S with B ~ Bernoulli(0.5), S ~ Exp(2 ms): E[W] = 1 ms, E[W²] = 0.5 · 8 ms²
    assert mean == pytest.approx(600 * 0.5 * 2 * MS)
    assert second == pytest.approx(600 * 0.5 * 2 * (2 * MS) ** 2)


@pytest.mark.slow
def test_expected_infrastructure_load_matches_a_run() -> None:
    """With no cold or deep wake-ups and no per-byte work, gateways, sidecars and the broker cost a
    fixed CPU per read or write at 200/s (batches are rare), so a 20 s run (≈ 4000 orders;
    Poisson count sd ≈ 1.6 %) must land within 5 % (≈ 3 sd) of the expected busy cores,
    summed by kind."""
    warm = [
        f"{p}.io.{f}=0"
        for p in ("http.gateway", "http.sidecar", "messaging.broker")
        for f in ("cold_wakeup", "deep_wakeup", "per_byte", "tls_per_byte")
    ]
    # the single-server setup: the estimate knows one broker server and direct clients (no
    # route hops, no edge bridge)
    sc = minimal("run.duration=20", "run.warmup=2", *warm)
    loads = expected_loads(sc)
    cmp = sim.compare(sc, replications=1)
    comps = cmp.frame("components")
    for arch, kind in (("http", "gateway"), ("http", "sidecar"), ("messaging", "broker")):
        want = sum(ld.busy for ld in loads if ld.kind == kind and ld.architecture == arch)
        sel = comps[(comps["architecture"] == arch) & (comps["kind"] == kind)]
        got = float(sel["cpu_seconds"].sum()) / sc.run.duration
        assert got == pytest.approx(want, rel=0.05), (arch, kind)
