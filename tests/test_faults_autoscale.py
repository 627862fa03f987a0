"""The autoscaler: HPA rules, the same decisions on both architectures.

``back`` has two one-core instances doing 8 ms of work for 100 requests/s: a mean
utilisation of exactly 100 × 0.008 / 2 = 0.4 whichever way the requests are spread — the
same on both architectures, since they draw the same work. Evaluations every 5 s; the
first one only starts measuring.

* target 0.25: ratio 1.6, desired ceil(2 × 1.6) = 4 at 10 s; the two new instances boot
  2 s and attach at 12 s (HTTP: then readiness and propagation). With four, utilisation
  0.2: ratio 0.8, desired ceil(4 × 0.8) = 4: no change.
* target 0.9, min 1, stabilisation 10 s: desired 1 from 10 s, but the scale-down waits
  for the first evaluation whose window holds no higher recommendation: the 2 of 5 s is
  still in [5, 15], so 20 s (window [10, 20]); the stopped instance drains, nothing fails.
"""

from __future__ import annotations

import pytest

from tests.helpers import scenario
from tests.test_faults_world import world

SC = """
name: autoscale
run: {{duration: 30, warmup: 0}}
placement:
  regions: [{{name: r, zones: [a]}}]
  network: {{same_host_rtt: 0, same_zone_rtt: 0, cross_zone_rtt: 0, bandwidth: 1e30}}
services:
  back:
    instances: 2
    autoscale: {{min: 1, max: 6, target: {target}, period: 5, scale_down_window: 10}}
    operations:
      op: {{demand: {{dist: constant, value: 8ms}}, request_bytes: 0, response_bytes: 0}}
workload:
  arrivals: {{kind: constant, rate: 100}}
  clients: 1
  flows: [{{name: f, service: back, operation: op}}]
http:
  gateway: {{replicas: 1, cpu_per_request: 0, io: null, config_cpu: 0}}
  sidecar: {{cpu_per_request: 0, io: null, config_cpu: 0}}
  stack: {{io: null}}
  tls: {{version: none}}
  orchestrator: {{readiness: {{period: 1}}}}
messaging:
  broker: {{io: null}}
  client: {{io: null}}
  tls: {{version: none}}
"""


def _decisions(arch: str, target: float) -> tuple[list[tuple[float, int, int]], object]:
    w = world(scenario(SC.format(target=target)), arch).run(30)
    assert w.faults is not None
    (a,) = w.faults.autoscalers
    return [(t, frm, to) for t, _, frm, to in a.decisions], w


@pytest.mark.parametrize("arch", ["http", "messaging"])
def test_scale_up_to_the_target_then_hold(arch: str) -> None:
    decided, w = _decisions(arch, 0.25)
    assert decided == [(10.0, 2, 4)]
    live = w.faults.fleet.live("back")  # type: ignore[attr-defined]
    assert len(live) == 4
    late = [i for i in live if i.index >= 2]
    assert all(i.launched_at == pytest.approx(10.0) for i in late)
    assert all(i.handled > 0 for i in late)


@pytest.mark.parametrize("arch", ["http", "messaging"])
def test_scale_down_waits_for_the_stabilisation_window(arch: str) -> None:
    decided, w = _decisions(arch, 0.9)
    assert decided == [(20.0, 2, 1)]
    req = w.requests()  # type: ignore[attr-defined]
    assert (req["status"] == "ok").all()  # drained
