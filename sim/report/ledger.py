"""The fairness ledger: every place the two architectures are configured differently.

:func:`build_ledger` generates it from the resolved scenario and, when there is one, the run's
``components`` frame — never by hand — so a changed setting or a new component shows up by
itself. Its rows, by topic:

* **replicas** — entry point, proxies or broker servers, control plane, discovery;
* **processes** — one row per component kind the run had (from the frame: a kind added to
  the model later appears without a change here), with whether it counts as infrastructure
  (:data:`sim.results.summary.INFRA_EXCLUDE`);
* **TLS** — on each link: edge, service to service, broker routes and gateways, xDS;
* **retries and timeouts**, **balancing** — the edge, internal calls, and each service
  with its own route (``http.routes``) or request policy (``messaging.requests``);
* **failover** — how each side notices a dead peer and goes elsewhere;
* **I/O cost** — every ``io`` block of the scenario, found by type
  (:func:`sim.scenario.overheads.overheads`), and the proxies' L7 work per request;
* **events** and **accounts** — how events and listen-only copies travel.

:data:`MECHANISMS` states what each side models and what neither does; each entry says
whether this scenario turns it on. The ledger is complete when, with every overhead it lists
switched off (:func:`sim.scenario.overheads.zero_overheads`), both architectures give
identical results on the same random numbers — ``tests/test_report_ledger.py`` checks that
on every bundled scenario.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from sim.results.summary import INFRA_EXCLUDE
from sim.scenario.common import IoCost, Tls
from sim.scenario.http import Proxy, Route
from sim.scenario.messaging import RequestRetries
from sim.scenario.model import Scenario
from sim.scenario.overheads import Path, overheads

NONE = "–"


@dataclass(frozen=True)
class Row:
    """One difference: its topic, what it is about, and each side's configuration."""

    topic: str
    item: str
    http: str
    messaging: str


@dataclass(frozen=True)
class Mechanism:
    """A mechanism and its state on each side in this scenario."""

    name: str
    http: str
    messaging: str


@dataclass
class Ledger:
    rows: list[Row] = field(default_factory=list)
    mechanisms: list[Mechanism] = field(default_factory=list)

    def compact(self, width: int = 36) -> str:
        """The ledger for a terminal: one line per difference, long cells cut at ``width``."""

        def cut(t: str) -> str:
            return t if len(t) <= width else t[: width - 1] + "…"

        rows = [(cut(f"{r.topic}: {r.item}"), cut(r.http), cut(r.messaging)) for r in self.rows]
        head = ("fairness ledger", "http", "messaging")
        w = [max(len(x[i]) for x in [head, *rows]) for i in range(3)]
        lines = ["  ".join(h.ljust(w[i]) for i, h in enumerate(head)).rstrip()]
        lines.append("  ".join("-" * n for n in w))
        lines += ["  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows]
        return "\n".join(lines)


def _tls(t: Tls, mutual: bool | None = None) -> str:
    if t.version == "none":
        return "plaintext"
    m = t.mutual if mutual is None else mutual
    return f"TLS {t.version} {'mutual' if m else 'server-authenticated'}"


def _route(r: Route) -> str:
    t = f"{r.timeout:g} s" if r.timeout else "none"
    if r.retries.attempts:
        per = f", {r.retries.per_try_timeout:g} s per try" if r.retries.per_try_timeout else ""
        rt = f"{r.retries.attempts} retries on {', '.join(r.retries.retry_on)}{per}"
    else:
        rt = "no retries"
    return f"timeout {t}; {rt}"


def _request(timeout: float, retries: RequestRetries) -> str:
    if retries.attempts:
        rt = f"{retries.attempts} retries on {', '.join(retries.retry_on)}"
    else:
        rt = "no retries"
    return f"timeout {timeout:g} s per attempt; {rt}"


def _balance(r: Route) -> str:
    if r.balancing == "least_request":
        return f"least request (best of {r.choice_count} random)"
    return r.balancing.replace("_", " ")


def _io(v: IoCost | None) -> str:
    if v is None or not any(v.model_dump().values()):
        return "free (io: null)"
    return (
        f"{v.wakeup * 1e6:.3g} µs per wake-up (+{v.cold_wakeup * 1e6:.3g} µs cold, "
        f"+{v.deep_wakeup * 1e6:.3g} µs more after a deep sleep), "
        f"{v.per_message * 1e6:.3g} µs per message, TLS +{v.tls_per_record * 1e6:.3g} µs"
    )


def _servers(sc: Scenario) -> str:
    m = sc.messaging
    if m.clusters:
        sizes = ", ".join(f"{c.name} {c.servers}" for c in m.clusters)
        return f"{len(m.clusters)} clusters joined by gateways ({sizes} servers)"
    return f"{m.broker.servers} server(s), {m.broker.cores} cores each"


def _internal(sc: Scenario) -> tuple[str, Route]:
    """Who picks the endpoint of a service-to-service call over HTTP, and its route."""
    h = sc.http
    if h.internal_route == "gateway" and h.gateway.enabled:
        return "gateway", h.gateway.route
    if h.internal_route == "mesh" and h.mesh == "sidecar":
        return "sidecar", h.sidecar.route
    if h.internal_route == "mesh" and h.mesh == "ambient":
        return "ztunnel", h.ambient.route
    return "client library", h.client


def _door(sc: Scenario) -> str:
    """Where the messaging side's edge clients connect (``messaging.ingress``)."""
    m = sc.messaging
    i = m.ingress
    if i.kind == "websocket":
        return "clients connect to a server's websocket listener (HTTP upgrade, framing)"
    if i.kind == "leafnode":
        return (
            f"{i.replicas} leaf node server(s) at the edge, {m.broker.cores} cores each, "
            "one leafnode connection each to the cluster"
        )
    if i.kind == "http-bridge":
        return (
            f"{i.replicas} HTTP edge bridge replica(s), L4 balancer, {i.cores} cores each, "
            "one NATS connection each to a server"
        )
    return "clients connect to a server"


def _replicas(sc: Scenario) -> list[Row]:
    h = sc.http
    gw = (
        f"{h.gateway.replicas} gateway replica(s), L4 balancer"
        if h.gateway.enabled
        else "none: clients call the services"
    )
    instances = sum(s.instances for s in sc.services.values())
    side = {
        "sidecar": f"a sidecar per instance ({instances})",
        "ambient": "a ztunnel per node",
        "none": "none",
    }[h.mesh]
    cp = "istiod ×1" if h.control_plane.enabled and h.propagation() == "xds" else "none"
    return [
        Row("replicas", "entry point", gw, _door(sc)),
        Row("replicas", "between services", side, _servers(sc)),
        Row("replicas", "control plane", cp, "none (servers share interest)"),
        Row(
            "replicas",
            "discovery",
            f"{h.discovery.catalog} catalog via {h.propagation()}",
            "subject interest between servers",
        ),
    ]


def _processes(components: pd.DataFrame) -> list[Row]:
    c = components
    if "replication" in c:
        c = c[c["replication"] == c["replication"].min()]
    counts = c.groupby(["kind", "architecture"]).size().unstack(fill_value=0)
    rows = []
    for kind, n in counts.iterrows():
        tag = "" if kind in INFRA_EXCLUDE else " (infrastructure)"
        h, m = int(n.get("http", 0)), int(n.get("messaging", 0))
        if h != m or kind not in INFRA_EXCLUDE:
            rows.append(
                Row("processes", str(kind), f"{h}{tag}" if h else NONE, f"{m}{tag}" if m else NONE)
            )
    infra = {
        a: sorted({str(k) for k in c[c["architecture"] == a]["kind"]} - set(INFRA_EXCLUDE))
        for a in ("http", "messaging")
    }
    rows.append(
        Row(
            "processes",
            "counted as infrastructure",
            ", ".join(infra["http"]) or NONE,
            ", ".join(infra["messaging"]) or NONE,
        )
    )
    return rows


def _tls_rows(sc: Scenario) -> list[Row]:
    h, m = sc.http, sc.messaging
    edge_to = (
        "gateway"
        if h.gateway.enabled
        else {"sidecar": "sidecar", "ambient": "ztunnel"}.get(h.mesh, "service")
    )
    if h.mesh == "sidecar":
        inner = f"sidecar → sidecar {_tls(h.tls)}; app ↔ own sidecar plaintext (loopback)"
    elif h.mesh == "ambient":
        inner = f"ztunnel → ztunnel {_tls(h.tls)} (HBONE); app ↔ ztunnel plaintext"
    else:
        inner = f"app → app {_tls(h.tls)}"
    door = {
        "websocket": f"clients → websocket listener: {_tls(m.tls, False)}",
        "leafnode": f"clients → leaf node: {_tls(m.tls)}",
        "http-bridge": f"clients → bridge: {_tls(m.tls, False)}; bridge → server: {_tls(m.tls)}",
    }.get(m.ingress.kind, f"clients → server: {_tls(m.tls)}")
    rows = []
    if h.tls.version != "none" or m.tls.version != "none":  # both plaintext: no difference
        rows += [
            Row("TLS", "edge", f"clients → {edge_to}: {_tls(h.tls, False)}", door),
            Row("TLS", "service to service", inner, f"each leg through the broker: {_tls(m.tls)}"),
        ]
    servers = max([m.broker.servers] + [c.servers for c in m.clusters])
    if servers > 1 and m.tls.version != "none":
        rows.append(Row("TLS", "broker routes", NONE, f"server ↔ server: {_tls(m.tls)}"))
    if len(m.clusters) > 1 and m.tls.version != "none":
        rows.append(Row("TLS", "broker gateways", NONE, f"cluster ↔ cluster: {_tls(m.tls)}"))
    if m.ingress.kind == "leafnode" and m.tls.version != "none":
        rows.append(Row("TLS", "leafnode connections", NONE, f"leaf → cluster: {_tls(m.tls)}"))
    if h.propagation() == "xds" and h.control_plane.enabled and h.tls.version != "none":
        rows.append(Row("TLS", "control plane (xDS)", f"proxy → istiod: {_tls(h.tls)}", NONE))
    return rows


def _policies(sc: Scenario) -> list[Row]:
    h, m = sc.http, sc.messaging
    edge = h.gateway.route if h.gateway.enabled else h.client
    who, inner = _internal(sc)
    nats_pick = "random queue-group member"
    rows = [
        Row(
            "retries and timeouts",
            "edge requests",
            _route(edge),
            _request(m.request_timeout, m.retries),
        ),
        Row(
            "retries and timeouts",
            f"service to service (HTTP: {who})",
            _route(inner),
            _request(m.request_timeout, m.retries),
        ),
        Row(
            "balancing", "edge requests", _balance(edge), f"{nats_pick}; server: {m.client.spread}"
        ),
        Row("balancing", f"service to service (HTTP: {who})", _balance(inner), nats_pick),
        Row("connections", "pools", _pools(sc), "one long-lived connection per client"),
    ]
    for name in sorted(set(h.routes) | set(m.requests)):
        r = h.routes.get(name, inner)
        p = m.requests.get(name)
        t = p.timeout if p is not None and p.timeout else m.request_timeout
        rows.append(
            Row(
                "retries and timeouts",
                f"calls to {name}",
                _route(r),
                _request(t, p.retries if p is not None else m.retries),
            )
        )
        if name in h.routes:
            rows.append(Row("balancing", f"calls to {name}", _balance(r), nats_pick))
    return rows


def _pools(sc: Scenario) -> str:
    """How HTTP keeps connections to a destination: per proxy worker thread (Envoy) or not."""
    h = sc.http
    proxy = h.ambient if h.ambient.enabled else h.sidecar if h.sidecar.enabled else None
    what = f"{h.protocol} pools per destination"
    if proxy is None:
        return what
    name = "ztunnel" if proxy is h.ambient else "sidecar"
    if proxy.pools_per_worker and proxy.cores > 1:
        return f"{what}, one set per worker thread ({proxy.cores} per {name})"
    return f"{what}, shared by each {name}'s workers"


def _failover(sc: Scenario) -> list[Row]:
    h, m = sc.http, sc.messaging
    _, inner = _internal(sc)
    od = inner.outlier
    parts = [
        f"readiness probe every {h.orchestrator.readiness.period:g} s "
        f"(×{h.orchestrator.readiness.failure_threshold})",
        f"outlier detection after {od.consecutive_5xx} 5xx"
        if od.enabled
        else "no outlier detection",
    ]
    if h.gateway.enabled and h.gateway.health_check.enabled:
        hc = h.gateway.health_check
        parts.append(f"L4 health checks every {hc.interval:g} s on gateways")
    if sc.failover:
        parts.append(f"{len(sc.failover)} DNS failover record(s)")
    c = m.client
    nats = [
        f"client ping every {c.ping_interval:g} s (×{c.max_pings_out} out)",
        f"reconnect after {c.reconnect_wait:g} s to another server",
    ]
    if len(m.clusters) > 1:
        nats.append("queue groups answered by another cluster through gateways")
    return [Row("failover", "dead peer", "; ".join(parts), "; ".join(nats))]


def _costs(sc: Scenario) -> list[Row]:
    rows = []
    found = {p: (w, v) for p, w, v in overheads(sc)}
    pairs: dict[Path, Path] = {("http", "stack", "io"): ("messaging", "client", "io")}
    done = set()
    for path, (what, v) in found.items():
        if what != "io" or path in done or path[0] not in ("http", "messaging"):
            continue
        if v is None and pairs.get(path) is None and path not in pairs.values():
            continue  # free on one side is no different from absent on the other
        parent = found.get(path[:-1])
        if parent is not None and isinstance(parent[1], Proxy) and not parent[1].enabled:
            continue
        twin = pairs.get(path)
        if twin is not None:
            done.add(twin)
            tv = found.get(twin, ("io", None))[1]
            rows.append(Row("I/O cost", "protocol inside each service", _io(v), _io(tv)))
            continue
        where = ".".join(str(p) for p in path)
        cell = f"{where}: {_io(v)}"
        rows.append(
            Row(
                "I/O cost",
                str(path[-2]),
                cell if path[0] == "http" else NONE,
                cell if path[0] == "messaging" else NONE,
            )
        )
    ws = sc.messaging.ingress
    if ws.kind == "websocket":
        w = ws.websocket
        rows.append(
            Row(
                "I/O cost",
                "websocket framing",
                NONE,
                f"+{w.per_message * 1e6:.3g} µs per message, +{w.per_byte * 1e9:.3g} ns per byte; "
                f"upgrade {w.upgrade_cpu * 1e6:.3g} µs and one round trip per connection",
            )
        )
    per_rate = sc.messaging.broker.memory_per_message_rate
    if per_rate > 0:
        rows.append(
            Row(
                "memory",
                "growing with throughput",
                "none: proxies' memory is per connection and per endpoint, not per request/s "
                "(measured: haproxy 2.6 RSS flat at 14.5–14.7 MiB from 100 to 2,000 req/s; "
                "Envoy not measured)",
                f"+{per_rate:.4g} bytes per message read per second, per server "
                "(measured: nats-server 2.15.1)",
            )
        )
    for path, (what, v) in found.items():
        if what == "proxy" and v.enabled and path[0] == "http":
            rows.append(
                Row(
                    "I/O cost",
                    f"{path[-1]} L7 work",
                    f"{v.cpu_per_request * 1e6:.3g} "
                    f"µs per request ({v.on_path_fraction:.0%} on the path)",
                    NONE,
                )
            )
    return rows


def _events(sc: Scenario) -> list[Row]:
    h, m = sc.http, sc.messaging
    rows = [
        Row(
            "events",
            "delivery",
            f"{h.events.delivery} per subscriber",
            "published once; the servers fan out",
        )
    ]
    if any(s.listen_only for s in sc.services.values()):
        rows.append(Row("events", "listen-only copies", f"{h.events.audit}", "a subscription"))
    if m.accounts:
        imports = sum(len(a.get("imports", [])) for a in m.accounts.values() if isinstance(a, dict))
        rows.append(
            Row(
                "accounts",
                "isolation",
                "none: any service may call any other",
                f"{len(m.accounts)} accounts, {imports} import(s)",
            )
        )
    return rows


def build_ledger(sc: Scenario, components: pd.DataFrame | None = None) -> Ledger:
    """The ledger of a resolved scenario (and, if given, of its run's components)."""
    rows = _replicas(sc)
    if components is not None and len(components):
        rows += _processes(components)
    rows += _tls_rows(sc) + _policies(sc) + _failover(sc) + _costs(sc) + _events(sc)
    rows = [r for r in rows if r.http != r.messaging]
    return Ledger(rows, [Mechanism(n, *f(sc)) for n, f in MECHANISMS])


def _on(flag: bool) -> str:
    return "modelled, on" if flag else "modelled, off here"


NOT = "not modelled"

MECHANISMS: list[tuple[str, Callable[[Scenario], tuple[str, str]]]] = [
    (
        "proxies on the path",
        lambda s: (_on(s.http.mesh != "none" or s.http.gateway.enabled), "none by design"),
    ),
    ("brokers on the path", lambda s: ("none by design", "modelled, on")),
    ("connection pools and handshakes", lambda s: ("modelled, on", "modelled, on")),
    (
        "control plane pushes (xDS)",
        lambda s: (_on(s.http.propagation() == "xds"), "none by design"),
    ),
    ("service discovery delays", lambda s: ("modelled, on", "interest propagation, on")),
    (
        "retries with back-off and budgets",
        lambda s: ("modelled, on", "modelled (application loop)"),
    ),
    ("outlier detection", lambda s: (_on(_internal(s)[1].outlier.enabled), "none by design")),
    (
        "dead-connection detection",
        lambda s: ("probes and health checks, on", "pings and reconnects, on"),
    ),
    (
        "clusters and superclusters",
        lambda s: (
            "none by design",
            _on(s.messaging.broker.servers > 1 or bool(s.messaging.clusters)),
        ),
    ),
    ("DNS failover across regions", lambda s: (_on(bool(s.failover)), "none by design")),
    (
        "accounts, exports and imports",
        lambda s: ("none by design", _on(bool(s.messaging.accounts))),
    ),
    ("faults and scaling (timeline, autoscale)", lambda s: ("modelled, on both sides alike",) * 2),
    ("persistent streams (JetStream)", lambda s: ("none by design", NOT)),
    ("HTTP/3 (QUIC)", lambda s: (NOT, "none by design")),
    ("rate limiting and request hedging", lambda s: (NOT, NOT)),
]
