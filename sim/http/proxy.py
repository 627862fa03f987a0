"""Envoy-like proxies: API gateway replicas, per-instance sidecars and per-node ztunnels.

A request through a proxy costs its cores twice over. Moving its bytes — reading the request,
writing it upstream, reading the response, writing it back — is the I/O every component that
moves messages pays (:mod:`sim.core.io`, ``io``: per wake-up, per message, per byte, TLS),
charged where the connections are (:mod:`sim.http.wire`). On top, ``cpu_per_request`` is the
L7 work (filters, routing, stats; Istio 1.24's 0.20 vCPU per 1000 rps less the I/O at that
rate). A fraction ``on_path_fraction`` of it is on the request path, half when the request
passes and half when the response passes; the rest (stats, access logs, telemetry) keeps a
core busy after the response has left, so it loads the proxy without delaying that request.

Memory is a baseline plus the configuration pushed to it: ``memory_per_cluster`` for every
upstream service it knows (≈15 KB, envoyproxy/envoy#5201) and ``memory_per_endpoint`` for
every endpoint (≈1.3 KB, envoyproxy/envoy PR #8189). What it knows is its :class:`View`:
every service in the mesh, or only its dependencies when a Sidecar resource scopes it.
The ledger follows the view whenever a push changes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.core.component import Component
from sim.core.io import Io
from sim.core.network import Place
from sim.core.schedule import Signal
from sim.core.trace import Trace
from sim.http.discovery import View
from sim.scenario.http import Proxy as ProxyConfig

if TYPE_CHECKING:
    from sim.http.routing import Router


class Proxy(Component):
    """A gateway replica, a sidecar or a ztunnel."""

    def __init__(
        self,
        env: Any,
        kind: str,
        name: str,
        place: Place,
        cfg: ProxyConfig,
        service: str = "",
    ):
        super().__init__(
            env, kind, name, place, cores=cfg.cores, memory=cfg.memory, service=service
        )
        self.cfg = cfg
        self.io = Io.of(self.cpu, cfg.io)  # reading and writing requests and responses
        self.workers = cfg.cores if cfg.pools_per_worker else 1  # own upstream pools each
        self.alive = True
        on_path = cfg.cpu_per_request * cfg.on_path_fraction
        self.pass_work = on_path / 2
        self.tail_work = cfg.cpu_per_request - on_path
        self.clusters = 0
        self.endpoints = 0
        self.view: View | None = None
        self.router: Router | None = None

    def configure(self, view: View) -> None:
        """Book the memory of the configuration the view now holds."""
        if not self.alive:
            return
        clusters, endpoints = view.config_size()
        c = self.cfg
        delta = c.memory_per_cluster * (clusters - self.clusters) + c.memory_per_endpoint * (
            endpoints - self.endpoints
        )
        self.clusters, self.endpoints = clusters, endpoints
        if delta:
            self.memory.add(delta)

    def request_pass(self) -> Signal | None:
        """The request going through (routing, mTLS record processing): the CPU job to wait
        for (then :meth:`book` it), or None when the proxy costs nothing."""
        w = self.pass_work
        if w <= 0 and self.tail_work <= 0:
            return None
        self.handled += 1
        assert self.cpu is not None
        return self.cpu.execute(w)

    def response_pass(self) -> Signal | None:
        """The response going back (then :meth:`book` it); the off-path remainder keeps a
        core busy afterwards."""
        w = self.pass_work
        if w <= 0 and self.tail_work <= 0:
            return None
        assert self.cpu is not None
        return self.cpu.execute(w, self.tail_work)

    def book(self, tr: Trace, t0: float) -> None:
        """Book a pass that began at ``t0`` and has just ended. (A pass is a step of the trip
        that carries the request or response, :class:`sim.http.wire._Legs`: no generator.)"""
        w = self.pass_work
        tr.infra += w
        tr.queueing += self.env._now - t0 - w
