"""Link trouble in :class:`sim.core.network.Network`: extra latency, loss, partitions.

(The fault tests' hand-driven world, :func:`tests.worlds.world`, used to live here.)
"""

from __future__ import annotations

import math

import pytest

from sim.core.network import Network, Place, Trouble
from sim.scenario.model import Network as NetworkConfig

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
