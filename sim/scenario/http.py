"""HTTP-side settings: gateway, sidecars or ambient ztunnels, routes (timeouts, retries,
balancing), pools, the control plane, service discovery and the orchestrator, and events.

Every default names its source: published figures and measurements (``scenarios/SOURCES.md``) (Istio, Envoy, Go
net/http, Kubernetes, Consul, GitHub webhooks, RFC 6202) or a public source named in the
text. Where a figure is an assumption the text says so. ``None`` means "off" (no timeout,
no retry budget) or "derived from another setting", as each field explains.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from sim.scenario.base import LocatedError, Strict, cited
from sim.scenario.common import PROXY_IO, PROXY_IO_SOURCE, IoCost, Tls
from sim.scenario.units import Duration, Size

RetryOn = Literal["connect-failure", "reset", "503", "5xx", "per-try-timeout"]


# --------------------------------------------------------------------------- routes
class Retries(Strict):
    """Envoy retry policy as Istio configures it (VirtualService ``retries``)."""

    attempts: int = cited(
        2, "Istio retry.DefaultPolicy (pilot/pkg/networking/core/route/retry): 2 retries", ge=0
    )
    retry_on: list[RetryOn] = cited(
        ["connect-failure", "503"],
        "Istio DefaultPolicy retryOn: connect-failure, refused-stream, unavailable, "
        "cancelled, retriable-status-codes (503)",
    )
    per_try_timeout: Duration | None = cited(
        None, "Istio: unset, the route timeout bounds every attempt", gt=0
    )
    backoff_base: Duration = cited(
        0.025, "Envoy RetryBackOff base_interval default 25 ms, fully jittered", ge=0
    )
    backoff_max: Duration | None = cited(
        None, "Envoy RetryBackOff max_interval default: 10 × base_interval", ge=0
    )
    budget_percent: float | None = cited(
        None,
        "Istio sets no retry budget; Envoy RetryBudget budget_percent default 20 % when set",
        ge=0,
        le=100,
    )
    min_retry_concurrency: int = cited(3, "Envoy RetryBudget min_retry_concurrency default 3", ge=0)
    max_active_retries: int = cited(
        2**32 - 1, "Istio ConnectionPoolSettings http.maxRetries default 2^32-1 (Envoy: 3)", ge=0
    )
    previous_hosts: bool = cited(
        True, "Istio DefaultPolicy: retry host predicate previous_hosts (retry elsewhere)"
    )


class OutlierDetection(Strict):
    """Envoy passive outlier detection (Istio DestinationRule ``outlierDetection``)."""

    enabled: bool = cited(
        False,
        "Istio: no outlier detection unless a DestinationRule trafficPolicy sets "
        "outlierDetection; Envoy clusters have none unless configured",
    )
    consecutive_5xx: int = cited(
        5, "Envoy OutlierDetection consecutive_5xx default 5 (Istio consecutive5xxErrors)", ge=1
    )
    interval: Duration = cited(
        10.0,
        "Envoy OutlierDetection interval default 10 s (un-ejection checks; modelled exactly "
        "at ejection + base_ejection_time × times ejected)",
        gt=0,
    )
    base_ejection_time: Duration = cited(
        30.0, "Envoy OutlierDetection base_ejection_time default 30 s (× times ejected)", gt=0
    )
    max_ejection_percent: float = cited(
        10.0,
        "Envoy OutlierDetection max_ejection_percent default 10 %, but at least one host "
        "is ejected regardless of the value",
        ge=0,
        le=100,
    )


class Route(Strict):
    """How one picker sends to one destination service (VirtualService + DestinationRule)."""

    timeout: Duration | None = cited(
        None, "Istio: the Envoy HTTP request timeout is disabled by default", gt=0
    )
    retries: Retries = Field(default_factory=lambda: Retries())
    balancing: Literal["round_robin", "random", "least_request"] = cited(
        "least_request", "Istio 1.14 changed the default from ROUND_ROBIN to LEAST_REQUEST"
    )
    choice_count: int = cited(
        2, "Envoy LeastRequestLbConfig choice_count default 2 (power of two choices)", ge=1
    )
    outlier: OutlierDetection = Field(default_factory=lambda: OutlierDetection())


# --------------------------------------------------------------------------- proxies
class Proxy(Strict):
    """An Envoy-like proxy: per-request CPU, part on the request path, part after it."""

    enabled: bool = True
    cores: int = cited(2, "Istio ProxyConfig concurrency default: 2 worker threads", ge=1)
    io: IoCost | None = cited(
        PROXY_IO,
        PROXY_IO_SOURCE,
        description="what reading and writing requests and responses costs the proxy's cores "
        "(sim.core.io); null: free",
    )
    cpu_per_request: Duration = cited(
        0.13e-3,
        "derived: Istio 1.24 performance page, 0.20 vCPU per 1000 rps per proxy (1 KB, mTLS), "
        "minus the ≈70 µs its I/O costs at 1000 rps under `io` (4 reads or writes, 2 on mTLS, "
        "37 % of requests waking it from sleep): the L7 work (filters, routing, stats)",
        description="L7 work per request beyond moving its bytes (CPU seconds)",
        ge=0,
    )
    on_path_fraction: float = cited(
        0.30,
        "derived: Istio 1.20 two-proxy p90 +0.228 ms ⇒ ≤114 µs per proxy, less its ≈70 µs "
        "of I/O (on the path) and the two loopback crossings (one same-host round trip, "
        "≈5 µs) already charged: ≈39 µs of the 130 µs L7 work on the path, the rest "
        "(telemetry, stats) after the response",
        description="share of cpu_per_request done while the request waits",
        ge=0,
        le=1,
    )
    memory: Size = cited(
        45 * 2**20,
        "derived: Istio 60 MB per proxy at 1000 services minus 15 KB × 1000 clusters",
        ge=0,
    )
    memory_per_cluster: Size = cited(15 * 1024, "envoyproxy/envoy issue #5201: ≈15 KB", ge=0)
    memory_per_endpoint: Size = cited(
        1283, "envoyproxy/envoy PR #8189 stats_integration_test: 1,283 B per host", ge=0
    )
    config_cpu: Duration = cited(
        0.1e-3, "assumption: applying one incremental EDS update (well under a ms)", ge=0
    )
    route: Route = Field(default_factory=lambda: Route())


class Sidecar(Proxy):
    """The per-instance proxy (inbound and outbound)."""

    scope: Literal["mesh", "dependencies"] = cited(
        "mesh",
        "Istio default: every service in the mesh is pushed to every sidecar; a Sidecar "
        "resource (egress hosts) scopes it to the services an instance calls",
    )


class LbHealthCheck(Strict):
    """Active health checks of the L4 load balancer in front of the gateway replicas (an AWS
    Network Load Balancer TCP target group; defaults from the Elastic Load Balancing API
    reference, CreateTargetGroup, for protocol TCP). Probes go out at t = k × interval
    (k = 0, 1, …); a replica leaves the rotation after ``unhealthy_threshold`` failed
    probes in a row and rejoins after ``healthy_threshold`` good ones
    (:mod:`sim.http.gateway`)."""

    enabled: bool = cited(
        True,
        "AWS ELB target groups: for instance and ip targets health checks are always enabled "
        "and cannot be disabled (AWS CDK elasticloadbalancingv2 HealthCheck.enabled)",
    )
    interval: Duration = cited(
        30.0,
        "AWS ELB API CreateTargetGroup HealthCheckIntervalSeconds: 30 s for TCP target "
        "groups (range 5–300)",
        gt=0,
    )
    timeout: Duration = cited(
        10.0,
        "AWS ELB API CreateTargetGroup HealthCheckTimeoutSeconds: 10 s for TCP, TLS or "
        "HTTPS target groups (6 s HTTP; range 2–120)",
        gt=0,
    )
    unhealthy_threshold: int = cited(
        2,
        "AWS ELB API CreateTargetGroup UnhealthyThresholdCount: 2 for TCP target groups "
        "(range 2–10)",
        ge=1,
    )
    healthy_threshold: int = cited(
        5,
        "AWS ELB API CreateTargetGroup HealthyThresholdCount: 5 for TCP target groups (range 2–10)",
        ge=1,
    )

    @model_validator(mode="after")
    def _timeout_inside_interval(self) -> LbHealthCheck:
        if self.timeout >= self.interval:
            raise ValueError(  # the ELB API's own rule: "Health check interval must be
                # greater than the timeout" (ValidationError from CreateTargetGroup)
                "health_check.timeout must be less than health_check.interval"
            )
        return self


class Gateway(Proxy):
    """API gateway replicas: edge traffic (and internal traffic when routed through it)."""

    replicas: int = Field(2, ge=1, le=1000)
    health_check: LbHealthCheck = Field(
        default_factory=lambda: LbHealthCheck(),
        description="the L4 load balancer's active health checks of the replicas",
    )
    cores: int = cited(2, "Istio ingress gateway: Envoy with 2 worker threads", ge=1)
    route: Route = cited(
        Route(timeout=15.0, retries=Retries(attempts=0), balancing="round_robin"),
        "Envoy defaults (an Envoy API gateway): route timeout 15 s, no retry policy, "
        "cluster lb_policy ROUND_ROBIN",
    )


class Ztunnel(Proxy):
    """Ambient mode: one L4 proxy per node instead of a sidecar per instance."""

    enabled: bool = False
    cores: int = cited(2, "ztunnel worker_threads default 2", ge=1)
    cpu_per_request: Duration = cited(
        0.0,
        "derived: Istio 1.22/1.24 ztunnel 0.06 vCPU per 1000 rps; its I/O under `io` alone "
        "is ≈70 µs at 1000 rps (an L4 proxy: no L7 work on top)",
        ge=0,
    )
    on_path_fraction: float = cited(
        1.0,
        "derived: two ztunnels add p90 0.17 ms ≈ their I/O plus four loopback crossings",
        ge=0,
        le=1,
    )
    memory: Size = cited(12 * 2**20, "Istio 1.22/1.24: ztunnel 12 MB at 1000 rps", ge=0)
    memory_per_cluster: Size = cited(0, "ztunnel holds workloads, not Envoy clusters", ge=0)
    memory_per_endpoint: Size = cited(
        1283,
        "assumption: as Envoy's per-host entry (envoyproxy/envoy PR #8189); no published "
        "ztunnel figure",
        ge=0,
    )
    route: Route = cited(
        Route(retries=Retries(attempts=0)), "ztunnel is L4: no HTTP retries or timeouts"
    )


class Pool(Strict):
    """Connections from one proxy/client to one upstream host."""

    max_connections: int = cited(
        1024, "Istio maxConnections (per destination host) / Envoy circuit breaker 1024", ge=1
    )
    max_pending: int = cited(1024, "Envoy circuit breaker max_pending_requests 1024", ge=0)
    max_streams: int = cited(
        100, "RFC 9113 §6.5.2: SETTINGS_MAX_CONCURRENT_STREAMS should be ≥ 100", ge=1
    )
    idle_timeout: Duration = cited(3600.0, "Envoy HTTP idle timeout default 1 h", gt=0)
    connect_timeout: Duration = cited(
        5.0,
        "Envoy Cluster connect_timeout default 5 s (covers the TLS handshake; Istio's "
        "meshConfig connectTimeout sets 10 s on sidecars)",
        gt=0,
    )


# --------------------------------------------------------------------------- control plane
class ControlPlane(Strict):
    """istiod: one xDS stream per proxy, debounced pushes, CPU per proxy pushed to."""

    enabled: bool = True
    replicas: int = cited(
        1,
        "Istio Helm chart (istio-discovery) values: replicaCount 1, autoscaleMin 1; each proxy "
        "holds its xDS stream to one replica, every replica watches the catalog",
        ge=1,
        le=100,
    )
    cores: int = cited(1, "Istio: 1 vCPU for 1000 services / 2000 sidecars", ge=1)
    memory: Size = cited(
        256 * 2**20, "assumption: istiod base footprint before proxies connect", ge=0
    )
    memory_per_proxy: Size = cited(
        0.75 * 2**20, "derived: Istio 1.5 GB for 2000 sidecars ≈ 0.75 MB each", ge=0
    )
    debounce_after: Duration = cited(0.1, "Istio PILOT_DEBOUNCE_AFTER 100 ms", ge=0)
    debounce_max: Duration = cited(10.0, "Istio PILOT_DEBOUNCE_MAX 10 s", ge=0)
    cpu_per_push: Duration = cited(
        1e-3,
        "assumption bounded by istio/istio#38677: 98 % of EDS pushes take < 10 ms per proxy",
        ge=0,
    )
    push_bytes_per_cluster: Size = cited(
        205, "envoyproxy/envoy PR #15231: a Cluster is 205 B on the wire", ge=0
    )
    push_bytes_per_endpoint: Size = cited(
        19, "envoyproxy/envoy PR #15231: a 101-endpoint assignment is 1,933 B on the wire", ge=0
    )


# --------------------------------------------------------------------------- discovery
class Readiness(Strict):
    """Readiness probing of a new or failing instance (kubelet / Consul agent check)."""

    period: Duration = cited(10.0, "k8s SetDefaults_Probe: periodSeconds 10", gt=0)
    success_threshold: int = cited(1, "k8s SetDefaults_Probe: successThreshold 1", ge=1)
    failure_threshold: int = cited(3, "k8s SetDefaults_Probe: failureThreshold 3", ge=1)
    timeout: Duration = cited(1.0, "k8s SetDefaults_Probe: timeoutSeconds 1", gt=0)
    initial_delay: Duration = cited(0.0, "k8s: initialDelaySeconds 0", ge=0)


class Orchestrator(Strict):
    """What the orchestrator does when instances start and stop."""

    readiness: Readiness = Field(default_factory=lambda: Readiness())
    exit_detection: Duration = cited(
        1.0, "kubelet PLEG relist period 1 s: an exited container is noticed within it", ge=0
    )
    drain: Duration = cited(
        5.0,
        "assumption: a preStop sleep keeps a stopping instance serving while its removal "
        "propagates (0 = the process exits on SIGTERM)",
        ge=0,
    )


class Discovery(Strict):
    """The catalog (EndpointSlices or Consul) and how changes reach every picker."""

    catalog: Literal["kubernetes", "consul"] = "kubernetes"
    propagation: Literal["auto", "xds", "kube-proxy", "dns"] = cited(
        "auto", "auto: xDS when a mesh (sidecars/ambient) is on, else kube-proxy (ClusterIP)"
    )
    update_delay: Duration = cited(
        0.066,
        "istio/istio#18368 pilot log: pod update → EndpointSlice update seen 66 ms later",
        ge=0,
    )
    cores: int = cited(1, "assumption: the discovery share of the API server / Consul", ge=1)
    memory_per_endpoint: Size = cited(
        300, "derived: k8s blog 2020-09-02, a 5,000-pod Endpoints object was 1.5 MB", ge=0
    )
    bytes_per_endpoint: Size = cited(
        300, "derived: k8s blog 2020-09-02, 1.5 MB for 5,000 endpoints", ge=0
    )
    slice_size: int = cited(100, "k8s EndpointSlice: at most 100 endpoints per slice", ge=1)
    cpu_per_watch_event: Duration = cited(
        50e-6, "assumption: serialising and sending one watch event to one watcher", ge=0
    )
    kube_proxy_min_sync: Duration = cited(1.0, "kube-proxy --iptables-min-sync-period 1 s", ge=0)
    dns_ttl: Duration | None = cited(
        None, "None: CoreDNS 5 s for kubernetes, Consul DNS 0 s for consul", ge=0
    )
    dns_cpu_per_query: Duration = cited(
        30e-6, "assumption: CoreDNS answers tens of thousands of queries per core", ge=0
    )
    dns_memory: Size = cited(70 * 2**20, "kubeadm CoreDNS deployment: memory request 70Mi", ge=0)

    def ttl(self) -> float:
        """The DNS TTL in force (the catalog's own default when not set)."""
        if self.dns_ttl is not None:
            return self.dns_ttl
        return 5.0 if self.catalog == "kubernetes" else 0.0


# --------------------------------------------------------------------------- events
class Events(Strict):
    """How events (and the audit listener's copies) travel over HTTP."""

    delivery: Literal["webhook", "longpoll"] = cited(
        "webhook", "GitHub webhooks: one HTTP request per subscriber per event"
    )
    audit: Literal["mirror", "webhook", "longpoll"] = cited(
        "mirror", "Envoy request_mirror_policies: the routing proxy sends a shadow copy"
    )
    webhook_timeout: Duration = cited(10.0, "GitHub webhooks wait 10 s for a 2xx", gt=0)
    webhook_retries: int = cited(0, "GitHub does not retry failed deliveries", ge=0)
    webhook_backoff: Duration = cited(
        1.0, "assumption: first retry after 1 s, doubling (only with webhook_retries > 0)", ge=0
    )
    longpoll_hold: Duration = cited(
        30.0,
        "RFC 6202 §5.5: intermediaries drop held requests after 30–120 s; 30 s stays below",
        gt=0,
    )
    longpoll_retry: Duration = cited(1.0, "assumption: a failed poll is re-issued after 1 s", ge=0)


# --------------------------------------------------------------------------- all of it
class Stack(Strict):
    """The HTTP client and server stack inside each service (Go net/http or alike)."""

    io: IoCost | None = cited(
        IoCost(),
        "assumption: a Go net/http stack pays per read or write what nats-server's Go I/O path "
        "was measured to pay (same runtime, same system calls), as the messaging side's client "
        "library (messaging.client.io) does",
        description="what the service's HTTP stack costs its own cores per request or response "
        "read or written (sim.core.io); null: free",
    )


class HttpSettings(Strict):
    protocol: Literal["http1", "http2"] = cited(
        "http1", "Istio DestinationRule h2UpgradePolicy default DO_NOT_UPGRADE"
    )
    internal_route: Literal["mesh", "gateway", "direct"] = cited(
        "mesh", "Istio: service-to-service traffic goes sidecar to sidecar"
    )
    failover: Literal["locality", "dns"] = cited(
        "locality",
        "Istio locality load balancing (on by default; failover needs outlier detection): "
        "services deployed in several regions under one name are one service, the local "
        "region is preferred and the next region by round trip takes over when no local "
        "endpoint is left or usable",
        description="locality: a service spans regions (deployments answering the same "
        "request subject and operation), picked by locality priority; dns: each deployment "
        "is its own name, only a DNS failover record (failover:) moves callers",
    )
    gateway: Gateway = Field(default_factory=lambda: Gateway())
    sidecar: Sidecar = Field(default_factory=lambda: Sidecar())
    stack: Stack = Field(default_factory=lambda: Stack())
    ambient: Ztunnel = Field(default_factory=lambda: Ztunnel())
    client: Route = cited(
        Route(retries=Retries(attempts=0), balancing="round_robin"),
        "Go net/http: no retries, Client.Timeout 0 (none); round robin over resolved addresses",
    )
    routes: dict[str, Route] = Field(
        default_factory=dict, description="per destination service: overrides every picker's"
    )
    pool: Pool = Field(default_factory=lambda: Pool())
    client_idle_timeout: Duration = cited(90.0, "Go net/http DefaultTransport: 90 s", gt=0)
    tls: Tls = Field(default_factory=lambda: Tls())
    control_plane: ControlPlane = Field(default_factory=lambda: ControlPlane())
    discovery: Discovery = Field(default_factory=lambda: Discovery())
    orchestrator: Orchestrator = Field(default_factory=lambda: Orchestrator())
    events: Events = Field(default_factory=lambda: Events())

    @model_validator(mode="after")
    def _one_mesh(self) -> HttpSettings:
        if self.ambient.enabled and self.sidecar.enabled:
            raise ValueError("ambient mode replaces sidecars: set sidecar.enabled: false")
        if self.propagation() == "xds" and not self.control_plane.enabled:
            raise ValueError("discovery.propagation xds needs control_plane.enabled")
        return self

    @property
    def mesh(self) -> str:
        """'sidecar', 'ambient' or 'none'."""
        if self.sidecar.enabled:
            return "sidecar"
        return "ambient" if self.ambient.enabled else "none"

    def propagation(self) -> str:
        """The propagation mechanism in force (``auto`` resolved)."""
        p = self.discovery.propagation
        if p != "auto":
            return p
        return "xds" if self.sidecar.enabled or self.ambient.enabled else "kube-proxy"


def check_http(http: HttpSettings, services: Mapping[str, Any]) -> None:
    """Raise LocatedError if a per-service route names a service that does not exist."""
    for name in http.routes:
        if name not in services:
            raise LocatedError(("http", "routes", name), f"unknown service {name!r}")
