"""Messaging-side settings: broker servers, their costs and limits, clusters joined by routes,
superclusters joined by gateways, client connections (pings, reconnects), request timeouts and
the ``accounts`` block of nats-server.conf.

Every default names its source: nats-server ``server/const.go`` (ping interval and maximum
pings out, max payload, max pending, write deadline, route pool size), ``server/route.go`` and
``server/gateway.go`` (ping caps), ``server/server.go`` (short first ping), nats.go ``nats.go``
(client ping, reconnect wait and jitter, connect timeout, reconnect buffer), measurements and
measurements of nats-server 2.15.1 (``scenarios/SOURCES.md``). Where a figure is an assumption the text
says so.

``accounts`` mirrors nats-server.conf's ``accounts`` block (exports, imports, ``prefix``/``to``,
response types); ``users`` name which service (or ``clients``, the edge) connects as that
account. It is validated by :mod:`sim.messaging.topology`, which reports ``FILE:LINE``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sim.scenario.base import Strict, cited
from sim.scenario.common import PROXY_IO, PROXY_IO_SOURCE, IoCost, ProxyIoCost, Tls
from sim.scenario.units import Duration, Size


class Broker(Strict):
    """One nats-server: its cores, costs per message, memory and limits."""

    servers: int = Field(
        1, ge=1, le=64, description="servers of the one cluster when `clusters` is not given"
    )
    cores: int = cited(2, "assumption: a 2-vCPU broker node, like the sidecar's 2 workers", ge=1)
    """Cores of each broker server (count)."""
    io: IoCost | None = cited(
        IoCost(),
        "measured: nats-server 2.15.1 on a 2-core VM (see IoCost's fields); null: free",
        description="what reading, routing and writing messages costs each server's cores "
        "(sim.core.io); null moves them for free",
    )
    memory: Size = cited(
        int(14.5 * 2**20), "measured: nats-server 2.15.1 idle RSS 14.2–14.6 MiB (loopback)", ge=0
    )
    """Base resident memory of one server, in bytes."""
    memory_per_connection: Size = cited(
        50 * 1000,
        "measured: nats-server 2.15.1, 43–57 KB RSS per idle client connection (500 idle)",
        ge=0,
    )
    """Memory per client connection, in bytes."""
    memory_per_subscription: Size = cited(
        1024, "nats docs: >1M subscriptions need >1 GB ⇒ ≈1 KB", ge=0
    )
    """Memory per subscription, in bytes."""
    memory_per_message_rate: Size = cited(
        1200,
        "measured: nats-server 2.15.1 (built with Go 1.27.2, GOGC 100 by default) on a 2-vCPU VM, request/reply "
        "at 2,000 req/s (4,000 messages read per second): RSS rises from 14.7 MiB to a plateau of "
        "19.5 MiB within ≈5 s and stays there; half-way through 6 s runs at 400–2,000 req/s, "
        "+0.6 to +4.5 MiB at 800 to 6,000 messages read per second, request/reply and fan-out "
        "alike: ≈0.8–1.3 KB per message read per second (the heap the Go runtime keeps "
        "between collections grows with the allocation rate); haproxy 2.6's RSS stayed at "
        "14.5–14.7 MiB over the same rates",
        ge=0,
    )
    """Memory per message read per second (bytes): the level follows the server's rate over
    the last :data:`~sim.messaging.broker.RATE_WINDOW`."""
    max_payload: Size = cited(2**20, "nats-server const.go MAX_PAYLOAD_SIZE 1 MiB", gt=0)
    """Largest message the server accepts, in bytes."""
    max_pending: Size = cited(
        64 * 2**20, "nats-server const.go MAX_PENDING_SIZE 64 MiB per client", gt=0
    )
    """Bytes queued to one client before it is a slow consumer and disconnected."""
    write_deadline: Duration = cited(
        10.0, "nats-server const.go DEFAULT_FLUSH_DEADLINE 10 s (then slow consumer)", gt=0
    )
    """A write to a client blocked this many seconds makes it a slow consumer."""
    socket_buffer: Size = cited(
        16 * 1024,
        "assumption: Linux net.ipv4.tcp_wmem default send buffer 16 KiB absorbs writes to a "
        "peer that stopped acknowledging",
        ge=0,
    )
    """Kernel send buffer per connection, in bytes: writes up to this size do not block."""
    ping_interval: Duration = cited(120.0, "nats-server const.go DEFAULT_PING_INTERVAL 2 min", gt=0)
    """The server pings an idle client every this many seconds."""
    max_pings_out: int = cited(2, "nats-server const.go DEFAULT_PING_MAX_OUT 2", ge=1)
    """Unanswered pings before the server closes a client connection (count)."""
    first_ping: Duration = cited(
        2.0,
        "nats-server server.go firstClientPingInterval 2 s (routes/gateways 1 s), "
        "plus a random 0–20 % (setFirstPingTimer)",
        gt=0,
    )
    """Delay of the server's first ping after a client connects, in seconds."""
    headers: bool = cited(
        True, "nats.go sends headers and no_responders in CONNECT: 503 at once, no timeout"
    )
    """Clients support headers, so a request with no subscriber gets 'no responders' at once instead of a timeout."""


class Routes(Strict):
    """Routes between the servers of one cluster (full mesh, one hop)."""

    pool_size: int = cited(
        3, "nats-server const.go DEFAULT_ROUTE_POOL_SIZE 3 connections per route", ge=1, le=32
    )
    """Connections per route between two servers of a cluster (count)."""
    max_ping_interval: Duration = cited(
        30.0, "nats-server route.go defaultRouteMaxPingInterval 30 s", gt=0
    )
    """Longest ping interval on a route, in seconds."""


class Gateways(Strict):
    """Gateways between clusters (one outbound connection per server and remote cluster)."""

    max_ping_interval: Duration = cited(15.0, "nats-server gateway.go gwMaxPingInterval 15 s", gt=0)
    """Longest ping interval on a gateway connection, in seconds."""


class Cluster(Strict):
    """A cluster of servers in one region; several clusters form a supercluster."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    """Name of the cluster."""
    region: str | None = Field(None, description="default: the first region of placement")
    servers: int = cited(
        3, "NATS docs (clustering): a cluster of 3 servers is the usual minimum", ge=1, le=64
    )
    """Servers in this cluster (count)."""


class Client(Strict):
    """A NATS client connection as nats.go opens and keeps it."""

    io: IoCost | None = cited(
        IoCost(),
        "assumption: the nats.go client library in a Go service pays what nats-server's Go I/O "
        "path was measured to pay (same runtime, same system calls); the HTTP side's in-service "
        "stack (http.stack.io) is given the same figures",
        description="what the NATS client library costs the service's own cores per message "
        "read or written (sim.core.io), and the edge clients' theirs (a request's latency "
        "includes the client's wait to wake for its reply); null: free",
    )

    spread: Literal["random", "ordered", "round-robin"] = cited(
        "random",
        "nats.go shuffles the server list unless NoRandomize (random); ordered = NoRandomize; "
        "round-robin = an explicit spread",
    )
    """How a client orders the server list when it connects: shuffled, in order, or round robin over clients."""
    ping_interval: Duration = cited(120.0, "nats.go DefaultPingInterval 2 min", gt=0)
    """The client pings the server every this many seconds."""
    max_pings_out: int = cited(2, "nats.go DefaultMaxPingOut 2", ge=1)
    """Unanswered pings before the client treats the connection as dead (count)."""
    reconnect_wait: Duration = cited(
        2.0, "nats.go DefaultReconnectWait 2 s, slept after each pass over the servers", ge=0
    )
    """Sleep after each pass over the server list while reconnecting, in seconds."""
    reconnect_jitter: Duration = cited(0.1, "nats.go DefaultReconnectJitter 100 ms", ge=0)
    """Random extra reconnect wait, up to this many seconds (plain TCP)."""
    reconnect_jitter_tls: Duration = cited(1.0, "nats.go DefaultReconnectJitterTLS 1 s", ge=0)
    """Random extra reconnect wait, up to this many seconds (TLS)."""
    max_reconnect: int = cited(60, "nats.go DefaultMaxReconnect 60 attempts per server", ge=0)
    """Reconnect attempts per server before giving up (count)."""
    connect_timeout: Duration = cited(2.0, "nats.go DefaultTimeout 2 s (dial timeout)", gt=0)
    """Dial timeout of a connection attempt, in seconds."""
    reconnect_buffer: Size = cited(
        8 * 2**20,
        "nats.go DefaultReconnectBufSize 8 MiB of publishes kept while reconnecting",
        ge=0,
    )
    """Publishes buffered while reconnecting, in bytes."""
    drain_timeout: Duration = cited(30.0, "nats.go DefaultDrainTimeout 30 s", gt=0)
    """Longest a draining client waits for its subscriptions to finish, in seconds."""


class RequestRetries(Strict):
    """Re-sending a request that got no answer: nats.go Request does not retry, so this is
    the application's loop around it, with the same back-off and budget rules as the HTTP
    side's Envoy retries (``http`` Retries) so that both architectures can be given the same
    policy (sim.faults)."""

    attempts: int = cited(0, "nats.go Request never retries by itself", ge=0)
    """Re-sent requests after the first (count; 0: no retry, as nats.go)."""
    retry_on: list[Literal["timeout", "no_responders"]] = cited(
        ["timeout", "no_responders"],
        "assumption: retry what a requester sees as 'nobody answered'",
    )
    """Which outcomes are retried: a timeout, or 'no responders'."""
    backoff_base: Duration = cited(
        0.025, "as the HTTP side: Envoy RetryBackOff base_interval 25 ms, fully jittered", ge=0
    )
    """Base interval of the fully jittered exponential back-off, in seconds."""
    backoff_max: Duration | None = cited(
        None, "as the HTTP side: Envoy max_interval default 10 × base_interval", ge=0
    )
    """Longest back-off, in seconds (none: 10 x backoff_base)."""
    budget_percent: float | None = cited(
        None, "no budget unless set; Envoy RetryBudget semantics when set", ge=0, le=100
    )
    """Retry budget: active retries at most this percent of active requests (none: no budget)."""
    min_retry_concurrency: int = cited(3, "Envoy RetryBudget min_retry_concurrency 3", ge=0)
    """Retries always allowed by the budget (count)."""


class RequestPolicy(Strict):
    """Requests to one service: their own timeout and retries (as ``http.routes``)."""

    timeout: Duration | None = Field(None, gt=0, description="none: request_timeout")
    retries: RequestRetries = Field(default_factory=lambda: RequestRetries())
    """Retries of requests to this service."""


_MIRROR = "assumption, mirroring the HTTP side's API gateway so both sides pay alike: "


_WS_SOURCE = (
    "measured: nats-server 2.15.1 on a 2-core VM (AMD EPYC, loopback), websocket listener "
    "(no_tls) against the client port, server CPU from /proc/PID/stat, medians of 3 "
    "interleaved runs (`nice -n 10 .venv/bin/python tools/measure_websocket.py --seconds 4 "
    "--connections 2000`): {what}"
)


class Websocket(Strict):
    """What nats-server's websocket listener (``websocket {}`` in nats-server.conf) costs the
    server over its plain client port, for ``ingress.kind: websocket``
    (:mod:`sim.messaging.websocket`).

    RFC 6455 framing as ``server/websocket.go`` does it: every frame from a client is masked
    and the server unmasks it in place (wsReadLoop, ``wsReadInfo.unmask``: 8 bytes at a
    time), reading a 2–14 byte header per frame; what the server flushes to a client goes out
    in one unmasked frame per flush (wsCollapsePtoNB; a browser's, in frames of at most 4 KiB,
    wsFrameSizeForBrowsers), so writing costs a header and, for browsers, a copy. Per-message
    compression (permessage-deflate) is off unless ``compression: true``: not modelled. A
    connection opens with an HTTP/1.1 upgrade after TCP and TLS (wsUpgrade: GET with
    ``Upgrade: websocket`` → ``101 Switching Protocols``, one more round trip). The listener
    requires TLS unless ``no_tls: true`` (validateWebsocketOptions), and browsers present no
    client certificate: its TLS is ``messaging.tls`` with ``mutual: false``."""

    per_message: Duration = cited(
        0.06e-6,
        _WS_SOURCE.format(
            what="128 B messages cost +0.06 µs more on average (−0.25, 0, 0, +0.5 µs: read and "
            "write, saturated and 5,000/s; ±0.25 µs resolution)"
        ),
        description="extra CPU seconds per message read or written on a websocket connection "
        "(frame header, unmasking set-up)",
        ge=0,
    )
    per_byte: Duration = cited(
        0.25e-9,
        _WS_SOURCE.format(
            what="8 KiB messages +2.06 µs on average (read +1.0 saturated, +2.5 at 5,000/s; "
            "write to a browser, 4 KiB frames, +2.75 and +2.0 µs), less the 128 B extra, over "
            "8,064 bytes ⇒ ≈0.25 ns per byte"
        ),
        description="extra CPU seconds per byte read or written on a websocket connection "
        "(unmasking, framing copies)",
        ge=0,
    )
    upgrade_cpu: Duration = cited(
        100e-6,
        _WS_SOURCE.format(
            what="opening, setting up (CONNECT, PING/PONG) and closing one connection costs "
            "200 and 215 µs plain, 295 and 325 µs over a websocket (2 runs of 2,000 each): the "
            "upgrade ≈100 µs (idle RSS per connection showed no difference above the noise)"
        ),
        description="server CPU seconds of one HTTP upgrade (parse the GET, the accept key's "
        "SHA-1, the 101 response, hijacking the connection), beyond a plain connection's",
        ge=0,
    )


class Ingress(Strict):
    """How edge clients reach the messaging system.

    ``none``: each edge client holds its own NATS connection to the broker (the NATS docs'
    plain client port). ``http-bridge`` (:mod:`sim.messaging.bridge`): the edge clients speak
    HTTP (one-way TLS from the edge, keep-alive pools as Go's net/http keeps them) to bridge
    replicas behind an L4 balancer; each replica is a process with its own cores, memory and
    I/O costs that holds one long-lived NATS connection and makes the NATS request on the
    client's behalf. No published figure exists for such a bridge: its costs are the
    gateway's (an Envoy doing the same per-request L7 work), stated as assumptions; ``cores``,
    ``io``, ``cpu_per_request``, ``on_path_fraction``, ``memory``, ``max_connections`` and
    ``idle_timeout`` are the bridge's. ``websocket`` (:mod:`sim.messaging.websocket`): each
    edge client (a browser) holds a websocket connection to the broker's websocket listener
    (one-way TLS, an HTTP upgrade when it opens, framing costs per message: ``websocket``).
    ``leafnode`` (:mod:`sim.messaging.leafnode`): each edge client holds a NATS connection to
    one of ``replicas`` leaf node servers at the edge (nats-servers configured as the
    cluster's: ``broker``'s cores, memory and costs), and each leaf holds one leafnode
    connection to a cluster server: messages cross the leaf and then the cluster."""

    kind: Literal["none", "http-bridge", "websocket", "leafnode"] = cited(
        "none",
        "NATS docs (connecting): clients connect to the server's client port directly",
        description="none: every edge client connects to the broker; http-bridge: edge clients "
        "send HTTP requests to bridge replicas that hold the NATS connections; websocket: edge "
        "clients connect to the broker's websocket listener; leafnode: edge clients connect to "
        "leaf node servers that connect to the cluster",
    )
    replicas: int = cited(
        2,
        _MIRROR + "http.gateway.replicas 2",
        description="bridge processes (http-bridge) or leaf node servers (leafnode)",
        ge=1,
        le=1000,
    )
    cores: int = cited(2, _MIRROR + "an Envoy with 2 worker threads", ge=1)
    """Cores of each bridge replica (count)."""
    io: ProxyIoCost = cited(
        PROXY_IO,
        _MIRROR + PROXY_IO_SOURCE,
        description="what reading and writing requests, responses and NATS messages costs the "
        "bridge's cores (sim.core.io); null: free",
    )
    cpu_per_request: Duration = cited(
        0.13e-3,
        _MIRROR + "the gateway's L7 work per request (Istio 1.24: 0.20 vCPU per 1000 rps less "
        "its I/O): parse the HTTP request, map it to a subject, frame the reply",
        description="L7 work per request beyond moving its bytes (CPU seconds)",
        ge=0,
    )
    on_path_fraction: float = cited(0.58, _MIRROR + "http.gateway.on_path_fraction", ge=0, le=1)
    """Share of cpu_per_request done while the request waits."""
    memory: Size = cited(45 * 2**20, _MIRROR + "the gateway's 45 MB baseline", ge=0)
    """Resident memory of each bridge replica, in bytes."""
    max_connections: int = cited(
        1024,
        "as the HTTP side's edge clients (http.client_max_connections: 1024, as Envoy's "
        "circuit breaker)",
        description="connections one edge client may open to one bridge replica",
        ge=1,
    )
    idle_timeout: Duration = cited(
        90.0, "Go net/http DefaultTransport IdleConnTimeout 90 s (the edge clients)", gt=0
    )
    """How long an edge client keeps an idle connection to a bridge replica, in seconds."""
    websocket: Websocket = Field(default_factory=lambda: Websocket())
    """What the broker's websocket listener costs over its plain client port (websocket)."""


class MessagingSettings(Strict):
    broker: Broker = Field(default_factory=lambda: Broker())
    """Each broker server: cores, costs per message, memory and limits."""
    ingress: Ingress = Field(
        default_factory=lambda: Ingress(), description="how edge clients reach the broker"
    )
    clusters: list[Cluster] = Field(
        default_factory=list,
        description="clusters joined by gateways; default one cluster of broker.servers",
    )
    routes: Routes = Field(default_factory=lambda: Routes())
    """Routes between the servers of a cluster."""
    gateways: Gateways = Field(default_factory=lambda: Gateways())
    """Gateways between clusters of a supercluster."""
    client: Client = Field(default_factory=lambda: Client())
    """How every client connects, pings and reconnects."""
    tls: Tls = Field(default_factory=lambda: Tls())
    """TLS on client connections to the broker."""
    request_timeout: Duration = cited(
        2.0, "assumption: nats.go Request takes an explicit timeout; its DefaultTimeout 2 s", gt=0
    )
    """A request with no reply within this many seconds fails."""
    retries: RequestRetries = Field(default_factory=lambda: RequestRetries())
    """Retries of every request (per service: requests.<service>.retries)."""
    requests: dict[str, RequestPolicy] = Field(
        default_factory=dict,
        description="per destination service: its own request timeout and retries",
    )
    accounts: dict[str, Any] = Field(
        default_factory=dict,
        description="nats-server.conf accounts block; users name services (or `clients`)",
    )
