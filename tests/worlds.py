"""Hand-driven worlds for the transport and fault tests (built by :func:`sim.engine.build`).

* :class:`World` builds what a run builds on HTTP (environment, streams, application,
  transport, the instances present at time 0) but starts no workload: a test sends the
  requests it wants at the instants it wants, from the component it wants, and reads the
  transport's log, counters and components directly. ``quiet()`` is the YAML that makes a
  hop cost nothing (zero RTT and bandwidth time, no TLS CPU, no proxy CPU) so that times
  are exact.
* :func:`world` wires application, transport and :func:`sim.faults.timeline.schedule`
  exactly as :func:`sim.engine.run` does (same streams, same order) and starts it, returning
  a :class:`FaultWorld`, so a test can read the transports' logs, ping timers and counters
  after ``env.run``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.api import override
from sim.app.application import Application
from sim.app.service import ServiceInstance
from sim.core.component import Component
from sim.core.recorder import COLUMNS
from sim.core.trace import Trace
from sim.engine import build
from sim.faults.timeline import Faults
from sim.http.transport import HttpTransport
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
        w = build(sc, "http", seed)
        self.env, self.app, self.recorder = w.env, w.app, w.recorder
        self.t: HttpTransport = w.app.transport  # type: ignore[assignment]
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


@dataclass
class FaultWorld:
    """One architecture's run, open for inspection."""

    env: Any
    app: Application
    faults: Faults | None

    @property
    def t(self) -> Any:
        """The transport (HTTP, maybe behind its failover records, or messaging)."""
        return self.app.transport

    def run(self, until: float) -> FaultWorld:
        self.env.run(until=until)
        return self

    def requests(self) -> pd.DataFrame:
        """Completed requests so far, with latency."""
        df = pd.DataFrame(self.app.recorder.rows, columns=list(COLUMNS))
        df = df[df["kind"] == "request"].copy()
        df["latency"] = df["end"] - df["start"]
        return df.sort_values("start").reset_index(drop=True)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        assert self.faults is not None
        out = self.faults.results()["events"]
        return [e for e in out if kind is None or e["kind"] == kind]


def world(sc: Scenario, arch: str, seed: int = 1) -> FaultWorld:
    """Application, transport and faults as :func:`sim.engine.run` wires them."""
    w = build(sc, arch, seed)
    w.app.start()
    return FaultWorld(w.env, w.app, w.faults)
