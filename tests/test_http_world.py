"""A hand-driven HTTP world for the ``test_http_*`` files, and a few checks of its wiring.

:class:`World` builds what a run builds (environment, streams, application, transport,
the instances present at time 0) but starts no workload: a test sends the requests it
wants at the instants it wants, from the component it wants, and reads the transport's
log, counters and components directly. ``quiet()`` is the YAML that makes a hop cost
nothing (zero RTT and bandwidth time, no TLS CPU, no proxy CPU) so that times are exact.
"""

from __future__ import annotations

import pytest

from sim.core.trace import BUCKETS
from tests.worlds import QUIET_NET, QUIET_PROXY, QUIET_TLS, World, quiet

# --------------------------------------------------------------------------- checks
TWO = f"""
placement:
  regions: [{{name: r, zones: [a]}}]
  {QUIET_NET}
services:
  api:
    instances: 1
    operations:
      call: {{calls: [{{service: backend, operation: op}}], request_bytes: 0, response_bytes: 0}}
  backend:
    instances: 2
    operations:
      op: {{demand: {{dist: constant, value: 1ms}}, request_bytes: 0, response_bytes: 0}}
workload:
  arrivals: {{kind: constant, rate: 1}}
  flows: [{{name: f, service: api, operation: call}}]
"""


def test_edge_request_through_gateway_and_two_sidecars_has_exact_latency() -> None:
    """Zero network, zero proxy CPU: latency is the backend's 1 ms of CPU, nothing else."""
    http = f"http: {{sidecar: {QUIET_PROXY}, gateway: {QUIET_PROXY}, tls: {QUIET_TLS}}}"
    w = World(quiet(TWO + http))
    w.send(0.5, None, "api", "call")
    w.run(1)
    (d,) = w.done
    assert d.status == "ok"
    assert d.latency == pytest.approx(1e-3, abs=1e-15)
    assert sum(getattr(d.trace, b) for b in BUCKETS) == pytest.approx(d.latency, abs=1e-15)


def test_components_of_the_mesh() -> None:
    w = World(quiet(TWO))
    kinds = sorted(c.kind for c in w.t.components())
    assert kinds == ["control-plane", "discovery", "gateway", "gateway"] + ["sidecar"] * 3
    assert w.t.flavour == "xds"
    # every proxy holds one xDS stream to istiod
    assert w.comp("istiod").conns_opened == 5


def test_no_mesh_means_kube_proxy_and_no_control_plane() -> None:
    w = World(quiet(TWO + "http: {sidecar: {enabled: false}, gateway: {enabled: false}}"))
    assert w.t.flavour == "kube-proxy"
    assert [c.kind for c in w.t.components()] == ["discovery"]
    w.send(0.1, w.inst("api-0"), "backend", "op")
    w.run(1)
    assert [d.status for d in w.done] == ["ok"]
