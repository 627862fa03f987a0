"""Events as webhooks: one HTTP request per observer per event, through the mesh.

Each observer has a registration at the publisher; an event becomes one POST per
registration (GitHub-style: the GitHub webhook docs): to one instance of the observer service,
load-balanced (``shared`` delivery), or to each of its instances (``each``: the publisher
resolves the instances through discovery, headless-service style, and addresses each one).
The POST leaves the publishing instance through its outbound path (its sidecar, its node's
ztunnel, or directly), so fan-out to N observers costs N requests, N passes of per-hop
proxy CPU and — the first time — N new connections with their handshakes.

The sender waits ``webhook_timeout`` for a 2xx (GitHub: 10 s) and retries up to
``webhook_retries`` times (GitHub: none) after ``webhook_backoff``, doubling. Each delivery
is one ``event`` row, from the publish instant to the observer's handling (or failure).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from sim.app.transport import OK
from sim.core.component import Component
from sim.core.schedule import Task
from sim.core.trace import Trace
from sim.http.routing import within
from sim.http.wire import Call

if TYPE_CHECKING:
    from sim.app.application import Observer
    from sim.app.service import ServiceInstance
    from sim.http.transport import HttpTransport


class Webhooks:
    """Sends event (and request-copy) webhooks for a transport."""

    def __init__(self, transport: HttpTransport):
        self.t = transport
        self.env = transport.env
        self.cfg = transport.cfg.events
        self.sent = 0
        self.failed = 0
        self.retried = 0

    def send(self, source: Component, obs: Observer, subject: str, nbytes: float) -> None:
        """Fire the webhooks of one event for one observer (fire and forget)."""
        start = self.env.now  # (tasks started later, not inline: results would move)
        if obs.delivery == "each":
            for idx in self.t.instance_indexes(source, obs.service):
                Task(self.env, self._deliver(source, obs, subject, nbytes, start, idx))
        else:
            Task(self.env, self._deliver(source, obs, subject, nbytes, start, None))

    def _deliver(
        self,
        source: Component,
        obs: Observer,
        subject: str,
        nbytes: float,
        start: float,
        index: int | None,
    ) -> Generator[Any, Any, None]:
        app = self.t.app
        tr = app.event_trace(f"{subject} → {obs.service}", start)
        env = self.env
        operation = obs.operation

        def act(inst: ServiceInstance, t: Trace) -> Generator[Any, Any, str]:
            return inst.on_event(t, operation)

        status = OK
        for k in range(self.cfg.webhook_retries + 1):
            if k:
                self.retried += 1
                wait = self.cfg.webhook_backoff * 2 ** (k - 1)
                if wait > 0:
                    yield env.timeout(wait)
                    tr.infra += wait
            call = Call(obs.service, operation, nbytes, 0.0, act, subject, instance=index)
            self.sent += 1
            status = yield from within(
                self.t.deadlines(self.cfg.webhook_timeout), tr, self._sender(source, call)
            )
            if status == OK:
                break
        if status != OK:
            self.failed += 1
        app.recorder.event(tr, env.now, status)

    def _sender(self, source: Component, call: Call) -> Callable[[Trace], Generator[Any, Any, str]]:
        return lambda t: self.t.send(t, source, call)
