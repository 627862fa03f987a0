"""What moving messages costs a component's cores: one mechanism for every component that
moves bytes (broker servers, gateways, sidecars, ztunnels, and inside each service its NATS
client library or its HTTP stack).

An event-driven server pays a fixed cost per *wake-up* (a read or write system call with the
scheduling around it), a cost per *message* (parse, match, route; or frame a copy) and per
*byte* (copying; on a TLS link also the record's encryption). At low rates every message is
its own wake-up. Under load, messages that reach a connection while its previous batch is
still waiting for a core, or being worked on, are read in one go, and queued writes are
flushed together: the cost per message falls as load rises, as measured on real servers,
with no curve fitted by hand. A wake-up that finds the whole process asleep (every core idle
for at least ``warm_window``) pays ``cold_wakeup`` on top: the thread is woken from
epoll/futex sleep with cold caches, and the runtime's other threads spin looking for work.
The longer the sleep, the more it costs: a wake-up after a deep sleep pays ``deep_wakeup``
more, a share of it growing in a straight line with the time asleep between the machine's
``cold_latency_after`` and ``cold_latency_full_after`` (the ramp the wait to wake follows,
below: caches and TLBs refilled after the core sat in a deep idle state, on a VM after the
host ran other work on it). Measured here on the servers themselves, one round trip at a
time: nats-server spent 90 µs of CPU per ``PING`` 0.5 ms apart and 203 µs 10 ms apart,
haproxy 52 and 121 µs per proxied request. Together that is why a real nats-server spends
220 µs of CPU per request/reply at 100 req/s but 130 µs at 800 (figures and sources:
``IoCost`` in :mod:`sim.scenario.common`). The cold extra CPU is
paid *around* the message, not before it is handed on: the same server answers a raw-protocol
round trip in 31–50 µs on loopback, far less than 200 µs. So it keeps the core busy after the
batch (a tail, as a proxy's telemetry is). What a sleeping process does delay is its waking:
the core it slept on must come out of its idle state (on a VM, the host must run the halted
vCPU again) before the first read. The longer the sleep, the deeper the idle state and the
longer the wait (measured here: a loopback round trip between two processes takes about the
same up to 1 ms between round trips, then grows about linearly to 2–4 times that at 10 ms
apart). So the wait is ``idle_latency`` up to ``cold_latency_after`` of sleep, grows in a
straight line from there to ``cold_latency`` at ``cold_latency_full_after``, and stays
there; these are the machine's, not the process's ``warm_window``. A brief sleep waits
``idle_latency``: next to nothing on bare metal, where
a briefly idle core polls or sits in C1, but 17–27 µs on a VM that halts an idle vCPU at once
(measured here between processes pinned to different vCPUs). That wait uses no CPU of the
process; messages that arrive meanwhile are read in the same wake-up, and the trace books it
as ``infra`` (the transport's latency). A message a component *writes* may wait too,
``handoff_latency``, before the write's wake-up when that connection's writer is idle: the
thread that read it hands it to the writer of another connection (nats-server's reading
goroutine signals the receiving connection's ``writeLoop``), and on a VM the far end's reader
wakes later behind a server that keeps its core spinning. None on bare metal by default;
measured here through real servers against a direct hop (:mod:`sim.real.measure`
``transit``). Messages written meanwhile join the same write.

:class:`Channel` is one direction (read or write) of one connection at one component. It has
at most one batch on a core at a time (one goroutine or event-loop callback per connection
direction); messages arriving meanwhile form the next batch, which asks for a core when the
current one is done. A batch's work is known when it gets a core (``Cpu.execute_batch``), so
every message that arrived before then joins it. Each message's trace books the batch's
work as ``infra`` (transport processing) and the rest of its wait as ``queueing``.

:class:`Io` is one component's event loop: its costs and counters (wake-ups, cold wake-ups,
deep wake-ups — each counted by how deep its sleep went, 0 to 1 —, messages, bytes, TLS
records and bytes, CPU seconds), which :meth:`Io.mark` restarts at the end of the warm-up so
the results cover the measured window. A component without an ``Io`` (``io: null`` in the
scenario, or every figure zero) moves messages for free, at once — the textbook queue the
validation suite checks against closed forms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simpy.events import NORMAL

from sim.core.schedule import Signal

if TYPE_CHECKING:
    from sim.core.cpu import Cpu
    from sim.core.trace import Trace
    from sim.scenario.common import IoCost

COUNTERS = (
    "wakeups",
    "cold_wakeups",
    "deep_wakeups",
    "messages",
    "bytes",
    "tls_records",
    "tls_bytes",
    "seconds",
)

Done = Callable[[], Any]
UNKNOWN = -2.0  # a batch's cpu.idle() not known before it gets a core (idle() is >= -1)


class Io:
    """One component's I/O costs and counters."""

    __slots__ = (
        "_mark",
        "bytes",
        "cold",
        "cold_latency",
        "cold_latency_after",
        "cold_latency_full_after",
        "cold_wakeups",
        "cpu",
        "deep",
        "deep_wakeups",
        "handoff",
        "idle_latency",
        "messages",
        "on_share",
        "per_byte",
        "per_message",
        "ramp",
        "seconds",
        "tls_byte",
        "tls_bytes",
        "tls_record",
        "tls_records",
        "wakeup",
        "wakeups",
        "warm",
    )

    def __init__(self, cpu: Cpu, cost: IoCost):
        self.cpu = cpu
        self.wakeup = cost.wakeup
        self.cold = cost.cold_wakeup
        self.cold_latency = cost.cold_latency
        self.cold_latency_after = cost.cold_latency_after
        self.idle_latency = cost.idle_latency
        self.handoff = cost.handoff_latency
        self.cold_latency_full_after, self.ramp = ramp(cost)
        self.warm = cost.warm_window
        self.deep = cost.deep_wakeup
        self.per_message = cost.per_message
        self.per_byte = cost.per_byte
        self.tls_record = cost.tls_per_record
        self.tls_byte = cost.tls_per_byte
        self.wakeups = 0
        self.cold_wakeups = 0
        self.deep_wakeups = 0.0  # in whole deep wake-ups: each counts how deep its sleep was
        self.messages = 0
        self.bytes = 0.0
        self.tls_records = 0
        self.tls_bytes = 0.0
        self.seconds = 0.0
        self._mark = (0, 0, 0.0, 0, 0.0, 0, 0.0, 0.0)
        # told each tagged message's equal share of its wake-up's work (a broker books it
        # to the message's account)
        self.on_share: Callable[[Any, float], None] | None = None

    @classmethod
    def of(cls, cpu: Cpu | None, cost: IoCost | None) -> Io | None:
        """The component's I/O books, or None when moving messages costs it nothing."""
        if cpu is None or cost is None or not any(cost.model_dump().values()):
            return None
        return cls(cpu, cost)

    def channel(self, tls: bool, write: bool = False) -> Channel:
        """A new direction of a connection (TLS or not) at this component: its reading or,
        ``write``, its writing (whose wake-up waits ``handoff_latency`` when idle)."""
        return Channel(self, tls, write)

    def cost(self, messages: int, nbytes: float, tls: bool, idle: float) -> tuple[float, float]:
        """One wake-up carrying ``messages`` messages of ``nbytes`` bytes in all, counted:
        (the work the messages wait for, the cold extra that follows it, 0 when warm).
        ``idle`` is ``cpu.idle()`` at the wake-up, asked for by the caller (a channel has
        often just asked for it to know how long the wake-up waits, :meth:`waking`)."""
        work = self.wakeup + messages * self.per_message + nbytes * self.per_byte
        if tls:
            work += messages * self.tls_record + nbytes * self.tls_byte
            self.tls_records += messages
            self.tls_bytes += nbytes
        cold = 0.0
        if idle >= self.warm:  # asleep (warm ≥ 0; idle is -1 while busy)
            cold = self.cold
            self.cold_wakeups += 1
        if idle > self.cold_latency_after and self.deep > 0.0:  # and long enough to go deep
            depth = self.depth(idle)
            cold += self.deep * depth
            self.deep_wakeups += depth
        self.wakeups += 1
        self.messages += messages
        self.bytes += nbytes
        self.seconds += work + cold
        return work, cold

    def depth(self, idle: float) -> float:
        """How deep a sleep of ``idle`` seconds went (:func:`depth` on this Io's ramp)."""
        return depth(idle, self.cold_latency_after, self.cold_latency_full_after)

    def waking(self, idle: float) -> float:
        """How long a wake-up now waits before its first read, given ``idle = cpu.idle()``:
        0 while a core is busy (the process is awake and finds the message at once),
        ``idle_latency`` after a sleep shorter than ``cold_latency_after``, ``cold_latency``
        after ``cold_latency_full_after`` or more, and in between a wait that grows in a
        straight line from one to the other (as measured: the deeper the idle state a core
        reached, the longer it takes to leave it)."""
        if idle < 0.0:
            return 0.0
        if idle >= self.cold_latency_after and self.cold_latency > 0.0:
            if idle >= self.cold_latency_full_after:
                return self.cold_latency
            return self.idle_latency + (idle - self.cold_latency_after) * self.ramp
        return self.idle_latency if idle > 0.0 else 0.0

    def background(self, messages: int = 1, nbytes: float = 0.0, tls: bool = False) -> float:
        """One wake-up off any request's path (PING/PONG, interest updates): the work keeps a
        core busy and nobody waits for it. Returns the work."""
        work, cold = self.cost(messages, nbytes, tls, self.cpu.idle())
        self.cpu.background(work + cold)
        return work + cold

    def mark(self) -> None:
        """Start of the measured window."""
        self._mark = self.totals()

    def totals(self) -> tuple[int, int, float, int, float, int, float, float]:
        return (
            self.wakeups,
            self.cold_wakeups,
            self.deep_wakeups,
            self.messages,
            self.bytes,
            self.tls_records,
            self.tls_bytes,
            self.seconds,
        )

    def window(self) -> dict[str, float]:
        """Each counter over the measured window (since :meth:`mark`)."""
        return {
            k: float(now - then)
            for k, now, then in zip(COUNTERS, self.totals(), self._mark, strict=True)
        }


def depth(idle: float, after: float, full: float) -> float:
    """How deep a sleep of ``idle`` seconds went, 0 to 1: none up to ``after``
    (``cold_latency_after``), all of it from ``full`` (``cold_latency_full_after``), a
    straight line between (the machine's idle states, as :meth:`Io.waking`'s wait grows;
    ``full <= after``: a step at ``after``)."""
    if idle <= after:
        return 0.0
    if idle >= full:
        return 1.0
    return (idle - after) / (full - after)


def ramp(cost: IoCost) -> tuple[float, float]:
    """Where the wait to wake reaches ``cold_latency`` (never before ``cold_latency_after``:
    a step there) and how fast it grows on the way, seconds per second of idle."""
    after = cost.cold_latency_after
    full = max(after, cost.cold_latency_full_after)
    slope = (cost.cold_latency - cost.idle_latency) / (full - after) if full > after else 0.0
    return full, slope


class _Batch:
    """Messages read or written in one wake-up. It is its own SimPy event: the Cpu schedules
    it for the instant its work ends (``Cpu.execute_batch``), with the core's release and
    :meth:`done` as its callbacks, so a wake-up allocates no ``Event`` and no bound method
    of its own (``Environment.step`` reads only ``callbacks`` and ``_ok``)."""

    __slots__ = ("callbacks", "chan", "cold", "idle", "items", "nbytes", "woke", "work")
    _ok = True  # what Environment.step reads after the callbacks (pinned internals)
    _value = None

    def __init__(self, chan: Channel, first: tuple[Trace | None, float, Done, Any], nbytes: float):
        """A batch opened by its first message (``first``, ``nbytes`` bytes): one list and
        one sum made at once, not appended to an empty batch (this runs per wake-up)."""
        self.chan = chan
        self.items: list[tuple[Trace | None, float, Done, Any]] = [first]
        self.nbytes = 0.0 + nbytes  # the sum an empty batch's += would give
        self.work = 0.0
        self.cold = 0.0
        self.woke = -1.0  # when the process had woken up for it (cold_latency), else -1
        # cpu.idle() as the batch gets a core, when already known then (Channel.send), else
        # UNKNOWN (-1 means busy)
        self.idle = UNKNOWN
        self.callbacks: list[Callable[[Any], None]] | None = None  # set by the Cpu

    def seal(self) -> tuple[float, float]:
        """The batch gets a core: what arrived so far is in it; later messages wait for the
        next one. Returns its work and the cold extra that keeps the core busy after it."""
        chan = self.chan
        chan.open = None
        chan.running = True
        idle = self.idle
        if idle == UNKNOWN:
            idle = chan.cpu.idle()
        self.work, self.cold = work, cold = chan.io.cost(
            len(self.items), self.nbytes, chan.tls, idle
        )
        return work, cold

    def done(self, _e: Any) -> None:
        chan = self.chan
        chan.running = False
        nxt = chan.open
        if nxt is not None:  # arrived while this batch was on a core: the next wake-up
            chan.cpu.execute_batch(nxt)
        work = self.work
        io = chan.io
        now = chan.env._now
        share = io.on_share
        each = (work + self.cold) / len(self.items)  # the cold extra is theirs too
        woke = self.woke
        for tr, t0, fn, tag in self.items:
            if tr is not None:
                waking = woke - t0 if woke > t0 else 0.0  # this message's wait for the wake-up
                tr.infra += work + waking
                tr.queueing += now - t0 - work - waking
            if share is not None and tag is not None:
                share(tag, each)
            fn()


class Channel:
    """One direction (read or write) of one connection at one component."""

    __slots__ = ("cpu", "env", "handoff", "io", "open", "running", "slow_wake", "tls")

    def __init__(self, io: Io, tls: bool, write: bool = False):
        self.io = io
        self.cpu = io.cpu  # kept here, not looked up through io per message
        self.env = io.cpu.env
        self.tls = tls
        self.open: _Batch | None = None  # taking messages until it gets a core
        self.running = False  # a batch of this channel is on a core
        # a write's wake-up waits for the hand-off to the connection's writer
        self.handoff = io.handoff if write else 0.0
        # may a wake-up wait before its first read (Io.waking)? Asked once, not per batch
        self.slow_wake = io.cold_latency > 0.0 or io.idle_latency > 0.0 or self.handoff > 0.0

    def send(self, nbytes: float, tr: Trace | None, done: Done, tag: Any = None) -> None:
        """Read or write one message; ``done()`` once its wake-up's work is over. ``tag``:
        whom the message's share of that work is booked to (``Io.on_share``)."""
        b = self.open
        if b is not None:  # joins the batch still waiting for a core
            b.items.append((tr, self.env._now, done, tag))
            b.nbytes += nbytes
            return
        b = self.open = _Batch(self, (tr, self.env._now, done, tag), nbytes)
        if self.running:  # it asks for a core when the running batch is done
            return
        cpu = self.cpu
        if self.slow_wake:
            idle = cpu.idle()
            # a busy process (idle -1) finds the message at once (no Io.waking to ask), but
            # a write still waits for its hand-off to the connection's writer
            wait = self.io.waking(idle) + self.handoff if idle >= 0.0 else self.handoff
            if wait > 0:
                self.running = True  # waking up: what arrives meanwhile joins this batch
                b.callbacks = [self._woken]
                self.env.schedule(b, NORMAL, wait)  # as call_at would (the batch is an event)
                return
            if cpu._free > 0:  # it gets a core now, the Cpu as it is: idle() stays the same
                b.idle = idle
        cpu.execute_batch(b)

    def _woken(self, b: _Batch) -> None:
        """The process is awake for batch ``b`` (scheduled itself for that instant)."""
        self.running = False
        b.woke = self.env._now
        self.cpu.execute_batch(b)


def wait(env: Any, chan: Channel, nbytes: float, tr: Trace | None) -> Signal:
    """An event that fires once ``chan`` has read or written the message (for processes):
    processed at once when the wake-up's work ends (no zero-delay queue entry)."""
    sig = Signal()
    chan.send(nbytes, tr, sig)
    return sig


def pass_through(
    chan: Channel | None, nbytes: float, tr: Trace | None, done: Done, tag: Any = None
) -> None:
    """``done()`` after ``chan``'s wake-up, or at once where moving messages is free."""
    if chan is None:
        done()
    else:
        chan.send(nbytes, tr, done, tag)
