"""Request retries at the requester: the books of the application's retry loop.

nats.go ``Request`` sends once and waits for the first reply or its timeout; retrying is the
application's loop around it (``messaging.retries``), by the one policy both architectures
share (:mod:`sim.core.retry`: fully jittered exponential back-off, Envoy's retry budget). A
retry happens when the attempt's outcome is in ``retry_on`` (``timeout``: no reply within
``request_timeout``; ``no_responders``: the server's 503 status), at most ``attempts`` times.

The budget is kept per connection, as Envoy keeps it per picker: each requester limits
itself (:class:`InFlight`). :class:`RetryBooks` counts logical requests, attempts, retries
and refused retries (retry amplification = attempts / requests).
"""

from __future__ import annotations

from dataclasses import dataclass


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
