"""The broker's memory and CPU grow with connections, subscriptions and message rate exactly
as configured (10, 100 and 1,000 clients).

Memory over the measured window: baseline + per connection (server + TLS) + per
subscription (each client's inbox; the instance's inbox, responder and per-instance
subjects) + per message read per second + pending bytes (≈ 0 at 10 Gbit/s). CPU: every request and every reply is read
once and written once, each its own wake-up at these rates (sim.core.io):
``4 × (wakeup + per_message)`` per request; the TLS handshakes and the first pings fall in the
warm-up. Every CPU second is booked to an account.
"""

from __future__ import annotations

import pytest

import sim
from sim.results import RunResult
from sim.scenario.messaging import MessagingSettings
from tests.helpers import scenario

WARMUP, DURATION = 3.0, 5.0


def run(clients: int, rate: float) -> RunResult:
    text = f"""
name: scale
run: {{duration: {DURATION}, warmup: {WARMUP}}}
services:
  svc:
    operations:
      op: {{request_bytes: 100, response_bytes: 100}}
workload:
  arrivals: {{kind: constant, rate: {rate}}}
  clients: {clients}
  flows: [{{name: f, service: svc, operation: op}}]
messaging:
  broker:
    io: {{wakeup: 2us, per_message: 1us, cold_wakeup: 0, deep_wakeup: 0, per_byte: 0,
          tls_per_record: 0,
          tls_per_byte: 0}}
"""
    return sim.simulate(scenario(text), "messaging")


def broker_row(r: RunResult) -> dict[str, float]:
    row = r.components[r.components["kind"] == "broker"].iloc[0]
    return dict(memory=row["memory_mean"], cpu=row["cpu_seconds"], conns=row["connections_mean"])


@pytest.mark.parametrize("clients", [10, 100, 1000])
def test_memory_grows_with_connections_and_subscriptions(clients: int) -> None:
    r = run(clients, 100.0)
    got = broker_row(r)
    m = MessagingSettings()  # the defaults the scenario uses
    conns = clients + 1
    subs = clients + 3
    per_conn = m.broker.memory_per_connection + m.tls.memory_per_connection
    expected = m.broker.memory + conns * per_conn + subs * m.broker.memory_per_subscription
    # and with throughput: each of 100 requests/s is read twice (request, reply) every second
    expected += m.broker.memory_per_message_rate * 2 * 100.0
    assert got["conns"] == conns
    assert got["memory"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("clients", [10, 100, 1000])
def test_cpu_grows_with_message_rate_and_is_booked_per_account(clients: int) -> None:
    rate = 2.0 * clients
    r = run(clients, rate)
    got = broker_row(r)
    per_request = 4 * (2e-6 + 1e-6)
    expected = rate * DURATION * per_request
    assert got["cpu"] == pytest.approx(expected, rel=2e-3)  # requests across the window edges
    b = r.broker
    booked = b[(b["scope"] == "account") & (b["metric"] == "cpu_seconds")]["value"].sum()
    assert booked == pytest.approx(got["cpu"], rel=2e-3)
    msgs = b[(b["scope"] == "server") & (b["metric"] == "messages_in")]["value"].sum()
    assert msgs == pytest.approx(2 * rate * DURATION, rel=2e-3)
