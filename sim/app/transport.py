"""The seam between the application and an architecture.

The application knows services, operations, calls and events; it talks to a Transport
with a handful of verbs and never learns whether a gateway and sidecars or a broker carry
its traffic. ``http`` and ``messaging`` each implement this protocol.
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
