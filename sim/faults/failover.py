"""Global failover for HTTP: a DNS failover record in front of a service's two regions.

An HTTP caller reaches a service by a name; when the service runs in two regions, what
moves traffic from the primary region to the backup is outside the mesh: a global DNS
failover record (AWS Route 53 failover routing) or a global load balancer with the same
health-check logic. The model, :class:`FailoverRecord`:

* a **health checker** probes the primary every ``interval`` (first probe one interval
  after the start); a probe succeeds when at least one instance of the primary service
  answers (running, not hung). After ``threshold`` failed probes in a row the record
  points at the backup; after ``threshold`` good ones, back at the primary (Route 53 uses
  one threshold both ways). Detection therefore takes between (threshold − 1) × interval
  and threshold × interval after the failure;
* every **caller** (the edge clients, or a service instance) caches the answer for the
  ``ttl`` from its own lookup, and looks up again on its first call after expiry: a caller
  moves over at its first lookup after the record flipped, at most ``ttl`` later.

The lookup itself is not charged (a local resolver cache, a millisecond against seconds of
detection). :class:`FailoverTransport` applies the records at the Transport seam: a call to
the primary goes to whichever service the caller's cached answer names, along the normal
HTTP path (gateway or sidecars, pools, TLS to the other region). A broker needs none of
this: a service deployed in two regions answers one subject, and the supercluster sends
requests to the other cluster as soon as the local members' interest is gone.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sim.app.service import ServiceInstance
from sim.app.transport import Plan
from sim.core.component import Component
from sim.core.trace import Trace
from sim.scenario.timeline import Failover


class FailoverRecord:
    """One DNS failover record, its health checker and every caller's cached answer."""

    def __init__(self, env: Any, cfg: Failover, transport: Any, log: list[dict[str, Any]]):
        self.env = env
        self.cfg = cfg
        self.t = transport  # who is running and answering (Transport.answers)
        self.answer = cfg.service
        self.failed = 0
        self.passed = 0
        self.cache: dict[int, tuple[str, float]] = {}
        self.log = log
        env.process(self._check())

    def healthy(self) -> bool:
        """Does at least one instance of the primary answer a probe?"""
        return any(self.t.answers(i) for i in self.t.app.instances[self.cfg.service])

    def _check(self) -> Generator[Any, Any, None]:
        hc = self.cfg.health_check
        while True:
            yield self.env.timeout(hc.interval)
            if self.healthy():
                self.passed, self.failed = self.passed + 1, 0
                if self.answer != self.cfg.service and self.passed >= hc.threshold:
                    self._flip(self.cfg.service)
            else:
                self.failed, self.passed = self.failed + 1, 0
                if self.answer == self.cfg.service and self.failed >= hc.threshold:
                    self._flip(self.cfg.backup)

    def _flip(self, to: str) -> None:
        self.answer = to
        self.log.append(
            {"t": self.env.now, "label": f"DNS {self.cfg.service} → {to}", "kind": "detection"}
        )

    def resolve(self, caller: Component) -> str:
        """The service this caller's cached answer names (looked up again after the TTL)."""
        now = self.env.now
        hit = self.cache.get(id(caller))
        if hit is not None and now < hit[1]:
            return hit[0]
        self.cache[id(caller)] = (self.answer, now + self.cfg.ttl)
        return self.answer


class FailoverTransport:
    """An HTTP transport whose callers resolve some services through failover records."""

    def __init__(self, inner: Any, records: dict[str, FailoverRecord]):
        self.inner = inner
        self.records = records
        self.name = inner.name
        self.moved = 0  # calls sent to a backup

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def start(self) -> None:
        self.inner.start()

    def attach(self, instance: ServiceInstance) -> None:
        self.inner.attach(instance)

    def detach(self, instance: ServiceInstance) -> None:
        self.inner.detach(instance)

    def publish(self, source: ServiceInstance, subject: str, nbytes: float) -> None:
        self.inner.publish(source, subject, nbytes)

    def components(self) -> list[Component]:
        return list(self.inner.components())

    def request(
        self,
        tr: Trace,
        caller: Component,
        service: str,
        operation: str,
        plan: Plan,
        instance: int | None = None,
    ) -> Generator[Any, Any, str]:
        """Resolve the service name, then send as the HTTP transport does."""
        rec = self.records.get(service)
        if rec is not None:
            target = rec.resolve(caller)
            if target != service:
                self.moved += 1
                service, instance = target, None
        return (yield from self.inner.request(tr, caller, service, operation, plan, instance))
