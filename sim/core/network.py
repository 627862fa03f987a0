"""Network delay from placement.

Every component sits at a :class:`Place` (region, zone, host). The round-trip time between
two places is the same-host, same-zone or cross-zone RTT, or the region RTT matrix entry;
a message of ``n`` bytes takes ``rtt / 2 + 8 n / bandwidth`` one way. Defaults and their
sources are in :class:`sim.scenario.model.Network`. Jitter and loss arrive with the faults
issue; with all RTTs set to zero the network disappears, as queueing-theory checks need.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario.model import Network as NetworkConfig


@dataclass(frozen=True, slots=True)
class Place:
    region: str
    zone: str
    host: str


class Network:
    """Delays between places, cached per pair."""

    def __init__(self, cfg: NetworkConfig):
        self.cfg = cfg
        self._rtt: dict[tuple[Place, Place], float] = {}
        self.byte_time = 8.0 / cfg.bandwidth

    def rtt(self, a: Place, b: Place) -> float:
        """Round-trip time between two places (seconds)."""
        key = (a, b)
        v = self._rtt.get(key)
        if v is None:
            v = self._compute(a, b)
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
        return self.rtt(a, b) / 2 + nbytes * self.byte_time
