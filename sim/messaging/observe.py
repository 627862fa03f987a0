"""The broker's books: what each server, route, gateway and account did and cost.

Each server keeps a :class:`Book`: window counters (:class:`Tally`, reset at the end of the
warm-up like every gauge, so they cover the measured window) and time-weighted gauges, keyed
by ``(scope, name, metric)`` with scope ``server``, ``route`` (``a→b[i]``: pool connection
``i`` from server a to b, chosen per account as nats-server ``route.go`` computeRoutePoolIdx
does), ``gateway`` (``server→cluster``) or ``account``. Per account: CPU seconds (parsing is
booked to the account a message travels in, each write to the receiving account, handshakes
and pings to the connection's account), messages and bytes in and out, connections,
slow consumers, no-responder replies and memory (connections, subscriptions, pending bytes).

:func:`broker_rows` flattens the books of all servers into tidy rows ``(scope, name, metric,
value)`` for the ``broker`` frame of a run; :func:`sample` adds per-server connections and
subscriptions to the timeseries every interval.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any

from sim.core.metrics import Gauge, Settled

if TYPE_CHECKING:
    from sim.messaging.broker import BrokerServer

Key = tuple[str, str, str]
Row = tuple[str, str, str, float]


class Tally(Gauge):
    """A counter whose window value starts at the mark (end of warm-up)."""

    __slots__ = ("at_mark",)

    def __init__(self, env: Any):
        super().__init__(env)
        self.at_mark = 0.0

    def mark(self) -> None:
        super().mark()
        self.at_mark = self.value

    @property
    def window(self) -> float:
        return self.value - self.at_mark


class Book:
    """Counters and gauges of one server, by (scope, name, metric)."""

    __slots__ = ("env", "levels", "settle", "tallies")

    def __init__(self, env: Any, settle: Any = None):
        self.env = env
        self.settle = settle  # its server's pending writes that came due (Settled gauges)
        self.tallies: dict[Key, Tally] = {}
        self.levels: dict[Key, Settled] = {}

    def count(self, scope: str, name: str, metric: str, x: float = 1.0) -> None:
        """Add x to a window counter."""
        key = (scope, name, metric)
        t = self.tallies.get(key)
        if t is None:
            t = self.tallies[key] = Tally(self.env)
        t.value += x  # counters need no area: skip Gauge.set

    def tally(self, scope: str, name: str, metric: str) -> Tally:
        """The counter itself, created (and so placed in the rows' order) on first use: hot
        paths keep it and add to its ``value`` as :meth:`count` does."""
        key = (scope, name, metric)
        t = self.tallies.get(key)
        if t is None:
            t = self.tallies[key] = Tally(self.env)
        return t

    def gauge(self, scope: str, name: str, metric: str) -> Settled:
        """A time-weighted level (e.g. an account's memory on this server), which settles
        its server's completed writes before it is read or changed."""
        key = (scope, name, metric)
        g = self.levels.get(key)
        if g is None:
            g = self.levels[key] = Settled(self.env, settle=self.settle)
        return g

    def gauges(self) -> list[Gauge]:
        return [*self.tallies.values(), *self.levels.values()]

    def rows(self) -> list[Row]:
        out: list[Row] = [(s, n, m, t.window) for (s, n, m), t in self.tallies.items()]
        for (s, n, m), g in self.levels.items():
            out.append((s, n, f"{m}_mean", g.mean()))
            out.append((s, n, f"{m}_peak", g.peak))
        return out


class Ledger:
    """One account's counters and memory gauge on one server, each looked up in the
    :class:`Book` on its first use (so rows keep the order in which things first happened)
    and kept here for the per-message path."""

    __slots__ = (
        "book",
        "bytes_out",
        "cpu_seconds",
        "memory",
        "messages_in",
        "messages_out",
        "name",
    )

    def __init__(self, book: Book, name: str):
        self.book = book
        self.name = name
        self.messages_in: Tally | None = None
        self.messages_out: Tally | None = None
        self.bytes_out: Tally | None = None
        self.cpu_seconds: Tally | None = None
        self.memory: Settled | None = None

    def tally(self, metric: str) -> Tally:
        """Resolve (and keep) the counter ``metric`` of this account."""
        t = self.book.tally("account", self.name, metric)
        setattr(self, metric, t)
        return t

    def gauge(self) -> Settled:
        g = self.memory = self.book.gauge("account", self.name, "memory_bytes")
        return g


def broker_rows(servers: Iterable[BrokerServer]) -> list[Row]:
    """Tidy rows of every server's books; account rows summed over servers."""
    acc: dict[tuple[str, str], float] = {}
    out: list[Row] = []
    for s in servers:
        out.append(("server", s.name, "cluster_" + s.cluster, 1.0))
        out.append(("server", s.name, "subscriptions_mean", s.subscriptions.mean()))
        out.append(("server", s.name, "subscriptions_peak", s.subscriptions.peak))
        out.append(("server", s.name, "connections_peak", s.conns_open.peak))
        for scope, name, metric, value in s.book.rows():
            if scope == "account":
                acc[(name, metric)] = acc.get((name, metric), 0.0) + value
            else:
                out.append((scope, name, metric, value))
    out.extend(("account", a, m, v) for (a, m), v in sorted(acc.items()))
    return out


def sample(
    env: Any, servers: list[BrokerServer], interval: float, out: list[tuple[float, str, str, float]]
) -> Generator[Any, Any, None]:
    """Every interval: open connections and subscriptions of each server."""
    while True:
        yield env.timeout(interval)
        t = env.now
        for s in servers:
            out.append((t, "server_connections", s.name, s.conns_open.value))
            out.append((t, "server_subscriptions", s.name, s.subscriptions.value))
