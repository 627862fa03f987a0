"""Kubernetes manifests (and Istio, and a nats-server config) to a scenario.

Read: files or folders; multi-document YAML; ``kind: List`` (what ``kubectl get -o yaml``
prints); ``*.conf`` files as nats-server configuration (parsed with pyhocon: the
``key: value`` / ``key { … }`` / ``[…]`` syntax nats-server shares with HOCON).

Mapped, each value with a comment naming the manifest (file, line, kind/name) and the field:

* ``Deployment`` / ``StatefulSet`` → a service: ``spec.replicas`` → ``instances`` (Kubernetes
  default 1 when absent); the first application container's ``resources.requests.cpu`` →
  ``cores`` (rounded up: the simulator's cores are whole), ``requests.memory`` → ``memory``;
  limits are reported (the model has no throttling). A workload whose name starts with
  ``nats`` is the broker: its replicas are ``messaging.broker.servers``;
* ``Service`` → checked against the workloads its selector matches (one that matches none is
  listed as not mapped); ports have no scenario field;
* ``HorizontalPodAutoscaler`` (v1, v2) → ``services.X.autoscale``: min/max replicas, the CPU
  utilisation target, ``behavior.scaleDown.stabilizationWindowSeconds``;
* Istio ``VirtualService`` → ``http.routes.HOST``: ``timeout``, ``retries.attempts``,
  ``perTryTimeout``, ``retryOn`` (the conditions the model knows);
* Istio ``DestinationRule`` → ``http.routes.HOST``: ``outlierDetection`` and
  ``loadBalancer.simple``; ``localityLbSetting`` is listed as not mapped (no locality-aware
  balancing in the model);
* nats-server config → ``messaging.broker.servers`` (cluster routes), ``max_payload`` and
  ``max_pending``, ``messaging.accounts``
  (exports and imports as written; users kept only where they name an imported service or
  ``clients``).

Manifests carry no operations, demands or load. The scenario gets what it needs to load —
one operation ``serve`` per service and a flow to the first service — written with an
``ASSUMPTION`` comment and listed with the unmapped objects, so nothing is guessed silently;
``sim import traces FILE --base`` then replaces them with what the traces observed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sim.interop.build import Imported
from sim.interop.natsconf import import_nats_conf
from sim.scenario import ScenarioError
from sim.scenario.loader import Source, _build

WORKLOADS = ("Deployment", "StatefulSet")
RETRY_ON = {"connect-failure": "connect-failure", "reset": "reset", "5xx": "5xx", "503": "503"}
BALANCING = {"ROUND_ROBIN": "round_robin", "RANDOM": "random", "LEAST_REQUEST": "least_request"}
LB_UNMAPPED = ("PASSTHROUGH", "LEAST_CONN")


@dataclass
class Obj:
    """One manifest object and where it is."""

    data: dict[str, Any]
    file: str
    src: Source
    path: tuple[str | int, ...]  # inside its document (a List's items[i])

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.data.get("metadata") or {}).get("name", ""))

    def at(self, *field: str | int) -> str:
        """``file:line Kind/name field`` for a comment."""
        line = self.src.line_of((*self.path, *field))
        dotted = ".".join(str(f) for f in field)
        return f"{self.file}:{line} {self.kind}/{self.name} {dotted}".rstrip()

    def get(self, *field: str | int) -> Any:
        v: Any = self.data
        for f in field:
            if isinstance(v, dict):
                v = v.get(f)
            elif isinstance(v, list) and isinstance(f, int) and f < len(v):
                v = v[f]
            else:
                return None
        return v


def _files(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml", ".conf"))
        elif p.exists():
            yield p
        else:
            raise ScenarioError(str(p), None, (), "no such file or folder")


def read_objects(file: Path) -> list[Obj]:
    """Every object of a YAML file (documents, List items), with its line map."""
    text = file.read_text(encoding="utf-8")
    name = str(file)
    loader = yaml.SafeLoader(text)
    out = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            src = Source(name)
            data = _build(loader, node, (), src, [0])
            if data is None:
                continue
            if not isinstance(data, dict):
                raise ScenarioError(
                    name, node.start_mark.line + 1, (), "a manifest must be a mapping"
                )
            if data.get("kind") == "List" or (
                str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list)
            ):
                for i, item in enumerate(data.get("items") or []):
                    out.append(_obj(item, name, src, ("items", i)))
            else:
                out.append(_obj(data, name, src, ()))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise ScenarioError(
            name, mark.line + 1 if mark else None, (), f"YAML syntax error: {e.problem}"
        ) from None
    finally:
        loader.dispose()
    return out


def _obj(data: Any, file: str, src: Source, path: tuple[str | int, ...]) -> Obj:
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise src.error(path, "a Kubernetes object needs a kind")
    meta = data.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise src.error((*path, "metadata"), "a Kubernetes object needs metadata.name")
    return Obj(data, file, src, path)


def quantity(v: Any, obj: Obj, *field: str | int) -> float:
    """A Kubernetes quantity (``500m``, ``2``, ``256Mi``, ``1G``) as a number."""
    m = re.fullmatch(r"\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)\s*(m|k|M|G|T|Ki|Mi|Gi|Ti)?\s*", str(v))
    if not m:
        raise obj.src.error((*obj.path, *field), f"not a Kubernetes quantity: {v!r}")
    scale = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[m.group(2)]  # fmt: skip
    return float(m.group(1)) * scale


def duration(v: Any, obj: Obj, *field: str | int) -> float:
    """A protobuf duration as Istio writes it (``2s``, ``250ms``, ``1m``) in seconds."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s|m|h)\s*", str(v))
    if not m:
        raise obj.src.error((*obj.path, *field), f"not a duration: {v!r}")
    return float(m.group(1)) * {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2)]


def import_manifests(paths: list[Path], name: str) -> Imported:
    """A scenario (plain data, notes, unmapped list) from manifests and nats configs."""
    data: dict[str, Any] = {"name": name, "services": {}}
    imp = Imported(data, {})
    objs: list[Obj] = []
    confs: list[Path] = []
    for f in _files(paths):
        if f.suffix == ".conf":
            confs.append(f)
        else:
            objs += read_objects(f)
    by_kind: dict[str, list[Obj]] = {}
    for o in objs:
        by_kind.setdefault(o.kind, []).append(o)
    _workloads(by_kind, imp)
    _services(by_kind.get("Service", []), by_kind, imp)
    _hpas(by_kind.get("HorizontalPodAutoscaler", []), imp)
    _virtual_services(by_kind.get("VirtualService", []), imp)
    _destination_rules(by_kind.get("DestinationRule", []), imp)
    for f in confs:
        import_nats_conf(f, imp)
    known = {*WORKLOADS, "Service", "HorizontalPodAutoscaler", "VirtualService", "DestinationRule"}
    for kind, items in by_kind.items():
        if kind not in known:
            for o in items:
                imp.unmapped.append(f"{o.at()}: kind {kind} has no counterpart in the scenario")
    _placeholders(imp)
    return imp


def _workloads(by_kind: dict[str, list[Obj]], imp: Imported) -> None:
    services = imp.data["services"]
    for o in [o for k in WORKLOADS for o in by_kind.get(k, [])]:
        replicas = o.get("spec", "replicas")
        n = int(replicas) if replicas is not None else 1
        where = (
            o.at("spec", "replicas")
            if replicas is not None
            else f"{o.at()} (spec.replicas absent: Kubernetes default 1)"
        )
        if o.name.startswith("nats"):
            imp.data.setdefault("messaging", {}).setdefault("broker", {})["servers"] = n
            imp.notes[("messaging", "broker", "servers")] = where
            continue
        svc = services.setdefault(o.name, {})
        svc["instances"] = n
        imp.notes[("services", o.name, "instances")] = where
        containers = o.get("spec", "template", "spec", "containers") or []
        idx = next((i for i, c in enumerate(containers) if c.get("name") != "istio-proxy"), None)
        if idx is None:
            imp.unmapped.append(f"{o.at('spec', 'template', 'spec', 'containers')}: no container")
            continue
        res = ("spec", "template", "spec", "containers", idx, "resources")
        cpu = o.get(*res, "requests", "cpu")
        if cpu is not None:
            cores = quantity(cpu, o, *res, "requests", "cpu")
            svc["cores"] = max(1, math.ceil(cores))
            imp.notes[("services", o.name, "cores")] = (
                f"{o.at(*res, 'requests', 'cpu')} = {cpu}, rounded up to whole cores"
            )
        mem = o.get(*res, "requests", "memory")
        if mem is not None:
            svc["memory"] = int(quantity(mem, o, *res, "requests", "memory"))
            imp.notes[("services", o.name, "memory")] = (
                f"{o.at(*res, 'requests', 'memory')} = {mem}"
            )
        for lim in ("cpu", "memory"):
            if o.get(*res, "limits", lim) is not None:
                imp.unmapped.append(
                    f"{o.at(*res, 'limits', lim)}: limits are not modelled (no CPU throttling or OOM kill)"
                )
        if len(containers) > 1 + (
            idx is not None and any(c.get("name") == "istio-proxy" for c in containers)
        ):
            imp.unmapped.append(
                f"{o.at('spec', 'template', 'spec', 'containers')}: only the first application container is modelled"
            )


def _labels(o: Obj) -> dict[str, Any]:
    return o.get("spec", "template", "metadata", "labels") or {}


def _services(svcs: list[Obj], by_kind: dict[str, list[Obj]], imp: Imported) -> None:
    workloads = [o for k in WORKLOADS for o in by_kind.get(k, [])]
    for s in svcs:
        sel = s.get("spec", "selector") or {}
        hit = [w for w in workloads if sel and all(_labels(w).get(k) == v for k, v in sel.items())]
        if not hit:
            imp.unmapped.append(
                f"{s.at('spec', 'selector')}: selects no Deployment or StatefulSet here"
            )
            continue
        for w in hit:
            if w.name in imp.data["services"]:
                imp.notes.setdefault(("services", w.name), f"{s.at()} selects {w.kind}/{w.name}")
        if s.get("spec", "ports"):
            imp.unmapped.append(
                f"{s.at('spec', 'ports')}: ports have no scenario field (calls go by service name)"
            )


def _hpas(hpas: list[Obj], imp: Imported) -> None:
    for h in hpas:
        target = h.get("spec", "scaleTargetRef", "name")
        if target not in imp.data["services"]:
            imp.unmapped.append(
                f"{h.at('spec', 'scaleTargetRef')}: targets {target}, not a workload here"
            )
            continue
        a: dict[str, Any] = {}
        p = ("services", target, "autoscale")
        for key, field in (("min", "minReplicas"), ("max", "maxReplicas")):
            if h.get("spec", field) is not None:
                a[key] = int(h.get("spec", field))
                imp.notes[(*p, key)] = h.at("spec", field)
        util = h.get("spec", "targetCPUUtilizationPercentage")
        where = h.at("spec", "targetCPUUtilizationPercentage")
        for i, m in enumerate(h.get("spec", "metrics") or []):
            if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu":
                util = (m["resource"].get("target") or {}).get("averageUtilization")
                where = h.at("spec", "metrics", i, "resource", "target", "averageUtilization")
            else:
                imp.unmapped.append(
                    f"{h.at('spec', 'metrics', i)}: only CPU utilisation targets are modelled"
                )
        if util is not None:
            a["target"] = float(util) / 100
            imp.notes[(*p, "target")] = where
        window = h.get("spec", "behavior", "scaleDown", "stabilizationWindowSeconds")
        if window is not None:
            a["scale_down_window"] = float(window)
            imp.notes[(*p, "scale_down_window")] = h.at(
                "spec", "behavior", "scaleDown", "stabilizationWindowSeconds"
            )
        imp.data["services"][target]["autoscale"] = a


def _host(h: str) -> str:
    return h.split(".")[0]  # orders.shop.svc.cluster.local → orders


def _route(imp: Imported, host: str) -> dict[str, Any]:
    return imp.data.setdefault("http", {}).setdefault("routes", {}).setdefault(host, {})


def _virtual_services(vss: list[Obj], imp: Imported) -> None:
    for v in vss:
        hosts = [_host(h) for h in v.get("spec", "hosts") or []]
        for i, rule in enumerate(v.get("spec", "http") or []):
            dests = {
                _host((r.get("destination") or {}).get("host") or "")
                for r in rule.get("route") or []
            }
            for host in sorted(dests or set(hosts)):
                if host not in imp.data["services"]:
                    imp.unmapped.append(
                        f"{v.at('spec', 'http', i)}: routes to {host}, not a workload here"
                    )
                    continue
                r = _route(imp, host)
                p = ("http", "routes", host)
                if rule.get("timeout") is not None:
                    r["timeout"] = duration(rule["timeout"], v, "spec", "http", i, "timeout")
                    imp.notes[(*p, "timeout")] = v.at("spec", "http", i, "timeout")
                rt = rule.get("retries")
                if isinstance(rt, dict):
                    retries: dict[str, Any] = r.setdefault("retries", {})
                    if "attempts" in rt:
                        retries["attempts"] = int(rt["attempts"])
                    if "perTryTimeout" in rt:
                        retries["per_try_timeout"] = duration(
                            rt["perTryTimeout"], v, "spec", "http", i, "retries", "perTryTimeout"
                        )
                    if "retryOn" in rt:
                        conds = [c.strip() for c in str(rt["retryOn"]).split(",")]
                        retries["retry_on"] = [RETRY_ON[c] for c in conds if c in RETRY_ON]
                        rest = [c for c in conds if c not in RETRY_ON]
                        if rest:
                            imp.unmapped.append(
                                f"{v.at('spec', 'http', i, 'retries', 'retryOn')}: {', '.join(rest)} not modelled"
                            )
                    imp.notes[(*p, "retries")] = v.at("spec", "http", i, "retries")
                for key in ("fault", "mirror", "match", "rewrite", "corsPolicy"):
                    if key in rule:
                        imp.unmapped.append(f"{v.at('spec', 'http', i, key)}: not mapped")


def _destination_rules(drs: list[Obj], imp: Imported) -> None:
    for d in drs:
        host = _host(str(d.get("spec", "host") or ""))
        if host not in imp.data["services"]:
            imp.unmapped.append(f"{d.at('spec', 'host')}: {host} is not a workload here")
            continue
        tp = ("spec", "trafficPolicy")
        r = _route(imp, host)
        p = ("http", "routes", host)
        od = d.get(*tp, "outlierDetection")
        if isinstance(od, dict):
            o: dict[str, Any] = {"enabled": True}
            if "consecutive5xxErrors" in od:
                o["consecutive_5xx"] = int(od["consecutive5xxErrors"])
            for src_key, key in (
                ("interval", "interval"),
                ("baseEjectionTime", "base_ejection_time"),
            ):
                if src_key in od:
                    o[key] = duration(od[src_key], d, *tp, "outlierDetection", src_key)
            if "maxEjectionPercent" in od:
                o["max_ejection_percent"] = float(od["maxEjectionPercent"])
            r["outlier"] = o
            imp.notes[(*p, "outlier")] = d.at(*tp, "outlierDetection")
        lb = d.get(*tp, "loadBalancer")
        if isinstance(lb, dict):
            if lb.get("simple") in BALANCING:
                r["balancing"] = BALANCING[lb["simple"]]
                imp.notes[(*p, "balancing")] = d.at(*tp, "loadBalancer", "simple")
            elif lb.get("simple") in LB_UNMAPPED:
                imp.unmapped.append(
                    f"{d.at(*tp, 'loadBalancer', 'simple')}: {lb['simple']} not modelled"
                )
            if "localityLbSetting" in lb:
                imp.unmapped.append(
                    f"{d.at(*tp, 'loadBalancer', 'localityLbSetting')}: locality-aware balancing is not modelled"
                )
            if "consistentHash" in lb:
                imp.unmapped.append(f"{d.at(*tp, 'loadBalancer', 'consistentHash')}: not modelled")
        if d.get(*tp, "connectionPool") is not None:
            imp.unmapped.append(
                f"{d.at(*tp, 'connectionPool')}: per-destination pools are not modelled (http.pool is global)"
            )


def _placeholders(imp: Imported) -> None:
    services = imp.data["services"]
    if not services:
        raise ScenarioError("<manifests>", None, (), "no Deployment or StatefulSet found")
    for name, svc in services.items():
        svc.setdefault("operations", {"serve": {"demand": {"dist": "exponential", "mean": "1ms"}}})
        imp.notes[("services", name, "operations")] = (
            "ASSUMPTION: manifests have no operations; one `serve` of 1 ms each — "
            "replace with `sim import traces FILE --base`"
        )
    first = next(iter(services))
    imp.data["workload"] = {
        "arrivals": {"kind": "poisson", "rate": 100},
        "flows": [{"name": first, "service": first, "operation": "serve"}],
    }
    imp.notes[("workload",)] = (
        "ASSUMPTION: manifests carry no load; 100 requests/s to the first service"
    )
    imp.unmapped.append(
        "ASSUMPTION: operations, demands and load are not in manifests (placeholders written)"
    )
    accounts = imp.data.get("messaging", {}).get("accounts") or {}
    users = {u.get("user") for a in accounts.values() for u in a.get("users", [])}
    if accounts and "clients" not in users:  # the simulated edge connects to the broker too
        home = next((n for n, a in accounts.items() if {"user": first} in a.get("users", [])), None)
        if home is not None:
            accounts[home].setdefault("users", []).append({"user": "clients"})
            imp.unmapped.append(
                f"ASSUMPTION: the edge clients (user `clients`) join account {home}, "
                f"the account of the entry service {first}"
            )
