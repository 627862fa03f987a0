"""Network delay from placement.

Every component sits at a :class:`Place` (region, zone, host). The round-trip time between
two places is the same-host, same-zone or cross-zone RTT, or the region RTT matrix entry;
a message of ``n`` bytes takes ``rtt / 2 + 8 n / bandwidth`` one way. Defaults and their
sources are in :class:`sim.scenario.model.Network`. With all RTTs set to zero the network
disappears, as queueing-theory checks need.

Link trouble (:meth:`Network.trouble`, used by :mod:`sim.faults`) overrides the delay
between two sides — a region, or a zone written ``region/zone`` — for as long as it is
installed: ``extra`` seconds added to each one-way delay (so 2 × extra to the RTT), a
``partition`` (infinite delay: nothing arrives), or ``loss``, a delay-and-retry model of
TCP over a lossy path: a segment lost k times (k geometric, P(k ≥ n) = lossⁿ) arrives after
k retransmission timeouts that double each time (RFC 6298 §5.5), the first one RTT + 200 ms
(Linux ``TCP_RTO_MIN`` = HZ/5 over a stable RTT, ``tcp_set_rto``): extra delay
RTO × (2^k − 1). The RTT (handshakes, pings) carries the extra latency and the partition,
not the loss. The hot path stays one cached dict lookup and one attribute test: pairs are
matched against the trouble list when the RTT cache is refilled, and per message only
while a lossy link is installed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sim.scenario.model import Network as NetworkConfig


@dataclass(frozen=True, slots=True)
class Place:
    region: str
    zone: str
    host: str


RTO_MIN = 0.2  # Linux include/net/tcp.h TCP_RTO_MIN = HZ/5


@dataclass(frozen=True, slots=True)
class Trouble:
    """Trouble on the links between side ``a`` and side ``b`` (a region or region/zone)."""

    a: str
    b: str
    extra: float = 0.0  # seconds added to each one-way delay
    loss: float = 0.0  # probability that a segment is lost (then retransmitted)
    partition: bool = False

    def joins(self, x: Place, y: Place) -> bool:
        """Does this trouble sit between places x and y (either way round)?"""
        return (_on(x, self.a) and _on(y, self.b)) or (_on(x, self.b) and _on(y, self.a))


def _on(p: Place, side: str) -> bool:
    return side == p.region or side == f"{p.region}/{p.zone}"


class Network:
    """Delays between places, cached per pair."""

    def __init__(self, cfg: NetworkConfig):
        self.cfg = cfg
        self._rtt: dict[tuple[Place, Place], float] = {}
        # the same, keyed by the two objects' identities: hashing a pair of ints is cheap, a
        # pair of dataclasses is not. Each entry holds its places, so an id is never reused
        # while its entry lives.
        self._rtt_ids: dict[tuple[int, int], tuple[float, Place, Place]] = {}
        self.byte_time = 8.0 / cfg.bandwidth
        self._troubles: dict[int, tuple[Trouble, Callable[[], float] | None]] = {}
        self._next_trouble = 0
        self._lossy = False

    def trouble(self, t: Trouble, uniform: Callable[[], float] | None = None) -> int:
        """Install link trouble (``uniform`` draws the losses); returns a handle to clear it."""
        if t.loss > 0 and uniform is None:
            raise ValueError("a lossy link needs a uniform random source")
        h = self._next_trouble
        self._next_trouble += 1
        self._troubles[h] = (t, uniform)
        self._changed()
        return h

    def clear(self, handle: int) -> None:
        """Remove link trouble installed by :meth:`trouble`."""
        self._troubles.pop(handle, None)
        self._changed()

    def _changed(self) -> None:
        self._rtt.clear()
        self._rtt_ids.clear()
        self._lossy = any(t.loss > 0 for t, _ in self._troubles.values())

    def rtt(self, a: Place, b: Place) -> float:
        """Round-trip time between two places (seconds)."""
        hit = self._rtt_ids.get((id(a), id(b)))
        if hit is not None:
            return hit[0]
        v = self._rtt_of(a, b)
        self._rtt_ids[(id(a), id(b))] = (v, a, b)
        return v

    def _rtt_of(self, a: Place, b: Place) -> float:
        key = (a, b)
        v = self._rtt.get(key)
        if v is None:
            v = self._compute(a, b)
            if self._troubles:
                for t, _ in self._troubles.values():
                    if t.joins(a, b):
                        v = math.inf if t.partition else v + 2 * t.extra
            self._rtt[key] = v
            self._rtt[(b, a)] = v
        return v

    def _compute(self, a: Place, b: Place) -> float:
        c = self.cfg
        if a.region != b.region:
            row = c.region_rtt.get(a.region, {})
            if b.region in row:
                return row[b.region]
            back = c.region_rtt.get(b.region, {})
            return back.get(a.region, c.default_region_rtt)
        if a.zone != b.zone:
            return c.cross_zone_rtt
        if a.host != b.host:
            return c.same_zone_rtt
        return c.same_host_rtt

    def one_way(self, a: Place, b: Place, nbytes: float) -> float:
        """Time for a message of nbytes from a to b."""
        if self._lossy:
            return self.rtt(a, b) / 2 + nbytes * self.byte_time + self._retransmissions(a, b)
        hit = self._rtt_ids.get((id(a), id(b)))  # rtt(a, b)'s cache, read here: every message
        rtt = hit[0] if hit is not None else self.rtt(a, b)
        return rtt / 2 + nbytes * self.byte_time

    def _retransmissions(self, a: Place, b: Place) -> float:
        """Extra delay of the retransmissions of one message over a lossy link (or 0)."""
        for t, uniform in self._troubles.values():
            if t.loss <= 0 or not t.joins(a, b):
                continue
            assert uniform is not None
            u = 1.0 - uniform()  # in (0, 1]
            k = math.floor(math.log(u) / math.log(t.loss))  # times the segment is lost
            if k > 0:
                rto = self.rtt(a, b) + RTO_MIN
                return rto * (2.0**k - 1.0)
        return 0.0
