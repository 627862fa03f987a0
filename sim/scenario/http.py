"""HTTP-side settings: gateway, sidecars, pools, control plane, events. Every default names
its source (CALIBRATION.md rows: Istio, Envoy, Go net/http, GitHub webhooks)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sim.scenario.base import Strict, cited
from sim.scenario.common import Tls
from sim.scenario.units import Duration, Size


class Proxy(Strict):
    """An Envoy-like proxy: per-request CPU, part on the request path, part after it."""

    enabled: bool = True
    cores: int = cited(2, "Istio ProxyConfig concurrency default: 2 worker threads", ge=1)
    cpu_per_request: Duration = cited(
        0.2e-3, "Istio 1.24 performance page: 0.20 vCPU per 1000 rps per proxy", ge=0
    )
    on_path_fraction: float = cited(
        0.5,
        "derived: Istio 1.20 two-proxy p90 +0.228 ms ⇒ ≈57 µs per pass on the path, "
        "the rest (telemetry, stats) after the response",
        ge=0,
        le=1,
    )
    memory: Size = cited(
        45 * 2**20,
        "derived: Istio 60 MB per proxy at 1000 services minus 15 KB × 1000 clusters",
        ge=0,
    )
    memory_per_cluster: Size = cited(15 * 1024, "envoyproxy/envoy issue #5201: ≈15 KB", ge=0)


class Gateway(Proxy):
    replicas: int = Field(2, ge=1, le=1000)
    cores: int = cited(2, "Istio ingress gateway: Envoy with 2 worker threads", ge=1)
    timeout: Duration = cited(15.0, "Envoy route timeout default 15 s", gt=0)


class Pool(Strict):
    """Connections from one proxy/client to one upstream."""

    max_connections: int = cited(1024, "Envoy circuit breaker default: 1024 connections", ge=1)
    max_streams: int = cited(
        100, "RFC 9113 §6.5.2: SETTINGS_MAX_CONCURRENT_STREAMS should be ≥ 100", ge=1
    )
    idle_timeout: Duration = cited(3600.0, "Envoy HTTP idle timeout default 1 h", gt=0)


class ControlPlane(Strict):
    enabled: bool = True
    cores: int = cited(1, "Istio: 1 vCPU for 1000 services / 2000 sidecars", ge=1)
    memory: Size = cited(
        256 * 2**20, "assumption: istiod base footprint before proxies connect", ge=0
    )
    memory_per_proxy: Size = cited(
        0.75 * 2**20, "derived: Istio 1.5 GB for 2000 sidecars ≈ 0.75 MB each", ge=0
    )


class HttpSettings(Strict):
    protocol: Literal["http1", "http2"] = cited(
        "http1", "Istio DestinationRule h2UpgradePolicy default DO_NOT_UPGRADE"
    )
    internal_route: Literal["mesh", "gateway", "direct"] = "mesh"
    gateway: Gateway = Field(default_factory=lambda: Gateway())
    sidecar: Proxy = Field(default_factory=lambda: Proxy())
    pool: Pool = Field(default_factory=lambda: Pool())
    client_idle_timeout: Duration = cited(90.0, "Go net/http DefaultTransport: 90 s", gt=0)
    tls: Tls = Field(default_factory=lambda: Tls())
    control_plane: ControlPlane = Field(default_factory=lambda: ControlPlane())
    events: Literal["webhook"] = cited(
        "webhook", "GitHub webhooks: one HTTP request per subscriber per event"
    )
    webhook_timeout: Duration = cited(10.0, "GitHub webhooks wait 10 s for a 2xx", gt=0)
