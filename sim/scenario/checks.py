"""Checks that need the whole scenario: references, call cycles, regions, total size.

Each failure raises :class:`LocatedError` with the YAML path of the offending value, which
the loader turns into ``FILE:LINE``. Subject syntax is checked by the messaging layer's own
rules in :func:`sim.api.load_scenario` (the scenario layer imports no architecture).
"""

from __future__ import annotations

import graphlib

from sim.scenario.http import check_http
from sim.scenario.model import MAX_TOTAL_INSTANCES, LocatedError, Scenario
from sim.scenario.timeline import check_timeline


def check_structure(sc: Scenario) -> None:
    """Raise LocatedError for the first structural problem found."""
    regions = {r.name for r in sc.placement.regions}
    for name, svc in sc.services.items():
        if svc.region is not None and svc.region not in regions:
            raise LocatedError(
                ("services", name, "region"),
                f"unknown region {svc.region!r} (placement.regions has {sorted(regions)})",
            )
        for op_name, op in svc.operations.items():
            for i, call in enumerate(op.calls):
                _check_target(sc, ("services", name, "operations", op_name, "calls", i), call)
        for i, sub in enumerate(svc.subscriptions):
            if sub.operation not in svc.operations:
                raise LocatedError(
                    ("services", name, "subscriptions", i, "operation"),
                    f"service {name!r} has no operation {sub.operation!r}",
                )
    for i, flow in enumerate(sc.workload.flows):
        _check_target(sc, ("workload", "flows", i), flow)
        if sc.services[flow.service].listen_only:
            raise LocatedError(
                ("workload", "flows", i, "service"),
                f"service {flow.service!r} is listen_only and cannot be called",
            )
    names = [f.name for f in sc.workload.flows]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise LocatedError(("workload", "flows", i, "name"), f"duplicate flow name {n!r}")
    total = sum(s.instances for s in sc.services.values())
    if total > MAX_TOTAL_INSTANCES:
        raise LocatedError(
            ("services",), f"{total} instances in all; at most {MAX_TOTAL_INSTANCES} are supported"
        )
    for i, r in enumerate(sc.placement.regions):
        if [x.name for x in sc.placement.regions].index(r.name) != i:
            raise LocatedError(("placement", "regions", i, "name"), f"duplicate region {r.name!r}")
    for a, row in sc.placement.network.region_rtt.items():
        for b in row:
            for key, reg in ((a, a), (b, b)):
                if reg not in regions:
                    path: tuple[str | int, ...] = ("placement", "network", "region_rtt", a)
                    if key == b:
                        path = (*path, b)
                    raise LocatedError(path, f"unknown region {reg!r}")
            where: tuple[str | int, ...] = ("placement", "network", "region_rtt", a, b)
            if a == b:  # the zone and host RTTs apply inside a region; this would be ignored
                raise LocatedError(
                    where, f"{a!r} to itself: inside a region, same_zone_rtt/cross_zone_rtt apply"
                )
            back = sc.placement.network.region_rtt.get(b, {}).get(a)
            if back is not None and back != row[b]:  # a round trip is the same both ways
                raise LocatedError(
                    where,
                    f"{a} → {b} is {row[b] * 1e3:g} ms but {b} → {a} is {back * 1e3:g} ms; "
                    "a round-trip time is the same both ways: give it once",
                )
    check_http(sc.http, sc.services)
    if sc.platform.kind == "vm" and sc.http.discovery.catalog == "kubernetes":
        raise LocatedError(
            ("platform", "kind"),
            "a Kubernetes catalog needs platform kind kubernetes "
            "(on VMs set http.discovery.catalog: consul)",
        )
    check_timeline(sc)
    _check_cycles(sc)


def _check_target(sc: Scenario, path: tuple[str | int, ...], ref: object) -> None:
    service = getattr(ref, "service")  # noqa: B009 - Call and Flow share these two fields
    operation = getattr(ref, "operation")  # noqa: B009
    if service not in sc.services:
        raise LocatedError((*path, "service"), f"unknown service {service!r}")
    svc = sc.services[service]
    if operation not in svc.operations:
        raise LocatedError(
            (*path, "operation"), f"service {service!r} has no operation {operation!r}"
        )
    idx = getattr(ref, "instance", None)
    if idx is not None and idx >= svc.instances:
        raise LocatedError(
            (*path, "instance"),
            f"service {service!r} has {svc.instances} instance(s); index {idx} does not exist",
        )
    if svc.instances == 0 and path[0] == "workload":
        raise LocatedError((*path, "service"), f"service {service!r} has no instances")


def _check_cycles(sc: Scenario) -> None:
    graph: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for name, svc in sc.services.items():
        for op_name, op in svc.operations.items():
            graph[(name, op_name)] = {(c.service, c.operation) for c in op.calls}
    try:  # the standard library says whether there is a cycle without importing networkx
        graphlib.TopologicalSorter(graph).prepare()
        return
    except graphlib.CycleError:
        pass
    import networkx as nx  # which cycle, found in the file's order, to blame the right line

    g: nx.DiGraph = nx.DiGraph()
    where: dict[tuple[tuple[str, str], tuple[str, str]], tuple[str | int, ...]] = {}
    for name, svc in sc.services.items():
        for op_name, op in svc.operations.items():
            for i, call in enumerate(op.calls):
                edge = ((name, op_name), (call.service, call.operation))
                g.add_edge(*edge)
                where.setdefault(edge, ("services", name, "operations", op_name, "calls", i))
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return
    steps = " -> ".join(f"{s}.{o}" for (s, o), _ in cycle)
    first, closing = cycle[0], cycle[-1]  # the search follows the file's order, so the
    # closing call is the one written last: the line to blame (a self-call is both)
    raise LocatedError(
        where[(closing[0], closing[1])],
        f"synchronous call cycle: {steps} -> {first[0][0]}.{first[0][1]}",
    )
