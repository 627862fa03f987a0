"""Checking the simulator and a scenario before trusting its numbers.

* :mod:`~sim.validation.theory` -- closed forms (M/M/1, Erlang C, Pollaczek–Khinchine,
  Jackson networks, mean value analysis) with their sources.
* :mod:`~sim.validation.capacity` -- expected utilisation of every component from the
  scenario alone, overload warnings, and subject lints (``sim validate FILE``).
* :mod:`~sim.validation.queueing` -- the queueing network a zero-overhead scenario reduces
  to, and its exact values.
* :mod:`~sim.validation.suite` -- runs ``scenarios/validation/`` on both architectures and
  tabulates simulated intervals against exact values (``sim validate --theory``).
* :mod:`~sim.validation.laws` -- Little's law and the utilisation law, checked on any run.
* :mod:`~sim.validation.precision` -- paired replications until a target precision.

Nothing is imported here eagerly: the suite and the precision loop import the API, which
imports the engine, and the engine must stay importable without them.
"""
