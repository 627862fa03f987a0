"""Network delay from placement, and the placement that feeds it (exact values)."""

from __future__ import annotations

import pytest

from sim.core.network import Network, Place
from sim.core.placement import Placer
from sim.scenario.model import Network as NetworkConfig
from sim.scenario.model import Placement, Region

CFG = NetworkConfig(
    same_host_rtt=1.0,
    same_zone_rtt=2.0,
    cross_zone_rtt=4.0,
    region_rtt={"eu": {"us": 80.0}, "us": {"ap": 160.0}},
    default_region_rtt=500.0,
    bandwidth=8.0,  # one byte per second
)

H1 = Place("eu", "a", "eu/a/node-0")
H1_AGAIN = Place("eu", "a", "eu/a/node-0")
H2 = Place("eu", "a", "eu/a/node-1")
ZB = Place("eu", "b", "eu/b/node-0")
US = Place("us", "a", "us/a/node-0")
AP = Place("ap", "a", "ap/a/node-0")
SA = Place("sa", "a", "sa/a/node-0")


@pytest.mark.parametrize(
    ("a", "b", "rtt"),
    [
        (H1, H1_AGAIN, 1.0),  # same host (equal places, distinct objects)
        (H1, H2, 2.0),  # same zone, other host
        (H1, ZB, 4.0),  # other zone
        (H1, US, 80.0),  # region matrix, as written
        (US, H1, 80.0),  # region matrix, the other way round
        (AP, US, 160.0),  # only us → ap is written
        (H1, AP, 500.0),  # no entry either way: the default
        (SA, US, 500.0),
    ],
)
def test_rtt_by_placement(a: Place, b: Place, rtt: float) -> None:
    net = Network(CFG)
    assert net.rtt(a, b) == rtt
    assert net.rtt(b, a) == rtt  # symmetric, also when served from the cache


def test_one_way_is_half_the_rtt_plus_transmission() -> None:
    net = Network(CFG)
    assert net.one_way(H1, ZB, 0) == 2.0
    assert net.one_way(H1, ZB, 3) == 2.0 + 3.0  # 3 bytes at 8 bit/s
    assert Network(NetworkConfig(bandwidth=10e9)).byte_time == 8e-10


def test_zero_rtts_make_the_network_disappear() -> None:
    zero = NetworkConfig(same_host_rtt=0, same_zone_rtt=0, cross_zone_rtt=0, default_region_rtt=0)
    net = Network(zero)
    for a, b in ((H1, H1), (H1, H2), (H1, ZB), (H1, US)):
        assert net.rtt(a, b) == 0.0
        assert net.one_way(a, b, 0) == 0.0


def test_calibrated_defaults() -> None:
    net = Network(NetworkConfig())
    assert net.rtt(H1, H1) == 5e-6
    assert net.rtt(H1, H2) == 250e-6
    assert net.rtt(H1, ZB) == 1e-3
    assert net.rtt(H1, US) == 80e-3


def test_placer_spreads_instances_over_zones_and_packs_hosts() -> None:
    placer = Placer(Placement(regions=[Region(name="eu", zones=["a", "b"])], instances_per_host=2))
    got = [placer.instance("svc", i) for i in range(5)]
    assert got == [
        Place("eu", "a", "eu/a/node-0"),
        Place("eu", "b", "eu/b/node-0"),
        Place("eu", "a", "eu/a/node-0"),
        Place("eu", "b", "eu/b/node-0"),
        Place("eu", "a", "eu/a/node-1"),
    ]
    # nodes are shared across services in the same zone (in the order asked for)
    assert placer.instance("other", 0) == Place("eu", "a", "eu/a/node-1")
    assert placer.infra("gateway", 1) == Place("eu", "b", "eu/b/gateway-1")
    assert placer.clients() == Place("eu", "a", "eu/edge/clients")


def test_placement_to_delay_end_to_end() -> None:
    placer = Placer(Placement(regions=[Region(name="eu", zones=["a", "b"])]))
    net = Network(CFG)
    i0, i1, i2 = (placer.instance("svc", i) for i in range(3))
    assert net.rtt(i0, i1) == 4.0  # zones a and b
    assert net.rtt(i0, i2) == 2.0  # both in zone a, one instance per host
    assert net.rtt(placer.clients(), i0) == 2.0  # edge: same zone, another host
