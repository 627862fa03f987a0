"""Events by long polling (RFC 6202 §2.2): every observer holds a request open.

Each instance of an observer service holds one GET open to every instance of each service
whose events (or, for an audit listener, whose requests) it hears — addressed to that
instance through discovery, and carried through the mesh like any request. The publisher
keeps a mailbox per registration: one per observer service for ``shared`` delivery (the
held polls of its instances compete for each event, like a queue), one per observer
instance for ``each``. When an event arrives and a poll is held, the oldest held poll is
answered at once with everything queued; otherwise the event waits for the next poll.
The observer re-polls as soon as an answer arrives, then handles the batch.

So the delivery latency is about one transit (the answer's way back) when a poll is
waiting, and up to three transits when an event lands just after an answer left (answer,
new poll, next answer): RFC 6202's "mean ≈ 1 transit, worst > 3". Under bursts events
batch: fewer requests, longer waits. A poll held for ``longpoll_hold`` without an event is
answered empty (below the 30–120 s at which intermediaries drop it); a failed poll is
retried after ``longpoll_retry`` while the publisher is still in the poller's view.

Each event row runs from the publish instant to the end of its handling: the wait in the
mailbox is queueing, the answer's trip network, the handling CPU (and its queueing) as
measured.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simpy import Event

from sim.app.transport import OK
from sim.core.schedule import Task
from sim.core.trace import Trace
from sim.http.wire import Call

if TYPE_CHECKING:
    from sim.app.application import Observer
    from sim.app.service import ServiceInstance
    from sim.http.transport import HttpTransport

POLL_BYTES = 256.0  # assumption: a GET with a cursor and headers


@dataclass(slots=True)
class Item:
    """One queued event: when it was published, its subject and size."""

    start: float
    subject: str
    nbytes: float


class Mailbox:
    """Events waiting for a poll at one publisher for one registration, and held polls."""

    __slots__ = ("env", "held", "items")

    def __init__(self, env: Any):
        self.env = env
        self.items: deque[Item] = deque()
        self.held: deque[Event] = deque()

    def put(self, item: Item) -> None:
        self.items.append(item)
        while self.held:
            ev = self.held.popleft()
            if not ev.triggered:
                ev.succeed(self._take())
                return

    def _take(self) -> list[Item]:
        out = list(self.items)
        self.items.clear()
        return out

    def wait(self, hold: float) -> Generator[Any, Any, list[Item]]:
        """Held until events are queued, or answered empty after `hold`."""
        if self.items:
            return self._take()
        ev = Event(self.env)
        self.held.append(ev)
        yield ev | self.env.timeout(hold)
        if ev.triggered:
            batch: list[Item] = ev.value  # type: ignore[assignment]
            return batch
        ev.succeed([])  # expired: mark it so a later put skips it
        return []


class LongPolling:
    """Mailboxes at publishers and the poll loops of observers."""

    def __init__(self, transport: HttpTransport):
        self.t = transport
        self.env = transport.env
        self.cfg = transport.cfg.events
        self.boxes: dict[tuple[Any, ...], Mailbox] = {}
        self.polls = 0
        self.empty = 0
        self.loops: set[tuple[int, int, Observer]] = set()

    def _key(self, pub: ServiceInstance, obs: Observer, poller: ServiceInstance | None) -> Any:
        return (id(pub), obs, id(poller) if obs.delivery == "each" else None)

    def put(self, pub: ServiceInstance, obs: Observer, subject: str, nbytes: float) -> None:
        """An event (or request copy) at a publisher for one observer registration."""
        item = Item(self.env.now, subject, nbytes)
        if obs.delivery == "each":  # one mailbox per instance that polls this publisher
            for inst in self.t.app.instances[obs.service]:
                if (id(inst), id(pub), obs) in self.loops:
                    self._box((id(pub), obs, id(inst))).put(item)
        else:
            self._box((id(pub), obs, None)).put(item)

    def _box(self, key: tuple[Any, ...]) -> Mailbox:
        box = self.boxes.get(key)
        if box is None:
            box = self.boxes[key] = Mailbox(self.env)
        return box

    def start_polling(self, poller: ServiceInstance, pub: ServiceInstance, obs: Observer) -> None:
        """An observer instance starts holding a poll open to a publisher instance."""
        key = (id(poller), id(pub), obs)
        if key not in self.loops:
            self.loops.add(key)
            Task(self.env, self._loop(poller, pub, obs))

    def _loop(
        self, poller: ServiceInstance, pub: ServiceInstance, obs: Observer
    ) -> Generator[Any, Any, None]:
        env = self.env
        box = self._box(self._key(pub, obs, poller))
        hold = self.cfg.longpoll_hold

        def act(_inst: ServiceInstance, _t: Trace) -> Generator[Any, Any, str]:
            batch = yield from box.wait(hold)
            call.items = batch
            call.resp = sum(i.nbytes for i in batch)
            call.released = env.now
            return OK

        while poller.alive:
            call = Call(pub.service, "poll", POLL_BYTES, 0.0, act, instance=pub.index)
            tr = Trace(-1, "poll", env.now)
            self.polls += 1
            status = yield from self.t.send(tr, poller, call)
            if status != OK:
                if not self.t.knows(poller, pub):
                    break
                yield env.timeout(self.cfg.longpoll_retry)
                continue
            if not call.items:
                self.empty += 1
            for item in call.items:
                Task(env, self._handle(poller, obs, item, call.released))
        self.loops.discard((id(poller), id(pub), obs))

    def _handle(
        self, inst: ServiceInstance, obs: Observer, item: Item, released: float
    ) -> Generator[Any, Any, None]:
        app = self.t.app
        env = self.env
        tr = app.event_trace(f"{item.subject} → {obs.service}", item.start)
        tr.queueing += released - item.start  # waiting in the mailbox for a held poll
        tr.network += env.now - released  # the answer's trip back through the mesh
        status = yield from inst.on_event(tr, obs.operation)
        app.recorder.event(tr, env.now, status)
