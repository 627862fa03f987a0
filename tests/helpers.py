"""Shared helpers for the core, queueing-theory and invariant tests.

* :func:`scenario` validates a scenario written as a YAML string (the same path a file takes:
  ``read_yaml`` → ``validate`` → subject checks), so tests read like scenario files.
* :func:`queue_scenario` builds the textbook single-queue scenario: every overhead off, one
  service, one instance, ``cores`` cores, open arrivals; see its docstring for the exact
  overrides.
* :func:`flagship` loads ``scenarios/order-service.yaml`` with ``--set``-style overrides.
* :class:`Log` collects ``(name, env.now)`` pairs for exact traces (SimPy's own test style).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

import sim
from sim.api import check_subjects
from sim.scenario import Scenario
from sim.scenario.loader import read_yaml, validate

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "scenarios" / "order-service.yaml"


def scenario(text: str, file: str = "<test>") -> Scenario:
    """A validated scenario from YAML text."""
    data, src = read_yaml(text, file)
    sc = validate(data, src)
    check_subjects(sc, file, src)
    return sc


# Every overhead switched off, so that the model reduces to one FIFO multi-server queue:
# no gateway, no sidecars (hence no control plane), no TLS on either architecture, all RTTs
# zero and zero-byte messages (no propagation or transmission delay), broker CPU zero,
# and moving messages free (io: null on the broker, the client library and the HTTP stack).
ZERO_OVERHEAD = """
placement:
  network: {same_host_rtt: 0, same_zone_rtt: 0, cross_zone_rtt: 0, default_region_rtt: 0}
http:
  gateway: {enabled: false}
  sidecar: {enabled: false}
  stack: {io: null}
  tls: {version: none}
messaging:
  broker: {io: null}
  client: {io: null}
  tls: {version: none}
"""


def queue_scenario(
    rate: float,
    demand: str,
    cores: int = 1,
    duration: float = 10.0,
    warmup: float = 1.0,
    seed: int = 1,
    arrivals: str = "poisson",
    clients: int = 1,
    extra_services: str = "",
) -> Scenario:
    """One service with ``cores`` cores behind a zero-overhead transport (see ZERO_OVERHEAD).

    ``demand`` is a YAML flow mapping, e.g. ``{dist: exponential, mean: 1ms}``. Request and
    response sizes are 0 bytes; ``extra_services`` is YAML inserted under ``services:``.
    """
    return scenario(
        f"""
name: queue
run: {{duration: {duration}, warmup: {warmup}, seed: {seed}}}
services:
  svc:
    instances: 1
    cores: {cores}
    operations:
      op: {{demand: {demand}, request_bytes: 0, response_bytes: 0}}
{extra_services}
workload:
  arrivals: {{kind: {arrivals}, rate: {rate}}}
  clients: {clients}
  flows: [{{name: f, service: svc, operation: op}}]
{ZERO_OVERHEAD}
"""
    )


def flagship(*sets: str) -> Scenario:
    """The flagship scenario with ``path=value`` overrides (as ``--set`` gives them)."""
    return sim.load_scenario(FLAGSHIP, sets)


def minimal(*sets: str) -> Scenario:
    """The flagship's single-server teaching setup (one broker server, no ingress)."""
    return sim.load_scenario(ROOT / "scenarios" / "order-service-minimal.yaml", sets)


def requests_of(res: Any) -> pd.DataFrame:
    """The logical-request rows (not event deliveries) of a RunResult."""
    req: pd.DataFrame = res.requests
    return req[req["kind"] == "request"].reset_index(drop=True)


class Log(list[tuple[str, float]]):
    """An exact trace of ``(name, env.now)`` pairs."""

    def __init__(self, env: Any):
        super().__init__()
        self.env = env

    def __call__(self, name: str) -> None:
        self.append((name, self.env.now))
