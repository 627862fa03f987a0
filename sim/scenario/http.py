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
from sim.scenario.common import PROXY_IO, PROXY_IO_SOURCE, IoCost, ProxyIoCost, Tls
from sim.scenario.units import Duration, Size

RetryOn = Literal["connect-failure", "reset", "503", "5xx", "per-try-timeout"]


# --------------------------------------------------------------------------- routes
class Retries(Strict):
    """Envoy retry policy as Istio configures it (VirtualService ``retries``)."""

    attempts: int = cited(
        2, "Istio retry.DefaultPolicy (pilot/pkg/networking/core/route/retry): 2 retries", ge=0
    )
    """Retries after the first try (count; 0: no retry)."""
    retry_on: list[RetryOn] = cited(
        ["connect-failure", "503"],
        "Istio DefaultPolicy retryOn: connect-failure, refused-stream, unavailable, "
        "cancelled, retriable-status-codes (503)",
    )
    """Which failures are retried (Envoy retry_on conditions)."""
    per_try_timeout: Duration | None = cited(
        None, "Istio: unset, the route timeout bounds every attempt", gt=0
    )
    """Timeout of each attempt, in seconds (none: the route timeout bounds them all)."""
    backoff_base: Duration = cited(
        0.025, "Envoy RetryBackOff base_interval default 25 ms, fully jittered", ge=0
    )
    """Base interval of the fully jittered exponential back-off, in seconds."""
    backoff_max: Duration | None = cited(
        None, "Envoy RetryBackOff max_interval default: 10 × base_interval", ge=0
    )
    """Longest back-off, in seconds (none: 10 x backoff_base)."""
    budget_percent: float | None = cited(
        None,
        "Istio sets no retry budget; Envoy RetryBudget budget_percent default 20 % when set",
        ge=0,
        le=100,
    )
    """Retry budget: active retries at most this percent of active requests (none: no budget)."""
    min_retry_concurrency: int = cited(3, "Envoy RetryBudget min_retry_concurrency default 3", ge=0)
    """Retries always allowed by the budget however few requests are active (count)."""
    max_active_retries: int = cited(
        2**32 - 1, "Istio ConnectionPoolSettings http.maxRetries default 2^32-1 (Envoy: 3)", ge=0
    )
    """Circuit breaker: most retries in flight to one destination at once (count)."""
    previous_hosts: bool = cited(
        True, "Istio DefaultPolicy: retry host predicate previous_hosts (retry elsewhere)"
    )
    """Retry on another host than the ones already tried."""


class OutlierDetection(Strict):
    """Envoy passive outlier detection (Istio DestinationRule ``outlierDetection``)."""

    enabled: bool = cited(
        False,
        "Istio: no outlier detection unless a DestinationRule trafficPolicy sets "
        "outlierDetection; Envoy clusters have none unless configured",
    )
    """Eject hosts that keep failing from load balancing."""
    consecutive_5xx: int = cited(
        5, "Envoy OutlierDetection consecutive_5xx default 5 (Istio consecutive5xxErrors)", ge=1
    )
    """Consecutive 5xx answers (or connection failures) that eject a host (count)."""
    interval: Duration = cited(
        10.0,
        "Envoy OutlierDetection interval default 10 s (un-ejection checks; modelled exactly "
        "at ejection + base_ejection_time × times ejected)",
        gt=0,
    )
    """How often ejections are reconsidered, in seconds."""
    base_ejection_time: Duration = cited(
        30.0, "Envoy OutlierDetection base_ejection_time default 30 s (× times ejected)", gt=0
    )
    """How long an ejection lasts, in seconds, times the number of ejections of that host."""
    max_ejection_percent: float = cited(
        10.0,
        "Envoy OutlierDetection max_ejection_percent default 10 %, but at least one host "
        "is ejected regardless of the value",
        ge=0,
        le=100,
    )
    """Most hosts of a destination ejected at once, in percent (at least one)."""


class Route(Strict):
    """How one picker sends to one destination service (VirtualService + DestinationRule)."""

    timeout: Duration | None = cited(
        None, "Istio: the Envoy HTTP request timeout is disabled by default", gt=0
    )
    """Whole-request timeout, retries included, in seconds (none: no timeout)."""
    retries: Retries = Field(default_factory=lambda: Retries())
    """Retry policy of this route."""
    balancing: Literal["round_robin", "random", "least_request"] = cited(
        "least_request", "Istio 1.14 changed the default from ROUND_ROBIN to LEAST_REQUEST"
    )
    """How a host is chosen among the destination's ready endpoints."""
    choice_count: int = cited(
        2, "Envoy LeastRequestLbConfig choice_count default 2 (power of two choices)", ge=1
    )
    """Hosts sampled per pick by least_request (count; 2: power of two choices)."""
    outlier: OutlierDetection = Field(default_factory=lambda: OutlierDetection())
    """Passive outlier detection of the destination's hosts."""


# --------------------------------------------------------------------------- proxies
class Proxy(Strict):
    """An Envoy-like proxy: per-request CPU, part on the request path, part after it."""

    enabled: bool = True
    """Whether this proxy is deployed."""
    cores: int = cited(2, "Istio ProxyConfig concurrency default: 2 worker threads", ge=1)
    """Worker threads (cores) of each proxy (count)."""
    pools_per_worker: bool = cited(
        True,
        "Envoy threading model: an accepted connection stays on one worker thread for its "
        "life; Envoy FAQ (load balancing, concurrency): connection pools are not shared "
        "between workers",
        description="each worker thread keeps its own upstream connection pools (a request "
        "uses its downstream connection's worker's); false: one pool shared by the workers",
    )
    io: ProxyIoCost = cited(
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
    """CPU seconds per request passing through the proxy (both directions)."""
    on_path_fraction: float = cited(
        0.58,
        "derived: Istio 1.20 two-proxy p90 +0.228 ms ⇒ ≤114 µs per proxy, less its ≈34 µs "
        "of warm I/O on the path (4 reads or writes, 2 on mTLS; a cold wake-up's extra is "
        "paid after the message) and the two loopback crossings (one same-host round trip, "
        "≈5 µs) already charged: ≈75 µs of the 130 µs L7 work on the path, the rest "
        "(telemetry, stats) after the response",
        description="share of cpu_per_request done while the request waits",
        ge=0,
        le=1,
    )
    """Share of cpu_per_request spent before the request moves on (the rest, telemetry and the like, is off the latency path); 0 to 1."""
    memory: Size = cited(
        45 * 2**20,
        "derived: Istio 60 MB per proxy at 1000 services minus 15 KB × 1000 clusters",
        ge=0,
    )
    """Resident memory of one proxy before any configuration, in bytes."""
    memory_per_cluster: Size = cited(15 * 1024, "envoyproxy/envoy issue #5201: ≈15 KB", ge=0)
    """Memory per destination service (Envoy cluster) pushed to the proxy, in bytes."""
    memory_per_endpoint: Size = cited(
        1283, "envoyproxy/envoy PR #8189 stats_integration_test: 1,283 B per host", ge=0
    )
    """Memory per endpoint (host) of those clusters, in bytes."""
    config_cpu: Duration = cited(
        0.1e-3, "assumption: applying one incremental EDS update (well under a ms)", ge=0
    )
    """CPU seconds to apply one configuration (xDS) update."""
    route: Route = Field(default_factory=lambda: Route())
    """Timeout, retries, balancing and outlier detection of calls this proxy makes."""


class Sidecar(Proxy):
    """The per-instance proxy (inbound and outbound)."""

    scope: Literal["mesh", "dependencies"] = cited(
        "mesh",
        "Istio default: every service in the mesh is pushed to every sidecar; a Sidecar "
        "resource (egress hosts) scopes it to the services an instance calls",
    )
    """Configuration pushed to each sidecar: the whole mesh, or only the services it calls (an Istio Sidecar resource)."""


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
    """The load balancer in front of the gateway checks its replicas."""
    interval: Duration = cited(
        30.0,
        "AWS ELB API CreateTargetGroup HealthCheckIntervalSeconds: 30 s for TCP target "
        "groups (range 5–300)",
        gt=0,
    )
    """Time between two checks of one replica, in seconds."""
    timeout: Duration = cited(
        10.0,
        "AWS ELB API CreateTargetGroup HealthCheckTimeoutSeconds: 10 s for TCP, TLS or "
        "HTTPS target groups (6 s HTTP; range 2–120)",
        gt=0,
    )
    """A check not answered within this many seconds fails."""
    unhealthy_threshold: int = cited(
        2,
        "AWS ELB API CreateTargetGroup UnhealthyThresholdCount: 2 for TCP target groups "
        "(range 2–10)",
        ge=1,
    )
    """Consecutive failed checks that take a replica out (count)."""
    healthy_threshold: int = cited(
        5,
        "AWS ELB API CreateTargetGroup HealthyThresholdCount: 5 for TCP target groups (range 2–10)",
        ge=1,
    )
    """Consecutive passed checks that put a replica back (count)."""

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
    """Gateway replicas behind the edge load balancer (count)."""
    health_check: LbHealthCheck = Field(
        default_factory=lambda: LbHealthCheck(),
        description="the L4 load balancer's active health checks of the replicas",
    )
    cores: int = cited(2, "Istio ingress gateway: Envoy with 2 worker threads", ge=1)
    """Worker threads (cores) of each gateway replica (count)."""
    route: Route = cited(
        Route(timeout=15.0, retries=Retries(attempts=0), balancing="round_robin"),
        "Envoy defaults (an Envoy API gateway): route timeout 15 s, no retry policy, "
        "cluster lb_policy ROUND_ROBIN",
    )
    """Timeout, retries, balancing and outlier detection of requests the gateway forwards."""


class Ztunnel(Proxy):
    """Ambient mode: one L4 proxy per node instead of a sidecar per instance."""

    enabled: bool = False
    """Ambient mode: a ztunnel per node replaces the sidecars."""
    cores: int = cited(2, "ztunnel worker_threads default 2", ge=1)
    """Worker threads (cores) of each ztunnel (count)."""
    pools_per_worker: bool = cited(
        False,
        "assumption: ztunnel (Rust, tokio) keeps one HBONE connection pool per destination "
        "shared by its worker threads",
    )
    """Whether each worker thread keeps its own upstream pools."""
    cpu_per_request: Duration = cited(
        0.0,
        "derived: Istio 1.22/1.24 ztunnel 0.06 vCPU per 1000 rps; its I/O under `io` alone "
        "is ≈70 µs at 1000 rps (an L4 proxy: no L7 work on top)",
        ge=0,
    )
    """CPU seconds per request passing through a ztunnel."""
    on_path_fraction: float = cited(
        1.0,
        "derived: two ztunnels add p90 0.17 ms ≈ their I/O plus four loopback crossings",
        ge=0,
        le=1,
    )
    """Share of cpu_per_request on the latency path; 0 to 1."""
    memory: Size = cited(12 * 2**20, "Istio 1.22/1.24: ztunnel 12 MB at 1000 rps", ge=0)
    """Resident memory of one ztunnel, in bytes."""
    memory_per_cluster: Size = cited(0, "ztunnel holds workloads, not Envoy clusters", ge=0)
    """Memory per destination service, in bytes."""
    memory_per_endpoint: Size = cited(
        1283,
        "assumption: as Envoy's per-host entry (envoyproxy/envoy PR #8189); no published "
        "ztunnel figure",
        ge=0,
    )
    """Memory per workload (endpoint) known to the ztunnel, in bytes."""
    route: Route = cited(
        Route(retries=Retries(attempts=0)), "ztunnel is L4: no HTTP retries or timeouts"
    )
    """Timeout, retries and balancing of ztunnel connections (L4: none by default)."""


class Pool(Strict):
    """Connections from one proxy/client to one upstream host."""

    max_connections: int = cited(
        1024, "Istio maxConnections (per destination host) / Envoy circuit breaker 1024", ge=1
    )
    """Most connections from one proxy or client to one upstream host (count)."""
    max_pending: int = cited(1024, "Envoy circuit breaker max_pending_requests 1024", ge=0)
    """Most requests waiting for a connection or stream to one host before overflow (count)."""
    max_streams: int = cited(
        100, "RFC 9113 §6.5.2: SETTINGS_MAX_CONCURRENT_STREAMS should be ≥ 100", ge=1
    )
    """Concurrent HTTP/2 streams per connection (count)."""
    idle_timeout: Duration = cited(3600.0, "Envoy HTTP idle timeout default 1 h", gt=0)
    """A pooled connection with no request for this many seconds is closed."""
    connect_timeout: Duration = cited(
        5.0,
        "Envoy Cluster connect_timeout default 5 s (covers the TLS handshake; Istio's "
        "meshConfig connectTimeout sets 10 s on sidecars)",
        gt=0,
    )
    """TCP connect plus TLS handshake must finish within this many seconds."""


# --------------------------------------------------------------------------- control plane
class ControlPlane(Strict):
    """istiod: one xDS stream per proxy, debounced pushes, CPU per proxy pushed to."""

    enabled: bool = True
    """Run a control plane (istiod) that pushes configuration to the proxies."""
    replicas: int = cited(
        1,
        "Istio Helm chart (istio-discovery) values: replicaCount 1, autoscaleMin 1; each proxy "
        "holds its xDS stream to one replica, every replica watches the catalog",
        description="istiod replicas (each proxy holds its xDS stream to one of them)",
        ge=1,
        le=100,
    )
    cores: int = cited(1, "Istio: 1 vCPU for 1000 services / 2000 sidecars", ge=1)
    """Cores of the control plane (count)."""
    memory: Size = cited(
        256 * 2**20, "assumption: istiod base footprint before proxies connect", ge=0
    )
    """Base resident memory of the control plane, in bytes."""
    memory_per_proxy: Size = cited(
        0.75 * 2**20, "derived: Istio 1.5 GB for 2000 sidecars ≈ 0.75 MB each", ge=0
    )
    """Control-plane memory per connected proxy, in bytes."""
    debounce_after: Duration = cited(0.1, "Istio PILOT_DEBOUNCE_AFTER 100 ms", ge=0)
    """Quiet time after a change before a push, in seconds."""
    debounce_max: Duration = cited(10.0, "Istio PILOT_DEBOUNCE_MAX 10 s", ge=0)
    """Longest a push waits while changes keep coming, in seconds."""
    cpu_per_push: Duration = cited(
        1e-3,
        "assumption bounded by istio/istio#38677: 98 % of EDS pushes take < 10 ms per proxy",
        ge=0,
    )
    """Control-plane CPU seconds per proxy pushed to."""
    push_bytes_per_cluster: Size = cited(
        205, "envoyproxy/envoy PR #15231: a Cluster is 205 B on the wire", ge=0
    )
    """Bytes on the wire per cluster in a push."""
    push_bytes_per_endpoint: Size = cited(
        19, "envoyproxy/envoy PR #15231: a 101-endpoint assignment is 1,933 B on the wire", ge=0
    )
    """Bytes on the wire per endpoint in a push."""


# --------------------------------------------------------------------------- discovery
class Readiness(Strict):
    """Readiness probing of a new or failing instance (kubelet / Consul agent check)."""

    period: Duration = cited(10.0, "k8s SetDefaults_Probe: periodSeconds 10", gt=0)
    """Time between two readiness probes, in seconds."""
    success_threshold: int = cited(1, "k8s SetDefaults_Probe: successThreshold 1", ge=1)
    """Consecutive passed probes that make an instance ready (count)."""
    failure_threshold: int = cited(3, "k8s SetDefaults_Probe: failureThreshold 3", ge=1)
    """Consecutive failed probes that make it not ready (count)."""
    timeout: Duration = cited(1.0, "k8s SetDefaults_Probe: timeoutSeconds 1", gt=0)
    """A probe not answered within this many seconds fails."""
    initial_delay: Duration = cited(0.0, "k8s: initialDelaySeconds 0", ge=0)
    """Wait after start before the first probe, in seconds."""


class Orchestrator(Strict):
    """Readiness probes, exit detection and draining when instances start and stop."""

    readiness: Readiness = Field(default_factory=lambda: Readiness())
    """How new or failing instances are probed."""
    exit_detection: Duration = cited(
        1.0, "kubelet PLEG relist period 1 s: an exited container is noticed within it", ge=0
    )
    """Longest time before an exited instance is noticed, in seconds."""
    drain: Duration = cited(
        5.0,
        "assumption: a preStop sleep keeps a stopping instance serving while its removal "
        "propagates (0 = the process exits on SIGTERM)",
        ge=0,
    )
    """How long a stopping instance keeps serving while its removal propagates, in seconds."""


class Discovery(Strict):
    """The catalog (EndpointSlices or Consul) and how changes reach every picker."""

    catalog: Literal["kubernetes", "consul"] = "kubernetes"
    """Where endpoints are registered: Kubernetes EndpointSlices or Consul."""
    propagation: Literal["auto", "xds", "kube-proxy", "dns"] = cited(
        "auto", "auto: xDS when a mesh (sidecars/ambient) is on, else kube-proxy (ClusterIP)"
    )
    """How endpoint changes reach callers: xDS push, kube-proxy rules, or DNS (auto: xDS with a mesh, else kube-proxy)."""
    update_delay: Duration = cited(
        0.066,
        "istio/istio#18368 pilot log: pod update → EndpointSlice update seen 66 ms later",
        ge=0,
    )
    """From an instance change to the catalog update, in seconds."""
    cores: int = cited(1, "assumption: the discovery share of the API server / Consul", ge=1)
    """Cores of the discovery service (count)."""
    memory_per_endpoint: Size = cited(
        300, "derived: k8s blog 2020-09-02, a 5,000-pod Endpoints object was 1.5 MB", ge=0
    )
    """Catalog memory per endpoint, in bytes."""
    bytes_per_endpoint: Size = cited(
        300, "derived: k8s blog 2020-09-02, 1.5 MB for 5,000 endpoints", ge=0
    )
    """Bytes per endpoint in a watch event."""
    slice_size: int = cited(100, "k8s EndpointSlice: at most 100 endpoints per slice", ge=1)
    """Most endpoints per EndpointSlice (count)."""
    cpu_per_watch_event: Duration = cited(
        50e-6, "assumption: serialising and sending one watch event to one watcher", ge=0
    )
    """CPU seconds to send one watch event to one watcher."""
    kube_proxy_min_sync: Duration = cited(1.0, "kube-proxy --iptables-min-sync-period 1 s", ge=0)
    """Shortest time between two kube-proxy rule syncs, in seconds."""
    dns_ttl: Duration | None = cited(
        None, "None: CoreDNS 5 s for kubernetes, Consul DNS 0 s for consul", ge=0
    )
    """TTL of DNS answers, in seconds (none: the catalog's own, 5 s Kubernetes, 0 s Consul)."""
    dns_cpu_per_query: Duration = cited(
        30e-6, "assumption: CoreDNS answers tens of thousands of queries per core", ge=0
    )
    """CPU seconds of the DNS server per query."""
    dns_memory: Size = cited(70 * 2**20, "kubeadm CoreDNS deployment: memory request 70Mi", ge=0)
    """Resident memory of the DNS server, in bytes."""

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
    """How subscribers get events: a webhook request each, or long polling."""
    audit: Literal["mirror", "webhook", "longpoll"] = cited(
        "mirror", "Envoy request_mirror_policies: the routing proxy sends a shadow copy"
    )
    """How the listen-only audit service gets its copies: proxy mirroring, webhooks or long polling."""
    webhook_timeout: Duration = cited(10.0, "GitHub webhooks wait 10 s for a 2xx", gt=0)
    """A webhook delivery not acknowledged within this many seconds fails."""
    webhook_retries: int = cited(0, "GitHub does not retry failed deliveries", ge=0)
    """Redeliveries of a failed webhook (count)."""
    webhook_backoff: Duration = cited(
        1.0, "assumption: first retry after 1 s, doubling (only with webhook_retries > 0)", ge=0
    )
    """Wait before the first redelivery, doubling after each, in seconds."""
    longpoll_hold: Duration = cited(
        30.0,
        "RFC 6202 §5.5: intermediaries drop held requests after 30–120 s; 30 s stays below",
        gt=0,
    )
    """How long a long poll is held open without events, in seconds."""
    longpoll_retry: Duration = cited(1.0, "assumption: a failed poll is re-issued after 1 s", ge=0)
    """Wait before re-issuing a failed poll, in seconds."""


# --------------------------------------------------------------------------- all of it
class Stack(Strict):
    """The HTTP client and server stack inside each service (Go net/http or alike), and the
    edge clients' own (theirs on this architecture, and in front of a messaging http-bridge)."""

    io: IoCost | None = cited(
        IoCost(),
        "assumption: a Go net/http stack pays per read or write what nats-server's Go I/O path "
        "was measured to pay (same runtime, same system calls), as the messaging side's client "
        "library (messaging.client.io) does",
        description="what the service's HTTP stack costs its own cores per request or response "
        "read or written (sim.core.io), and what the edge clients' stack costs theirs (a "
        "request's latency includes the client's wait to wake for its response); null: free",
    )


class HttpSettings(Strict):
    protocol: Literal["http1", "http2"] = cited(
        "http1", "Istio DestinationRule h2UpgradePolicy default DO_NOT_UPGRADE"
    )
    """HTTP version between proxies and services: 'http1' (one request per connection at a time) or 'http2' (multiplexed streams)."""
    internal_route: Literal["mesh", "gateway", "direct"] = cited(
        "mesh", "Istio: service-to-service traffic goes sidecar to sidecar"
    )
    """Service-to-service path: sidecar to sidecar ('mesh'), through the gateway, or 'direct' (no proxy)."""
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
    locality_overprovisioning: float = cited(
        1.4,
        "Envoy priority levels (arch overview, load balancing): overprovisioning factor "
        "default 140 %; a level's load is min(100 %, its healthy share × 1.4)",
        description="with failover locality: a region keeps all of its calls while at least "
        "1/this of its endpoints are healthy, and spills the rest to the next region",
        ge=1,
    )
    gateway: Gateway = Field(default_factory=lambda: Gateway())
    """The API gateway replicas at the edge."""
    sidecar: Sidecar = Field(default_factory=lambda: Sidecar())
    """The proxy beside every instance."""
    stack: Stack = Field(default_factory=lambda: Stack())
    ambient: Ztunnel = Field(default_factory=lambda: Ztunnel())
    """Ambient mode: per-node ztunnels instead of sidecars."""
    client: Route = cited(
        Route(retries=Retries(attempts=0), balancing="round_robin"),
        "Go net/http: no retries, Client.Timeout 0 (none); round robin over resolved addresses",
    )
    """How edge clients call the gateway (timeout, retries, balancing)."""
    routes: dict[str, Route] = Field(
        default_factory=dict, description="per destination service: overrides every picker's"
    )
    pool: Pool = Field(default_factory=lambda: Pool())
    """Connection pool limits and timeouts of every proxy and client."""
    client_idle_timeout: Duration = cited(90.0, "Go net/http DefaultTransport: 90 s", gt=0)
    """Edge clients close a connection idle for this many seconds."""
    client_max_connections: int = cited(
        1024,
        "as the mesh's own pools (http.pool.max_connections: Envoy circuit breaker 1024); Go "
        "net/http's MaxConnsPerHost is 0, no limit; browsers keep 6 per host over HTTP/1.1",
        description="connections one edge client may open to each host it sends to first (a "
        "gateway replica; with no gateway, an instance or its proxy); a request that finds "
        "them all busy waits for one",
        ge=1,
    )
    tls: Tls = Field(default_factory=lambda: Tls())
    """TLS on the mesh's connections (mTLS between proxies)."""
    control_plane: ControlPlane = Field(default_factory=lambda: ControlPlane())
    """The control plane (istiod) pushing configuration."""
    discovery: Discovery = Field(default_factory=lambda: Discovery())
    """Service discovery: the catalog and how changes propagate."""
    orchestrator: Orchestrator = Field(default_factory=lambda: Orchestrator())
    """Readiness probes, exit detection and draining when instances start and stop."""
    events: Events = Field(default_factory=lambda: Events())
    """How events travel over HTTP."""

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
