"""Service discovery: the catalog of ready endpoints and how each picker learns of changes.

The **catalog** (Kubernetes EndpointSlices behind the API server, or the Consul catalog)
holds, per service, the tuple of ready instances. A change makes a new immutable
:data:`Snapshot` (a dict of tuples, copied only at the changed service) and one watch event
to every watcher: each costs the catalog ``cpu_per_watch_event`` on its cores (FIFO, so the
last watcher of many hears last) and carries the changed slice — at most ``slice_size``
endpoints of ``bytes_per_endpoint`` on Kubernetes (k8s blog 2020-09-02: every update went
to every node), the whole service on Consul (a blocking query returns the full list).
Only the discovery share of the API server is counted: a broker deployment runs an
orchestrator too.

A **picker** (gateway replica, sidecar, ztunnel, or a proxyless caller) routes with its
own :class:`View`: the snapshot it currently believes. Views change only when a change
*reaches* them, which is what creates stale-endpoint windows. How it reaches them is the
propagation flavour:

* ``xds`` — the catalog's watcher is the control plane, which debounces and pushes to its
  xDS clients (:mod:`sim.http.controlplane`);
* ``kube-proxy`` — one watcher per node; it rewrites the node's rules at most once per
  ``kube_proxy_min_sync`` (kube-proxy's bounded-frequency runner: at once after a quiet
  spell, else ``min_sync`` after the previous sync) and every view on that node switches;
* ``dns`` — the DNS server watches the catalog; each view caches an answer per service for
  the TTL and pays a lookup (round trip plus server CPU) on the first request after expiry.

Every change that reaches a view is logged as ``(time, "view", view owner, service)``, so
tests can check propagation times exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

from sim.core.component import Component
from sim.core.network import Network, Place
from sim.core.trace import Trace
from sim.scenario.http import Discovery

if TYPE_CHECKING:
    from sim.app.service import ServiceInstance

Snapshot = dict[str, tuple["ServiceInstance", ...]]
LogRow = tuple[float, str, str, str]


class Watcher(Protocol):
    """Anything the catalog sends watch events to."""

    @property
    def place(self) -> Place: ...

    def receive(self, snapshot: Snapshot, changed: frozenset[str]) -> None:
        """A catalog change has arrived."""


class View:
    """What one picker believes: a snapshot, maybe scoped to some services, maybe cached."""

    __slots__ = ("cached", "dns", "expires", "log", "on_change", "owner", "scope", "snapshot")

    def __init__(self, owner: Component, snapshot: Snapshot, log: list[LogRow]):
        self.owner = owner
        self.snapshot = snapshot
        self.scope: frozenset[str] | None = None  # None: every service
        self.on_change: Callable[[View], None] | None = None
        self.log = log
        self.dns: DnsServer | None = None
        self.cached: dict[str, tuple[ServiceInstance, ...]] = {}
        self.expires: dict[str, float] = {}

    @property
    def place(self) -> Place:
        return self.owner.place

    def wants(self, changed: frozenset[str]) -> bool:
        """Does a change of these services concern this view (its scope)?"""
        return self.scope is None or not self.scope.isdisjoint(changed)

    def apply(self, snapshot: Snapshot, changed: frozenset[str], now: float) -> None:
        """A change has reached this picker."""
        self.snapshot = snapshot
        for s in sorted(changed):
            if self.scope is None or s in self.scope:
                self.log.append((now, "view", self.owner.name, s))
        if self.on_change is not None:
            self.on_change(self)

    def receive(self, snapshot: Snapshot, changed: frozenset[str]) -> None:
        """Watching the catalog directly (an external load balancer's controller)."""
        self.apply(snapshot, changed, self.owner.env.now)

    def config_size(self) -> tuple[int, int]:
        """(clusters, endpoints) this view holds: what a proxy's config memory grows with."""
        snap = self.snapshot
        names = snap.keys() if self.scope is None else self.scope
        return len(names), sum(len(snap.get(s, ())) for s in names)


class Catalog(Component):
    """The registry of ready endpoints (EndpointSlices or Consul) and its watchers."""

    def __init__(self, env: Any, net: Network, place: Place, cfg: Discovery, services: list[str]):
        name = "kube-apiserver" if cfg.catalog == "kubernetes" else "consul-server"
        super().__init__(env, "discovery", name, place, cores=cfg.cores)
        self.net = net
        self.cfg = cfg
        self.snapshot: Snapshot = {s: () for s in services}
        self.watchers: list[Watcher] = []
        self.updates = 0

    def seed(self, inst: ServiceInstance) -> None:
        """An instance present from the start (mutates the initial snapshot in place)."""
        self.snapshot[inst.service] = (*self.snapshot[inst.service], inst)
        self.memory.add(self.cfg.memory_per_endpoint)

    def add(self, inst: ServiceInstance) -> None:
        """A new ready endpoint."""
        eps = self.snapshot[inst.service]
        if inst not in eps:
            self._change(inst.service, (*eps, inst))
            self.memory.add(self.cfg.memory_per_endpoint)

    def remove(self, inst: ServiceInstance) -> None:
        """An endpoint that is no longer ready (stopping or failed)."""
        eps = self.snapshot[inst.service]
        if inst in eps:
            self._change(inst.service, tuple(e for e in eps if e is not inst))
            self.memory.remove(self.cfg.memory_per_endpoint)

    def _change(self, service: str, eps: tuple[ServiceInstance, ...]) -> None:
        snap = dict(self.snapshot)
        snap[service] = eps
        self.snapshot = snap
        self.updates += 1
        n = len(eps) or 1
        per = min(n, self.cfg.slice_size) if self.cfg.catalog == "kubernetes" else n
        nbytes = per * self.cfg.bytes_per_endpoint
        changed = frozenset((service,))
        for w in self.watchers:
            self._send(w, snap, changed, nbytes)

    def _send(self, w: Watcher, snap: Snapshot, changed: frozenset[str], nbytes: float) -> None:
        self.handled += 1
        self.bytes_out += nbytes
        delay = self.net.one_way(self.place, w.place, nbytes)

        def deliver(_e: Any = None) -> None:
            if delay > 0:
                t = self.env.timeout(delay)
                t.callbacks.append(lambda _x: w.receive(snap, changed))
            else:
                w.receive(snap, changed)

        work = self.cfg.cpu_per_watch_event
        if work > 0 and self.cpu is not None:
            self.cpu.execute(work).callbacks.append(deliver)
        else:
            deliver()


class KubeProxy:
    """A node's kube-proxy: rewrites the node's rules at a bounded frequency."""

    def __init__(self, env: Any, place: Place, min_sync: float):
        self.env = env
        self.place = place
        self.min_sync = min_sync
        self.views: list[View] = []
        self.last_sync = -float("inf")
        self.scheduled = False
        self.latest: Snapshot | None = None
        self.changed: set[str] = set()
        self.syncs = 0

    def receive(self, snapshot: Snapshot, changed: frozenset[str]) -> None:
        self.latest = snapshot
        self.changed |= changed
        if self.scheduled:
            return
        self.scheduled = True
        at = max(self.env.now, self.last_sync + self.min_sync)
        t = self.env.timeout(at - self.env.now)
        t.callbacks.append(self._sync)

    def _sync(self, _e: Any) -> None:
        self.scheduled = False
        self.last_sync = self.env.now
        self.syncs += 1
        snap, changed = self.latest, frozenset(self.changed)
        self.changed.clear()
        assert snap is not None
        for v in self.views:
            if v.wants(changed):
                v.apply(snap, changed, self.env.now)


class DnsServer(Component):
    """Cluster DNS (CoreDNS) or Consul DNS: answers from its own copy of the catalog."""

    def __init__(self, env: Any, net: Network, place: Place, cfg: Discovery, snapshot: Snapshot):
        name = "coredns" if cfg.catalog == "kubernetes" else "consul-dns"
        super().__init__(env, "discovery", name, place, cores=1, memory=cfg.dns_memory)
        self.net = net
        self.cfg = cfg
        self.ttl = cfg.ttl()
        self.snapshot = snapshot

    def receive(self, snapshot: Snapshot, changed: frozenset[str]) -> None:
        self.snapshot = snapshot

    def lookup(
        self, tr: Trace | None, view: View, service: str
    ) -> Generator[Any, Any, tuple[ServiceInstance, ...]]:
        """The view's cached answer, or a fresh one after the TTL has run out."""
        env = self.env
        now = env.now
        if now < view.expires.get(service, -1.0):
            return view.cached[service]
        self.handled += 1
        d = self.net.rtt(view.place, self.place)
        if d > 0:
            yield env.timeout(d)
            if tr is not None:
                tr.network += d
        w = self.cfg.dns_cpu_per_query
        if w > 0 and self.cpu is not None:
            t0 = env.now
            yield self.cpu.execute(w)
            if tr is not None:
                tr.infra += w
                tr.queueing += env.now - t0 - w
        eps = self.snapshot.get(service, ())
        old = view.cached.get(service)
        view.cached[service] = eps
        view.expires[service] = env.now + self.ttl
        if old is not None and old != eps:
            view.log.append((env.now, "view", view.owner.name, service))
        return eps
