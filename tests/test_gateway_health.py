"""The L4 load balancer's health checks of the gateway replicas (exact, tiny worlds).

The world: the edge calls ``front`` (one instance, 1 ms of work) through two gateway
replicas; one request every 10 ms; every hop free, no TLS. The balancer probes both
replicas at t = k × 1 s (probe timeout 0.5 s); a replica leaves the rotation after 3
failures in a row and rejoins after 2 successes in a row. Each action happens at x.0005 s,
between two requests. With a replica stopped at 2.0005 s, the first probe at or after the
stop is at 3 s, so it leaves at 3 + (3 − 1) × 1 = 5 s (refused: the probe fails at once)
or at 5 + 0.5 = 5.5 s (hung: the probe fails after its timeout).
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.scenario import ScenarioError
from tests.helpers import scenario
from tests.test_faults_world import World, world

STOP = 2.0005
HC = "interval: 1, timeout: 0.5, unhealthy_threshold: 3, healthy_threshold: 2"
BASE = """
name: lb
run: {{duration: 20, warmup: 0}}
placement:
  regions: [{{name: r, zones: [a]}}]
  network: {{same_host_rtt: 0, same_zone_rtt: 0, cross_zone_rtt: 0, bandwidth: 1e30}}
services:
  front:
    instances: 1
    operations:
      op: {{demand: {{dist: constant, value: 1ms}}, request_bytes: 0, response_bytes: 0}}
workload:
  arrivals: {{kind: constant, rate: 100}}
  clients: 1
  flows: [{{name: f, service: front, operation: op}}]
http:
  gateway:
    replicas: 2
    cpu_per_request: 0
    config_cpu: 0
    health_check: {{{hc}}}
  sidecar: {{cpu_per_request: 0, io: null, config_cpu: 0}}
  stack: {{io: null}}
  tls: {{version: none}}
  control_plane: {{cpu_per_push: 0}}
  discovery: {{cpu_per_watch_event: 0}}
timeline:
{timeline}
"""


def _run(timeline: str, until: float, hc: str = "") -> tuple[World, list[tuple[float, str]]]:
    """The world run to `until`, and every pick of the balancer: (time, replica)."""
    text = BASE.format(timeline=timeline or "  []", hc=HC + hc)
    w = world(scenario(text), "http")
    tier = w.t.gateways
    picks: list[tuple[float, str]] = []
    choose = tier.pick

    def pick() -> Any:
        gw = choose()
        picks.append((w.env.now, gw.name))
        return gw

    tier.pick = pick
    return w.run(until), picks


def _marks(w: World) -> list[tuple[float, str, str]]:
    return [(r[0], r[1], r[2]) for r in w.t.log if r[1] in ("healthy", "unhealthy")]


def _stop(index: int, mode: str, at: float = STOP, duration: float | None = None) -> str:
    d = "" if duration is None else f", duration: {duration}"
    return f"  - {{at: {at}, action: stop, component: gateway, index: {index}, mode: {mode}{d}}}\n"


@pytest.mark.parametrize(("mode", "left"), [("closed", 5.0), ("silent", 5.5)])
def test_a_stopped_replica_leaves_the_rotation_after_the_failed_probes(
    mode: str, left: float
) -> None:
    w, picks = _run(_stop(0, mode), 9.0)
    assert _marks(w) == [(left, "unhealthy", "gateway-0")]
    tier = w.t.gateways
    assert [g.name for g in tier.rotation] == ["gateway-1"]
    # until that instant the round robin still hands gateway-0 every other request …
    before = [n for t, n in picks if STOP < t <= left]
    assert before.count("gateway-0") == len(before) // 2 and before.count("gateway-0") > 0
    # … and from then on only gateway-1, and every request sent after it succeeds
    after = [n for t, n in picks if t > left]
    assert len(after) > 300 and set(after) == {"gateway-1"}
    req = w.requests()
    later = req[req["start"] > left]  # all completed but the one sent just before 9 s
    assert len(later) == len(after) - 1 and (later["status"] == "ok").all()
    if mode == "closed":  # refused at once: the last failure is the last pick of gateway-0
        bad = req[req["status"] != "ok"]
        last = max(t for t, n in picks if n == "gateway-0")
        assert set(bad["status"]) == {"connect_failure"} and bad["start"].max() == last
        assert last <= left


@pytest.mark.parametrize(("mode", "left"), [("closed", 5.0), ("silent", 5.5)])
def test_the_stop_is_detected_when_the_balancer_marks_it_unhealthy(mode: str, left: float) -> None:
    w, _ = _run(_stop(0, mode), 9.0)
    (d,) = w.events("detection")
    assert d["t"] == left and d["after"] == left - STOP and d["converged"] == left
    assert d["label"] == "detected: gateway-0 unhealthy"


def test_a_restarted_replica_rejoins_after_healthy_threshold_probes() -> None:
    """Back at 7.0005: probes at 8 and 9 succeed, so it is in rotation again from 9 s."""
    w, picks = _run(_stop(0, "closed", duration=5), 12.0)
    assert _marks(w) == [(5.0, "unhealthy", "gateway-0"), (9.0, "healthy", "gateway-0")]
    assert {n for t, n in picks if 5.0 < t <= 9.0} == {"gateway-1"}
    after = [n for t, n in picks if t > 9.0]
    assert after.count("gateway-0") in (len(after) // 2, (len(after) + 1) // 2)
    assert after.count("gateway-0") > 0
    req = w.requests()
    assert (req[req["start"] > 5.0]["status"] == "ok").all()


def test_a_replica_back_before_it_is_marked_never_leaves() -> None:
    """Stopped 2.0005–3.5005: the probe at 3 fails, the one at 4 passes (no 3 in a row)."""
    w, picks = _run(_stop(0, "closed", duration=1.5), 8.0)
    assert _marks(w) == []
    assert {n for t, n in picks if t > 3.5005} == {"gateway-0", "gateway-1"}


def test_the_balancer_fails_open_when_every_replica_is_unhealthy() -> None:
    """gateway-1 stops at 3.0005 (first failed probe 4, unhealthy at 6): from then on none
    is healthy and the balancer sends to both again (AWS NLB fail open); gateway-0 is back
    at 8.0005 and healthy at 10 (probes 9, 10), then alone in the rotation."""
    w, picks = _run(_stop(0, "closed", duration=6) + _stop(1, "closed", at=3.0005), 12.0)
    assert _marks(w) == [
        (5.0, "unhealthy", "gateway-0"),
        (6.0, "unhealthy", "gateway-1"),
        (10.0, "healthy", "gateway-0"),
    ]
    assert {n for t, n in picks if 5.0 < t <= 6.0} == {"gateway-1"}
    open_ = [n for t, n in picks if 6.0 < t <= 10.0]
    assert open_.count("gateway-0") in (len(open_) // 2, (len(open_) + 1) // 2)
    assert {n for t, n in picks if t > 10.0} == {"gateway-0"}
    req = w.requests()
    assert (req[req["start"] > 10.0]["status"] == "ok").all()
    assert (req[(req["start"] > 8.0005) & (req["start"] <= 10.0)]["status"] != "ok").any()


def test_without_a_gateway_fault_the_probes_change_nothing() -> None:
    """The same run with and without health checks: the same requests, to the ulp."""
    on, picks_on = _run("", 6.0)
    off, picks_off = _run("", 6.0, hc=", enabled: false")
    assert on.t.gateways.probes == 2 * 6  # probes at 0, 1, …, 5 (6.0 is not run)
    assert off.t.gateways.probes == 0
    assert picks_on == picks_off
    assert on.requests().equals(off.requests())
    assert on.app.recorder.rows == off.app.recorder.rows


def test_with_health_checks_off_a_stopped_replica_keeps_its_share() -> None:
    w, picks = _run(_stop(0, "closed"), 8.0, hc=", enabled: false")
    assert _marks(w) == [] and w.events("detection") == []
    after = [n for t, n in picks if t > STOP]
    assert after.count("gateway-0") == len(after) // 2


def test_the_defaults_are_an_aws_nlb_tcp_target_group() -> None:
    hc = scenario(BASE.format(timeline="  []", hc="")).http.gateway.health_check
    assert (hc.enabled, hc.interval, hc.timeout) == (True, 30.0, 10.0)
    assert (hc.unhealthy_threshold, hc.healthy_threshold) == (2, 5)


@pytest.mark.parametrize(
    ("hc", "message"),
    [
        ("interval: 1, timeout: 1", "timeout must be less than health_check.interval"),
        ("timeout: 40", "timeout must be less than health_check.interval"),
        ("unhealthy_threshold: 0", "greater than or equal to 1"),
    ],
)
def test_bad_health_check_settings_name_the_line(hc: str, message: str) -> None:
    text = BASE.format(timeline="  []", hc=hc)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "health_check:" in s)
    with pytest.raises(ScenarioError) as err:
        scenario(text, "t.yaml")
    assert f"t.yaml:{line}" in str(err.value) and message in str(err.value)
