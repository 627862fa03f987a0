"""The API gateway tier: replicas behind an L4 load balancer, each an Envoy with a route table.

Each replica is a :class:`~sim.http.proxy.Proxy` of kind ``gateway`` whose routing table is
built from discovery like any picker's (its :class:`~sim.http.discovery.View`, fed by xDS,
kube-proxy or DNS), with the gateway's default route (Envoy: 15 s timeout, no retries)
unless ``http.routes`` names the service. Callers reach a replica through an L4 load
balancer in front of the tier (a cloud NLB or a ClusterIP), modelled as a round robin over
the replicas *in rotation*, with no cost of its own on the request path.

**Health checks** (``http.gateway.health_check``; defaults: an AWS Network Load Balancer
TCP target group, see :class:`~sim.scenario.http.LbHealthCheck`). One timer for the tier
probes every replica at t = k × ``interval`` (k = 0, 1, …, the same phase for every
replica; a real LB's nodes each probe on their own phase). A probe is processed after
every other event of its instant, so a replica stopped or started at exactly a probe time
is seen stopped or started by that probe. The outcome is decided by the replica's state
when the probe is sent:

* running: success, at once;
* stopped (``alive`` false, connections refused): failure at once — the RST's round trip
  (well under a millisecond in a zone) is ignored;
* hung (in ``Wire.hung``: the TCP handshake is never answered): failure ``timeout`` later.
  A replica that starts again during that wait still fails this probe (its SYN went
  unanswered; retransmissions are not modelled).

After ``unhealthy_threshold`` failures in a row a replica leaves the rotation; after
``healthy_threshold`` successes in a row it is back. So a replica stopped at t leaves at
p + (unhealthy_threshold − 1) × interval (+ ``timeout`` when hung), p the first probe time
at or after t: with the defaults 30–60 s after a stop, 40–70 s after a hang. Every change
is logged in the transport's log: ``(t, "unhealthy" | "healthy", replica, "gateway")``;
:mod:`sim.faults.detection` reads ``unhealthy`` as the detection of a gateway failure.

When every replica is unhealthy the balancer **fails open** and sends to all of them, as
AWS does ("If all targets fail health checks at the same time in all enabled Availability
Zones, the load balancer fails open … to allow traffic to all targets", Elastic Load
Balancing, *Health checks for Network Load Balancer target groups*).

Not modelled: NLB passive health checks (not configurable, undocumented timing), and the
NLB resetting client connections to a target once it is unhealthy: requests already
waiting inside a hung replica keep waiting for their caller's timeout. The same rotation
serves internal calls routed through the gateway (``internal_route: gateway``).

:meth:`GatewayTier.pick` stays O(1): the list in rotation is rebuilt only when a replica
changes state. With no gateway failure the rotation is always every replica, the probes
draw no random numbers and change nothing, so a run's results are those of a balancer
without health checks.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from simpy import Event

from sim.core.placement import Placer
from sim.core.schedule import succeed_at
from sim.http.discovery import LogRow
from sim.http.proxy import Proxy
from sim.scenario.http import Gateway as GatewayConfig

LATE = 2  # SimPy priorities: URGENT 0, NORMAL 1; a probe sees everything of its instant


class _Late(Event):
    """A timeout processed after every URGENT and NORMAL event of the same instant."""

    def __init__(self, env: Any, delay: float):
        super().__init__(env)
        succeed_at(env, self, delay, LATE)


class GatewayTier:
    """The gateway replicas and the health-checked round robin in front of them."""

    def __init__(self, env: Any, placer: Placer, cfg: GatewayConfig, log: list[LogRow], wire: Any):
        self.env = env
        self.log = log
        self.wire = wire  # the run's Wire: which replicas are hung
        self.hc = cfg.health_check
        self.replicas: list[Proxy] = []
        if cfg.enabled:
            for i in range(cfg.replicas):
                place = placer.infra("gateway", i)
                self.replicas.append(Proxy(env, "gateway", f"gateway-{i}", place, cfg))
        self._next = 0
        self.healthy: dict[Proxy, bool] = {gw: True for gw in self.replicas}
        self._fails: dict[Proxy, int] = {gw: 0 for gw in self.replicas}
        self._passes: dict[Proxy, int] = {gw: 0 for gw in self.replicas}
        self._rotation: list[Proxy] = self.replicas
        self.probes = 0  # probes sent (every replica, every interval)
        if self.replicas and self.hc.enabled:
            env.process(self._check())

    def __bool__(self) -> bool:
        return bool(self.replicas)

    def pick(self) -> Proxy:
        """The replica the L4 load balancer hands the next request to."""
        i = self._next
        self._next = i + 1
        rotation = self._rotation
        return rotation[i % len(rotation)]

    @property
    def rotation(self) -> list[Proxy]:
        """The replicas the balancer sends to now (every replica when it fails open)."""
        return list(self._rotation)

    def _check(self) -> Generator[Any, Any, None]:
        """Probe every replica at k × interval, k = 0, 1, …"""
        env, hc = self.env, self.hc
        k = 0
        while True:
            yield _Late(env, k * hc.interval - env.now)
            hung = self.wire.hung
            for gw in self.replicas:
                self.probes += 1
                if not gw.alive:
                    self._result(gw, False)  # refused (the RST's round trip ignored)
                elif gw in hung:
                    self._unanswered(gw)
                else:
                    self._result(gw, True)
            k += 1

    def _unanswered(self, gw: Proxy) -> None:
        """A probe of a hung replica: no handshake answer, a failure after ``timeout``."""
        _Late(self.env, self.hc.timeout).callbacks.append(lambda _e: self._result(gw, False))

    def _result(self, gw: Proxy, ok: bool) -> None:
        hc = self.hc
        if ok:
            self._fails[gw] = 0
            self._passes[gw] += 1
            if not self.healthy[gw] and self._passes[gw] >= hc.healthy_threshold:
                self._mark(gw, True)
        else:
            self._passes[gw] = 0
            self._fails[gw] += 1
            if self.healthy[gw] and self._fails[gw] >= hc.unhealthy_threshold:
                self._mark(gw, False)

    def _mark(self, gw: Proxy, healthy: bool) -> None:
        self.healthy[gw] = healthy
        self.log.append((self.env.now, "healthy" if healthy else "unhealthy", gw.name, "gateway"))
        up = [g for g in self.replicas if self.healthy[g]]
        self._rotation = up or self.replicas  # none healthy: fail open
