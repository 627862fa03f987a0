"""Names the application gives things, with no machinery attached: the architectures, the
subject of each operation's requests and who hears a subject.

Kept out of :mod:`sim.app.application` so that checking a scenario (``sim validate``,
:func:`sim.api.load_scenario`) needs no engine, NumPy or SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario.model import Scenario

ARCHITECTURES = ("http", "messaging")


def request_subject(sc: Scenario, service: str, operation: str) -> str:
    """The subject that names requests to service.operation (both architectures use it)."""
    subject = sc.services[service].operations[operation].subject
    return subject or f"svc.{service}.{operation}"


@dataclass(frozen=True, slots=True)
class Observer:
    """A service that hears a subject: one copy per event (shared) or one per instance."""

    service: str
    operation: str
    delivery: str
