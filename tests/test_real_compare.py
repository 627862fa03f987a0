"""Verdicts, tables, plot and profile files of sim calibrate / sim validate --real (no servers)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.cli import main
from sim.real.calibrate import Calibration, profile, with_io, write_profile
from sim.real.cases import Case, grid, predict, scenario
from sim.real.compare import Row, load_profile, table_csv, table_md, write
from sim.real.fit import Fit
from sim.real.measure import Loopback, Measurement, OwnWake
from sim.real.procstat import Window
from sim.real.transit import Transit

MACHINE = {"cores": 2.0, "other_cores_mean": 0.1, "other_cores_max": 0.2, "loadavg_max": 0.3,
           "loopback_rtt": 30e-6, "loopback_rtt_after_sleep": 110e-6, "cold_latency": 40e-6,
           "idle_latency": 20e-6, "lateness_median": 0.6e-3}  # fmt: skip
# 40 µs per wake-up from idle, 20 after a brief sleep (around a ring of 3: 3 hops of 15 µs
# and 20 µs of wait each); the wait to wake grows from none at 1 ms asleep to all 40 µs at
# 5 ms (round trips 30 + 2 × the wait)
NET = Loopback(
    30e-6,
    110e-6,
    105e-6,
    ramp=((1e-3, 30e-6), (1.5e-3, 40e-6), (2e-3, 50e-6), (3e-3, 70e-6), (5e-3, 110e-6),
          (7e-3, 110e-6)),
)  # fmt: skip


def row(metric: str, measured: float, predicted: float, judged: bool = True) -> Row:
    return Row("reqreply@200", "broker", metric, measured, predicted, 0.1, judged)


@pytest.mark.parametrize(
    ("metric", "measured", "predicted", "passed"),
    [
        ("p50 latency", 1e-3, 1.19e-3, True),
        ("p50 latency", 1e-3, 0.79e-3, False),
        ("CPU per request", 100e-6, 129e-6, True),
        ("CPU per request", 100e-6, 131e-6, False),
        ("RSS", 100.0, 81.0, True),
        ("connections", 4.0, 4.0, True),
        ("connections", 4.0, 5.0, False),
    ],
)
def test_verdict_targets(metric: str, measured: float, predicted: float, passed: bool) -> None:
    r = row(metric, measured, predicted)
    assert r.passed is passed
    assert r.verdict == ("pass" if passed else "FAIL")


def test_busy_machine_is_not_judged() -> None:
    r = Row("x", "broker", "RSS", 1.0, 1.0, 1.7, judged=False)
    assert r.verdict.startswith("not judged: other load 1.70 cores")


def test_tables_and_plot_are_written(tmp_path: Path) -> None:
    rows = [row("p50 latency", 1e-3, 1.1e-3), row("CPU per request", 1e-4, 2e-4),
            row("RSS", 15e6, 14e6, judged=False), row("connections", 4, 4)]  # fmt: skip
    write(tmp_path / "out", rows, MACHINE, None)
    md = (tmp_path / "out" / "table.md").read_text()
    assert "| reqreply@200 | broker | CPU per request | 100 µs | 200 µs | 2.00 | FAIL |" in md
    assert "Judged 3 of 4 rows; passed 2" in md
    assert table_csv(rows).splitlines()[0].startswith("case,server,metric,measured,predicted")
    assert (tmp_path / "out" / "measured-vs-predicted.png").stat().st_size > 1000
    assert "other work during the measurements 0.10 cores" in table_md(rows, MACHINE, None)
    ramped = table_md(
        rows, MACHINE | {"cold_latency_after": 1e-3, "cold_latency_full_after": 5e-3}, None
    )
    assert (
        "each wake-up from idle waits 40 µs, less after a shorter sleep: none up to 1 ms asleep, "
        "growing in a straight line to all of it at 5 ms (fitted to round trips at 8 spacings)"
    ) in ramped


def test_profile_round_trip_and_application(tmp_path: Path) -> None:
    fits = {
        "broker": Fit(
            values={"wakeup": 20e-6, "cold_wakeup": 90e-6, "per_message": 7e-6,
                    "per_byte": 1e-9, "tls_per_record": 5e-6, "tls_per_byte": 2e-9},
            identified={"wakeup": True, "cold_wakeup": True, "per_message": False,
                        "per_byte": True, "tls_per_record": True, "tls_per_byte": True},
            r2=0.95, residuals=[0.1, -0.1],
        )
    }  # fmt: skip
    cal = Calibration([], fits=fits, warm_window={"broker": 1e-3}, net=NET,
                      memory={"broker": 15 << 20, "broker_per_connection": 50_000},
                      versions={"nats-server": "2.15.1"})  # fmt: skip
    window = Window(seconds=2.0, cores=2, machine_busy=0.5, steal=0.0, loadavg=0.2)
    cal.measurements = [
        Measurement(Case("reqreply", r), 2.0, 400, 400, np.full(400, 1e-3), 0.05, 16 << 20,
                    15 << 20, 4, 0, window, 0.1, 0.02)
        for r in (100, 800)
    ]  # fmt: skip
    data = profile(cal)
    # the machine as measured: its round trips by spacing, and the speed probe
    assert data["machine"]["loopback_rtt_by_gap"]["5 ms"] == pytest.approx(110e-6)
    assert "loopback_sender_cpu" not in data["machine"]  # NET measured none
    probed = profile(Calibration(cal.measurements, fits, {"broker": 1e-3}, cal.memory,
                                 cal.versions, net=replace(NET, sender_cpu=26e-6)))  # fmt: skip
    assert probed["machine"]["loopback_sender_cpu"] == pytest.approx(26e-6)
    # a server measured on itself gives its own wait and its deep-sleep CPU
    own = {"broker": OwnWake(cold_latency=90e-6, deep_wakeup=70e-6, warm_cpu=95e-6,
                             cold_cpu=165e-6)}  # fmt: skip
    mine = profile(replace(cal, own=own))["values"]
    assert mine["messaging.broker.io.cold_latency"]["value"] == pytest.approx(90e-6)
    assert mine["messaging.broker.io.deep_wakeup"]["value"] == pytest.approx(70e-6)
    assert (
        "95 µs 0.5 ms apart, 165 µs 10 ms apart"
        in (mine["messaging.broker.io.deep_wakeup"]["source"])
    )
    assert "messaging.broker.io.deep_wakeup" not in data["values"]  # not measured: cited
    # and what a message through it took beyond a direct hop, less what the model charges
    through = {"broker": replace(own["broker"], transit=Transit(120e-6, 40e-6))}
    handed = profile(replace(cal, own=through, handoff={"broker": 25e-6}))["values"]
    assert handed["messaging.broker.io.handoff_latency"]["value"] == pytest.approx(25e-6)
    assert (
        "through the server (120 µs) against directly (40 µs)"
        in (handed["messaging.broker.io.handoff_latency"]["source"])
    )
    assert "messaging.broker.io.handoff_latency" not in mine  # no transit measured
    path = tmp_path / "p.yaml"
    write_profile(path, data)
    loaded = load_profile(path)
    assert loaded.versions == {"nats-server": "2.15.1"}
    assert loaded.machine["cores"] >= 1
    values = yaml.safe_load(path.read_text())["values"]
    assert values["messaging.broker.io.wakeup"]["value"] == pytest.approx(20e-6)
    assert (
        "per_message kept at the scenario defaults"
        in values["messaging.broker.io.wakeup"]["source"]
    )
    assert "messaging.broker.io.per_message" not in values  # not measured: default stays
    assert values["messaging.broker.memory"]["value"] == 15 << 20
    # 400 requests in 2 s, 2 messages read each (request, reply): 1 MiB more at 400 msg/s
    per_rate = values["messaging.broker.memory_per_message_rate"]
    assert per_rate["value"] == pytest.approx((1 << 20) / 400)
    assert "(1.0 to 1.0 MiB) against messages read per second" in per_rate["source"]
    assert "reqreply, 100-800 rps, fit R^2 0.95" in values["messaging.broker.io.wakeup"]["source"]
    case = Case("reqreply", 100)
    sc = scenario(case, 20e-6, NET, 1.0, loaded)
    assert sc["messaging"]["broker"]["io"]["wakeup"] == pytest.approx(20e-6)
    assert sc["messaging"]["broker"]["servers"] == 1
    # the machine's measured wake-up waits win over any profile's
    assert sc["messaging"]["broker"]["io"]["cold_latency"] == pytest.approx(40e-6)
    assert sc["messaging"]["broker"]["io"]["idle_latency"] == pytest.approx(20e-6)
    # the peers' CPU is their measured demand: their io costs nothing, only the waits to wake
    peer = sc["messaging"]["client"]["io"]
    assert (peer["cold_latency"], peer["idle_latency"]) == pytest.approx((40e-6, 20e-6))
    # ... and how that wait grows with the sleep, the machine's for the server and the peers
    ramp = (peer["cold_latency_after"], peer["cold_latency_full_after"])
    assert ramp == pytest.approx((1e-3, 5e-3))
    server = sc["messaging"]["broker"]["io"]
    assert (server["cold_latency_after"], server["cold_latency_full_after"]) == ramp
    waits = ("cold_latency", "idle_latency", "cold_latency_after", "cold_latency_full_after")
    assert not any(v for k, v in peer.items() if k not in waits)
    for field, value in zip(waits[2:], ramp, strict=True):
        fitted = values[f"http.sidecar.io.{field}"]
        assert fitted["value"] == pytest.approx(value)
        assert (
            "0.5, 1, 1.5, 2, 3, 5, 7, 10 ms apart (0, 0, 5, 10, 20, 40, 40, 40 µs"
            in (fitted["source"])
        )
    # the profile carries both waits, each citing the round trips it came from
    brief = values["messaging.broker.io.idle_latency"]
    assert (
        brief["value"] == pytest.approx(20e-6)
        and "around a ring of 3 processes 105 µs 0.5 ms apart against 30 µs between two"
        in brief["source"]
    )
    assert values["http.gateway.io.idle_latency"]["value"] == pytest.approx(20e-6)


def test_case_scenarios_load_and_io_lands_in_the_right_section() -> None:
    from sim.api import scenario_from_dict

    for case in grid((100.0,), big=True):
        sc = scenario_from_dict(scenario(case, 10e-6, NET, 1.0))
        assert sc.services["svc"].instances == case.responders
    sc2 = with_io(scenario(Case("proxy", 100, responders=1), 0, NET, 1.0), "gateway",
                  {"wakeup": 1e-5})  # fmt: skip
    assert scenario_from_dict(sc2).http.gateway.io.wakeup == pytest.approx(1e-5)


def test_cli_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--real", "--calibration", str(tmp_path / "none.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]
    assert main(["calibrate", "--rates", "-5", "--out", str(tmp_path / "p.yaml")]) == 2
    assert main(["calibrate", "--out", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2


def test_malformed_profile_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: 2\nname: x\n")
    assert main(["validate", "--real", "--calibration", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"sim validate: --calibration {bad}:")


def test_profile_yaml_is_plain_data(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    write_profile(path, {"profile": 1, "name": "x", "values": {}})
    assert yaml.safe_load(path.read_text())["profile"] == 1


@pytest.mark.parametrize("name", ["default.yaml", "measured.yaml"])
def test_shipped_profiles_state_their_origin_and_apply(name: str) -> None:
    from sim.api import scenario_from_dict
    from sim.calibration import DEFAULT_PROFILE

    data = load_profile(DEFAULT_PROFILE.with_name(name))
    assert {"cpu", "cores", "kernel", "virtualised"} <= set(data.machine)
    assert data.versions["nats-server"]
    if name == "measured.yaml":  # written by sim calibrate: every value measured here
        assert all(v.source.startswith("measured: sim calibrate") for v in data.values.values())
    for case in (Case("reqreply", 100, tls=True), Case("proxy", 100, responders=1)):
        sc = scenario_from_dict(scenario(case, 10e-6, NET, 1.0, data))
        assert sc.messaging.broker.memory == data.values["messaging.broker.memory"].value


def test_validate_checks_haproxy_with_its_own_profile_and_envoy_with_the_defaults() -> None:
    from sim.api import scenario_from_dict
    from sim.calibration import DEFAULT_PROFILE, PROXY_PROFILES
    from sim.real.compare import profiles_for

    mine = Path("/tmp/mine.yaml")
    assert profiles_for(None, "haproxy") == {
        "broker": DEFAULT_PROFILE,
        "gateway": PROXY_PROFILES["haproxy"],
    }
    assert profiles_for(None, "envoy") == {"broker": DEFAULT_PROFILE, "gateway": DEFAULT_PROFILE}
    assert profiles_for(mine, "haproxy") == {"broker": mine, "gateway": mine}  # the user's wins
    data = load_profile(PROXY_PROFILES["haproxy"])
    assert data.versions["haproxy"] and {"cpu", "cores"} <= set(data.machine)
    gw = scenario_from_dict(scenario(Case("proxy", 100, responders=1), 0.0, NET, 1.0, data))
    gw_cfg = gw.http.gateway
    assert gw_cfg.pools_per_worker is False  # haproxy shares idle connections between threads
    assert gw_cfg.memory == data.values["http.gateway.memory"].value
    assert gw_cfg.io is not None and gw_cfg.io.cold_latency == pytest.approx(NET.cold_latency)


def test_the_table_says_how_far_the_machine_itself_moved_during_the_run() -> None:
    rows = [row("p50 latency", 1e-3, 1e-3)]
    calm = MACHINE | {"repeat_cpu": 1.05, "repeat_p50": 0.9, "loopback_rtt_end": 32e-6}
    text = table_md(rows, calm, None)
    assert "reqreply@200 measured again at the end gave CPU per request ×1.05 and p50 ×0.90" in text
    assert "loopback round trip 30 → 32 µs: within the targets." in text
    moved = table_md(rows, calm | {"repeat_cpu": 1.6, "repeat_p50": 1.3}, None)
    assert "moved by more than the target for CPU per request and p50 latency:" in moved
    assert "Repeatability" not in table_md(rows, MACHINE, None)  # one case: nothing repeated


def test_the_repeat_at_the_end_compares_the_first_case_with_itself(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sim.real.compare as compare
    from sim.real.servers import ServerError

    window = Window(seconds=2.0, cores=2, machine_busy=0.5, steal=0.0, loadavg=0.2)

    def taken(cpu: float, p50: float) -> Measurement:
        return Measurement(Case("reqreply", 100), 2.0, 200, 200, np.full(200, p50), cpu,
                           16 << 20, 15 << 20, 4, 0, window, 0.1, 0.02)  # fmt: skip

    first, said = taken(0.04, 1e-3), []
    monkeypatch.setattr(compare, "measure", lambda case, duration, d: taken(0.06, 1.1e-3))
    monkeypatch.setattr(compare, "loopback", lambda: Loopback(35e-6, 120e-6, 70e-6))
    moved = compare.repeat(first, 2.0, said.append)
    assert moved["repeat_cpu"] == pytest.approx(1.5) and moved["repeat_p50"] == pytest.approx(1.1)
    assert moved["loopback_rtt_end"] == pytest.approx(35e-6)

    def fails(case, duration, d):  # type: ignore[no-untyped-def]
        raise ServerError("nats-server did not start")

    monkeypatch.setattr(compare, "measure", fails)
    assert compare.repeat(first, 2.0, said.append) == {}  # the run's verdicts stand
    assert "could not be measured again at the end: nats-server did not start" in said[-1]


def test_a_proxy_case_is_measured_again_for_its_pool_and_the_header_says_if_it_repeated(
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    import sim.real.compare as compare

    window = Window(seconds=2.0, cores=2, machine_busy=0.5, steal=0.0, loadavg=0.2)

    def taken(conns: int) -> Measurement:
        return Measurement(Case("proxy", 800, responders=1), 2.0, 200, 200, np.full(200, 2e-4),
                           0.02, 15 << 20, 14 << 20, conns, 0, window, 0.1, 0.02)  # fmt: skip

    said: list[str] = []
    monkeypatch.setattr(compare, "measure", lambda case, duration, d: taken(15))
    again = compare.repeat_pool(taken(13), 2.0, said.append)
    assert again == {"pool_connections": 13.0, "pool_again": 15.0}
    assert said[-1] == "proxy@800 again at the end: 13 → 15 connections"
    rows = [row("connections", 4, 4), Row("proxy@800", "gateway", "connections", 13, 12, 0.1, True)]
    text = table_md(rows, MACHINE | again, None)
    assert (
        "proxy@800 measured again held 13 → 15 connections at most, the real count itself " in text
    )
    same = table_md(rows, MACHINE | {"pool_connections": 13.0, "pool_again": 13.0}, None)
    assert "held 13 → 13 connections at most, the same count." in same
    assert "record peak" not in table_md(rows, MACHINE, None)  # no proxy case repeated


def test_the_p99_is_shown_beside_the_judged_metrics_with_no_target() -> None:
    tail = Row("reqreply@200", "broker", "p99 latency", 2e-3, 0.5e-3, 0.1, False)
    assert tail.verdict == "shown, no target" and tail.passed  # a 4× miss fails nothing
    text = table_md([row("p50 latency", 1e-3, 1e-3), tail], MACHINE, None)
    assert "Judged 1 of 1 rows; passed 1." in text
    assert (
        "| reqreply@200 | broker | p99 latency | 2 ms | 0.5 ms | 0.25 | shown, no target |" in text
    )


def test_each_case_s_progress_line_counts_its_judged_rows() -> None:
    from sim.real.compare import verdicts

    rows = [row("p50 latency", 1e-3, 1e-3), row("connections", 13, 12)]
    tail = Row("reqreply@200", "broker", "p99 latency", 2e-3, 0.5e-3, 0.1, False)
    assert verdicts([*rows, tail]) == "1 of 2 pass"  # a failed row is not hidden by a passed one
    busy = [row("p50 latency", 1e-3, 1e-3, judged=False)]
    assert verdicts(busy) == "not judged: other load 0.10 cores"


def test_what_the_machine_moved_is_not_judged_as_on_a_busy_machine() -> None:
    from sim.real.compare import unjudged

    pool = Row("proxy@800", "gateway", "connections", 13, 12, 0.1, True)
    rows = [row("p50 latency", 1e-3, 0.7e-3), row("CPU per request", 1e-4, 0.6e-4), pool]
    calm = MACHINE | {"repeat_cpu": 1.05, "repeat_p50": 0.9, "loopback_rtt_end": 32e-6}
    assert unjudged(rows, calm) == rows  # a machine that repeated itself: every row judged
    cpu_moved = unjudged(rows, calm | {"repeat_cpu": 1.64})
    assert [r.judged for r in cpu_moved] == [True, False, True]
    assert cpu_moved[1].verdict == "not judged: the machine moved ×1.64 (first case again)"
    assert cpu_moved[0].verdict == "FAIL"  # the p50 repeated within its target: still judged
    again = unjudged(rows, calm | {"pool_connections": 13.0, "pool_again": 15.0})
    assert again[2].verdict == "not judged: the real pool moved (13 → 15 connections again)"
    assert again[:2] == rows[:2]
    text = table_md(cpu_moved, calm | {"repeat_cpu": 1.64}, None)
    assert "Judged 2 of 3 rows; passed 0." in text
    assert "moved by more than the target for CPU per request: those rows are not judged" in text


def test_the_hops_carry_only_the_load_process_s_own_cpu_of_the_loopback_round_trip() -> None:
    # a 60 µs round trip of which the sending end spent 40 µs of CPU: the four one-way hops of
    # a request carry those 40 µs, 20 µs per round trip; the servers' and peers' CPU is charged
    # by the simulator itself
    net = Loopback(60e-6, 160e-6, 150e-6, sender_cpu=40e-6)
    assert net.hop_rtt == pytest.approx(20e-6)
    sc = scenario(Case("reqreply", 200), 50e-6, net, 2.0)
    assert sc["placement"]["network"]["same_zone_rtt"] == f"{20e-6}s"
    assert Loopback(60e-6, 160e-6).hop_rtt == 60e-6  # not measured: the whole round trip
    assert Loopback(10e-6, 160e-6, sender_cpu=40e-6).hop_rtt == 10e-6  # never more than it
    # the waits of a wake-up are differences of round trips: unchanged
    assert net.cold_latency == pytest.approx(50e-6) and net.idle_latency == pytest.approx(20e-6)


def test_the_server_waits_its_own_time_to_wake_and_the_peers_the_loopback_s() -> None:
    sc = scenario(Case("reqreply", 200), 50e-6, NET, 2.0, server_cold=120e-6)
    assert sc["messaging"]["broker"]["io"]["cold_latency"] == 120e-6
    assert sc["messaging"]["client"]["io"]["cold_latency"] == pytest.approx(NET.cold_latency)
    assert sc["messaging"]["broker"]["io"]["idle_latency"] == pytest.approx(NET.idle_latency)
    gw = scenario(Case("proxy", 200, responders=1), 50e-6, NET, 2.0, server_cold=100e-6)
    assert gw["http"]["gateway"]["io"]["cold_latency"] == 100e-6
    assert gw["http"]["stack"]["io"]["cold_latency"] == pytest.approx(NET.cold_latency)
    plain = scenario(Case("reqreply", 200), 50e-6, NET, 2.0)  # not measured: the loopback's
    assert plain["messaging"]["broker"]["io"]["cold_latency"] == pytest.approx(NET.cold_latency)
    text = table_md([row("p50 latency", 1e-3, 1e-3)], MACHINE | {"own_cold_broker": 120e-6}, None)
    assert "(a Python process; measured on each server itself: the broker's 120 µs)" in text


def test_rounds_are_judged_by_their_medians_and_a_busy_round_is_left_out() -> None:
    from sim.real.compare import combine

    def round_of(p50: float, cpu: float, other: float, rtt: float) -> tuple[list[Row], dict]:
        rows = [Row("reqreply@200", "broker", "p50 latency", p50, 1e-3, other, True),
                Row("reqreply@200", "broker", "CPU per request", cpu, 100e-6, other, True),
                Row("reqreply@200", "broker", "p99 latency", 3 * p50, 1e-3, other, False)]  # fmt: skip
        return rows, MACHINE | {"loopback_rtt": rtt, "other_cores_max": other}

    # three quiet rounds in a slow, a fast and a middle phase: the middle one's figures are judged
    rows, machine = combine([round_of(1.3e-3, 140e-6, 0.1, 40e-6),
                             round_of(0.8e-3, 90e-6, 0.1, 25e-6),
                             round_of(1.0e-3, 105e-6, 0.2, 30e-6)])  # fmt: skip
    assert [r.measured for r in rows] == [1.0e-3, 105e-6, 3.0e-3]
    assert [r.verdict for r in rows] == ["pass", "pass", "shown, no target"]
    assert rows[0].spread == pytest.approx(1.3 / 0.8) and rows[1].spread == pytest.approx(140 / 90)
    assert machine["rounds"] == 3 and machine["loopback_rtt"] == 30e-6
    assert (machine["loopback_rtt_min"], machine["loopback_rtt_max"]) == (25e-6, 40e-6)
    text = table_md(rows, machine, None)
    assert "measured in 3 interleaved rounds" in text and "up to ×1.62 in p50" in text
    assert "| 1.00 | pass | 0.00 | ×1.62 |" in text
    # a round on a busy machine (other load above a quarter of the cores) is left out of the
    # median; busy in every round: not judged, with the worst figure
    rows, _ = combine([round_of(5e-3, 400e-6, 1.5, 30e-6),
                       round_of(1.0e-3, 100e-6, 0.1, 30e-6),
                       round_of(1.1e-3, 110e-6, 0.1, 30e-6)])  # fmt: skip
    assert rows[0].measured == pytest.approx(1.05e-3) and rows[0].judged
    rows, _ = combine([round_of(5e-3, 400e-6, 1.5, 30e-6), round_of(4e-3, 300e-6, 0.9, 30e-6)])
    assert rows[0].verdict == "not judged: other load in every round, up to 1.50 cores"
    assert table_md(rows, MACHINE, None).count("| — |") == 3  # one round: no spread shown


def test_a_figure_one_round_did_not_measure_is_the_median_of_those_that_did() -> None:
    from sim.real.compare import combine

    rows = [Row("reqreply@200", "broker", "p50 latency", 1e-3, 1e-3, 0.1, True)]
    # the broker's own probes broke in the first round; the later rounds measured them
    first = MACHINE | {"loopback_rtt": 30e-6, "own_transit_gateway": 60e-6}
    later = first | {"own_transit_broker": 90e-6, "own_cold_broker": 80e-6}
    _, machine = combine([(rows, first), (rows, later), (rows, later | {"own_cold_broker": 60e-6})])
    assert machine["own_transit_broker"] == pytest.approx(90e-6)
    assert machine["own_cold_broker"] == pytest.approx(70e-6)
    assert machine["own_transit_gateway"] == pytest.approx(60e-6)
    assert "by the broker's 90 µs, the gateway's 60 µs" in table_md(rows, machine, None)


def test_validate_real_runs_its_rounds_interleaved(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sim.real.compare as compare

    order: list[str] = []
    window = Window(seconds=2.0, cores=2, machine_busy=0.5, steal=0.0, loadavg=0.2)

    def measured(case: Case, duration: float, d: Path) -> Measurement:
        order.append(case.name)
        return Measurement(case, 2.0, 200, 200, np.full(200, 2e-4), 0.02, 15 << 20, 14 << 20, 4,
                           0, window, 0.1, 0.02)  # fmt: skip

    monkeypatch.setattr(compare, "measure", measured)
    monkeypatch.setattr(compare, "loopback", lambda: NET)
    monkeypatch.setattr(compare, "own_waits", lambda servers, net: dict.fromkeys(servers))
    monkeypatch.setattr(compare, "rows_for", lambda m, *a: [row("p50 latency", m.p50, 2e-4)])
    said: list[str] = []
    cases = [Case("reqreply", 100), Case("reqreply", 200)]
    rows, machine = compare.run(cases, 2.0, {"broker": Path("p.yaml")}, said.append, rounds=3)
    assert order == ["reqreply@100", "reqreply@200"] * 3  # every case once per round, no repeat
    assert [s for s in said if s.startswith("round")] == ["round 1 of 3", "round 2 of 3",
                                                         "round 3 of 3"]  # fmt: skip
    assert len(rows) == 2 and machine["rounds"] == 3 and "repeat_cpu" not in machine


def test_rounds_must_be_at_least_one(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["validate", "--real", "--rounds", "0"]) == 2
    assert "--rounds 0: must be 1 or more" in capsys.readouterr().err


def test_the_wait_to_wake_is_fitted_as_a_straight_line_between_two_idle_times() -> None:
    from sim.real.measure import fit_ramp

    # a ramp from 2 to 6 ms, sampled where the measurement does
    gaps = [0.5e-3, 1e-3, 1.5e-3, 2e-3, 3e-3, 5e-3, 7e-3, 10e-3]
    waits = [(g, 60e-6 * min(1.0, max(0.0, (g - 2e-3) / 4e-3))) for g in gaps]
    assert fit_ramp(waits, 60e-6) == pytest.approx((2e-3, 6e-3))
    # a step at 3 ms: no gap measured between 2 and 3 ms, so anything there that rises
    # from none at 2 ms to all of it at 3 ms fits it exactly
    step = [(g, 60e-6 if g >= 3e-3 else 0.0) for g in gaps]
    a, f = fit_ramp(step, 60e-6)
    assert 2e-3 <= a <= f <= 3e-3
    # noise moves the ends a little, not the shape: a ramp from 1 to 10 ms with ±3 µs
    noisy = [(g, 60e-6 * min(1.0, max(0.0, (g - 1e-3) / 9e-3)) + e) for g, e in zip(
        gaps, (3e-6, -3e-6, 3e-6, -3e-6, 3e-6, -3e-6, 3e-6, 0.0), strict=True)]  # fmt: skip
    a, f = fit_ramp(noisy, 60e-6)
    assert 0.5e-3 <= a <= 1.5e-3 and 9e-3 <= f <= 10e-3
    # not measured: the scenario's defaults
    assert Loopback(30e-6, 110e-6).wake_ramp == (0.75e-3, 9e-3)


def test_the_table_compares_the_loopback_with_the_profiles_own(tmp_path: Path) -> None:
    from sim.real.compare import DEFAULT_PROFILE, PROXY_PROFILES

    profiles = {"broker": DEFAULT_PROFILE, "gateway": PROXY_PROFILES["haproxy"]}
    text = table_md(
        [row("p50 latency", 1e-3, 1e-3)], MACHINE | {"loopback_rtt": 109.2e-6}, profiles
    )
    # both record 54.6 µs (one sim calibrate)
    assert (
        "The loopback round trip when the profiles were measured: `default.yaml` 55 µs (this "
        "run's ×2.00), `haproxy.yaml` 55 µs (this run's ×2.00)."
    ) in text
    # a profile that records none says nothing
    bare = tmp_path / "bare.yaml"
    bare.write_text(
        "profile: 1\nname: b\nmeasured: '2026-01-01'\nvalues:\n  http.gateway.memory:\n"
        "    value: 1\n    source: s\n",
        encoding="utf-8",
    )
    assert "when the profiles were measured" not in table_md([], MACHINE, {"broker": bare})


def test_the_real_sends_are_replayed_after_an_idle_warm_up() -> None:
    from sim.real.cases import WARMUP

    case = Case("proxy", 800, responders=1)
    sends = np.array([0.0, 0.0, 0.0011, 0.9, 1.2])  # a burst, then two beyond a 1 s run
    arrivals = scenario(case, 20e-6, NET, 1.0, sends=sends)["workload"]["arrivals"]
    assert arrivals == {"kind": "replay", "times": [WARMUP, WARMUP, WARMUP + 0.0011, WARMUP + 0.9]}
    assert scenario(case, 20e-6, NET, 1.0)["workload"]["arrivals"] == {
        "kind": "poisson",
        "rate": 800,
    }


def test_the_simulated_load_holds_the_real_load_s_connections_and_no_more() -> None:
    # bursts of 12 sends at once, more than the 8 connections the real load processes keep
    # (2 processes × 4): the rest wait for one, as in sim.real.load.http_requester, so the
    # proxy holds those 8 and at most 8 to its backend
    case = Case("proxy", 2000, responders=1)
    sends = np.repeat(np.arange(0.0, 0.2, 5e-3), 12)
    sc = scenario(case, 50e-6, NET, 0.3, sends=sends)
    assert sc["http"]["client_max_connections"] == 1 and sc["workload"]["clients"] == 8
    assert predict(sc, case).server["connections_peak"] == 16
    sc["http"]["client_max_connections"] = 2  # a load that may open more: the proxy holds more
    assert predict(sc, case).server["connections_peak"] > 16
