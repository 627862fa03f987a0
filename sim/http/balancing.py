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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sim.core.distributions import Uniforms

if TYPE_CHECKING:
    from sim.app.service import ServiceInstance

RESELECT = 5  # Istio retry policy: HostSelectionRetryMaxAttempts 5


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
