"""Real servers on this machine: measure them (``sim calibrate``) and compare the simulator
with them (``sim validate --real``).

A layer beside :mod:`sim.validation`: it may import :mod:`sim.api`, nothing imports it but
the CLI. Modules: :mod:`~sim.real.servers` (start/stop nats-server and an L7 proxy),
:mod:`~sim.real.procstat` (CPU, RSS, connections from ``/proc``), :mod:`~sim.real.load`
(open-loop Poisson raw-protocol load), :mod:`~sim.real.cases` (the grid and the equivalent
scenarios), :mod:`~sim.real.measure` (one case, measured), :mod:`~sim.real.calibrate` (fit
and write a profile) and :mod:`~sim.real.compare` (measured vs predicted).
"""
