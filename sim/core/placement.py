"""Where things run: regions, zones and hosts.

Instances of a service are spread round-robin over the zones of their region (as a
Kubernetes topology spread constraint would), ``instances_per_host`` to a node. Each piece
of shared infrastructure (gateway replica, broker server, control plane) gets a node of its
own, also spread over zones. A sidecar shares its instance's host (same pod).
"""

from __future__ import annotations

from collections import defaultdict

from sim.core.network import Place
from sim.scenario.model import Placement


class Placer:
    """Hands out places deterministically, in the order they are asked for."""

    def __init__(self, cfg: Placement):
        self.cfg = cfg
        self.zones = {r.name: list(r.zones) for r in cfg.regions}
        self.default_region = cfg.regions[0].name
        self._spread: dict[str, int] = defaultdict(int)
        self._per_zone: dict[tuple[str, str], int] = defaultdict(int)

    def instance(self, service: str, index: int, region: str | None = None) -> Place:
        """Place of instance `index` of a service."""
        reg = region or self.default_region
        zones = self.zones[reg]
        zone = zones[index % len(zones)]
        k = self._per_zone[(reg, zone)]
        self._per_zone[(reg, zone)] += 1
        node = k // self.cfg.instances_per_host
        return Place(reg, zone, f"{reg}/{zone}/node-{node}")

    def infra(self, kind: str, index: int, region: str | None = None) -> Place:
        """Place of an infrastructure component on a node of its own."""
        reg = region or self.default_region
        zones = self.zones[reg]
        zone = zones[index % len(zones)]
        return Place(reg, zone, f"{reg}/{zone}/{kind}-{index}")

    def clients(self) -> Place:
        """The edge clients: outside the cluster, in the first zone of the first region."""
        reg = self.default_region
        return Place(reg, self.zones[reg][0], f"{reg}/edge/clients")
