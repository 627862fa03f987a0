"""Components: anything that has a place, maybe cores, a memory ledger and connections.

Gateways, sidecars, services, brokers, control planes are all :class:`Component` with a
``kind``. Those that move messages have an :class:`~sim.core.io.Io` (their transport's choice). The parent that wires them (an architecture's transport) owns the list; a
component reads no global state. Counters are plain attributes for speed; gauges are
time-weighted.
"""

from __future__ import annotations

from typing import Any

from sim.core.cpu import Cpu
from sim.core.io import Io
from sim.core.metrics import Gauge
from sim.core.network import Place


class Memory:
    """A memory ledger: a baseline plus what is added and removed over time (bytes)."""

    __slots__ = ("baseline", "gauge")

    def __init__(self, env: Any, baseline: float):
        self.baseline = baseline
        self.gauge = Gauge(env, baseline)

    def add(self, nbytes: float) -> None:
        self.gauge.add(nbytes)

    def remove(self, nbytes: float) -> None:
        self.gauge.add(-nbytes)


class Component:
    """A named piece of the running system with its resources and counters."""

    def __init__(
        self,
        env: Any,
        kind: str,
        name: str,
        place: Place,
        cores: int = 0,
        memory: float = 0.0,
        service: str = "",
    ):
        self.env = env
        self.born = float(env.now)  # components created mid-run are measured from here
        self.kind = kind
        self.name = name
        self.place = place
        self.service = service
        self.cpu: Cpu | None = Cpu(env, cores) if cores > 0 else None
        self.memory = Memory(env, memory)
        self.conns_open = Gauge(env)
        self.conns_opened = 0
        self.conns_closed = 0
        self.peers: dict[str, int] = {}  # connections this component opened, by peer name
        self.handshakes_tcp = 0
        self.handshakes_tls = 0
        self.handshakes_mtls = 0
        self.bytes_out = 0.0
        self.handled = 0
        self.io: Io | None = None  # what moving messages costs it (sim.core.io), if anything
        self.workers = 1  # threads that each keep their own upstream pools (bind)
        self.accepted = 0  # connections accepted, when workers > 1
        self.marked: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # counters at warm-up end

    def bind(self) -> int:
        """The worker thread a connection this component accepts now is bound to for its
        life (Envoy's threading model; the kernel spreads accepts over the workers, taken as
        round robin); always 0 where one set of pools serves every thread."""
        w = self.workers
        if w == 1:
            return 0
        n = self.accepted
        self.accepted = n + 1
        return n % w

    def counters(self) -> tuple[int, int, int, int, int]:
        """Connections opened and closed, TCP, TLS and mTLS handshakes so far."""
        return (
            self.conns_opened,
            self.conns_closed,
            self.handshakes_tcp,
            self.handshakes_tls,
            self.handshakes_mtls,
        )

    def mark(self, counters: bool = True) -> None:
        """Start of the measured window: gauges, I/O books and (``counters``) connection and
        handshake counts start again there; a component born later counts from its birth,
        inside the window. With no warm-up the window is the whole run: what was opened at
        time 0 counts (``counters=False``)."""
        for g in self.gauges():
            g.mark()
        if self.io is not None:
            self.io.mark()
        if counters:
            self.marked = self.counters()

    def window_counters(self) -> tuple[int, int, int, int, int]:
        """:meth:`counters` over the measured window (since :meth:`mark`)."""
        return tuple(now - then for now, then in zip(self.counters(), self.marked, strict=True))  # type: ignore[return-value]

    def gauges(self) -> list[Gauge]:
        out = [self.memory.gauge, self.conns_open]
        if self.cpu is not None:
            out.append(self.cpu.busy)
        return out

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name}>"
