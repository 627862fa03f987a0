"""Who hears each published subject: the subject rules (NATS matching) applied to the
application's subscriptions, for both architectures (the HTTP side delivers the same copies by
webhook, long poll or mirror). A light module: checking a scenario needs it without the engine.
"""

from __future__ import annotations

from sim.app.names import Observer, request_subject
from sim.messaging.subjects import SubjectIndex
from sim.scenario.model import Scenario


def observers_of(sc: Scenario) -> dict[str, tuple[Observer, ...]]:
    """Who hears each published subject (events and request subjects), by NATS matching."""
    index = SubjectIndex()
    for name, svc in sc.services.items():
        for sub in svc.subscriptions:
            index.subscribe(sub.subject, owner=Observer(name, sub.operation, sub.delivery))
    subjects: set[str] = set()
    for name, svc in sc.services.items():
        for op_name, op in svc.operations.items():
            subjects.add(request_subject(sc, name, op_name))
            subjects.update(e.subject for e in op.emits)
    out: dict[str, tuple[Observer, ...]] = {}
    for s in sorted(subjects):
        m = index.match(s)
        obs = tuple(h.owner for h in m.plain)
        if obs:
            # two subscriptions of one service to overlapping patterns still mean two copies,
            # as on a broker where each subscription gets its own
            out[s] = obs  # type: ignore[assignment]
    return out
