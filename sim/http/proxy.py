"""Envoy-like proxies: the API gateway replicas and the per-instance sidecars.

A request through a proxy costs ``cpu_per_request`` seconds of the proxy's cores (Istio
1.24: 0.20 vCPU per 1000 rps). A fraction ``on_path_fraction`` of it is on the request
path, half when the request passes and half when the response passes; the rest (stats,
access logs, telemetry) keeps a core busy after the response has left, so it loads the
proxy without delaying that request. Memory is a baseline plus ``memory_per_cluster`` for
every upstream cluster pushed to it (envoyproxy/envoy#5201).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sim.core.component import Component
from sim.core.network import Place
from sim.core.trace import Trace
from sim.scenario.model import Proxy as ProxyConfig


class Proxy(Component):
    """A gateway replica or a sidecar."""

    def __init__(
        self,
        env: Any,
        kind: str,
        name: str,
        place: Place,
        cfg: ProxyConfig,
        clusters: int,
        service: str = "",
    ):
        super().__init__(
            env,
            kind,
            name,
            place,
            cores=cfg.cores,
            memory=cfg.memory + cfg.memory_per_cluster * clusters,
            service=service,
        )
        self.cfg = cfg
        on_path = cfg.cpu_per_request * cfg.on_path_fraction
        self.pass_work = on_path / 2
        self.tail_work = cfg.cpu_per_request - on_path

    def request_pass(self, tr: Trace) -> Generator[Any, Any, None]:
        """The request going through (routing, mTLS record processing)."""
        w = self.pass_work
        if w <= 0 and self.tail_work <= 0:
            return
        self.handled += 1
        env = self.env
        t0 = env.now
        assert self.cpu is not None
        yield self.cpu.execute(w)
        tr.infra += w
        tr.queueing += env.now - t0 - w

    def response_pass(self, tr: Trace) -> Generator[Any, Any, None]:
        """The response going back; the off-path remainder keeps a core busy afterwards."""
        w = self.pass_work
        if w <= 0 and self.tail_work <= 0:
            return
        env = self.env
        t0 = env.now
        assert self.cpu is not None
        yield self.cpu.execute(w, self.tail_work)
        tr.infra += w
        tr.queueing += env.now - t0 - w
