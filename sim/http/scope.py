"""What a sidecar must know: the services an instance sends to (its Sidecar-resource scope).

With ``sidecar.scope: mesh`` (Istio's default) every sidecar receives every service of the
mesh, so its memory and the control plane's pushes grow with services × instances. With
``dependencies`` a Sidecar resource limits its egress hosts to the services it actually
sends to: the targets of its operations' calls, the observers that receive its events or
copies of its requests (webhooks, mirrors), and the publishers its instances long-poll.
"""

from __future__ import annotations

from collections.abc import Mapping

from sim.app.application import Observer, request_subject
from sim.scenario.model import Scenario


def dependencies(
    sc: Scenario, observers: Mapping[str, tuple[Observer, ...]], service: str
) -> frozenset[str]:
    """Every service that `service` sends requests to, in any role."""
    out: set[str] = set()
    svc = sc.services[service]
    for op_name, op in svc.operations.items():
        out.update(c.service for c in op.calls)
        for subject in (request_subject(sc, service, op_name), *(e.subject for e in op.emits)):
            out.update(o.service for o in observers.get(subject, ()))
    for sub in svc.subscriptions:  # long polling: the publishers it polls
        out.update(publishers(sc, observers, service, sub.operation))
    return frozenset(out)


def publishers(
    sc: Scenario, observers: Mapping[str, tuple[Observer, ...]], service: str, operation: str
) -> set[str]:
    """Services whose events (or requests) reach `service.operation` as an observer."""
    out: set[str] = set()
    for name, svc in sc.services.items():
        for op_name, op in svc.operations.items():
            for subject in (request_subject(sc, name, op_name), *(e.subject for e in op.emits)):
                if any(
                    o.service == service and o.operation == operation
                    for o in observers.get(subject, ())
                ):
                    out.add(name)
    return out
