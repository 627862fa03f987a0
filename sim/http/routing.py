"""An L7 picker's routing: endpoint choice, per-route timeout, retries with a budget.

A :class:`Router` belongs to one picker (gateway replica, sidecar, ztunnel, edge clients
or a proxyless caller) and routes each call with the :class:`~sim.scenario.http.Route` in
force for the destination service (``http.routes`` overrides the picker's default):

1. **Endpoints** come from the picker's :class:`~sim.http.discovery.View` (with DNS: the
   cached answer, or a lookup when its TTL has run out). A named instance is looked up
   among them (headless-service style); unknown → local 503.
2. **Balancing** (:mod:`sim.http.balancing`) picks one, excluding hosts already tried.
3. **Attempt** — one hop to the endpoint's inbound side, done by the transport.
4. **Retry** when the outcome is in ``retries.retry_on`` (``connect-failure``: refused; ``reset``:
   refused or reset mid-request; ``503``: an upstream proxy's 503; ``5xx``: all of these and
   application errors; ``per-try-timeout``) — never a local overflow (Envoy 503 UO),
   at most ``attempts`` times, after a fully jittered exponential back-off, and only while
   the retry budget allows — both by the policy the two architectures share
   (:mod:`sim.core.retry`) — and ``max_active_retries`` is not reached.
5. **Timeout**: the route timeout bounds all attempts; ``per_try_timeout`` each one. A
   timed-out attempt keeps running upstream (it still loads the destination) but its
   answer is dropped; its time is booked as queueing, so the buckets still sum to the
   latency.

**Locality** (``http.failover: locality``, Istio locality load balancing): deployments of one
service in several regions (services answering the same request subject with the same
operation, as on the broker) are one name. Their endpoints are ranked by the picker's
locality — its own region first, then the others by round trip — and balancing uses the
regions as Envoy's priority levels: each level takes as much of the load as its health allows,
``min(what is left, healthy share × http.locality_overprovisioning)`` (1.4 by default), the
healthy share being its endpoints not ejected by outlier detection. So a region that loses a
few endpoints keeps all of its calls until fewer than 1/1.4 ≈ 71 % are healthy, then spills
that proportion to the next region; when the local endpoints leave discovery or are all
ejected, calls go to the next region at once; when every endpoint of every region is ejected,
balancing panics over the nearest region's. When every level is degraded their loads are
scaled to add up to all the calls, as Envoy normalises them.

With ``outlier.enabled`` each destination service has its picker-local
:class:`~sim.http.balancing.Ejections` (Envoy outlier detection): every attempt's outcome
is counted against the host it went to, and balancing skips ejected hosts. The route
timeout abandons an attempt without an outcome, so only ``per_try_timeout`` counts as a
timeout failure (Envoy also reports a global-timeout abort to the detector: not modelled).

Every send to an endpoint is counted (``sends``); the first send from this picker to each
endpoint is logged as ``(t, "send", picker, endpoint)``, and sends to an endpoint that is
no longer running are counted as ``stale_sends`` — the stale-endpoint window.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from simpy import Event

from sim.app.transport import ERROR, OK, TIMEOUT
from sim.core.component import Component
from sim.core.distributions import Uniforms
from sim.core.retry import backoff, budget_allows
from sim.core.schedule import Deadlines, Task
from sim.core.trace import Trace
from sim.http.balancing import Balancer, Ejections
from sim.http.discovery import LogRow, View
from sim.http.wire import CONNECT_FAILURE, OVERFLOW, RESET, UNAVAILABLE, Call
from sim.scenario.http import Route

if TYPE_CHECKING:
    from sim.app.service import ServiceInstance
    from sim.http.transport import HttpTransport

RETRIABLE = {
    "connect-failure": (CONNECT_FAILURE,),
    "reset": (RESET, CONNECT_FAILURE),
    "503": (UNAVAILABLE,),
    "5xx": (UNAVAILABLE, RESET, ERROR, CONNECT_FAILURE),
    "per-try-timeout": (TIMEOUT,),
}


def within(
    clock: Deadlines, tr: Trace, make: Callable[[Trace], Generator[Any, Any, str]]
) -> Generator[Any, Any, str]:
    """Run make(trace) but give up after ``clock.limit`` seconds (TIMEOUT); buckets stay exact."""
    # The attempt books into a copy of the trace (same values, so the same float sums as
    # booking directly); the copy is taken back when the race ends, and an abandoned
    # attempt that goes on running upstream books into its copy only. The buckets are
    # copied and summed one by one in BUCKETS order (unrolled: this runs per timed request).
    env = clock.env
    child = tr.fork()
    before = tr.network + tr.queueing + tr.cpu + tr.infra + tr.handshake
    t0 = env.now
    race = Event(env)  # the attempt's outcome, or None once its deadline has come
    Task(env, make(child), race, inline=True)
    clock.add(race)
    status = yield race
    tr.network = child.network
    tr.queueing = child.queueing
    tr.cpu = child.cpu
    tr.infra = child.infra
    tr.handshake = child.handshake
    after = child.network + child.queueing + child.cpu + child.infra + child.handshake
    if status is not None:
        return str(status)
    tr.queueing += (env.now - t0) - (after - before)  # waiting for an answer in vain
    return TIMEOUT


@functools.cache
def _retry_statuses(retry_on: tuple[str, ...]) -> frozenset[str]:
    """The statuses a retry policy's ``retry_on`` conditions cover (computed once per policy)."""
    return frozenset(s for k in retry_on for s in RETRIABLE[k])


class Router:
    """Routing state of one picker: balancers, outstanding requests, retries in flight."""

    def __init__(self, transport: HttpTransport, owner: Component, view: View, default: Route):
        self.t = transport
        self.env = transport.env
        self.owner = owner
        self.view = view
        self.default = default
        self.routes = transport.cfg.routes
        self.uniform = Uniforms(transport.app.streams.get(f"http/balance/{owner.name}"))
        self.jitter = Uniforms(transport.app.streams.get(f"http/backoff/{owner.name}"))
        self.balancers: dict[str, Balancer] = {}
        self.ejections: dict[str, Ejections] = {}
        self.active: dict[ServiceInstance, int] = {}
        self.active_requests = 0
        self.active_retries = 0
        self.sends = 0
        self.stale_sends = 0
        self.retries = 0
        self.retries_refused = 0
        self.timeouts = 0
        self.seen: set[ServiceInstance] = set()
        self._retry_on: dict[str, frozenset[str]] = {}  # per destination service
        self.log: list[LogRow] = transport.log

    def route_for(self, service: str) -> Route:
        """The route in force for a destination service."""
        return self.routes.get(service, self.default)

    def route(self, tr: Trace, call: Call) -> Generator[Any, Any, str]:
        """Send one call: pick, attempt, retry; bounded by the route timeout. (The generator
        that does it, for the caller to run at once: no frame of its own in the chain.)"""
        cfg = self.route_for(call.service)
        if call.mirrors and not call.shadow:
            self.t.events.mirror(self, call)
        if cfg.timeout is not None:
            return self._timed(tr, call, cfg, cfg.timeout)
        return self._attempts(tr, call, cfg)

    def _timed(self, tr: Trace, call: Call, cfg: Route, limit: float) -> Generator[Any, Any, str]:
        status = yield from within(
            self.t.deadlines(limit), tr, lambda t: self._attempts(t, call, cfg)
        )
        if status == TIMEOUT:
            self.timeouts += 1
        return status

    def _endpoints(
        self, tr: Trace, service: str, subject: str = ""
    ) -> Generator[Any, Any, tuple[ServiceInstance, ...]]:
        """The endpoints by DNS: the cached answer, or a lookup when its TTL has run out."""
        dns = self.view.dns
        assert dns is not None
        peers = self.t.locality.get((service, subject)) if subject else None
        if peers is None:
            return (yield from dns.lookup(tr, self.view, service))
        out: tuple[ServiceInstance, ...] = ()
        for s in peers:
            out += yield from dns.lookup(tr, self.view, s)
        return out

    def _listed(self, service: str, subject: str = "") -> tuple[ServiceInstance, ...]:
        """The endpoints in the view's snapshot (xDS or kube-proxy: nothing to wait for)."""
        peers = self.t.locality.get((service, subject)) if subject else None
        snap = self.view.snapshot
        if peers is None:
            return snap.get(service, ())
        return tuple(e for s in peers for e in snap.get(s, ()))

    def _nearest(self, eps: tuple[ServiceInstance, ...]) -> tuple[ServiceInstance, ...]:
        """The endpoints of the best-ranked region (locality priority: own region, then by
        round trip)."""
        region = min(eps, key=self._rank).place.region
        return tuple(e for e in eps if e.place.region == region)

    def _rank(self, e: ServiceInstance) -> tuple[bool, float]:
        """Locality priority of an endpoint: its own region first, then by round trip."""
        here = self.owner.place
        return (e.place.region != here.region, self.t.net.rtt(here, e.place))

    def _choose(
        self, eps: tuple[ServiceInstance, ...], call: Call, cfg: Route, tried: list[Any]
    ) -> ServiceInstance | None:
        if call.instance is not None:
            for e in eps:
                if e.index == call.instance:
                    return e
            return None
        b = self.balancers.get(call.service)
        if b is None:
            b = Balancer(cfg.balancing, cfg.choice_count, self.uniform, self.active)
            self.balancers[call.service] = b
        if eps and call.subject and (call.service, call.subject) in self.t.locality:
            eps = self._by_locality(eps, call, cfg)
        elif cfg.outlier.enabled:
            eps = self._ejections(call.service, cfg).usable(eps, self.env.now)
        return b.pick(eps, tried if cfg.retries.previous_hosts else ())

    def _by_locality(
        self, eps: tuple[ServiceInstance, ...], call: Call, cfg: Route
    ) -> tuple[ServiceInstance, ...]:
        """Envoy priority levels (module docstring): the level a call goes to, drawn by the
        levels' priority loads only when more than one level has a share."""
        if not cfg.outlier.enabled:
            return self._nearest(eps)
        until, now = self._ejections(call.service, cfg).until, self.env.now
        levels = self._levels(eps)
        healthy = [tuple(e for e in lv if until.get(e, 0.0) <= now) for lv in levels]
        if not any(healthy):
            return levels[0]  # panic
        opf = self.t.cfg.locality_overprovisioning
        loads, left = [], 1.0
        for lv, ok in zip(levels, healthy, strict=True):
            share = min(left, len(ok) / len(lv) * opf)
            loads.append(share)
            left -= share
        shares = [(ok, x) for ok, x in zip(healthy, loads, strict=True) if x > 0.0]
        if len(shares) == 1:
            return shares[0][0]
        u = self.uniform() * sum(x for _, x in shares)
        for ok, x in shares:
            if u < x:
                return ok
            u -= x
        return shares[-1][0]

    def _levels(self, eps: tuple[ServiceInstance, ...]) -> list[tuple[ServiceInstance, ...]]:
        """The endpoints grouped by region, best-ranked first (own region, then by round trip
        to its nearest endpoint)."""
        rank: dict[str, tuple[bool, float]] = {}
        for e in eps:
            key = self._rank(e)
            r = e.place.region
            if r not in rank or key < rank[r]:
                rank[r] = key
        order = sorted(rank, key=lambda r: rank[r])
        return [tuple(e for e in eps if e.place.region == r) for r in order]

    def _ejections(self, service: str, cfg: Route) -> Ejections:
        e = self.ejections.get(service)
        if e is None:
            e = self.ejections[service] = Ejections(cfg.outlier)
        return e

    def _attempts(self, tr: Trace, call: Call, cfg: Route) -> Generator[Any, Any, str]:
        env = self.env
        r = cfg.retries
        retry_on = self._retry_on.get(call.service)
        if retry_on is None:  # once per destination (its route is fixed for the run)
            retry_on = self._retry_on[call.service] = _retry_statuses(tuple(r.retry_on))
        tried: list[ServiceInstance] = []
        n = 0
        self.active_requests += 1
        try:
            while True:
                if self.view.dns is None:  # the view's snapshot: no lookup to wait for
                    eps = self._listed(call.service, call.subject)
                else:
                    eps = yield from self._endpoints(tr, call.service, call.subject)
                inst = self._choose(eps, call, cfg, tried)
                if inst is None:
                    return UNAVAILABLE  # no healthy upstream: a local reply, not retried
                retry = n > 0
                self._sending(inst, retry)
                try:  # (not a generator of its own: one frame less that every event passes)
                    status = yield from self._try(tr, call, inst, r.per_try_timeout)
                finally:
                    self.active[inst] -= 1
                    if retry:
                        self.active_retries -= 1
                if cfg.outlier.enabled and status != OVERFLOW:  # overflow: local, no answer
                    self._ejections(call.service, cfg).observe(
                        inst, status != OK, env.now, len(eps)
                    )
                if status == OK or status not in retry_on or n >= r.attempts or call.shadow:
                    return status
                if not self.retry_allowed(cfg):
                    self.retries_refused += 1
                    return status
                n += 1
                self.retries += 1
                tried.append(inst)
                wait = backoff(r, n, self.jitter())
                if wait > 0:
                    yield env.timeout(wait)
                    tr.infra += wait
        finally:
            self.active_requests -= 1

    def retry_allowed(self, cfg: Route) -> bool:
        """May this picker retry now: under ``max_active_retries`` and within the budget?"""
        r = cfg.retries
        if self.active_retries >= r.max_active_retries:
            return False
        return budget_allows(r, self.active_requests, self.active_retries)

    def _sending(self, inst: ServiceInstance, retry: bool) -> None:
        """Count a send to ``inst`` (and log the first) and hold it active until it ends."""
        self.sends += 1
        if inst not in self.seen:
            self.seen.add(inst)
            self.log.append((self.env.now, "send", self.owner.name, inst.name))
        if not inst.alive:
            self.stale_sends += 1
        self.active[inst] = self.active.get(inst, 0) + 1
        if retry:
            self.active_retries += 1

    def _try(
        self, tr: Trace, call: Call, inst: ServiceInstance, per_try: float | None
    ) -> Generator[Any, Any, str]:
        """One attempt, bounded by ``per_try`` if given (the generator, run at once)."""
        if per_try is not None:
            return within(
                self.t.deadlines(per_try), tr, lambda t: self.t.attempt(t, self.owner, inst, call)
            )
        return self.t.attempt(tr, self.owner, inst, call)
