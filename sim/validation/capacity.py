"""Expected load of every component, from the scenario alone, before running it.

Offered load is the arrival rate (Poisson and constant: the rate; MMPP: its time-average,
which is what decides stability; a profile: its highest step, so a peak overload shows;
a closed loop: ``users / E[think]``, an upper bound) split over the flows by weight, and
carried along the call graph: a call made with probability ``p`` carries ``p`` times its
caller's rate, an event emitted with probability ``p`` is published at ``p`` times the
rate, and every observer of a subject (event or request subject) receives one copy per
message (``shared``) or one per instance (``each``). Work per visit is the analytic mean of
the operation's demand. Requests are assumed evenly balanced over a service's instances
(round robin on HTTP, random queue-group picks on NATS), calls with ``instance`` go to
that instance. The infrastructure follows the transports' code paths:

* HTTP: each gateway or sidecar traversal costs that proxy's ``cpu_per_request`` (on and
  off the path together) plus four reads or writes of its ``io`` (each a wake-up of its
  own: no batching, no cold or deep wake-ups — the cost near saturation); an edge request
  passes a gateway (if enabled) and the target's inbound sidecar, an internal call also the caller's outbound sidecar (``mesh``), a
  gateway (``gateway`` route), or neither (``direct``); a webhook passes the publisher's
  outbound sidecar and the observer's inbound one; a mirrored request copy only the
  observer's inbound sidecar.
* NATS: one read of the broker's ``io`` per message routed (request, reply, event) plus
  one write per copy, with recipients counted by the same subject index the broker uses
  (one per plain subscription, one per queue group).

The protocol work inside services (``messaging.client.io``, ``http.stack.io``) is not
estimated: it is a few reads and writes per visit, small beside an operation's demand.

Handshake CPU (start-up), the control plane and discovery are left out: they do not scale
with the request rate. Events are estimated as webhooks and audit copies as mirrors (the
defaults of ``http.events``); long polling, ambient ztunnels and retries are not estimated.
Utilisation = busy cores / cores (the utilisation law U = X·S, Denning & Buzen 1978); at 1
or more the component's queue grows without bound and the run cannot reach steady state.
The lints flag events published to a subject nobody subscribes to (NATS drops them
silently) and subscriptions that match no published subject.

:func:`service_work` gives the mean and second moment of the app work each service
receives per second, for the statistical check of the utilisation law
(:mod:`sim.validation.laws`).

Reference: P. J. Denning & J. P. Buzen, "The operational analysis of queueing network
models", *ACM Computing Surveys* 10(3), 1978.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sim.app.names import Observer, request_subject
from sim.messaging.subjects import SubjectIndex, pattern_matches
from sim.scenario import model as m
from sim.scenario.common import IoCost
from sim.validation.theory import second_moment

Moments = dict[str, tuple[float, float]]  # service -> (mean, variance) of work per request
EDGE = ("", None)  # the caller of an entry request: the edge clients
Where = tuple[str, int | None]  # (service, instance index or None = evenly balanced)


@dataclass(frozen=True)
class Load:
    """Expected busy cores of one component of one architecture ("both" for services)."""

    architecture: str
    component: str
    kind: str
    cores: int
    busy: float

    @property
    def utilisation(self) -> float:
        """Busy cores / cores."""
        return self.busy / self.cores if self.cores else 0.0


@dataclass(frozen=True)
class CapacityWarning:
    """A problem found before running: ``code`` is overload, unheard-subject or
    unfed-subscription."""

    code: str
    where: str
    message: str
    utilisation: float = math.nan

    def __str__(self) -> str:
        return self.message


def arrival_rate(sc: m.Scenario) -> float:
    """The offered arrival rate used for capacity (see the module docstring)."""
    a = sc.workload.arrivals
    if isinstance(a, m.Poisson | m.ConstantRate):
        return a.rate
    if isinstance(a, m.Mmpp):
        s0, s1 = a.mean_sojourn
        return (a.rates[0] * s0 + a.rates[1] * s1) / (s0 + s1)
    if isinstance(a, m.Profile):
        return max(s.rate for s in a.steps)
    if isinstance(a, m.Replay):
        return a.rate
    return a.users / a.think.mean if a.think.mean > 0 else math.inf


def flow_rates(sc: m.Scenario) -> dict[str, float]:
    """Arrival rate of each flow (the rate split by weight)."""
    total = sum(f.weight for f in sc.workload.flows)
    rate = arrival_rate(sc)
    return {f.name: rate * f.weight / total for f in sc.workload.flows}


def io_op(cost: IoCost | None, nbytes: float, tls: bool) -> float:
    """One read or write that is its own warm wake-up (sim.core.io)."""
    if cost is None:
        return 0.0
    work = cost.wakeup + cost.per_message + nbytes * cost.per_byte
    if tls:
        work += cost.tls_per_record + nbytes * cost.tls_per_byte
    return work


def _proxy_work(p: Any, tls: m.Tls, tls_links: int = 1) -> float:
    """A request through a proxy: its L7 work and four reads or writes of 1 KB — on a
    sidecar two on (m)TLS (the mesh side) and two plain (the app side); on a gateway all
    four on TLS (``tls_links`` 2: the edge and the mesh)."""
    secure = tls.version != "none"
    on_tls = 2 * tls_links
    return (
        p.cpu_per_request
        + on_tls * io_op(p.io, 1024, secure)
        + (4 - on_tls) * io_op(p.io, 1024, False)
    )


class _Tally:
    """Busy seconds per second, accumulated per component while walking the call graph."""

    def __init__(self, sc: m.Scenario):
        self.sc = sc
        self.busy: dict[tuple[str, str], float] = defaultdict(float)  # (arch, component)
        self.messages = 0.0
        self.deliveries = 0.0
        self.observers = _observers(sc)
        self.recipients = _Count(sc)
        self._tls = sc.http.tls.version != "none"

    def _spread(self, where: Where) -> list[tuple[int, float]]:
        service, pin = where
        n = self.sc.services[service].instances
        if pin is not None:
            return [(pin, 1.0)]
        return [(i, 1.0 / n) for i in range(n)] if n else []

    def _app(self, where: Where, rate: float, work: float) -> None:
        for i, share in self._spread(where):
            self.busy[("both", f"{where[0]}-{i}")] += rate * share * work

    def _sidecar(self, where: Where, rate: float) -> None:
        h = self.sc.http
        if h.sidecar.enabled and where != EDGE:
            for i, share in self._spread(where):
                name = f"{where[0]}-{i}.sidecar"
                self.busy[("http", name)] += rate * share * _proxy_work(h.sidecar, h.tls)

    def _gateway(self, rate: float) -> None:
        g = self.sc.http.gateway
        for i in range(g.replicas):
            self.busy[("http", f"gateway-{i}")] += (
                rate / g.replicas * _proxy_work(g, self.sc.http.tls, tls_links=2)
            )

    def request(self, caller: Where, target: Where, operation: str, rate: float) -> None:
        """One request type at ``rate``: its work, infrastructure, calls, mirrors, events."""
        sc = self.sc
        op = sc.services[target[0]].operations[operation]
        self._app(target, rate, op.demand.mean)
        h = sc.http
        edge = caller == EDGE
        mirror_via_sidecar = False  # does a mirrored copy pass the caller's outbound sidecar
        mirror_by: Where | str | None = None  # the proxy whose route mirrors the request
        if edge or not h.sidecar.enabled or h.internal_route == "direct":
            if h.gateway.enabled and (edge or h.internal_route == "gateway"):
                self._gateway(rate)
                mirror_by = "gateway"
            else:
                mirror_via_sidecar = not edge
        else:
            self._sidecar(caller, rate)
            mirror_by = caller
            if h.gateway.enabled and h.internal_route == "gateway":
                self._gateway(rate)
                mirror_by = "gateway"
        self._sidecar(target, rate)  # the target's inbound sidecar
        subject = request_subject(sc, target[0], operation)
        self.messages += 2 * rate  # request and reply
        self.deliveries += rate * (self.recipients(subject) + self.recipients("_INBOX.x.0") + 1)
        self._deliver(subject, rate, caller if mirror_via_sidecar else EDGE, mirror_by)
        for call in op.calls:
            self.request(
                target, (call.service, call.instance), call.operation, rate * call.probability
            )
        for emit in op.emits:
            r = rate * emit.probability
            self.messages += r
            self.deliveries += r * self.recipients(emit.subject)
            self._deliver(emit.subject, r, target)

    def _mirror_io(self, by: Where | str, rate: float) -> None:
        """Two reads or writes of 1 KB on (m)TLS at the proxy that mirrors a request."""
        h = self.sc.http
        if by == "gateway":
            g = h.gateway
            for i in range(g.replicas):
                self.busy[("http", f"gateway-{i}")] += (
                    rate / g.replicas * 2 * io_op(g.io, 1024, self._tls)
                )
            return
        assert not isinstance(by, str)
        for i, share in self._spread(by):
            self.busy[("http", f"{by[0]}-{i}.sidecar")] += (
                rate * share * 2 * io_op(h.sidecar.io, 1024, self._tls)
            )

    def _deliver(
        self, subject: str, rate: float, sender: Where, mirror_by: Where | str | None = None
    ) -> None:
        """Copies of a message to its observers (webhooks / NATS deliveries); ``mirror_by``:
        the proxy whose route mirrors a request (Envoy request mirroring)."""
        for obs in self.observers.get(subject, ()):
            svc = self.sc.services[obs.service]
            work = svc.operations[obs.operation].demand.mean
            copies = svc.instances if obs.delivery == "each" else 1
            targets: list[Where] = (
                [(obs.service, i) for i in range(svc.instances)]
                if obs.delivery == "each"
                else [(obs.service, None)]
            )
            self._sidecar(sender, rate * copies)  # the sender's outbound sidecar
            if mirror_by is not None:  # the proxy whose route mirrors it writes the copy and
                self._mirror_io(mirror_by, rate * copies)  # reads its answer
            for t in targets:
                self._app(t, rate, work)
                self._sidecar(t, rate)


Observers = dict[str, tuple[Observer, ...]]


def _observers(sc: m.Scenario) -> Observers:
    from sim.api import observers  # the subject rules live with the API (NATS matching)

    return observers(sc)


class _Count:
    """Copies the broker writes for a subject: one per plain subscription and queue group."""

    def __init__(self, sc: m.Scenario):
        self.index = SubjectIndex()
        self.observer = SubjectIndex()
        for name, svc in sc.services.items():
            for _ in range(svc.instances):
                if not svc.listen_only:
                    for op in svc.operations:
                        self.index.subscribe(request_subject(sc, name, op), queue=name)
                for sub in svc.subscriptions:
                    queue = name if sub.delivery == "shared" else None
                    self.index.subscribe(sub.subject, queue=queue)
                    self.observer.subscribe(sub.subject, queue=queue)
        self.cache: dict[str, int] = {}

    def __call__(self, subject: str) -> int:
        if subject not in self.cache:
            index = self.observer if subject.startswith("_INBOX.") else self.index
            hit = index.match(subject)
            self.cache[subject] = len(hit.plain) + len(hit.queues)
        return self.cache[subject]


def expected_loads(sc: m.Scenario) -> list[Load]:
    """Expected busy cores of every service instance, proxy and broker of both architectures."""
    t = _Tally(sc)
    for f in sc.workload.flows:
        t.request(EDGE, (f.service, None), f.operation, flow_rates(sc)[f.name])
    out: list[Load] = []
    for name, svc in sc.services.items():
        for i in range(svc.instances):
            out.append(
                Load("both", f"{name}-{i}", "service", svc.cores, t.busy[("both", f"{name}-{i}")])
            )
    h = sc.http
    if h.gateway.enabled:
        for i in range(h.gateway.replicas):
            out.append(
                Load(
                    "http",
                    f"gateway-{i}",
                    "gateway",
                    h.gateway.cores,
                    t.busy[("http", f"gateway-{i}")],
                )
            )
    if h.sidecar.enabled:
        for name, svc in sc.services.items():
            for i in range(svc.instances):
                c = f"{name}-{i}.sidecar"
                out.append(Load("http", c, "sidecar", h.sidecar.cores, t.busy[("http", c)]))
    b = sc.messaging.broker
    busy = (t.messages + t.deliveries) * io_op(b.io, 0.0, sc.messaging.tls.version != "none")
    out.append(Load("messaging", "nats-0", "broker", b.cores, busy))
    return out


def capacity_report(sc: m.Scenario) -> list[CapacityWarning]:
    """Overloaded components (expected utilisation >= 1) and subject lints."""
    out = [
        CapacityWarning(
            "overload",
            ld.component,
            f"{ld.component} ({ld.kind}, {_arch(ld)}): expected utilisation {ld.utilisation:.2f} "
            f">= 1 at {arrival_rate(sc):g}/s; its queue grows without bound, no steady state",
            ld.utilisation,
        )
        for ld in expected_loads(sc)
        if ld.utilisation >= 1.0
    ]
    return out + subject_lints(sc)


def _arch(ld: Load) -> str:
    return "both architectures" if ld.architecture == "both" else ld.architecture


def subject_lints(sc: m.Scenario) -> list[CapacityWarning]:
    """Events nobody hears, and subscriptions no published subject reaches."""
    published: set[str] = set()
    emitted: dict[str, str] = {}
    for name, svc in sc.services.items():
        for op_name, op in svc.operations.items():
            published.add(request_subject(sc, name, op_name))
            for e in op.emits:
                published.add(e.subject)
                emitted.setdefault(e.subject, f"{name}.{op_name}")
    patterns = [
        (name, sub.subject) for name, svc in sc.services.items() for sub in svc.subscriptions
    ]
    out = []
    for subject, by in sorted(emitted.items()):
        if not any(pattern_matches(p, subject) for _, p in patterns):
            out.append(
                CapacityWarning(
                    "unheard-subject",
                    subject,
                    f"events on {subject!r} (emitted by {by}) have no subscriber: they are dropped",
                )
            )
    for name, p in patterns:
        if not any(pattern_matches(p, s) for s in published):
            out.append(
                CapacityWarning(
                    "unfed-subscription",
                    p,
                    f"{name} subscribes to {p!r} but nothing publishes a matching subject",
                )
            )
    return out


def service_work(sc: m.Scenario) -> dict[str, tuple[float, float]]:
    """Per service: (mean, second-moment rate) of app work arriving per second.

    Over a window of length T with Poisson arrivals, the work a service receives is compound
    Poisson, with mean ``T · mean`` and variance ``T · second`` (``second = sum_f lam_f
    E[W_f²]`` with ``W_f`` the work one request of flow f brings to the service).
    """
    rates = flow_rates(sc)
    obs = _observers(sc)
    memo: dict[tuple[str, str], Moments] = {}
    out: dict[str, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    for f in sc.workload.flows:
        for s, (mean, var) in _work(sc, obs, f.service, f.operation, memo).items():
            m0, m2 = out[s]
            out[s] = (m0 + rates[f.name] * mean, m2 + rates[f.name] * (var + mean * mean))
    return dict(out)


def _work(
    sc: m.Scenario,
    obs: Observers,
    service: str,
    operation: str,
    memo: dict[tuple[str, str], Moments],
) -> Moments:
    key = (service, operation)
    if key in memo:
        return memo[key]
    op = sc.services[service].operations[operation]
    acc: Moments = defaultdict(lambda: (0.0, 0.0))

    def add(part: Moments, p: float = 1.0) -> None:
        for s, (mean, var) in part.items():
            m0, v0 = acc[s]
            second = var + mean * mean
            acc[s] = (m0 + p * mean, v0 + p * second - (p * mean) ** 2)

    add({service: (op.demand.mean, second_moment(op.demand) - op.demand.mean**2)})
    add(_copies(sc, obs, request_subject(sc, service, operation)))
    for call in op.calls:
        add(_work(sc, obs, call.service, call.operation, memo), call.probability)
    for e in op.emits:
        add(_copies(sc, obs, e.subject), e.probability)
    memo[key] = dict(acc)
    return memo[key]


def _copies(sc: m.Scenario, obs: Observers, subject: str) -> Moments:
    """Work the observers of one message receive (independent copies)."""
    out: Moments = defaultdict(lambda: (0.0, 0.0))
    for o in obs.get(subject, ()):
        svc = sc.services[o.service]
        d = svc.operations[o.operation].demand
        n = svc.instances if o.delivery == "each" else 1
        m0, v0 = out[o.service]
        out[o.service] = (m0 + n * d.mean, v0 + n * (second_moment(d) - d.mean**2))
    return out
