"""Simulated requests as OpenTelemetry spans (OTLP JSON), to open next to real ones.

The spans are built from the hops a traced request already records (the tracer behind
``sim trace``, :mod:`sim.core.trace`), nothing else:

* the edge client's request is the root, a ``CLIENT`` span from its start to its reply;
* a service instance's marks of its own work (self-hops written by
  :meth:`sim.app.service.ServiceInstance.serve`) give a ``SERVER`` span from the moment a core
  took the request up to its return (``work:`` … ``done:``), a ``CLIENT`` span per awaited call
  (``call:`` … ``return:``) and a zero-length ``PRODUCER`` span per published event
  (``publish:``). A server span therefore starts after the wait for a core, as it does in a
  real thread-per-request server, so its self-time (its length less its client spans) is the
  operation's CPU demand;
* each pass of a message through an infrastructure component (gateway, sidecar, ztunnel,
  broker server) is an ``INTERNAL`` span from the hop that brought it in to the hop that sent it
  on; a broker pass that delivers a reply to a component waiting for it is named after the
  ``_INBOX`` subject it travels on.

Parents follow the call structure: a server span hangs under the caller's client span (or the
root), an infrastructure pass under the smallest span that contains it. Trace and span ids
are hashes of (architecture, replication, request, index), and simulated time 0 is the fixed
instant :data:`EPOCH`, so the same run writes the same file.

The format is the OTLP/JSON mapping of ``TracesData`` (opentelemetry-proto
``trace/v1/trace.proto``; ids as hex strings, times as decimal strings of nanoseconds, enums
as integers), which is what the OpenTelemetry Collector's file exporter writes and what
Jaeger and Grafana Tempo accept. Resource attributes follow the semantic conventions viewers
group by: ``service.name``, ``service.namespace``, ``service.instance.id``,
``deployment.environment.name`` and ``telemetry.sdk.*``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import __version__
from sim.app.application import request_subject
from sim.report.data import TracedRequest
from sim.scenario.model import Scenario

EPOCH_NS = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z: simulated t = 0 (fixed: same file)
KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
STATUS_OK, STATUS_ERROR = 1, 2
CLIENT = "clients"  # the component name of the edge clients (sim.app.application)


@dataclass
class Span:
    """One span before serialisation (times in simulated seconds)."""

    name: str
    kind: str
    component: str
    start: float
    end: float
    attrs: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    parent: int | None = None  # index into the request's span list
    nest: bool = True  # may contain other spans (False: an infrastructure pass)


def component_kind(name: str, services: Iterable[str], architecture: str) -> tuple[str, str]:
    """(kind, service.name) of a component, from the names the simulator gives them."""
    if name == CLIENT:
        return "client", "client"
    for svc in services:
        if re.fullmatch(re.escape(svc) + r"-\d+", name):
            return "service", svc
    if name.endswith(".sidecar"):
        return "sidecar", "sidecar"
    if name.startswith("gateway"):
        return "gateway", "gateway"
    if name.startswith("ztunnel"):
        return "ztunnel", "ztunnel"
    return ("broker", "nats-server") if architecture == "messaging" else ("proxy", "proxy")


def spans_of(tr: TracedRequest, sc: Scenario, architecture: str, flow: str) -> list[Span]:
    """The spans of one traced request, parents set, root first."""
    ops_of = {s: svc.operations for s, svc in sc.services.items()}
    root = Span(flow, "CLIENT", CLIENT, tr.start, tr.start + tr.latency)
    root.attrs["meshsim.flow"] = flow
    spans = [root]
    server: dict[str, list[int]] = {}  # instance -> its open server spans (innermost last)
    client: dict[str, list[int]] = {}  # instance -> its open client spans
    kinds: dict[str, tuple[str, str]] = {}
    pending: dict[str, list[tuple[float, str]]] = {}  # infra component -> (time in, from)
    for t, frm, to, what in tr.hops:
        for c in (frm, to):
            if c not in kinds:
                kinds[c] = component_kind(c, ops_of, architecture)
        if frm == to:  # an instance's mark of its own work
            mark, _, arg = what.partition(":")
            svc = kinds[frm][1]
            if mark == "work":
                s = Span(arg, "SERVER", frm, t, t, _server_attrs(sc, svc, arg, architecture))
                server.setdefault(frm, []).append(len(spans))
                spans.append(s)
            elif mark == "call" and server.get(frm):
                callee, _, cop = arg.partition("/")
                cs = Span(f"{callee}/{cop}", "CLIENT", frm, t, t, {"peer.service": callee})
                cs.parent = server[frm][-1]
                client.setdefault(frm, []).append(len(spans))
                spans.append(cs)
            elif mark == "return" and client.get(frm):
                cs = spans[client[frm].pop()]
                cs.end, cs.ok = t, arg == "ok"
            elif mark == "publish" and server.get(frm):
                svc_op = spans[server[frm][-1]].name
                nbytes = next((e.bytes for e in ops_of[svc][svc_op].emits if e.subject == arg), 0)
                p = Span(f"{arg} publish", "PRODUCER", frm, t, t, _publish_attrs(arg, nbytes))
                p.parent, p.nest = server[frm][-1], False
                spans.append(p)
            elif mark == "done" and server.get(frm):
                s = spans[server[frm].pop()]
                s.end, s.ok = t, arg == "ok"
            continue
        if kinds[frm][0] not in ("service", "client"):  # a message leaves infrastructure
            queue = pending.get(frm)
            if queue:
                t_in, came_from = queue.pop(0)
                waiting = to == CLIENT or bool(client.get(to))
                name = _pass_name(what, waiting, architecture)
                p = Span(name, "INTERNAL", frm, t_in, t, {"meshsim.hop.from": came_from})
                p.attrs["meshsim.hop.to"] = to
                p.nest = False
                spans.append(p)
        if kinds[to][0] not in ("service", "client"):
            pending.setdefault(to, []).append((t, frm))
    for i, s in enumerate(spans[1:], 1):
        if s.parent is None:
            s.parent = _container(spans, i)
    return spans


def _server_attrs(sc: Scenario, svc: str, op: str, architecture: str) -> dict[str, Any]:
    o = sc.services[svc].operations[op]
    if architecture == "messaging":
        return {
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.destination.name": request_subject(sc, svc, op),
            "messaging.message.body.size": o.request_bytes,
            "meshsim.response.bytes": o.response_bytes,
        }
    return {
        "http.request.method": "POST",
        "http.route": f"/{op}",
        "url.path": f"/{op}",
        "server.address": svc,
        "http.request.body.size": o.request_bytes,
        "http.response.body.size": o.response_bytes,
    }


def _publish_attrs(subject: str, nbytes: float) -> dict[str, Any]:
    return {
        "messaging.system": "nats",
        "messaging.operation.type": "publish",
        "messaging.destination.name": subject,
        "messaging.message.body.size": nbytes,
    }


def _pass_name(what: str, reply: bool, architecture: str) -> str:
    if architecture == "messaging":
        return "deliver _INBOX reply" if reply else "route request"
    return f"proxy {what}"


def _container(spans: list[Span], i: int) -> int:
    """The smallest span (other than i, one that may nest) that contains span i."""
    s = spans[i]
    best, width = 0, spans[0].end - spans[0].start
    for j, p in enumerate(spans):
        if j == i or not p.nest or p.kind == "PRODUCER":
            continue
        if s.kind == "SERVER" and p.kind == "SERVER":
            continue  # a server span is called from a client span (or the root)
        if p.start <= s.start and s.end <= p.end and (p.end - p.start) <= width and j != 0:
            best, width = j, p.end - p.start
    return best


# --------------------------------------------------------------------------- OTLP JSON
def _hex(*parts: object, n: int) -> str:
    return hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=n).hexdigest()


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}  # int64 travels as a string in OTLP/JSON
    if isinstance(v, float):
        return {"intValue": str(int(v))} if v.is_integer() else {"doubleValue": v}
    return {"stringValue": str(v)}


def _attrs(d: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in d.items()]


def traces_data(
    requests: Sequence[tuple[str, int, int, str, TracedRequest]], sc: Scenario
) -> dict[str, Any]:
    """``TracesData`` for (architecture, replication, request id, flow, trace) tuples."""
    by_resource: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for arch, rep, rid, flow, tr in requests:
        trace_id = _hex(sc.name, arch, rep, rid, n=16)
        spans = spans_of(tr, sc, arch, flow)
        ids = [_hex(trace_id, i, n=8) for i in range(len(spans))]
        for i, s in enumerate(spans):
            attrs = s.attrs
            if i == 0:  # the request's identity, on its root (the same id in both architectures)
                attrs = {**attrs, "meshsim.request.id": rid, "meshsim.replication": rep}
            body: dict[str, Any] = {
                "traceId": trace_id,
                "spanId": ids[i],
                "parentSpanId": "" if s.parent is None else ids[s.parent],
                "name": s.name,
                "kind": KIND[s.kind],
                "startTimeUnixNano": str(EPOCH_NS + round(s.start * 1e9)),
                "endTimeUnixNano": str(EPOCH_NS + round(s.end * 1e9)),
                "attributes": _attrs(attrs),
                "status": {"code": STATUS_OK if s.ok else STATUS_ERROR},
            }
            by_resource.setdefault((arch, s.component), []).append(body)
    resource_spans = []
    for (arch, component), spans_json in by_resource.items():
        kind, svc = component_kind(component, sc.services, arch)
        resource = {
            "service.name": svc,
            "service.namespace": sc.name,
            "service.instance.id": component,
            "deployment.environment.name": f"simulated-{arch}",
            "meshsim.architecture": arch,
            "meshsim.component.kind": kind,
            "telemetry.sdk.name": "meshsim",
            "telemetry.sdk.language": "python",
            "telemetry.sdk.version": __version__,
        }
        resource_spans.append(
            {
                "resource": {"attributes": _attrs(resource)},
                "scopeSpans": [
                    {"scope": {"name": "meshsim", "version": __version__}, "spans": spans_json}
                ],
            }
        )
    return {"resourceSpans": resource_spans}


def write_otlp(path: Path, data: Mapping[str, Any]) -> None:
    """Write TracesData as one JSON line (the Collector file exporter's format), atomically."""
    from sim.io import atomic_text

    atomic_text(path, json.dumps(data, separators=(",", ":")) + "\n")
