"""Connection pools on the HTTP side: exact times and counts on tiny scenarios.

One caller instance (``api-0``) sends to one backend instance through the sidecar mesh.
The network, proxy CPU and TLS CPU cost nothing, so a request's latency is the backend's
10 ms of CPU plus whatever it waited for; the backend has 4 cores, so the only place to
wait is a pool.
"""

from __future__ import annotations

import pytest

from tests.worlds import QUIET_NET, QUIET_PROXY, QUIET_TLS, World, quiet


def _world(
    protocol: str,
    max_connections: int = 1,
    idle: float = 3600.0,
    callers: int = 1,
    sidecar: str = QUIET_PROXY,
) -> World:
    return World(
        quiet(
            f"""
placement:
  regions: [{{name: r, zones: [a]}}]
  {QUIET_NET}
services:
  api:
    instances: {callers}
    operations:
      call: {{calls: [{{service: backend, operation: op}}]}}
  backend:
    instances: 1
    cores: 4
    operations:
      op: {{demand: {{dist: constant, value: 10ms}}}}
workload:
  arrivals: {{kind: constant, rate: 1}}
  flows: [{{name: f, service: api, operation: call}}]
http:
  protocol: {protocol}
  gateway: {{enabled: false}}
  sidecar: {sidecar}
  pool: {{max_connections: {max_connections}, idle_timeout: {idle}}}
  tls: {QUIET_TLS}
"""
        )
    )


def test_http1_with_pool_limit_1_queues_concurrent_callers_at_the_pool() -> None:
    w = _world("http1")
    for _ in range(3):
        w.send(0.1, w.inst("api-0"), "backend", "op")
    w.run(1)
    lat = sorted(d.latency for d in w.done)
    assert lat == pytest.approx([0.010, 0.020, 0.030], abs=1e-12)
    waits = sorted(d.trace.queueing for d in w.done)
    assert waits == pytest.approx([0.0, 0.010, 0.020], abs=1e-12)
    # one connection per link, reused by all three
    assert w.comp("api-0.sidecar").conns_opened == 1 + 1 + 1  # from app, to backend, xDS


def test_http2_multiplexes_concurrent_callers_without_queueing() -> None:
    w = _world("http2")
    for _ in range(3):
        w.send(0.1, w.inst("api-0"), "backend", "op")
    w.run(1)
    assert [d.latency for d in w.done] == pytest.approx([0.010] * 3, abs=1e-12)
    assert [d.trace.queueing for d in w.done] == pytest.approx([0.0] * 3, abs=1e-12)


def test_http1_without_a_limit_opens_a_connection_per_concurrent_caller() -> None:
    w = _world("http1", max_connections=8)
    for _ in range(3):
        w.send(0.1, w.inst("api-0"), "backend", "op")
    w.run(1)
    assert [d.latency for d in w.done] == pytest.approx([0.010] * 3, abs=1e-12)
    sc, app = w.comp("api-0.sidecar"), w.comp("api-0")
    assert app.conns_opened == 3  # plaintext, app → its sidecar
    assert sc.conns_opened == 3 + 3 + 1  # from app, mTLS to the backend sidecar, xDS


@pytest.mark.parametrize("protocol", ["http1", "http2"])
def test_tls_handshakes_equal_new_tls_connections(protocol: str) -> None:
    w = _world(protocol, max_connections=4)
    for k in range(40):
        w.send(0.1 + 0.002 * k, w.inst("api-0"), "backend", "op")
    w.run(2)
    assert len(w.done) == 40
    plain = {"api-0.sidecar": w.comp("api-0"), "backend-0.sidecar": w.comp("backend-0")}
    for name, app in plain.items():
        sc = w.comp(name)
        assert sc.handshakes_tls == sc.conns_opened - app.conns_opened  # mTLS ones only
        assert sc.handshakes_mtls == sc.handshakes_tls
        assert sc.handshakes_tcp == sc.conns_opened
        assert app.handshakes_tls == 0
    istiod = w.comp("istiod")
    assert istiod.handshakes_tls == istiod.conns_opened == 2
    if protocol == "http2":
        assert w.comp("backend-0.sidecar").conns_opened == 1 + 1 + 1
    else:
        assert w.comp("backend-0.sidecar").conns_opened > 3


def test_idle_timeout_costs_new_handshakes_after_quiet_periods() -> None:
    """Idle timeout 2 s; requests at 1, 2, 5, 5.5 and 10 s: quiet spells after 2.01 and 5.51."""
    w = _world("http1", idle=2.0)
    for at in (1.0, 2.0, 5.0, 5.5, 10.0):
        w.send(at, w.inst("api-0"), "backend", "op")
    w.run(11)
    assert len(w.done) == 5
    sc = w.comp("api-0.sidecar")
    assert sc.handshakes_tls == 3 + 1  # to backend at 1, 5 and 10 s; the xDS stream
    assert w.comp("api-0").handshakes_tcp == 3  # app → sidecar: the same idle timeout
    assert sc.conns_closed == 2 + 2  # both links closed at 4.01 and 7.51 s
    assert w.comp("backend-0.sidecar").handshakes_tls == 3 + 1


def _two_callers(per_worker: bool) -> World:
    """Two caller instances, each with one keep-alive connection into the backend's sidecar
    (2 workers): the connections are accepted by worker 0 and worker 1 in turn."""
    flag = str(per_worker).lower()
    return _world("http1", callers=2, sidecar=QUIET_PROXY[:-1] + f", pools_per_worker: {flag}}}")


@pytest.mark.parametrize("per_worker", [True, False])
def test_each_envoy_worker_keeps_its_own_upstream_pools(per_worker: bool) -> None:
    """Envoy: a connection stays on the worker that accepted it and pools are not shared
    between workers, so requests arriving on two connections bound to two workers open two
    connections to the same upstream, one after the other — not one, as a shared pool would."""
    w = _two_callers(per_worker)
    w.send(0.1, w.inst("api-0"), "backend", "op")  # api-0's sidecar → backend's: worker 0
    w.send(0.5, w.inst("api-1"), "backend", "op")  # api-1's sidecar → backend's: worker 1
    w.send(0.9, w.inst("api-0"), "backend", "op")  # worker 0 again: its pool is warm
    w.run(2)
    assert len(w.done) == 3
    inbound = w.comp("backend-0.sidecar")
    # into the app behind it: one connection per worker's pool, or one shared
    into_app = inbound.peers.get("backend-0", 0)
    assert into_app == (2 if per_worker else 1)
    assert w.comp("backend-0").handshakes_tcp == into_app
