"""A run built as the engine builds it, with its insides left open, for the fault tests.

:func:`world` wires application, transport and :func:`sim.faults.timeline.schedule` exactly
as :func:`sim.engine.run` does (same streams, same order) but returns them, so a test can
read the transports' logs, ping timers and counters after ``env.run``. ``QUIET`` makes
every hop free (no RTT, no TLS, no proxy or broker CPU) so that times are exact sums of the
mechanisms under test. Also here: link trouble in :class:`sim.core.network.Network`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
import simpy

from sim.api import observers
from sim.app.application import Application
from sim.core.network import Network, Place, Trouble
from sim.core.placement import Placer
from sim.core.recorder import COLUMNS, Recorder
from sim.core.streams import Streams
from sim.faults.timeline import Faults, schedule
from sim.http.mesh import HttpTransport
from sim.messaging.transport import MessagingTransport
from sim.scenario import Scenario
from sim.scenario.model import Network as NetworkConfig

QUIET = """
  http:
    gateway: {replicas: 1, cpu_per_request: 0, io: null, config_cpu: 0}
    sidecar: {cpu_per_request: 0, io: null, config_cpu: 0}
    stack: {io: null}
    tls: {version: none}
    control_plane: {cpu_per_push: 0}
    discovery: {cpu_per_watch_event: 0}
  messaging:
    broker: {io: null}
    client: {io: null, ping_interval: 1000}
    tls: {version: none}
"""


@dataclass
class World:
    """One architecture's run, open for inspection."""

    env: Any
    app: Application
    faults: Faults | None

    @property
    def t(self) -> Any:
        """The transport (HTTP, maybe behind its failover records, or messaging)."""
        return self.app.transport

    def run(self, until: float) -> World:
        self.env.run(until=until)
        return self

    def requests(self) -> pd.DataFrame:
        """Completed requests so far, with latency."""
        df = pd.DataFrame(self.app.recorder.rows, columns=list(COLUMNS))
        df = df[df["kind"] == "request"].copy()
        df["latency"] = df["end"] - df["start"]
        return df.sort_values("start").reset_index(drop=True)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        assert self.faults is not None
        out = self.faults.results()["events"]
        return [e for e in out if kind is None or e["kind"] == kind]


def world(sc: Scenario, arch: str, seed: int = 1) -> World:
    """Application, transport and faults as :func:`sim.engine.run` wires them."""
    env = simpy.Environment()
    rec = Recorder()
    app = Application(
        env,
        sc,
        Streams(seed, 0),
        Network(sc.placement.network),
        Placer(sc.placement),
        rec,
        observers(sc),
    )
    if arch == "http":
        app.transport = HttpTransport(app, sc.http)
    else:
        app.transport = MessagingTransport(app, sc.messaging)
    faults = schedule(app)
    app.start()
    return World(env, app, faults)


# --------------------------------------------------------------------------- link trouble
CFG = NetworkConfig(same_host_rtt=0.0, same_zone_rtt=0.002, cross_zone_rtt=0.004, bandwidth=8e30)
EU_A = Place("eu", "a", "eu/a/n0")
EU_B = Place("eu", "b", "eu/b/n0")
US_A = Place("us", "a", "us/a/n0")


def test_extra_latency_adds_to_both_ways_and_clears() -> None:
    net = Network(CFG.model_copy(update={"region_rtt": {"eu": {"us": 0.08}}}))
    assert net.rtt(EU_A, US_A) == 0.08
    h = net.trouble(Trouble("eu", "us", extra=0.05))
    assert net.rtt(EU_A, US_A) == pytest.approx(0.18)
    assert net.one_way(US_A, EU_A, 0) == pytest.approx(0.09)
    assert net.rtt(EU_A, EU_B) == 0.004  # inside eu: untouched
    net.clear(h)
    assert net.rtt(EU_A, US_A) == 0.08


def test_a_zone_partition_cuts_only_that_pair() -> None:
    net = Network(CFG)
    net.trouble(Trouble("eu/a", "eu/b", partition=True))
    assert math.isinf(net.rtt(EU_A, EU_B)) and math.isinf(net.one_way(EU_B, EU_A, 10))
    assert net.rtt(EU_A, Place("eu", "a", "eu/a/n1")) == 0.002


@pytest.mark.parametrize(("u", "lost"), [(0.0, 0), (0.5, 0), (0.95, 1), (0.995, 2)])
def test_loss_is_retransmission_delay_doubling_from_rtt_plus_rto_min(u: float, lost: int) -> None:
    """loss 10 %: P(lost ≥ n) = 0.1ⁿ; a draw u maps to n = floor(ln(1 − u) / ln 0.1); each
    loss costs an RTO, doubling, the first RTT + 200 ms."""
    net = Network(CFG)
    net.trouble(Trouble("eu/a", "eu/b", loss=0.1), lambda: u)
    rto = 0.004 + 0.2
    assert net.one_way(EU_A, EU_B, 0) == pytest.approx(0.002 + rto * (2**lost - 1))
    assert net.rtt(EU_A, EU_B) == 0.004  # handshakes and pings carry no loss
