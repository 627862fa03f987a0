"""One real trace: a three-service Python application instrumented with the OpenTelemetry
SDK (tests/otel_app.py, loopback only, bounded) serves orders; its spans, written as OTLP
JSON by the official encoder, are imported and the imported scenario is simulated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.cli import main
from tests.otel_app import run_app


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path, Path]:
    d = tmp_path_factory.mktemp("real")
    rec = run_app(d / "otel.json", n=120, rate=60.0)
    assert rec.orders == 120  # every order was served (a bounded run, nothing lost)
    out = d / "imported.yaml"
    assert main(["import", "traces", str(d / "otel.json"), "--out", str(out)]) == 0
    return rec, d, out


def test_real_traces_give_the_application_it_came_from(real) -> None:
    rec, d, out = real
    sc = sim.load_scenario(out)
    svc = sc.services
    assert set(svc) == {"frontend", "orders", "payments"}
    order = svc["frontend"].operations["order"]
    assert [(c.service, c.operation, c.probability) for c in order.calls] == [
        ("orders", "create", 1.0)
    ]
    create = svc["orders"].operations["create"]
    (charge,) = create.calls
    assert (charge.service, charge.operation) == ("payments", "charge")
    assert charge.probability == pytest.approx(rec.charged / rec.orders)  # the app's own count
    assert [(e.subject, e.bytes) for e in create.emits] == [("orders.created", 200)]
    (sub,) = svc["payments"].subscriptions
    assert (sub.subject, sub.operation) == ("orders.created", "ledger")
    starts = np.sort(rec.starts)
    rate = (len(starts) - 1) / (starts[-1] - starts[0])
    assert sc.workload.arrivals.rate == pytest.approx(
        rate, rel=1e-3
    )  # span starts vs the app's clock
    # self-time is the handler's own time: at least the work it slept, never a downstream wait
    for s, op, slept in (("orders", "create", "orders"), ("payments", "charge", "payments")):
        assert svc[s].operations[op].demand.mean >= float(np.mean(rec.sleeps[slept]))
    report = (d / "imported-fits" / "fit-report.md").read_text()
    assert (
        "| orders | create | 120 |" in report
        and (d / "imported-fits" / "fit-orders-create.png").exists()
    )


def test_the_imported_real_system_runs_in_both_architectures(real) -> None:
    _, _, out = real
    sc = sim.load_scenario(out, ["run.duration=4s", "run.warmup=1s"])
    cmp = sim.compare(sc)
    s = cmp.summary
    thr = s[(s["flow"] == "all") & (s["metric"] == "throughput")].iloc[0]
    assert thr["http_low"] <= sc.workload.arrivals.rate <= thr["http_high"]
    assert (
        (s[(s["flow"] == "all") & (s["metric"] == "error_rate")][["http", "messaging"]] == 0)
        .all()
        .all()
    )
