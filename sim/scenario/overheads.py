"""Where a scenario charges for moving messages, and the same scenario with all of it free.

:func:`overheads` walks the resolved scenario and finds, wherever they are, every block that
makes an architecture cost something the other does not: each I/O cost block (``io``, typed
:class:`~sim.scenario.common.IoCost`), each TLS block (:class:`~sim.scenario.common.Tls`) and
each proxy (:class:`~sim.scenario.http.Proxy`: gateway, sidecar, ztunnel). It finds them by
type, not by name, so a component added to the model later is found too. The fairness ledger
(:mod:`sim.report.ledger`) lists them; :func:`zero_overheads` switches them off.

:func:`zero_overheads` is the scenario in which the two architectures must give identical
results on the same random numbers (DESIGN.md, "Fairness ledger"): every ``io`` null, every
TLS ``none``, every proxy disabled, every round trip zero and every message zero bytes; the
messaging side's edge clients connect to the broker's client port (``ingress.kind: none``: an
HTTP bridge's work, websocket framing and a leaf node's hop are overheads). What
the two sides do *differently by design* rather than at a cost is taken out as well, and said
here: each service runs as one instance with the cores of all its instances (balancing —
Envoy least-request against the broker's random queue-group pick — then has one choice;
autoscaling is dropped with it), and the timeline and DNS failover records are dropped (faults
are detected by different mechanisms: probes and outlier detection against pings and
reconnects).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sim.scenario.common import IoCost, Tls
from sim.scenario.http import Proxy
from sim.scenario.model import Scenario

Path = tuple[str | int, ...]


def overheads(sc: BaseModel) -> list[tuple[Path, str, Any]]:
    """(path, what, value) of every ``io`` ('io'), TLS ('tls') and proxy ('proxy') block."""
    out: list[tuple[Path, str, Any]] = []
    _walk(sc, (), out)
    return out


def _walk(m: BaseModel, path: Path, out: list[tuple[Path, str, Any]]) -> None:
    for name, info in type(m).model_fields.items():
        v = getattr(m, name)
        p = (*path, name)
        if isinstance(v, IoCost) or (v is None and "IoCost" in str(info.annotation)):
            out.append((p, "io", v))
        elif isinstance(v, Tls):
            out.append((p, "tls", v))
        elif isinstance(v, Proxy):
            out.append((p, "proxy", v))
            _walk(v, p, out)
        elif isinstance(v, BaseModel):
            _walk(v, p, out)
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(x, BaseModel):
                    _walk(x, (*p, k), out)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                if isinstance(x, BaseModel):
                    _walk(x, (*p, i), out)


def _put(d: dict[str, Any], path: Path, value: Any) -> None:
    node: Any = d
    for k in path[:-1]:
        node = node.setdefault(k, {}) if isinstance(node, dict) else node[k]
    node[path[-1]] = value


def zero_overheads(sc: Scenario) -> Scenario:
    """The scenario with every overhead off and one queue per service (module docstring)."""
    d = sc.model_dump(mode="json", by_alias=True, exclude_unset=True)
    for path, what, _ in overheads(sc):
        if path[0] == "calibration":
            continue
        if what == "io":
            _put(d, path, None)
        elif what == "tls":
            _put(d, (*path, "version"), "none")
        else:
            _put(d, (*path, "enabled"), False)
    net = d.setdefault("placement", {}).setdefault("network", {})
    for k in ("same_host_rtt", "same_zone_rtt", "cross_zone_rtt", "default_region_rtt"):
        net[k] = 0
    net["region_rtt"] = {a: dict.fromkeys(x, 0) for a, x in net.get("region_rtt", {}).items()}
    # a service some call addresses by instance keeps its instances (no balancing choice
    # differs between the sides for those calls, and the indexes must exist)
    addressed = {
        c.service
        for svc in sc.services.values()
        for op in svc.operations.values()
        for c in op.calls
        if c.instance is not None
    }
    for name, svc in d["services"].items():
        if name not in addressed:
            n = sc.services[name].instances
            svc["instances"] = min(1, n)
            svc["cores"] = max(1, n) * sc.services[name].cores
        svc.pop("autoscale", None)
        for op in svc.get("operations", {}).values():
            op["request_bytes"] = op["response_bytes"] = 0
            for e in op.get("emits", []):
                e["bytes"] = 0
    events = d.get("http", {}).get("events")
    if isinstance(events, dict) and "audit" in events:  # a webhook after the request is a
        events["audit"] = "mirror"  # later copy than the broker's: the tap copies as it routes
    ingress = d.get("messaging", {}).get("ingress")
    if isinstance(ingress, dict):  # edge clients straight to the broker's client port: a
        ingress["kind"] = "none"  # bridge's L7 work, websocket framing and a leaf node's hop
        # are overheads
    d["timeline"] = []
    d["failover"] = []
    d.pop("calibration", None)
    return Scenario.model_validate(d)
