"""The HTTP transport: edge clients → gateway → sidecar → service → sidecar → sidecar → …

Every hop is a request/response exchange over a pooled connection (:class:`Pool`): acquire
a stream (maybe a new connection with TCP+TLS handshakes), send the request bytes, let the
next hop work, send the response bytes back, release. Which hops exist depends on the
scenario: ``gateway.enabled``, ``sidecar.enabled`` and ``internal_route`` (internal calls
through the sidecar mesh, through the gateway, or direct). The component that picks an
endpoint (gateway, outbound sidecar, or the caller when direct) balances round robin over
the service's registered instances (static endpoints in this version).

Events are webhooks: one HTTP request per observer per event, sent from the publisher's
outbound sidecar (GitHub-style, CALIBRATION.md). Listen-only observers of a request subject
get a mirrored copy from the proxy that routed the request (Envoy request mirroring).

TLS per link: clients → gateway one-way TLS; into a sidecar mTLS (``http.tls``);
sidecar ↔ its own app plaintext on loopback; without sidecars the apps terminate TLS.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from itertools import count
from typing import Any

from sim.app.application import Application, Observer, request_subject
from sim.app.service import ServiceInstance
from sim.app.transport import ERROR, OK, Plan
from sim.core.component import Component
from sim.core.connections import Pool, open_accounting
from sim.core.trace import Trace
from sim.http.proxy import Proxy
from sim.scenario.model import HttpSettings, Tls

Act = Callable[[ServiceInstance, Trace], Generator[Any, Any, str]]
PLAIN = Tls(version="none", mutual=False)


class HttpTransport:
    """The service-mesh architecture behind the Transport seam."""

    name = "http"

    def __init__(self, app: Application, cfg: HttpSettings):
        self.app = app
        self.env = app.env
        self.net = app.net
        self.cfg = cfg
        self.edge_tls = cfg.tls.model_copy(update={"mutual": False})
        self.sidecars: dict[ServiceInstance, Proxy] = {}
        self.endpoints: dict[str, list[ServiceInstance]] = {s: [] for s in app.sc.services}
        self.gateways: list[Proxy] = []
        self.infra: list[Component] = []
        self.control_plane: Component | None = None
        self._pools: dict[tuple[int, int, int], Pool] = {}
        self._rr: dict[tuple[int, str], int] = {}
        self._gw_rr = count()
        self.clusters = len(app.sc.services)
        self.streams = cfg.pool.max_streams if cfg.protocol == "http2" else 1

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        g = self.cfg.gateway
        placer = self.app.placer
        if g.enabled:
            for i in range(g.replicas):
                gw = Proxy(
                    self.env,
                    "gateway",
                    f"gateway-{i}",
                    placer.infra("gateway", i),
                    g,
                    self.clusters,
                )
                self.gateways.append(gw)
        self.infra.extend(self.gateways)
        cp = self.cfg.control_plane
        if self.cfg.sidecar.enabled and cp.enabled:
            self.control_plane = Component(
                self.env,
                "control-plane",
                "istiod",
                placer.infra("istiod", 0),
                cores=cp.cores,
                memory=cp.memory,
            )
            self.infra.append(self.control_plane)
            for gw in self.gateways:  # gateways are xDS clients too
                self._xds_connect(gw)

    def attach(self, inst: ServiceInstance) -> None:
        self.endpoints[inst.service].append(inst)
        if self.cfg.sidecar.enabled:
            sc = Proxy(
                self.env,
                "sidecar",
                f"{inst.name}.sidecar",
                inst.place,
                self.cfg.sidecar,
                self.clusters,
                inst.service,
            )
            self.sidecars[inst] = sc
            self.infra.append(sc)
            self._xds_connect(sc)

    def detach(self, inst: ServiceInstance) -> None:
        self.endpoints[inst.service].remove(inst)

    def _xds_connect(self, proxy: Component) -> None:
        cp = self.control_plane
        if cp is None:
            return
        cp.memory.add(self.cfg.control_plane.memory_per_proxy)
        open_accounting(proxy, cp, self.cfg.tls)  # one long-lived xDS gRPC stream per proxy

    def components(self) -> list[Component]:
        return self.infra

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
        op = self.app.sc.services[service].operations[operation]
        req, resp = op.request_bytes, op.response_bytes

        def act(inst: ServiceInstance, t: Trace) -> Generator[Any, Any, str]:
            return inst.serve(t, operation, plan)

        subject = request_subject(self.app.sc, service, operation)
        mirrors = self.app.observers.get(subject, ())
        edge = caller is self.app.clients
        client = tr.id % self.app.sc.workload.clients if edge else 0
        if edge or not self.cfg.sidecar.enabled or self.cfg.internal_route == "direct":
            via_gateway = self.gateways and (edge or self.cfg.internal_route == "gateway")
            if via_gateway:
                return (
                    yield from self._to_gateway(
                        tr, caller, client, service, req, resp, act, mirrors, subject
                    )
                )
            self._mirror(caller, mirrors, subject, req)
            return (yield from self._to_instance(tr, caller, client, service, req, resp, act))
        sa = self.sidecars[caller]  # type: ignore[index]
        outbound = self._outbound(tr, sa, service, req, resp, act, mirrors, subject)
        return (yield from self._exchange(tr, caller, 0, sa, PLAIN, req, resp, outbound))

    def _outbound(
        self,
        tr: Trace,
        sa: Proxy,
        service: str,
        req: float,
        resp: float,
        act: Act,
        mirrors: tuple[Observer, ...],
        subject: str,
    ) -> Generator[Any, Any, str]:
        yield from sa.request_pass(tr)
        if self.gateways and self.cfg.internal_route == "gateway":
            status = yield from self._to_gateway(
                tr, sa, 0, service, req, resp, act, mirrors, subject
            )
        else:
            self._mirror(sa, mirrors, subject, req)
            status = yield from self._to_instance(tr, sa, 0, service, req, resp, act)
        yield from sa.response_pass(tr)
        return status

    def _to_gateway(
        self,
        tr: Trace,
        frm: Component,
        client: int,
        service: str,
        req: float,
        resp: float,
        act: Act,
        mirrors: tuple[Observer, ...],
        subject: str,
    ) -> Generator[Any, Any, str]:
        gw = self.gateways[next(self._gw_rr) % len(self.gateways)]
        tls = self.edge_tls if frm is self.app.clients else self.cfg.tls
        return (
            yield from self._exchange(
                tr,
                frm,
                client,
                gw,
                tls,
                req,
                resp,
                self._at_gateway(tr, gw, service, req, resp, act, mirrors, subject),
            )
        )

    def _at_gateway(
        self,
        tr: Trace,
        gw: Proxy,
        service: str,
        req: float,
        resp: float,
        act: Act,
        mirrors: tuple[Observer, ...],
        subject: str,
    ) -> Generator[Any, Any, str]:
        yield from gw.request_pass(tr)
        self._mirror(gw, mirrors, subject, req)
        status = yield from self._to_instance(tr, gw, 0, service, req, resp, act)
        yield from gw.response_pass(tr)
        return status

    def _to_instance(
        self,
        tr: Trace,
        frm: Component,
        client: int,
        service: str,
        req: float,
        resp: float,
        act: Act,
        inst: ServiceInstance | None = None,
    ) -> Generator[Any, Any, str]:
        if inst is None:
            inst = self._pick(frm, service)
        if inst is None:
            return ERROR  # no healthy upstream (Envoy 503)
        if self.cfg.sidecar.enabled:
            sb = self.sidecars[inst]
            return (
                yield from self._exchange(
                    tr,
                    frm,
                    client,
                    sb,
                    self._tls_into(frm),
                    req,
                    resp,
                    self._inbound(tr, sb, inst, req, resp, act),
                )
            )
        return (
            yield from self._exchange(
                tr, frm, client, inst, self._tls_into(frm), req, resp, act(inst, tr)
            )
        )

    def _inbound(
        self, tr: Trace, sb: Proxy, inst: ServiceInstance, req: float, resp: float, act: Act
    ) -> Generator[Any, Any, str]:
        yield from sb.request_pass(tr)
        status = yield from self._exchange(tr, sb, 0, inst, PLAIN, req, resp, act(inst, tr))
        yield from sb.response_pass(tr)
        return status

    def _tls_into(self, frm: Component) -> Tls:
        return self.edge_tls if frm is self.app.clients else self.cfg.tls

    def _pick(self, picker: Component, service: str) -> ServiceInstance | None:
        eps = self.endpoints[service]
        if not eps:
            return None
        key = (id(picker), service)
        i = self._rr.get(key, 0)
        self._rr[key] = i + 1
        return eps[i % len(eps)]

    def _exchange(
        self,
        tr: Trace,
        frm: Component,
        client: int,
        to: Component,
        tls: Tls,
        req: float,
        resp: float,
        at_dest: Generator[Any, Any, str],
    ) -> Generator[Any, Any, str]:
        """Request over a pooled connection, the destination's work, and the response back."""
        env = self.env
        pool = self._pool(frm, client, to, tls)
        conn = yield from pool.acquire(tr)
        d = self.net.one_way(frm.place, to.place, req)
        frm.bytes_out += req
        tr.hop(env.now, frm.name, to.name, "request")
        if d > 0:
            yield env.timeout(d)
            tr.network += d
        status = yield from at_dest
        d = self.net.one_way(to.place, frm.place, resp)
        to.bytes_out += resp
        tr.hop(env.now, to.name, frm.name, "response")
        if d > 0:
            yield env.timeout(d)
            tr.network += d
        pool.release(conn)
        return status

    def _pool(self, frm: Component, client: int, to: Component, tls: Tls) -> Pool:
        key = (id(frm), client, id(to))
        pool = self._pools.get(key)
        if pool is None:
            p = self.cfg.pool
            idle = self.cfg.client_idle_timeout if frm is self.app.clients else p.idle_timeout
            pool = Pool(self.env, self.net, frm, to, tls, p.max_connections, self.streams, idle)
            self._pools[key] = pool
        return pool

    # ------------------------------------------------------------------ events
    def publish(self, source: ServiceInstance, subject: str, nbytes: float) -> None:
        for obs in self.app.observers.get(subject, ()):
            self._deliver(source, obs, subject, nbytes)

    def _mirror(
        self, frm: Component, mirrors: tuple[Observer, ...], subject: str, nbytes: float
    ) -> None:
        for obs in mirrors:
            self._deliver(frm, obs, subject, nbytes)

    def _deliver(self, frm: Component, obs: Observer, subject: str, nbytes: float) -> None:
        targets: list[ServiceInstance | None]
        targets = list(self.endpoints[obs.service]) if obs.delivery == "each" else [None]
        for inst in targets:
            self.env.process(self._webhook(frm, obs, subject, nbytes, inst))

    def _webhook(
        self,
        frm: Component,
        obs: Observer,
        subject: str,
        nbytes: float,
        inst: ServiceInstance | None,
    ) -> Generator[Any, Any, None]:
        tr = self.app.event_trace(f"{subject} → {obs.service}", self.env.now)

        def act(i: ServiceInstance, t: Trace) -> Generator[Any, Any, str]:
            return i.on_event(t, obs.operation)

        if isinstance(frm, ServiceInstance) and frm in self.sidecars:
            sa = self.sidecars[frm]
            gen = self._webhook_out(tr, sa, obs.service, nbytes, act, inst)
            status = yield from self._exchange(tr, frm, 0, sa, PLAIN, nbytes, 0.0, gen)
        else:
            status = yield from self._to_instance(tr, frm, 0, obs.service, nbytes, 0.0, act, inst)
        self.app.recorder.event(tr, self.env.now, status if status else OK)

    def _webhook_out(
        self,
        tr: Trace,
        sa: Proxy,
        service: str,
        nbytes: float,
        act: Act,
        inst: ServiceInstance | None,
    ) -> Generator[Any, Any, str]:
        yield from sa.request_pass(tr)
        status = yield from self._to_instance(tr, sa, 0, service, nbytes, 0.0, act, inst)
        yield from sa.response_pass(tr)
        return status
