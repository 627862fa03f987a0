"""What each architecture noticed, and the counters a disturbance is measured with.

**Detection** is read from the logs the transports keep, not inferred from requests:

* HTTP (``HttpTransport.log``): ``removed`` — the orchestrator declared the instance not
  ready (exit noticed, failed readiness probes, graceful stop, node lost); then ``view``
  rows show the removal reaching each picker. The detection event also carries
  ``converged``: when the last picker's view of that service changed, before the next
  change of the service. For a gateway replica: ``unhealthy`` — the L4 load balancer's
  health checks took it out of rotation (:mod:`sim.http.gateway`); the balancer is the
  only picker of replicas, so ``converged`` is that same instant.
* messaging (``Fabric.log``): ``closed`` — the server closed the instance's connection
  (FIN seen, stale after unanswered pings, write deadline, drained); for a server:
  ``disconnected`` (a client noticed), ``route_lost`` or ``gateway_lost`` (a peer noticed).

For each failure (crash, node loss, stop, region outage), the first such row about one of its targets at or after the
action is its detection event (``kind: detection``, ``after`` = time to detect).

**Counters** (:func:`counters`), cumulative over the run: logical requests and attempts at
every requester (HTTP: every picker's router — attempts are its sends, logical requests its
sends minus its retries; messaging: the requesters' retry loop), retries, connections
opened and TCP handshakes (each counted once, not at both ends).
"""

from __future__ import annotations

from typing import Any

from sim.app.application import Application

FAILURES = ("crash", "node_loss", "stop", "region_outage")  # actions something must notice
HTTP_DETECT = ("removed", "unhealthy")
MESSAGING_DETECT = ("closed", "disconnected", "route_lost", "gateway_lost")


def counters(app: Application) -> dict[str, float]:
    """Cumulative requests, attempts, retries, connections and handshakes right now."""
    t = app.transport
    comps = [*t.components(), *app.components()]
    return {
        **t.counters(),
        "connections": sum(c.conns_opened for c in comps) / 2,
        "handshakes": sum(c.handshakes_tcp for c in comps) / 2,
    }


def _rows(app: Application) -> tuple[list[tuple[float, str, str, str]], tuple[str, ...]]:
    t: Any = app.transport
    if t.name == "http":
        return list(t.log), HTTP_DETECT
    return list(t.fabric.log), MESSAGING_DETECT


def detections(app: Application, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One detection event per action whose targets the architecture noticed."""
    rows, kinds = _rows(app)
    arch = str(app.transport.name)
    out: list[dict[str, Any]] = []
    for e in events:
        names = set(e.get("targets") or ())
        if e.get("kind") != "action" or e.get("action") not in FAILURES or not names:
            continue
        t0 = float(e["t"])
        hit = next((r for r in rows if r[0] >= t0 and r[1] in kinds and r[2] in names), None)
        if hit is None:
            continue
        d: dict[str, Any] = {
            "t": hit[0],
            "label": f"detected: {hit[2]} {hit[1]}",
            "architecture": arch,
            "kind": "detection",
            "entry": e.get("entry"),
            "after": hit[0] - t0,
        }
        if arch == "http":
            lb = hit[1] == "unhealthy"  # the balancer acts on its own verdict at once
            d["converged"] = hit[0] if lb else _converged(rows, hit[0], hit[3])
        out.append(d)
    return out


def _converged(rows: list[tuple[float, str, str, str]], t: float, service: str) -> float:
    """When the last picker's view of `service` changed after t, before its next change."""
    nxt = next(
        (
            r[0]
            for r in rows
            if r[0] > t + 1e-9 and r[1] in ("ready", "removed") and r[3] == service
        ),
        float("inf"),
    )
    views = [r[0] for r in rows if r[1] == "view" and r[3] == service and t <= r[0] < nxt]
    return max(views, default=t)
