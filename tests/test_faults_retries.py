"""Retry storms: retries multiply the load on a slow dependency; a budget caps it.

The world: 500 requests/s from the edge straight to ``slow`` (two instances of 256 cores:
no queueing), whose work takes 200 ms, while every requester gives an attempt 50 ms and
retries up to 3 times at once (no back-off). The same policy on both sides: HTTP through
the gateway's route (per-try timeout, retry on per-try-timeout), messaging through the
requester's retry loop (``request_timeout``, retry on timeout).

* no budget: every attempt times out, so every request makes exactly 4 attempts, at t,
  t + 50, t + 100 and t + 150 ms, and the slow service is offered 4 × 500 = 2,000
  requests/s. A request fails after 200 ms; nothing is counted twice.
* budget 20 % (Envoy RetryBudget): a retry is allowed while the retries in flight (not
  counting the one asking) are fewer than 20 % of the requester's requests in flight.
  With λτ = 25 first attempts in flight (500/s × 50 ms) plus the retries R, the retry
  that is let in brings R to at most 0.2 (λτ + R) + 1 ⇒ R ≤ (0.2 λτ + 1) / 0.8 = 7.5 in
  flight, a retry rate of at most R / τ: attempts / requests ≤ 1 + (0.2 + 1/(λτ)) / 0.8
  = 1.3 — against 4 without it.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.faults.detection import counters
from tests.helpers import scenario
from tests.test_faults_world import world

RATE, TRY, WORK, END = 500.0, 0.05, 0.2, 3.0


def _sc(budget: str) -> str:
    b = f", budget_percent: {budget}" if budget else ""
    return f"""
name: storm
run: {{duration: {END}, warmup: 0}}
placement:
  regions: [{{name: r, zones: [a]}}]
  network: {{same_host_rtt: 0, same_zone_rtt: 0, cross_zone_rtt: 0, bandwidth: 1e30}}
services:
  slow:
    instances: 2
    cores: 256
    operations:
      op: {{demand: {{dist: constant, value: {WORK}}}, request_bytes: 0, response_bytes: 0}}
workload:
  arrivals: {{kind: constant, rate: {RATE}}}
  clients: 1
  flows: [{{name: f, service: slow, operation: op}}]
http:
  protocol: http2
  gateway: {{replicas: 1, cpu_per_request: 0, io: null, config_cpu: 0}}
  sidecar: {{cpu_per_request: 0, io: null, config_cpu: 0}}
  stack: {{io: null}}
  tls: {{version: none}}
  routes:
    slow: {{retries: {{attempts: 3, retry_on: [per-try-timeout], per_try_timeout: {TRY},
                       backoff_base: 0{b}}}}}
messaging:
  broker: {{io: null}}
  client: {{io: null}}
  tls: {{version: none}}
  request_timeout: {TRY}
  retries: {{attempts: 3, backoff_base: 0{b}}}
"""


def _offered(w: object) -> float:
    return float(sum(i.handled for i in w.app.instances["slow"]))  # type: ignore[attr-defined]


@pytest.mark.parametrize("arch", ["http", "messaging"])
def test_without_a_budget_every_request_makes_four_attempts(arch: str) -> None:
    w = world(scenario(_sc("")), arch).run(END)
    # constant arrivals: one every 1/rate, by repeated timeouts (float sums, as the run)
    arrivals = np.cumsum(np.full(w.app.recorder.generated, 1 / RATE))
    due = sum(int(np.sum(arrivals + j * TRY < END - 1e-9)) for j in range(4))
    assert abs(_offered(w) - due) <= 4  # the attempts due by the end, give or take an instant
    req = w.requests()
    assert (req["status"] == "timeout").all()
    assert (req["latency"].round(9) == round(4 * TRY, 9)).all()
    assert req["request_id"].is_unique  # one row per logical request, however many attempts
    c = counters(w.app)
    assert c["requests"] == len(arrivals)
    assert abs(c["attempts"] - due) <= 4


@pytest.mark.parametrize("arch", ["http", "messaging"])
def test_a_twenty_percent_budget_caps_amplification(arch: str) -> None:
    w = world(scenario(_sc("20")), arch).run(END)
    c = counters(w.app)
    factor = c["attempts"] / c["requests"]
    bound = 1 + (0.2 + 1 / (RATE * TRY)) / (1 - 0.2)
    assert 1.2 < factor <= bound
    assert _offered(w) <= bound * w.app.recorder.generated


def test_backoff_is_full_jitter_capped_at_ten_times_the_base() -> None:
    from sim.messaging.retry import backoff
    from sim.scenario.messaging import RequestRetries

    cfg = RequestRetries(attempts=5, backoff_base=0.025)
    assert [backoff(cfg, n, 1.0) for n in (1, 2, 3, 4)] == pytest.approx(
        [0.025, 0.075, 0.175, 0.25]  # base × (2ⁿ − 1), capped at 10 × base
    )
    assert backoff(cfg, 3, 0.5) == pytest.approx(0.0875)
