"""Request retries at the requester: back-off with full jitter, and a retry budget.

nats.go ``Request`` sends once and waits for the first reply or its timeout; retrying is the
application's loop around it (``messaging.retries``). The loop follows the same rules as the
HTTP side's Envoy retries, so that both architectures can be given one policy:

* a retry happens when the attempt's outcome is in ``retry_on`` (``timeout``: no reply within
  ``request_timeout``; ``no_responders``: the server's 503 status), at most ``attempts``
  times;
* before retry n (n = 1, 2, …) the requester sleeps a uniform time in
  [0, min(cap, base × (2ⁿ − 1))] (Envoy's fully jittered exponential back-off; cap
  ``backoff_max``, default 10 × base; "full jitter", AWS Architecture Blog 2015,
  *Exponential Backoff And Jitter*);
* with ``budget_percent`` set, a retry is allowed only while the connection's retries in
  flight stay below max(``min_retry_concurrency``, budget % × its requests in flight)
  (Envoy ``RetryBudget``).

The budget is kept per connection, as Envoy keeps it per picker: each requester limits
itself. :class:`RetryBooks` counts logical requests, attempts, retries and refused retries
(retry amplification = attempts / requests).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario.messaging import RequestRetries


@dataclass(slots=True)
class InFlight:
    """One requester's requests and retries in flight (for its budget)."""

    requests: int = 0
    retries: int = 0


@dataclass(slots=True)
class RetryBooks:
    """Counters over the whole run (all requesters)."""

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    refused: int = 0
    timeouts: int = 0


def backoff(cfg: RequestRetries, n: int, u: float) -> float:
    """The sleep before retry ``n`` (1, 2, …) for a uniform draw ``u`` in [0, 1)."""
    cap = cfg.backoff_max if cfg.backoff_max is not None else 10 * cfg.backoff_base
    return u * min(cap, cfg.backoff_base * (2**n - 1))


def budget_allows(cfg: RequestRetries, flight: InFlight) -> bool:
    """Does the retry budget let this requester retry now?"""
    if cfg.budget_percent is None:
        return True
    allowed = max(cfg.min_retry_concurrency, cfg.budget_percent / 100 * flight.requests)
    return flight.retries < allowed
