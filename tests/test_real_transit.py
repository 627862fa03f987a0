"""What forwarding adds on a message's path: the transit probe's counting and the share of
it the model does not already charge (``handoff_latency``, sim/real/cases.py handoff_for)."""

from __future__ import annotations

import socket

import pytest

from sim.real.cases import Case, handoff_for, scenario
from sim.real.measure import WARM_GAP, Loopback
from sim.real.transit import Transit, _receiver

# a machine whose hops carry 10 µs each way and whose brief sleeps wait 15 µs
NET = Loopback(30e-6, 110e-6, ring_rtt=3 * (15e-6 + 15e-6), sender_cpu=40e-6)


def test_the_server_s_extra_is_never_below_nothing() -> None:
    assert Transit(through=90e-6, direct=30e-6).extra == pytest.approx(60e-6)
    assert Transit(through=30e-6, direct=35e-6).extra == 0.0


def test_the_receiver_counts_messages_by_marker_even_split_over_reads() -> None:
    a, b = socket.socketpair()
    child, out = _receiver(b, b"MSG ", 3)
    b.close()
    with a:
        a.sendall(b"MSG x\r\nMS")  # the second marker split over two reads
        a.sendall(b"G y\r\n")
        a.sendall(b"MSG z\r\n")
        stamps = out.get(timeout=10)
    child.join(10)
    assert len(stamps) == 3
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("kind", ["reqreply", "proxy"])
def test_handoff_is_the_extra_less_what_the_model_charges_on_that_path(kind: str) -> None:
    case = Case(kind, 100.0, responders=1 if kind == "proxy" else 2)
    sc = scenario(case, 50e-6, NET, 1.0)
    section = sc["http"]["gateway"] if kind == "proxy" else sc["messaging"]["broker"]
    section["io"] |= {"wakeup": 4e-6, "per_message": 3e-6, "per_byte": 0.0}
    if kind == "proxy":
        section |= {"cpu_per_request": 40e-6, "on_path_fraction": 0.5}
    # the second hop (half the hops' round trip, 20 µs), the wait after a brief sleep
    # (15 µs), a read and a write (7 µs each), on the proxy 10 µs of L7 work on the way
    charged = NET.hop_rtt / 2 + NET.idle_latency + 2 * 7e-6 + (10e-6 if kind == "proxy" else 0)
    assert NET.hop_rtt / 2 == pytest.approx(10e-6) and NET.idle_latency == pytest.approx(15e-6)
    assert float(section["io"]["cold_latency_after"]) > WARM_GAP  # a brief sleep, then
    assert handoff_for(sc, case, NET, 100e-6) == pytest.approx(100e-6 - charged)
    assert handoff_for(sc, case, NET, charged / 2) == 0.0  # the model charges more already


def test_a_measured_extra_sets_the_server_s_handoff_over_the_profile_s() -> None:
    case = Case("reqreply", 100.0)
    plain = scenario(case, 50e-6, NET, 1.0)
    assert "handoff_latency" not in plain["messaging"]["broker"]["io"]  # the default's
    got = scenario(case, 50e-6, NET, 1.0, server_extra=1e-3)
    want = handoff_for(plain, case, NET, 1e-3)
    assert want > 0
    assert got["messaging"]["broker"]["io"]["handoff_latency"] == pytest.approx(want)
    assert "handoff_latency" not in got["http"]["gateway"]["io"]  # only the case's server
