"""The seam between the application and an architecture.

The application knows services, operations, calls and events; it talks to a Transport
with a handful of verbs and never learns whether a gateway and sidecars or a broker carry
its traffic. ``http`` and ``messaging`` each implement this protocol.

The layers above ask the transport too, instead of branching on the architecture: faults
(:mod:`sim.faults`) stop, crash and lose instances and infrastructure and ask what was
noticed and when; the results take its counters and its own books. A new architecture
implements this protocol in its own package and registers in :mod:`sim.architectures`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol

from sim.core.component import Component
from sim.core.trace import Trace

if TYPE_CHECKING:
    from sim.app.service import ServiceInstance

Plan = tuple[float, tuple[Any, ...], tuple[bool, ...]]

OK = "ok"
ERROR = "error"
TIMEOUT = "timeout"
NO_RESPONDERS = "no_responders"


class Transport(Protocol):
    """What the application needs from an architecture."""

    name: str

    def start(self) -> None:
        """Build the infrastructure (gateways, proxies, brokers…) before instances attach."""

    def attach(self, instance: ServiceInstance) -> None:
        """An instance has started: connect it, register it, subscribe it."""

    def detach(self, instance: ServiceInstance) -> None:
        """An instance stops."""

    def request(
        self,
        tr: Trace,
        caller: Component,
        service: str,
        operation: str,
        plan: Plan,
        instance: int | None = None,
    ) -> Generator[Any, Any, str]:
        """Send a request to service.operation and wait for its reply; returns a status.

        ``instance`` addresses one specific instance (by index) instead of balancing."""
        ...

    def publish(self, source: ServiceInstance, subject: str, nbytes: float) -> None:
        """Publish an event (fire and forget) to every observer of `subject`."""

    def components(self) -> list[Component]:
        """Infrastructure components this transport added (not the service instances)."""
        ...

    def counters(self) -> dict[str, float]:
        """Cumulative ``requests`` (logical), ``attempts`` and ``retries`` at every requester."""
        ...

    def observations(self) -> dict[str, Any]:
        """The architecture's own books: ``rows`` of (scope, name, metric, value) for the
        results' ``transport`` frame, and optional extra ``timeseries`` rows."""
        ...

    # ------------------------------------------------------------------ faults
    #: callers reach a service by a name that a DNS failover record can move (sim.faults)
    dns_failover: bool

    def stop(self, instance: ServiceInstance) -> None:
        """Stop an instance at once, without a graceful drain."""

    def crash(self, instance: ServiceInstance, mode: str) -> None:
        """An instance dies: ``closed`` (its sockets close) or ``silent`` (it stops answering)."""

    def lose(self, instances: list[ServiceInstance], grace: float) -> None:
        """The node under these instances is gone (``grace``: until the platform says so)."""

    def answers(self, instance: ServiceInstance) -> bool:
        """Would a health probe of this instance get an answer?"""
        ...

    def infrastructure(self, kind: str) -> list[Any]:
        """Processes of ``kind`` (``gateway``, ``broker``) a fault can stop, in list order;
        none when this architecture has no such process."""
        ...

    def stop_infrastructure(self, proc: Any, mode: str) -> None:
        """One of them stops: ``closed`` or ``silent``."""

    def start_infrastructure(self, proc: Any) -> None:
        """It runs again."""

    def detection(self, t0: float, names: set[str]) -> dict[str, Any] | None:
        """The first time at or after ``t0`` the architecture noticed one of ``names`` had
        failed: ``{"t", "label", ...}`` (extra keys are kept), or None."""
        ...
