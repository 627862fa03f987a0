"""The HTTP transport: gateway, sidecar mesh (or ambient ztunnels), discovery, events.

Paths (each arrow is one :meth:`Wire.exchange` over a pooled connection; ``*`` marks the
picker that routes — chooses the endpoint from its own view, applies timeout and retries):

* edge: clients → gateway* → inbound → app (no gateway: clients* → inbound → app);
* internal, ``mesh``: app → own sidecar* → inbound sidecar → app; ambient: app → node
  ztunnel* → destination node's ztunnel (HBONE: mTLS, HTTP/2) → app;
* internal, ``gateway``: app (→ own sidecar) → gateway* → inbound → app;
* internal, ``direct`` or no mesh: app* (proxyless, its own view) → inbound → app.

"Inbound" is the destination's sidecar, its node's ztunnel, or the app itself. TLS: edge
clients → gateway one-way TLS; into a sidecar, ztunnel or (no mesh) an app ``http.tls``
(mTLS by default); app ↔ its own sidecar or node ztunnel plaintext over loopback. An
application that fails (its own call failed) answers 500 (``error``) to its caller.

Discovery feeds every picker's view (:mod:`sim.http.discovery`): the catalog watched by
the control plane (xDS), by each node's kube-proxy, or by DNS. Instance lifecycles go
through the :class:`~sim.http.orchestrator.Orchestrator`. Events go by webhook or long
poll; copies of requests for listen-only observers by mirroring at the routing proxy, by
webhook or by long poll (``http.events``). ``log`` records propagation and first sends.

Lifecycle verbs: :meth:`attach` at time 0 puts an instance straight into the catalog (a
steady state); later — after its boot, :meth:`Application.add_instance` — it goes through
readiness first. :meth:`detach` stops an instance gracefully if it is still running
(:meth:`Application.stop_instance`), else it crashed with its sockets closed;
:meth:`crash` with ``"hang"`` makes it stop answering (a silent hang).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import Any

from sim.app.application import Application, Observer, request_subject
from sim.app.service import ServiceInstance
from sim.app.transport import ERROR, OK, Plan
from sim.core.component import Component
from sim.core.io import Io
from sim.core.network import Place
from sim.core.schedule import Deadlines, call_soon
from sim.core.trace import Trace
from sim.http.controlplane import ControlPlane, XdsClient
from sim.http.discovery import Catalog, DnsServer, KubeProxy, LogRow, View
from sim.http.events import EventDelivery
from sim.http.gateway import GatewayTier
from sim.http.orchestrator import Orchestrator
from sim.http.proxy import Proxy
from sim.http.routing import Router
from sim.http.scope import dependencies
from sim.http.wire import Call, Wire
from sim.scenario.http import HttpSettings
from sim.scenario.model import Scenario, Tls

PLAIN = Tls(version="none", mutual=False)
Observers = tuple[Observer, ...]
Then = Callable[[], Generator[Any, Any, str]]  # the work at a hop's far end (Wire.exchange)
DETECT = ("removed", "unhealthy")  # log rows that say a failure was noticed


def converged(rows: list[LogRow], t: float, service: str) -> float:
    """When the last picker's view of `service` changed after t, before its next change."""
    nxt = next(
        (
            r[0]
            for r in rows
            if r[0] > t + 1e-9 and r[1] in ("ready", "removed") and r[3] == service
        ),
        float("inf"),
    )
    views = [r[0] for r in rows if r[1] == "view" and r[3] == service and t <= r[0] < nxt]
    return max(views, default=t)


def localities(sc: Scenario) -> dict[tuple[str, str], tuple[str, ...]]:
    """(service, request subject) → the deployments of that one service across regions: every
    service whose operation of the same name answers the same subject with the same shape of
    work (calls, events), as the broker's shared queue group (``http.failover: locality``).
    Only names deployed more than once appear."""
    by: dict[tuple[str, str, int, int], list[str]] = {}
    for name, svc in sc.services.items():
        for op_name, op in svc.operations.items():
            key = (request_subject(sc, name, op_name), op_name, len(op.calls), len(op.emits))
            by.setdefault(key, []).append(name)
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for (subject, _op, _c, _e), names in by.items():
        if len(names) > 1:
            for n in names:
                out[(n, subject)] = tuple(names)
    return out


class HttpTransport:
    """The service-mesh architecture behind the Transport seam."""

    name = "http"

    @staticmethod
    def describe(sc: Scenario) -> str:
        """One line for a report: what this architecture deploys for the scenario."""
        h = sc.http
        gw = f"{h.gateway.replicas} gateway replica(s)" if h.gateway.enabled else "no gateway"
        side = {
            "sidecar": "a sidecar per instance",
            "ambient": "a ztunnel per node (ambient mode)",
            "none": "no proxies beside the services",
        }[h.mesh]
        uses_cp = h.propagation() == "xds" or h.mesh != "none"
        cp = "a control plane" if uses_cp and h.control_plane.enabled else "no control plane"
        tls = f"TLS {h.tls.version}{' mutual' if h.tls.mutual else ''}"
        events = {"webhook": "events as webhooks", "longpoll": "events by long polling"}[
            h.events.delivery
        ]
        return (
            f"{gw}, {side}, {cp}, {h.protocol}, internal calls via {h.internal_route}, "
            f"{tls}, {events}, endpoints propagated by {h.propagation()}"
        )

    def __init__(self, app: Application, cfg: HttpSettings):
        self.app = app
        self.env = app.env
        self.net = app.net
        self.cfg = cfg
        self.mesh = cfg.mesh
        self.flavour = cfg.propagation()
        self.edge_tls = cfg.tls.model_copy(update={"mutual": False})
        self.log: list[LogRow] = []
        self._deadlines: dict[float, Deadlines] = {}
        self.wire = Wire(self.env, self.net, cfg, app.clients)
        placer = app.placer
        self.catalog = Catalog(
            self.env, self.net, placer.infra("discovery", 0), cfg.discovery, list(app.sc.services)
        )
        self.control_plane: ControlPlane | None = None  # the first replica
        self.control_planes: list[ControlPlane] = []
        self._cp_of: dict[XdsClient, ControlPlane] = {}  # which replica holds each stream
        self._cp_next = 0  # round robin of new streams over the replicas
        self.dns: DnsServer | None = None
        self.kube_proxies: dict[str, KubeProxy] = {}
        self.gateways = GatewayTier(self.env, placer, cfg.gateway, self.log, self.wire)
        self.sidecars: dict[ServiceInstance, Proxy] = {}
        self.ztunnels: dict[str, Proxy] = {}
        self.own: dict[Component, Router] = {}  # proxyless callers and the edge clients
        self.xds: dict[Component, XdsClient] = {}
        self.infra: list[Component] = [*self.gateways.replicas, self.catalog]
        self.orchestrator = Orchestrator(
            self.env,
            cfg.orchestrator,
            self.catalog,
            cfg.discovery.update_delay,
            self.log,
            self._ready,
            self.kill,
        )
        self.events = EventDelivery(self)
        self.locality = localities(app.sc) if cfg.failover == "locality" else {}
        self.running = False
        self._scope: dict[str, frozenset[str]] = {}
        self._operations: dict[tuple[str, str], tuple[float, float, str, Observers]] = {}

    # ------------------------------------------------------------------ lifecycle
    def deadlines(self, limit: float) -> Deadlines:
        """The shared timer of every timeout of this length (:class:`Deadlines`)."""
        d = self._deadlines.get(limit)
        if d is None:
            d = self._deadlines[limit] = Deadlines(self.env, limit)
        return d

    def start(self) -> None:
        if self.flavour == "xds":
            n = self.cfg.control_plane.replicas
            for i in range(n):
                place = self.app.placer.infra("istiod", i)
                name = "istiod" if n == 1 else f"istiod-{i}"
                cp = ControlPlane(self.env, self.net, place, self.cfg.control_plane, self.log, name)
                self.catalog.watchers.append(cp)
                self.infra.append(cp)
                self.control_planes.append(cp)
            self.control_plane = self.control_planes[0]
        elif self.flavour == "dns":
            place = self.app.placer.infra("dns", 0)
            self.dns = DnsServer(
                self.env, self.net, place, self.cfg.discovery, self.catalog.snapshot
            )
            self.catalog.watchers.append(self.dns)
            self.infra.append(self.dns)
        for gw in self.gateways.replicas:
            gw.router = Router(self, gw, self._view(gw), gw.cfg.route)
        clients = self.app.clients
        clients.io = Io.of(clients.cpu, self.cfg.stack.io)  # the edge clients' HTTP stack
        view = self._view(clients, edge=True)
        self.own[clients] = Router(self, clients, view, self.cfg.client)
        call_soon(self.env, lambda _e: self._settle())  # where env.process would start it

    def _settle(self) -> None:
        """At time 0, after the initial instances attached: book config memory, poll."""
        self.running = True
        for p in self._proxies():
            if p.view is not None:
                p.configure(p.view)
        for insts in self.app.instances.values():
            for inst in insts:
                self.events.start_polls(inst)

    def _proxies(self) -> list[Proxy]:
        return [*self.gateways.replicas, *self.sidecars.values(), *self.ztunnels.values()]

    def _view(
        self, owner: Component, scope: frozenset[str] | None = None, edge: bool = False
    ) -> View:
        """A new picker's view, registered with the propagation mechanism in force."""
        view = View(owner, self.catalog.snapshot, self.log)
        view.scope = scope
        if isinstance(owner, Proxy):
            view.on_change = owner.configure
            owner.view = view
        if self.flavour == "xds":
            if edge:
                self.catalog.watchers.append(view)  # an external LB's controller
            else:
                cpu = owner.cfg.config_cpu if isinstance(owner, Proxy) else 0.0
                client = self.xds[owner] = XdsClient(view, cpu)
                cps = self.control_planes
                cp = self._cp_of[client] = cps[self._cp_next % len(cps)]
                self._cp_next += 1
                cp.connect(client, self.cfg.tls)
        elif self.flavour == "kube-proxy":
            self._kube_proxy(owner.place).views.append(view)
        else:
            view.dns = self.dns
        return view

    def _kube_proxy(self, place: Place) -> KubeProxy:
        kp = self.kube_proxies.get(place.host)
        if kp is None:
            kp = KubeProxy(self.env, place, self.cfg.discovery.kube_proxy_min_sync)
            self.kube_proxies[place.host] = kp
            self.catalog.watchers.append(kp)
        return kp

    def scope(self, service: str) -> frozenset[str]:
        """The services a sidecar of `service` is configured for (scope: dependencies)."""
        s = self._scope.get(service)
        if s is None:
            s = self._scope[service] = dependencies(self.app.sc, self.app.observers, service)
        return s

    def attach(self, inst: ServiceInstance) -> None:
        inst.io = Io.of(inst.cpu, self.cfg.stack.io)  # its HTTP client and server stack
        sidecar: Proxy | None = None
        if self.mesh == "sidecar":
            cfg = self.cfg.sidecar
            name = f"{inst.name}.sidecar"
            sidecar = Proxy(self.env, "sidecar", name, inst.place, cfg, inst.service)
            self.sidecars[inst] = sidecar
            self.infra.append(sidecar)
            scope = self.scope(inst.service) if cfg.scope == "dependencies" else None
            sidecar.router = Router(self, sidecar, self._view(sidecar, scope), cfg.route)
        elif self.mesh == "ambient":
            self._ztunnel(inst.place)
        if self.mesh == "none" or self.cfg.internal_route == "direct":
            self.own[inst] = Router(self, inst, self._view(inst), self.cfg.client)
        if not self.running:
            self.catalog.seed(inst)
            return
        if sidecar is not None and sidecar.view is not None:
            sidecar.configure(sidecar.view)
        self.orchestrator.started(inst)

    def _ztunnel(self, place: Place) -> Proxy:
        zt = self.ztunnels.get(place.host)
        if zt is None:
            name = f"ztunnel-{len(self.ztunnels)}"
            zt = Proxy(self.env, "ztunnel", name, place, self.cfg.ambient)
            self.ztunnels[place.host] = zt
            self.infra.append(zt)
            zt.router = Router(self, zt, self._view(zt), self.cfg.ambient.route)
            if self.running:
                zt.configure(zt.view)  # type: ignore[arg-type]
        return zt

    def detach(self, inst: ServiceInstance) -> None:
        """An instance stops: gracefully if it is still running, else it crashed."""
        if inst.alive:
            self.orchestrator.stopping(inst)
        else:
            self.kill(inst)
            self.orchestrator.crashed(inst)

    def crash(self, inst: ServiceInstance, mode: str = "closed") -> None:
        """An instance fails: ``closed`` (process exits) or ``hang`` (never answers; the
        timeline's ``silent``)."""
        if mode in ("hang", "silent"):
            self.wire.hung.add(inst)
            if inst in self.sidecars:
                self.wire.hung.add(self.sidecars[inst])
            self.orchestrator.hung(inst)
        else:
            inst.alive = False
            self.detach(inst)

    def kill(self, inst: ServiceInstance) -> None:
        """The instance's process (and its sidecar) are gone: connections close, the
        sidecar's xDS stream too, and the sidecar's memory is freed (the pod is gone)."""
        inst.alive = False
        sc = self.sidecars.get(inst)
        for comp in (inst, sc):
            if comp is None:
                continue
            self.wire.kill(comp)
            x = self.xds.pop(comp, None)
            if x is not None and x in self._cp_of:
                self._cp_of.pop(x).disconnect(x, self.cfg.tls)
        if sc is not None:
            sc.alive = False
            sc.memory.remove(sc.memory.gauge.value)

    # ------------------------------------------------------------------ the fault verbs
    # (sim.faults speaks to every architecture through these; sim.app.transport)
    dns_failover = True  # callers reach a service by name: a DNS record can move them

    def stop(self, inst: ServiceInstance) -> None:
        """SIGTERM without a preStop drain: the process exits now and the endpoint is
        removed at once."""
        self.kill(inst)
        self.orchestrator.stopping(inst)

    def lose(self, insts: list[ServiceInstance], grace: float) -> None:
        """Their node is gone: the pods and the node's proxies stop answering at once; the
        node controller marks the pods not ready after ``grace`` (their kubelet is gone)."""
        for inst in insts:
            self.wire.hung.add(inst)
            for proxy in (self.sidecars.get(inst), self.ztunnels.get(inst.place.host)):
                if proxy is not None:
                    self.wire.hung.add(proxy)

        def not_ready() -> None:
            for inst in insts:
                self.orchestrator.stopping(inst)

        self.env.timeout(grace).callbacks.append(lambda _e: not_ready())

    def answers(self, inst: ServiceInstance) -> bool:
        """Would a probe of this instance get an answer (running, not hung)?"""
        return inst.alive and inst not in self.wire.hung

    def infrastructure(self, kind: str) -> list[Any]:
        """The processes of ``kind`` a fault can stop: the gateway replicas."""
        return list(self.gateways.replicas) if kind == "gateway" else []

    def stop_infrastructure(self, proc: Any, mode: str) -> None:
        """A gateway replica stops: refuses (closed) or never answers (silent). The L4
        balancer keeps sending to it until its health checks fail (``http.gateway.
        health_check``: unhealthy_threshold probes in a row, :mod:`sim.http.gateway`)."""
        if mode == "closed":
            proc.alive = False
            self.wire.kill(proc)
        else:
            self.wire.hung.add(proc)

    def start_infrastructure(self, proc: Any) -> None:
        """The replica runs again; the L4 balancer sends to it again once it has passed
        healthy_threshold probes in a row (at once if it never left the rotation)."""
        proc.alive = True
        self.wire.hung.discard(proc)

    def detection(self, t0: float, names: set[str]) -> dict[str, Any] | None:
        """When one of ``names`` was first noticed at or after ``t0`` (``log``): ``removed``
        — the orchestrator declared the instance not ready — or ``unhealthy`` — the L4
        balancer's health checks took a gateway replica out. ``converged``: when the last
        picker's view of that service changed, before its next change (for a replica, the
        balancer is its only picker: that same instant)."""
        rows = self.log
        hit = next((r for r in rows if r[0] >= t0 and r[1] in DETECT and r[2] in names), None)
        if hit is None:
            return None
        lb = hit[1] == "unhealthy"  # the balancer acts on its own verdict at once
        return {
            "t": hit[0],
            "label": f"detected: {hit[2]} {hit[1]}",
            "converged": hit[0] if lb else converged(rows, hit[0], hit[3]),
        }

    def _ready(self, inst: ServiceInstance) -> None:
        self.events.start_polls(inst)

    def components(self) -> list[Component]:
        return self.infra

    # ------------------------------------------------------------------ books
    def routers(self) -> list[Router]:
        """Every picker's router: gateway replicas, sidecars, ztunnels, proxyless callers."""
        out = [p.router for p in self._proxies() if p.router is not None]
        return out + list(self.own.values())

    def counters(self) -> dict[str, float]:
        """Cumulative logical requests, attempts and retries at every picker: attempts are
        its sends, logical requests its sends minus its retries."""
        routers = self.routers()
        sends = float(sum(r.sends for r in routers))
        retries = float(sum(r.retries for r in routers))
        return {"requests": sends - retries, "attempts": sends, "retries": retries}

    def observations(self) -> dict[str, Any]:
        """The architecture's own books (scope, name, metric, value): failure counters of the
        wire (connect failures and timeouts, pending overflows, resets) and, per kind of
        picker, sends, sends to stale endpoints, retries, refused retries and timeouts."""
        w = self.wire
        rows: list[tuple[str, str, str, float]] = [
            ("wire", "all", name, float(getattr(w, name)))
            for name in ("connect_failures", "connect_timeouts", "overflows", "resets")
        ]
        by_kind: dict[str, list[Router]] = {}
        for r in self.routers():
            by_kind.setdefault(r.owner.kind, []).append(r)
        for kind in sorted(by_kind):
            for name in ("sends", "stale_sends", "retries", "retries_refused", "timeouts"):
                total = sum(getattr(r, name) for r in by_kind[kind])
                rows.append(("picker", kind, name, float(total)))
        return {"rows": rows}

    # ------------------------------------------------------------------ requests
    def request(
        self,
        tr: Trace,
        caller: Component,
        service: str,
        operation: str,
        plan: Plan,
        instance: int | None = None,
    ) -> Generator[Any, Any, str]:
        req, resp, subject, mirrors = self._operation(service, operation)

        def act(inst: ServiceInstance, t: Trace) -> Generator[Any, Any, str]:
            return inst.serve(t, operation, plan)

        app = self.app
        call = Call(
            service,
            operation,
            req,
            resp,
            act,
            subject,
            mirrors,
            instance,
            tr.id % app.sc.workload.clients if caller is app.clients else 0,
        )
        return self.send(tr, caller, call)

    def _operation(self, service: str, operation: str) -> tuple[float, float, str, Observers]:
        """Request and response sizes, request subject and its observers of an operation
        (looked up once per operation, not per request)."""
        key = (service, operation)
        got = self._operations.get(key)
        if got is None:
            sc = self.app.sc
            op = sc.services[service].operations[operation]
            subject = request_subject(sc, service, operation)
            got = (
                op.request_bytes,
                op.response_bytes,
                subject,
                self.app.observers.get(subject, ()),
            )
            self._operations[key] = got
        return got

    def send(self, tr: Trace, frm: Component, call: Call) -> Generator[Any, Any, str]:
        """Carry a call from any component along the configured path.

        Like :meth:`request`, :meth:`_via_gateway` and :meth:`attempt`, this only chooses the
        generator that does the work and hands it back (its caller runs it at once, so what is
        chosen here happens at the same instant and in the same order as inside it): not being
        a generator itself, it adds no frame that every event of the call is passed through."""
        if frm is self.app.clients:
            if self.gateways:
                return self._via_gateway(tr, frm, call, self.edge_tls)
            return self.own[frm].route(tr, call)
        if isinstance(frm, Proxy):
            assert frm.router is not None
            return frm.router.route(tr, call)
        route = self.cfg.internal_route
        if route != "direct":
            out: Proxy | None = None
            if self.mesh == "sidecar":
                out = self.sidecars[frm]  # type: ignore[index]
            elif self.mesh == "ambient":
                out = self._ztunnel(frm.place)
            if out is not None:
                then = self._outbound(tr, out, call)
                return self.wire.exchange(tr, frm, out, PLAIN, call, then, proxy=out)
            if route == "gateway" and self.gateways:
                return self._via_gateway(tr, frm, call, self.cfg.tls)
        return self.own[frm].route(tr, call)

    def _via_gateway(
        self, tr: Trace, frm: Component, call: Call, tls: Tls
    ) -> Generator[Any, Any, str]:
        gw = self.gateways.pick()
        assert gw.router is not None
        client = call.client if frm is self.app.clients else call.worker(frm)
        then = partial(gw.router.route, tr, call)
        return self.wire.exchange(tr, frm, gw, tls, call, then, client, proxy=gw)

    def _outbound(self, tr: Trace, out: Proxy, call: Call) -> Then:
        """What the caller's own proxy does between its passes (part of the trips,
        :meth:`Wire.exchange`, which calls it once the request has passed)."""
        if self.cfg.internal_route == "gateway" and self.gateways:
            return partial(self._via_gateway, tr, out, call, self.cfg.tls)
        assert out.router is not None
        return partial(out.router.route, tr, call)

    def attempt(
        self, tr: Trace, frm: Component, inst: ServiceInstance, call: Call
    ) -> Generator[Any, Any, str]:
        """One try from a picker to the instance's inbound side, and its answer."""
        client = call.client if frm is self.app.clients else call.worker(frm)
        tls = self.edge_tls if frm is self.app.clients else self.cfg.tls
        w = self.wire
        if self.mesh == "sidecar":
            sb = self.sidecars[inst]
            then = partial(self._inbound, tr, sb, inst, call)
            return w.exchange(tr, frm, sb, tls, call, then, client, proxy=sb)
        if self.mesh == "ambient":
            zt = self._ztunnel(inst.place)
            if frm is zt:  # same node: the one ztunnel hands it to the app
                return w.exchange(tr, zt, inst, PLAIN, call, partial(self._serve, tr, inst, call))
            then = partial(self._inbound, tr, zt, inst, call)
            streams = self.cfg.pool.max_streams  # HBONE: HTTP/2 CONNECT streams
            return w.exchange(tr, frm, zt, tls, call, then, client, streams, zt)
        return w.exchange(tr, frm, inst, tls, call, partial(self._serve, tr, inst, call), client)

    def _inbound(
        self, tr: Trace, p: Proxy, inst: ServiceInstance, call: Call
    ) -> Generator[Any, Any, str]:
        """From the inbound proxy to the app, once the request has passed the proxy (its
        worker, for the pool, known then)."""
        then = partial(self._serve, tr, inst, call)
        return self.wire.exchange(tr, p, inst, PLAIN, call, then, call.worker(p))

    def _serve(self, tr: Trace, inst: ServiceInstance, call: Call) -> Generator[Any, Any, str]:
        status = yield from call.act(inst, tr)
        if call.mirrors and not call.shadow:
            self.events.copy_request(inst, call)
        return status if status == OK else ERROR  # the application answers 500

    # ------------------------------------------------------------------ discovery queries
    def picker_view(self, frm: Component) -> View:
        """The view that routes calls sent by `frm`."""
        if isinstance(frm, Proxy) and frm.view is not None:
            return frm.view
        if frm in self.own:
            return self.own[frm].view
        if self.mesh == "sidecar" and self.cfg.internal_route != "direct":
            v = self.sidecars[frm].view  # type: ignore[index]
            assert v is not None
            return v
        if self.mesh == "ambient" and self.cfg.internal_route != "direct":
            v = self._ztunnel(frm.place).view
            assert v is not None
            return v
        return self.gateways.replicas[0].view  # type: ignore[return-value]

    def knows(self, frm: Component, inst: ServiceInstance) -> bool:
        """Does the picker of `frm`'s calls still list `inst`?"""
        return inst in self.picker_view(frm).snapshot.get(inst.service, ())

    def instance_indexes(self, frm: Component, service: str) -> list[int]:
        """Indexes of the instances of `service` that `frm`'s picker knows (headless lookup)."""
        return [e.index for e in self.picker_view(frm).snapshot.get(service, ())]

    # ------------------------------------------------------------------ events
    def publish(self, source: ServiceInstance, subject: str, nbytes: float) -> None:
        self.events.publish(source, subject, nbytes)
