"""A hand-driven HTTP world for the ``test_http_*`` files, and a few checks of its wiring.

:class:`World` builds what a run builds (environment, streams, application, transport,
the instances present at time 0) but starts no workload: a test sends the requests it
wants at the instants it wants, from the component it wants, and reads the transport's
log, counters and components directly. ``quiet()`` is the YAML that makes a hop cost
nothing (zero RTT and bandwidth time, no TLS CPU, no proxy CPU) so that times are exact.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pytest
import simpy

from sim.api import observers, override
from sim.app.application import Application
from sim.app.service import ServiceInstance
from sim.core.component import Component
from sim.core.network import Network
from sim.core.placement import Placer
from sim.core.recorder import Recorder
from sim.core.streams import Streams
from sim.core.trace import BUCKETS, Trace
from sim.http.mesh import HttpTransport
from sim.scenario import Scenario
from tests.helpers import scenario

QUIET_NET = "network: {same_host_rtt: 0, same_zone_rtt: 0, cross_zone_rtt: 0, bandwidth: 1e30}"
QUIET_PROXY = "{cpu_per_request: 0, io: null, config_cpu: 0}"
QUIET_TLS = "{server_cpu: 0, client_cpu: 0, mutual_cpu: 0}"


@dataclass
class Done:
    """One finished request sent by a test."""

    start: float
    end: float
    status: str
    trace: Trace

    @property
    def latency(self) -> float:
        return self.end - self.start


class World:
    """Application + HTTP transport with the initial instances, and no workload."""

    def __init__(self, sc: Scenario, seed: int = 1):
        self.sc = sc
        self.env = simpy.Environment()
        self.recorder = Recorder()
        self.app = Application(
            self.env,
            sc,
            Streams(seed, 0),
            Network(sc.placement.network),
            Placer(sc.placement),
            self.recorder,
            observers(sc),
        )
        self.t = HttpTransport(self.app, sc.http)
        self.app.transport = self.t
        self.t.start()
        for name, svc in sc.services.items():
            for i in range(svc.instances):
                self.app.start_instance(name, i)
        self.done: list[Done] = []
        self._ids = 0

    def inst(self, name: str) -> ServiceInstance:
        """An instance by name (``service-index``)."""
        for insts in self.app.instances.values():
            for i in insts:
                if i.name == name:
                    return i
        raise KeyError(name)

    def comp(self, name: str) -> Component:
        """Any component (instance or infrastructure) by name."""
        for c in self.t.components() + self.app.components():
            if c.name == name:
                return c
        raise KeyError(name)

    def send(
        self, at: float, caller: Component | None, service: str, operation: str, **kw: Any
    ) -> None:
        """Send one request at time `at` (from the edge clients when caller is None)."""
        self.env.process(self._send(at, caller or self.app.clients, service, operation, kw))

    def _send(
        self, at: float, caller: Component, service: str, operation: str, kw: dict[str, Any]
    ) -> Generator[Any, Any, None]:
        if at > self.env.now:
            yield self.env.timeout(at - self.env.now)
        rid = self._ids
        self._ids += 1
        tr = Trace(rid, f"{service}.{operation}", self.env.now)
        plan = self.app.planner.plan(service, operation)
        start = self.env.now
        status = yield from self.t.request(tr, caller, service, operation, plan, **kw)
        self.done.append(Done(start, self.env.now, status, tr))

    def run(self, until: float) -> None:
        self.env.run(until=until)

    def log(self, what: str) -> list[tuple[float, str, str, str]]:
        """The transport's log rows of one kind (view, push, send, ready, removed, exit)."""
        return [r for r in self.t.log if r[1] == what]


def quiet(body: str, name: str = "quiet") -> Scenario:
    """A scenario from YAML with no network delay (append ``http:`` settings in body), whose
    services' HTTP stacks move messages for free (sim.core.io), so latencies are exact sums."""
    sc = scenario(f"name: {name}\nrun: {{duration: 1, warmup: 0}}\n{body}")
    return override(sc, ["http.stack.io=null", "messaging.client.io=null"])


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
