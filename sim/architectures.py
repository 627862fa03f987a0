"""The architectures: each a Transport behind the seam (:mod:`sim.app.transport`).

The one place that names them all. Everything above (the runner, results, reports) looks an
architecture up here instead of branching on its name, so a new one (plain HTTP/2 without a
mesh, gRPC…) is its own package plus one entry in each table below.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.app.application import Application
from sim.app.names import ARCHITECTURES
from sim.app.transport import Transport
from sim.http.transport import HttpTransport
from sim.messaging.transport import MessagingTransport
from sim.scenario.model import Scenario

#: Build the architecture's transport for an application.
TRANSPORTS: dict[str, Callable[[Application, Scenario], Transport]] = {
    "http": lambda app, sc: HttpTransport(app, sc.http),
    "messaging": lambda app, sc: MessagingTransport(app, sc.messaging),
}
#: One line each, for reports: what the architecture deploys for a scenario.
DESCRIBE: dict[str, Callable[[Scenario], str]] = {
    "http": HttpTransport.describe,
    "messaging": MessagingTransport.describe,
}
# the names alone live in sim.app.names, which checking a scenario can import without the
# engine; they must be these
assert tuple(TRANSPORTS) == ARCHITECTURES == tuple(DESCRIBE)
