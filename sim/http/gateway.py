"""The API gateway tier: replicas behind an L4 load balancer, each an Envoy with a route table.

Each replica is a :class:`~sim.http.proxy.Proxy` of kind ``gateway`` whose routing table is
built from discovery like any picker's (its :class:`~sim.http.discovery.View`, fed by xDS,
kube-proxy or DNS), with the gateway's default route (Envoy: 15 s timeout, no retries)
unless ``http.routes`` names the service. Callers reach a replica through an L4 load
balancer in front of the tier (a cloud NLB or a ClusterIP), modelled as a round robin over
the replicas with no cost of its own; a stopped replica is not skipped (the LB's own
health checking is not modelled), so callers sent to it are refused.
"""

from __future__ import annotations

from typing import Any

from sim.core.placement import Placer
from sim.http.proxy import Proxy
from sim.scenario.http import Gateway as GatewayConfig


class GatewayTier:
    """The gateway replicas and the round robin in front of them."""

    def __init__(self, env: Any, placer: Placer, cfg: GatewayConfig):
        self.replicas: list[Proxy] = []
        if cfg.enabled:
            for i in range(cfg.replicas):
                place = placer.infra("gateway", i)
                self.replicas.append(Proxy(env, "gateway", f"gateway-{i}", place, cfg))
        self._next = 0

    def __bool__(self) -> bool:
        return bool(self.replicas)

    def pick(self) -> Proxy:
        """The replica the L4 load balancer hands the next request to."""
        i = self._next
        self._next = i + 1
        return self.replicas[i % len(self.replicas)]
