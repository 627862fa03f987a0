"""Traces to a scenario: OTLP JSON or Jaeger JSON in, call graph and fitted demands out.

Reading. OTLP JSON is the ``TracesData`` mapping the OpenTelemetry Collector's file exporter
writes (one JSON object, or one per line); ids as hex (or base64, as protobuf's generic JSON
mapping writes them), kinds as integers or ``SPAN_KIND_*`` names. Jaeger JSON is what its
query API and UI download give: ``{"data": [{"spans": [...], "processes": {...}}]}`` with
microsecond times, ``CHILD_OF`` references and a ``span.kind`` tag.

What becomes what:

* an **operation** is a ``SERVER`` span (synchronous) or a ``CONSUMER`` span (an event
  handler) of an application service, keyed by (``service.name``, span name). Spans of
  infrastructure — ``meshsim.component.kind`` other than service/client, Envoy's
  ``component: proxy`` tag — are walked through but never become operations;
* its **self-time** is its length less the time covered by the calls it awaited: each
  ``CLIENT`` child that reached a server span of another operation (a client span that
  reached nothing, e.g. an uninstrumented database, stays in the self-time), and a server
  span of another service directly under it (a call made without a client span);
* its **calls** are those servers, in order; a call made k times per execution becomes k
  calls with probabilities P(count ≥ j); its **events** are ``PRODUCER`` spans below it
  (subject ``messaging.destination.name``, size ``messaging.message.body.size``), and the
  ``CONSUMER`` spans under a producer are **subscriptions** (``each`` when one event reached
  two instances of one service, else ``shared``);
* the **flows** are the first operations of each trace (its root, or the server under a
  root client span); the **arrival rate** is (n − 1) / (last − first root start) per group
  of traces (``deployment.environment.name`` and ``meshsim.replication`` when present: one
  arrival stream each), the mix their counts;
* **instances** are the distinct ``service.instance.id`` (else ``host.name``) per service.

Robustness, each case counted in the report and none fatal: a span whose parent is not in
the file starts a partial trace of its own (``missing_parent``); a server span that starts
before or ends after the client span that called it (clock skew between hosts) is moved, with
everything below it, to the middle of the client span (``skewed``, as Jaeger's adjuster does);
spans that end before they start are dropped (``negative``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.scenario import ScenarioError

KINDS = {0: "INTERNAL", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
INFRA = {"gateway", "sidecar", "ztunnel", "broker", "proxy"}
SIZE_IN = ("http.request.body.size", "messaging.message.body.size", "rpc.request.size")
SIZE_OUT = ("http.response.body.size", "meshsim.response.bytes", "rpc.response.size")


@dataclass
class Span:
    trace: str
    id: str
    parent: str
    name: str
    kind: str
    start: float  # seconds since the earliest span of the file (ns while reading)
    end: float
    service: str
    instance: str
    attrs: dict[str, Any]
    infra: bool
    group: str = ""  # deployment.environment.name: traces of one arrival stream
    children: list[Span] = field(default_factory=list)

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass
class Counts:
    spans: int = 0
    traces: int = 0
    missing_parent: int = 0
    skewed: int = 0
    negative: int = 0
    external_calls: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


# --------------------------------------------------------------------------- reading
def _err(file: str, line: int | None, path: str, msg: str) -> ScenarioError:
    return ScenarioError(file, line, (path,) if path else (), msg)


def _documents(text: str, file: str) -> Iterator[tuple[int, Any]]:
    """(line, parsed JSON) per document: one JSON value, or JSON Lines."""
    try:
        yield 1, json.loads(text)
        return
    except json.JSONDecodeError as first:
        lines = [ln for ln in text.splitlines()]
        if len([ln for ln in lines if ln.strip()]) <= 1:
            raise _err(file, first.lineno, "", f"not JSON: {first.msg}") from None
    for i, ln in enumerate(lines, 1):
        if ln.strip():
            try:
                yield i, json.loads(ln)
            except json.JSONDecodeError as e:
                raise _err(file, i, "", f"not JSON: {e.msg}") from None


def _hexid(v: Any, n: int) -> str:
    s = str(v or "")
    if len(s) == 2 * n:
        try:
            int(s, 16)
            return s.lower()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(s, validate=True)
        if len(raw) == n:
            return raw.hex()
    except (binascii.Error, ValueError):
        pass
    return s.lower()


def _any(v: dict[str, Any]) -> Any:
    for k in ("stringValue", "boolValue", "doubleValue"):
        if k in v:
            return v[k]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [_any(x) for x in v["arrayValue"].get("values", [])]
    return None


def _kv(items: Any) -> dict[str, Any]:
    return {a["key"]: _any(a.get("value", {})) for a in items or [] if "key" in a}


def _infra(resource: dict[str, Any], attrs: dict[str, Any]) -> bool:
    return resource.get("meshsim.component.kind") in INFRA or attrs.get("component") == "proxy"


def read_otlp(doc: Any, file: str, line: int) -> list[Span]:
    out = []
    if not isinstance(doc.get("resourceSpans"), list):
        raise _err(file, line, "resourceSpans", "expected a list (OTLP JSON TracesData)")
    for i, rs in enumerate(doc["resourceSpans"]):
        where = f"resourceSpans[{i}]"
        if not isinstance(rs, dict):
            raise _err(file, line, where, "expected an object")
        res = _kv((rs.get("resource") or {}).get("attributes"))
        svc = str(res.get("service.name", "unknown"))
        inst = str(res.get("service.instance.id") or res.get("host.name") or svc)
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for j, s in enumerate(ss.get("spans") or []):
                try:
                    kind = s.get("kind", 1)
                    kind = KINDS[int(kind)] if not isinstance(kind, str) else kind
                    kind = kind.removeprefix("SPAN_KIND_").replace("UNSPECIFIED", "INTERNAL")
                    attrs = _kv(s.get("attributes"))
                    out.append(
                        Span(
                            _hexid(s["traceId"], 16),
                            _hexid(s["spanId"], 8),
                            _hexid(s.get("parentSpanId"), 8),
                            str(s.get("name", "")),
                            kind,
                            int(s["startTimeUnixNano"]),
                            int(s["endTimeUnixNano"]),
                            svc,
                            inst,
                            attrs,
                            _infra(res, attrs),
                            str(res.get("deployment.environment.name", "")),
                        )
                    )
                except (KeyError, TypeError, ValueError) as e:
                    raise _err(
                        file, line, f"{where}.spans[{j}]", f"malformed span: {e!r}"
                    ) from None
    return out


def read_jaeger(doc: Any, file: str, line: int) -> list[Span]:
    out = []
    for i, tr in enumerate(doc["data"]):
        where = f"data[{i}]"
        try:
            procs = {
                pid: (
                    p.get("serviceName", "unknown"),
                    {t["key"]: t.get("value") for t in p.get("tags", [])},
                )
                for pid, p in (tr.get("processes") or {}).items()
            }
            for s in tr["spans"]:
                tags = {t["key"]: t.get("value") for t in s.get("tags", [])}
                svc, ptags = procs.get(s.get("processID"), ("unknown", {}))
                refs = [r for r in s.get("references") or [] if r.get("refType") == "CHILD_OF"]
                parent = refs[0]["spanID"] if refs else s.get("parentSpanID", "")
                start = int(s["startTime"]) * 1000  # µs → ns
                out.append(
                    Span(
                        str(s["traceID"]).lower().zfill(32),
                        str(s["spanID"]).lower().zfill(16),
                        str(parent or "").lower().zfill(16) if parent else "",
                        str(s.get("operationName", "")),
                        str(tags.get("span.kind", "internal")).upper(),
                        start,
                        start + int(s["duration"]) * 1000,
                        svc,
                        str(ptags.get("service.instance.id") or ptags.get("hostname") or svc),
                        tags,
                        _infra(ptags, tags),
                    )
                )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise _err(file, line, where, f"malformed Jaeger trace: {e!r}") from None
    return out


def read_spans(path: str | Path) -> list[Span]:
    """Every span of an OTLP JSON or Jaeger JSON file (format told by its top-level keys)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise _err(file, None, "", f"cannot read: {e}") from None
    spans: list[Span] = []
    for line, doc in _documents(text, file):
        if isinstance(doc, dict) and "resourceSpans" in doc:
            spans += read_otlp(doc, file, line)
        elif isinstance(doc, dict) and isinstance(doc.get("data"), list):
            spans += read_jaeger(doc, file, line)
        else:
            raise _err(file, line, "", "neither OTLP JSON (resourceSpans) nor Jaeger JSON (data)")
    if not spans:
        raise _err(file, 1, "", "no spans in the file")
    # readers keep integer nanoseconds; seconds since the earliest span as floats keep
    # nanosecond resolution (since 1970 they would not: 1.7e9 s has 0.2 µs steps)
    t0 = min(s.start for s in spans)
    for s in spans:
        s.start, s.end = (s.start - t0) / 1e9, (s.end - t0) / 1e9
    return spans


# --------------------------------------------------------------------------- analysis
@dataclass
class OpStats:
    service: str
    name: str
    kind: str  # SERVER or CONSUMER
    self_times: list[float] = field(default_factory=list)
    calls: list[list[tuple[str, str]]] = field(default_factory=list)  # per execution
    emits: list[list[str]] = field(default_factory=list)
    subjects: Counter[str] = field(default_factory=Counter)
    size_in: list[float] = field(default_factory=list)
    size_out: list[float] = field(default_factory=list)


@dataclass
class Observed:
    """What the traces say, before it becomes a scenario."""

    ops: dict[tuple[str, str], OpStats] = field(default_factory=dict)
    instances: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    entries: Counter[tuple[str, str]] = field(default_factory=Counter)
    starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    event_sizes: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    subscriptions: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)

    @property
    def rate(self) -> float:
        """Arrivals per second: (n − 1) / window, pooled over groups of traces."""
        n = sum(max(len(v) - 1, 0) for v in self.starts.values())
        window = sum(max(v) - min(v) for v in self.starts.values() if len(v) > 1)
        return n / window if window > 0 else 0.0


def _is_op(s: Span) -> bool:
    return not s.infra and s.kind in ("SERVER", "CONSUMER")


def _servers_below(s: Span) -> list[Span]:
    """The first operation spans reached under s (through client, internal, infra spans)."""
    found = []
    for c in s.children:
        if _is_op(c) and c.kind == "SERVER":
            found.append(c)
        elif c.kind != "PRODUCER" and not _is_op(c):
            found += _servers_below(c)
    return found


def _union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, -np.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _shift(s: Span, dt: float) -> None:
    s.start += dt
    s.end += dt
    for c in s.children:
        _shift(c, dt)


def _deskew(s: Span, counts: Counts) -> None:
    for c in s.children:
        if s.kind == "CLIENT" and c.kind == "SERVER" and (c.start < s.start or c.end > s.end):
            counts.skewed += 1
            _shift(c, (s.start + s.end) / 2 - (c.start + c.end) / 2)
        _deskew(c, counts)


def analyse(spans: list[Span]) -> Observed:
    """The call graph, self-times, events, flows and rates in a list of spans."""
    obs = Observed()
    c = obs.counts
    c.spans = len(spans)
    by_id: dict[tuple[str, str], Span] = {}
    for s in spans:
        if s.end < s.start:
            c.negative += 1
            continue
        by_id[(s.trace, s.id)] = s
    roots = []
    for s in by_id.values():
        p = by_id.get((s.trace, s.parent)) if s.parent.strip("0") else None
        if p is None:
            if s.parent.strip("0"):
                c.missing_parent += 1
            roots.append(s)
        else:
            p.children.append(s)
    for s in by_id.values():
        s.children.sort(key=lambda x: x.start)
    c.traces = len({s.trace for s in roots})
    for r in sorted(roots, key=lambda x: x.start):
        _deskew(r, c)
        entry = [r] if _is_op(r) else _servers_below(r)
        for e in entry[:1]:
            if e.kind == "SERVER":
                obs.entries[(e.service, e.name)] += 1
                group = f"{r.group}/{r.attrs.get('meshsim.replication', '')}"
                obs.starts[group].append(r.start)
        _walk(r, obs)
    return obs


def _walk(s: Span, obs: Observed) -> None:
    if _is_op(s):
        _record(s, obs)
    for ch in s.children:
        _walk(ch, obs)


def _record(s: Span, obs: Observed) -> None:
    key = (s.service, s.name)
    st = obs.ops.get(key)
    if st is None:
        st = obs.ops[key] = OpStats(s.service, s.name, s.kind)
    obs.instances[s.service].add(s.instance)
    awaited: list[tuple[float, float]] = []
    calls: list[tuple[str, str]] = []
    emits: list[str] = []
    stack = list(reversed(s.children))
    while stack:
        ch = stack.pop()
        if _is_op(ch) and ch.kind == "SERVER" and ch.service != s.service:
            awaited.append((ch.start, ch.end))  # a call without a client span
            calls.append((ch.service, ch.name))
        elif ch.kind == "CLIENT":
            servers = _servers_below(ch)
            if servers:
                awaited.append((ch.start, ch.end))
                calls += [(x.service, x.name) for x in servers]
            else:
                obs.counts.external_calls += 1
        elif ch.kind == "PRODUCER":
            subject = str(ch.attrs.get("messaging.destination.name") or ch.name)
            emits.append(subject)
            size = ch.attrs.get("messaging.message.body.size")
            if isinstance(size, int | float):
                obs.event_sizes[subject].append(float(size))
            _consumers(ch, subject, obs)
        elif not _is_op(ch):
            stack.extend(reversed(ch.children))
    st.self_times.append(max(s.length - _union(awaited), 0.0))
    st.calls.append(calls)
    st.emits.append(emits)
    dest = s.attrs.get("messaging.destination.name")
    if isinstance(dest, str):
        st.subjects[dest] += 1
    for names, into in ((SIZE_IN, st.size_in), (SIZE_OUT, st.size_out)):
        v = next((s.attrs[k] for k in names if isinstance(s.attrs.get(k), int | float)), None)
        if v is not None:
            into.append(float(v))


def _consumers(p: Span, subject: str, obs: Observed) -> None:
    per_service: dict[str, set[str]] = defaultdict(set)
    for ch in p.children:
        if _is_op(ch) and ch.kind == "CONSUMER":
            per_service[ch.service].add(ch.instance)
            delivery = "each" if len(per_service[ch.service]) > 1 else "shared"
            old = obs.subscriptions.get((ch.service, subject))
            if old is None or delivery == "each":
                obs.subscriptions[(ch.service, subject)] = (ch.name, delivery)
