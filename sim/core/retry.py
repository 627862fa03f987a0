"""One retry policy for every requester: fully jittered exponential back-off and a budget.

Both architectures retry by the same rules (Envoy's, which the HTTP side's proxies apply
and the messaging side's application loop copies), so both are written here once:

* before retry n (n = 1, 2, …) the requester sleeps a uniform time in
  [0, min(cap, base × (2ⁿ − 1))] (Envoy ``RetryBackOff``: cap ``backoff_max``, default
  10 × base; "full jitter", AWS Architecture Blog 2015, *Exponential Backoff And Jitter*);
* with ``budget_percent`` set, a retry is allowed only while the requester's retries in
  flight stay below max(``min_retry_concurrency``, budget % × its requests in flight)
  (Envoy ``RetryBudget``).

What differs between the sides is only what counts as retriable and where the books are
kept (per picker on HTTP, per connection on messaging); their settings models
(:class:`sim.scenario.http.Retries`, :class:`sim.scenario.messaging.RequestRetries`) keep
their own defaults, each citing its own source, and both are a :class:`RetryPolicy`.
"""

from __future__ import annotations

from typing import Protocol


class RetryPolicy(Protocol):
    """The fields every retry policy has (read-only: settings are frozen)."""

    @property
    def attempts(self) -> int: ...
    @property
    def backoff_base(self) -> float: ...
    @property
    def backoff_max(self) -> float | None: ...
    @property
    def budget_percent(self) -> float | None: ...
    @property
    def min_retry_concurrency(self) -> int: ...


def backoff(policy: RetryPolicy, n: int, u: float) -> float:
    """The sleep before retry ``n`` (1, 2, …) for a uniform draw ``u`` in [0, 1)."""
    cap = policy.backoff_max if policy.backoff_max is not None else 10 * policy.backoff_base
    return u * min(cap, policy.backoff_base * (2**n - 1))


def budget_allows(policy: RetryPolicy, requests: int, retries: int) -> bool:
    """Does the retry budget let a requester with these requests and retries in flight retry?"""
    if policy.budget_percent is None:
        return True
    allowed = max(policy.min_retry_concurrency, policy.budget_percent / 100 * requests)
    return retries < allowed
