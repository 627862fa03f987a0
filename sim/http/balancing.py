"""Load-balancing policies of one picker for one destination service.

* ``round_robin`` — Envoy's default: a counter per (picker, service) walks the endpoint
  tuple the picker currently knows, ``eps[i % len(eps)]``.
* ``random`` — uniform over the known endpoints.
* ``least_request`` — Envoy's power of two choices (Mitzenmacher 2001): draw
  ``choice_count`` endpoints uniformly with replacement and take the one with the fewest
  requests this picker has outstanding to it (ties: the first drawn). Istio's default since
  1.14.

Retries avoid hosts already tried (Istio's ``previous_hosts`` predicate): a draw that lands
on one is redrawn, up to 5 times (``HostSelectionRetryMaxAttempts``), then accepted. Random draws come from the picker's own named stream, so balancing never shifts the
application's random numbers (common random numbers stay intact).

:class:`Ejections` is Envoy's passive outlier detection for one picker and one destination
service (``outlier_detection`` on the cluster; Istio DestinationRule ``outlierDetection``;
defaults in :class:`sim.scenario.http.OutlierDetection`, from envoy
``api/envoy/config/cluster/v3/outlier_detection.proto``):

* every answer from a host is a success (resets its count) or a 5xx: an upstream 503, an
  application error, a reset, a refused or timed-out connect, a per-try timeout (Envoy maps
  local-origin errors to 5xx unless ``split_external_local_origin_errors``); a local
  overflow never reached the host and counts for nothing;
* at ``consecutive_5xx`` in a row the host is ejected at once (Envoy evaluates
  consecutive_5xx on the response, not on the interval timer) for
  ``base_ejection_time × times ejected``, and its count is reset;
* not if that would eject more than ``max_ejection_percent`` of the hosts — but one host
  may always be ejected (proto: "Defaults to 10% but will eject at least one host
  regardless of the value"): modelled as allowed when no host is ejected yet, or when
  (ejected + 1) / hosts ≤ max_ejection_percent;
* Envoy un-ejects on the ``interval`` timer (10 s); the model un-ejects exactly at
  ejection + base × n, up to one interval early. Not modelled: the ejection multiplier
  decaying while a host stays healthy, ``max_ejection_time`` (300 s), the success-rate and
  gateway-error detectors.
* the picker skips ejected hosts, unless fewer than ``PANIC`` of them are left, when it
  uses them all (Envoy ``healthy_panic_threshold`` default 50 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sim.core.distributions import Uniforms
from sim.scenario.http import OutlierDetection

if TYPE_CHECKING:
    from sim.app.service import ServiceInstance

RESELECT = 5  # Istio retry policy: HostSelectionRetryMaxAttempts 5
PANIC = 0.5  # Envoy CommonLbConfig healthy_panic_threshold default 50 %


class Balancer:
    """Picks an endpoint among those a picker knows, by one policy."""

    __slots__ = ("active", "choices", "policy", "rr", "uniform")

    def __init__(
        self, policy: str, choices: int, uniform: Uniforms, active: dict[ServiceInstance, int]
    ):
        self.policy = policy
        self.choices = choices
        self.uniform = uniform
        self.active = active  # shared by the picker's balancers: outstanding per endpoint
        self.rr = 0

    def pick(
        self, eps: Sequence[ServiceInstance], exclude: Sequence[ServiceInstance] = ()
    ) -> ServiceInstance | None:
        """One endpoint, or None when the picker knows none.

        Hosts in `exclude` are re-drawn, at most ``RESELECT`` times (Istio's
        host_selection_retry_max_attempts), each draw advancing the policy as Envoy's do."""
        if not eps:
            return None
        e = self._one(eps)
        if exclude:
            for _ in range(RESELECT):
                if e not in exclude:
                    break
                e = self._one(eps)
        return e

    def _one(self, eps: Sequence[ServiceInstance]) -> ServiceInstance:
        n = len(eps)
        if self.policy == "round_robin":
            i = self.rr
            self.rr = i + 1
            return eps[i % n]
        if n == 1:
            return eps[0]
        u = self.uniform
        if self.policy == "random":
            return eps[min(int(u() * n), n - 1)]
        best = eps[min(int(u() * n), n - 1)]
        load = self.active.get(best, 0)
        for _ in range(self.choices - 1):
            e = eps[min(int(u() * n), n - 1)]
            a = self.active.get(e, 0)
            if a < load:
                best, load = e, a
        return best


class Ejections:
    """Consecutive-5xx outlier detection of one picker for one destination service."""

    __slots__ = ("cfg", "failures", "log", "times", "until")

    def __init__(self, cfg: OutlierDetection):
        self.cfg = cfg
        self.failures: dict[ServiceInstance, int] = {}  # consecutive 5xx per host
        self.times: dict[ServiceInstance, int] = {}  # how often each host was ejected
        self.until: dict[ServiceInstance, float] = {}  # ejected hosts: back at this time
        self.log: list[tuple[float, str, float]] = []  # (t, host, until) per ejection

    def ejected_at(self, now: float) -> int:
        """How many hosts are ejected at `now`."""
        return sum(1 for t in self.until.values() if t > now)

    def usable(self, eps: tuple[ServiceInstance, ...], now: float) -> tuple[ServiceInstance, ...]:
        """The endpoints the picker may choose from (all of them in panic)."""
        until = self.until
        if not until:
            return eps
        left = tuple(e for e in eps if until.get(e, 0.0) <= now)
        if len(left) == len(eps) or len(left) < PANIC * len(eps):
            return eps
        return left

    def observe(self, host: ServiceInstance, failed: bool, now: float, hosts: int) -> None:
        """Count one answer from `host` (one of `hosts` the picker knows)."""
        if not failed:
            self.failures[host] = 0
            return
        if self.until.get(host, 0.0) > now:
            return  # already ejected: late answers change nothing
        n = self.failures.get(host, 0) + 1
        if n < self.cfg.consecutive_5xx:
            self.failures[host] = n
            return
        self.failures[host] = 0  # Envoy resets the count when the threshold trips
        active = self.ejected_at(now)
        if active > 0 and 100.0 * (active + 1) / max(hosts, 1) > self.cfg.max_ejection_percent:
            return  # the cap: only one host at a time when 10 % of the hosts is < 1
        k = self.times.get(host, 0) + 1
        self.times[host] = k
        back = now + self.cfg.base_ejection_time * k
        self.until[host] = back
        self.log.append((now, host.name, back))
