"""Which way each observer gets its copies, and the copies themselves.

Observers of a published event get it by webhook or long poll (``http.events.delivery``).
Copies of *requests* (an audit listener subscribed to request subjects) go the way
``http.events.audit`` says: ``mirror`` — the routing proxy sends a shadow request (Envoy
``request_mirror_policies``: fire and forget, never retried); ``webhook`` — the serving
instance posts the copy after it has served; ``longpoll`` — the audit listener polls every
instance that serves. A listen-only observer also gets *events* the audit way when that is
webhook or long poll (a mirror has no request to copy, so events then use ``delivery``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.app.application import Observer, request_subject
from sim.app.service import ServiceInstance
from sim.core.schedule import Task
from sim.core.trace import Trace
from sim.http.longpoll import LongPolling
from sim.http.scope import publishers
from sim.http.webhooks import Webhooks
from sim.http.wire import Call

if TYPE_CHECKING:
    from sim.http.routing import Router
    from sim.http.transport import HttpTransport


class EventDelivery:
    """Webhooks, long polls and mirrors of one transport."""

    def __init__(self, transport: HttpTransport):
        self.t = transport
        self.app = transport.app
        self.env = transport.env
        self.cfg = transport.cfg.events
        self.webhooks = Webhooks(transport)
        self.longpoll = LongPolling(transport)

    def mode(self, obs: Observer, request: bool) -> str:
        """How an observer gets its copy: mirror, webhook or longpoll."""
        ev = self.cfg
        if request:
            return ev.audit
        if self.app.sc.services[obs.service].listen_only and ev.audit != "mirror":
            return ev.audit
        return ev.delivery

    def publish(self, source: ServiceInstance, subject: str, nbytes: float) -> None:
        """An event: one copy per observer registration, by webhook or long poll."""
        for obs in self.app.observers.get(subject, ()):
            if self.mode(obs, request=False) == "longpoll":
                self.longpoll.put(source, obs, subject, nbytes)
            else:
                self.webhooks.send(source, obs, subject, nbytes)

    def copy_request(self, inst: ServiceInstance, call: Call) -> None:
        """After serving: the instance's own copies of the request (webhook or long poll)."""
        for obs in call.mirrors:
            mode = self.mode(obs, request=True)
            if mode == "webhook":
                self.webhooks.send(inst, obs, call.subject, call.req)
            elif mode == "longpoll":
                self.longpoll.put(inst, obs, call.subject, call.req)

    def mirror(self, router: Router, call: Call) -> None:
        """Envoy request mirroring: a shadow copy to each observer of the request subject."""
        for obs in call.mirrors:
            if self.mode(obs, request=True) != "mirror":
                continue
            idxs: list[int | None] = [None]
            if obs.delivery == "each":
                idxs = [e.index for e in router.view.snapshot.get(obs.service, ())]
            for idx in idxs:  # started later: routed now it would pick before the original
                Task(self.env, self._shadow(router, obs, call, idx))

    def _shadow(
        self, router: Router, obs: Observer, call: Call, idx: int | None
    ) -> Generator[Any, Any, None]:
        tr = self.app.event_trace(f"{call.subject} → {obs.service}", self.env.now)
        operation = obs.operation

        def act(inst: ServiceInstance, t: Trace) -> Generator[Any, Any, str]:
            return inst.on_event(t, operation)

        copy = Call(obs.service, operation, call.req, 0.0, act, call.subject, (), idx, 0, True)
        status = yield from router.route(tr, copy)
        self.app.recorder.event(tr, self.env.now, status)

    def start_polls(self, inst: ServiceInstance) -> None:
        """Long polling: a ready instance polls its publishers and is polled by observers."""
        sc = self.app.sc
        for sub in inst.cfg.subscriptions:
            obs = Observer(inst.service, sub.operation, sub.delivery)
            for pub_service in publishers(sc, self.app.observers, inst.service, sub.operation):
                if self._polls(pub_service, obs):
                    for pub in self.app.instances[pub_service]:
                        if pub.alive:
                            self.longpoll.start_polling(inst, pub, obs)
        for subject in self._subjects(inst.service):
            for obs in self.app.observers.get(subject, ()):
                if self._polls(inst.service, obs):
                    for poller in self.app.instances[obs.service]:
                        if poller.alive and self.t.running:
                            self.longpoll.start_polling(poller, inst, obs)

    def _subjects(self, service: str) -> set[str]:
        sc = self.app.sc
        out: set[str] = set()
        for op_name, op in sc.services[service].operations.items():
            out.add(request_subject(sc, service, op_name))
            out.update(e.subject for e in op.emits)
        return out

    def _polls(self, pub_service: str, obs: Observer) -> bool:
        """Does `obs` long-poll `pub_service` for anything it hears from it?"""
        sc = self.app.sc
        for op_name, op in sc.services[pub_service].operations.items():
            heard = self.app.observers.get(request_subject(sc, pub_service, op_name), ())
            if obs in heard and self.mode(obs, request=True) == "longpoll":
                return True
            for e in op.emits:
                heard = self.app.observers.get(e.subject, ())
                if obs in heard and self.mode(obs, request=False) == "longpoll":
                    return True
        return False
