"""What each architecture noticed, and the counters a disturbance is measured with.

**Detection** is read from the logs the transports keep, not inferred from requests; each
transport reads its own (``Transport.detection``):

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


def counters(app: Application) -> dict[str, float]:
    """Cumulative requests, attempts, retries, connections and handshakes right now."""
    t = app.transport
    comps = [*t.components(), *app.components()]
    return {
        **t.counters(),
        "connections": sum(c.conns_opened for c in comps) / 2,
        "handshakes": sum(c.handshakes_tcp for c in comps) / 2,
    }


def detections(app: Application, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One detection event per action whose targets the architecture noticed."""
    t = app.transport
    arch = str(t.name)
    out: list[dict[str, Any]] = []
    for e in events:
        names = set(e.get("targets") or ())
        if e.get("kind") != "action" or e.get("action") not in FAILURES or not names:
            continue
        t0 = float(e["t"])
        hit = t.detection(t0, names)
        if hit is None:
            continue
        d: dict[str, Any] = {
            "t": hit["t"],
            "label": hit["label"],
            "architecture": arch,
            "kind": "detection",
            "entry": e.get("entry"),
            "after": hit["t"] - t0,
        }
        d.update({k: v for k, v in hit.items() if k not in ("t", "label")})
        out.append(d)
    return out
