"""The timeline's actions on both architectures, their books, and their checks.

The world: the edge calls ``front`` (one instance), which calls ``back`` (three instances
of one core, 15 ms of work, so a request is usually inside one of them); one request every
10 ms; every hop free; readiness probes every second. Each action happens at x.0005 s,
between two requests.
"""

from __future__ import annotations

import pytest

import sim
from sim.scenario import ScenarioError
from tests.helpers import scenario
from tests.test_faults_world import world

BASE = """
name: timeline
run: {{duration: 12, warmup: 0}}
placement:
  regions: [{{name: r, zones: [a, b]}}]
  network: {{same_host_rtt: 0, same_zone_rtt: 0, cross_zone_rtt: 0, bandwidth: 1e30}}
services:
  front:
    instances: 1
    operations:
      op: {{calls: [{{service: back, operation: op}}], request_bytes: 0, response_bytes: 0}}
  back:
    instances: 3
    operations:
      op: {{demand: {{dist: constant, value: 15ms}}, request_bytes: 0, response_bytes: 0}}
workload:
  arrivals: {{kind: constant, rate: 100}}
  clients: 1
  flows: [{{name: f, service: front, operation: op}}]
http:
  gateway: {{replicas: 2, cpu_per_request: 0, io: null, config_cpu: 0}}
  sidecar: {{cpu_per_request: 0, io: null, config_cpu: 0}}
  stack: {{io: null}}
  tls: {{version: none}}
  control_plane: {{cpu_per_push: 0}}
  discovery: {{cpu_per_watch_event: 0}}
  orchestrator: {{readiness: {{period: 1}}}}
messaging:
  broker: {{servers: 2, io: null, ping_interval: 1}}
  client: {{io: null, ping_interval: 1000, spread: ordered}}
  tls: {{version: none}}
timeline:
{timeline}
"""
UPDATE, DEBOUNCE = 0.066, 0.1


def _world(arch: str, timeline: str, until: float = 10.0):  # type: ignore[no-untyped-def]
    return world(scenario(BASE.format(timeline=timeline)), arch).run(until)


def _bad(w) -> int:  # type: ignore[no-untyped-def]
    req = w.requests()
    return int((req["status"] != "ok").sum())


def test_scale_up_messaging_serves_at_boot_http_after_readiness_and_propagation() -> None:
    line = "  - {at: 2.0005, action: scale, service: back, instances: 4}"
    m = _world("messaging", line)
    (new,) = [i for i in m.app.instances["back"] if i.index == 3]
    conn = m.t.conns[new]
    assert conn.connected_at[0][0] == pytest.approx(2.0005 + 2.0)  # boot 2 s, then connect
    assert new.handled > 0
    h = _world("http", line)
    ready = [r for r in h.t.log if r[1] == "ready"]
    # probes from its launch at 2.0005 every 1 s; it answers from 4.0005: ready then
    assert [(r[0], r[2]) for r in ready] == [(pytest.approx(4.0005), "back-3")]
    firsts = [r[0] for r in h.t.log if r[1] == "send" and r[3] == "back-3"]
    assert min(firsts) >= 4.0005 + UPDATE + DEBOUNCE
    (e,) = h.events("action")
    assert e["label"] == "scale back 3→4"


@pytest.mark.parametrize("arch", ["http", "messaging"])
def test_scale_down_with_drain_loses_nothing(arch: str) -> None:
    w = _world(arch, "  - {at: 2.0005, action: scale, service: back, instances: 2}")
    assert _bad(w) == 0
    assert [i.name for i in w.app.instances["back"] if i.alive] == ["back-0", "back-1"]


@pytest.mark.parametrize("arch", ["http", "messaging"])
def test_scale_down_without_drain_loses_what_was_inside(arch: str) -> None:
    """Messaging: what back-2 held never gets a reply (timeout); HTTP: reset, and later
    picks of it are refused and retried elsewhere (Istio's default retry policy)."""
    line = "  - {at: 2.0305, action: scale, service: back, instances: 2, drain: false}"
    w = world(scenario(BASE.format(timeline=line)), arch)
    held: list[int] = []
    back2 = w.app.instances["back"][2]
    assert back2.cpu is not None
    cpu = back2.cpu
    w.env.timeout(2.0304).callbacks.append(
        lambda _e: held.append(cpu.busy.value + cpu.queue_length)
    )
    w.run(10.0)
    assert held == [1]  # (this instant was chosen so that it holds one on both sides)
    assert _bad(w) == 1


@pytest.mark.parametrize("arch", ["http", "messaging"])
def test_rolling_upgrade_replaces_every_instance_without_loss(arch: str) -> None:
    w = _world(arch, "  - {at: 1.0005, action: rolling_upgrade, service: back, interval: 1}", 12)
    assert w.faults is not None
    live = sorted(i.name for i in w.faults.fleet.live("back"))
    assert live == ["back-3", "back-4", "back-5"]
    assert _bad(w) == 0
    labels = [e["label"] for e in w.events()]
    assert labels[0] == "rolling upgrade back" and "rolling upgrade back done" in labels


def test_stopped_gateway_replica_refuses_its_share_until_it_is_back() -> None:
    line = "  - {at: 2.0005, action: stop, component: gateway, index: 0, duration: 2}"
    h = _world("http", line)
    req = h.requests()
    bad = req[req["status"] != "ok"]
    # the L4 balancer keeps sending every other request to gateway-0: refused; the ones
    # passing through it when it stopped are reset
    refused = bad[bad["status"] == "connect_failure"]
    assert len(refused) == 100 and set(bad["status"]) == {"connect_failure", "reset"}
    assert refused["start"].min() > 2.0005 and refused["start"].max() < 4.0005
    m = _world("messaging", line)
    assert next(e["label"] for e in m.events()) == "stop gateway 0 (none here)"


def test_broker_server_stops_clients_move_and_it_rejoins_when_back() -> None:
    line = "  - {at: 2.0005, action: stop, component: broker, index: 0, duration: 2}"
    m = _world("messaging", line)
    assert _bad(m) <= 2  # what was in flight through nats-0
    f = m.t.fabric
    assert [r[1] for r in f.log if r[1] in ("restarted", "route_up")] == ["restarted", "route_up"]
    assert all(link.up for link in f.routes.values())
    s0 = f.servers["nats-0"]
    assert s0.alive and len(s0.clients) == 0  # nobody had a reason to come back
    assert s0.subscriptions.value > 0  # but it knows nats-1's interest again


def test_node_loss_http_removed_after_the_node_grace_period() -> None:
    line = "  - {at: 2.0005, action: node_loss, service: back, instance: 1, grace: 3}"
    h = _world("http", line)
    (d,) = h.events("detection")
    assert d["after"] == pytest.approx(3.0)  # not the readiness probes: its kubelet is gone
    m = _world("messaging", line)
    (d,) = m.events("detection")  # the server's pings (every 1 s here, 2 out)
    assert 2.0 < d["after"] <= 4.0


def test_a_link_partition_breaks_routes_and_they_come_back() -> None:
    line = "  - {at: 2.0005, action: link, between: [r/a, r/b], partition: true, duration: 6}"
    sc = scenario(BASE.format(timeline=line)).model_copy()
    w = world(sc, "messaging").run(20.0)
    f = w.t.fabric
    kinds = [r[1] for r in f.log]
    assert "route_lost" in kinds and "route_up" in kinds
    assert kinds.index("route_up") > kinds.index("route_lost")
    assert all(link.up for link in f.routes.values())


def test_books_balance_at_every_event() -> None:
    lines = "\n".join(
        [
            "  - {at: 1.0005, action: crash, service: back, instance: 0, mode: silent}",
            "  - {at: 2.0005, action: scale, service: back, instances: 4}",
            "  - {at: 3.0005, action: stop, component: broker, index: 1}",
            "  - {at: 4.0005, action: slow, service: back, factor: 5, duration: 1}",
            "  - {at: 5.0005, action: crash, service: back, instance: all, mode: closed}",
        ]
    )
    sc = scenario(BASE.format(timeline=lines))
    for arch in ("http", "messaging"):
        res = sim.simulate(sc, arch)
        md = res.metadata
        assert md["generated"] == md["completed"] + md["in_flight"]
        assert res.requests["request_id"].is_unique
        events = [e for e in md["events"] if "generated" in e]
        assert len(events) >= 5
        for e in events:  # requests in = completed (ok + failed) + in flight
            assert e["generated"] == e["ok"] + e["failed"] + e["in_flight"], e
            assert e["completed"] == e["ok"] + e["failed"] and e["in_flight"] >= 0
        assert (res.requests["status"] != "ok").sum() > 100  # the faults did cost something


@pytest.mark.parametrize(
    ("entry", "line", "message"),
    [
        ("{at: 1, action: crash, service: nope}", 33, "unknown service 'nope'"),
        ("{at: 1, action: crash, service: back, instance: 7}", 33, "never has an instance 7"),
        ("{at: 1, action: stop, component: gateway, index: 2}", 33, "no 2"),
        ("{at: 1, action: region_outage, region: mars}", 33, "unknown region 'mars'"),
        ("{at: 1, action: link, between: [r/a, r/z]}", 33, "unknown region or zone 'r/z'"),
        ("{at: 1, action: crash, service: back, mode: hang}", 33, "closed"),
    ],
)
def test_timeline_errors_name_the_line(entry: str, line: int, message: str) -> None:
    text = BASE.format(timeline=f"  - {entry}")
    assert text.splitlines()[line - 1].strip().startswith("- {at: 1")
    with pytest.raises(ScenarioError) as err:
        scenario(text, "t.yaml")
    assert f"t.yaml:{line}" in str(err.value) and message in str(err.value)
