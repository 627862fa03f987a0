"""Calibration profiles (sim.scenario.profile): applied under the scenario's own values,
cited in the parameter table, refused with FILE:LINE when malformed; the shipped default
profile is what the models' defaults are."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim.api import load_scenario
from sim.calibration import DEFAULT_PROFILE
from sim.cli import main
from sim.report.parameters import parameters
from sim.scenario import ScenarioError
from sim.scenario.model import Scenario
from sim.scenario.profile import Profile

FLAGSHIP = Path(__file__).resolve().parents[1] / "scenarios" / "order-service.yaml"

PROFILE = """\
profile: 1
name: bench-box
measured: "2026-12-01"
machine: {cpu: test, cores: 4}
versions: {nats-server: 2.15.1}
values:
  messaging.broker.io.wakeup: {value: 9.0e-06, source: "measured: test rig"}
  messaging.broker.io.cold_wakeup: {value: 5.0e-05, source: "measured: test rig"}
  http.sidecar.cpu_per_request: {value: 0.0001, source: "measured: test rig"}
"""


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


def test_profile_values_are_defaults_under_the_scenarios_own(tmp_path: Path) -> None:
    prof = _write(tmp_path, "p.yaml", PROFILE)
    sc = load_scenario(FLAGSHIP, ["messaging.broker.io.cold_wakeup=70us"], calibration=str(prof))
    assert sc.messaging.broker.io is not None
    assert sc.messaging.broker.io.wakeup == pytest.approx(9e-6)  # the profile's
    assert sc.messaging.broker.io.cold_wakeup == pytest.approx(70e-6)  # the --set wins
    assert sc.messaging.broker.io.per_message == pytest.approx(7e-6)  # the model default
    assert sc.http.sidecar.cpu_per_request == pytest.approx(1e-4)
    assert sc.calibration is not None and sc.calibration.name == "bench-box"
    rows = {p.path: p for p in parameters(sc)}
    assert rows["messaging.broker.io.wakeup"].origin == "profile"
    assert "bench-box" in rows["messaging.broker.io.wakeup"].source
    assert rows["messaging.broker.io.cold_wakeup"].origin == "scenario"
    assert rows["messaging.broker.io.per_message"].origin == "default"


def test_scenario_names_its_profile_relative_to_its_folder(tmp_path: Path) -> None:
    _write(tmp_path, "p.yaml", PROFILE)
    text = FLAGSHIP.read_text(encoding="utf-8") + "\ncalibration: p.yaml\n"
    sc = load_scenario(_write(tmp_path, "s.yaml", text))
    assert sc.messaging.broker.io is not None
    assert sc.messaging.broker.io.wakeup == pytest.approx(9e-6)
    # a profile switched off in the scenario (io: null) stays off
    sc = load_scenario(_write(tmp_path, "s.yaml", text), ["messaging.broker.io=null"])
    assert sc.messaging.broker.io is None


def test_saved_scenario_keeps_the_profile_citation(tmp_path: Path) -> None:
    from sim.report.data import scenario_json

    prof = _write(tmp_path, "p.yaml", PROFILE)
    sc = load_scenario(FLAGSHIP, calibration=str(prof))
    again = Scenario.model_validate_json(scenario_json(sc))
    rows = {p.path: p for p in parameters(again)}
    assert rows["http.sidecar.cpu_per_request"].origin == "profile"
    assert again.messaging.broker.io == sc.messaging.broker.io


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (PROFILE.replace("profile: 1", "profile: 7"), 1, "profile"),
        (PROFILE.replace("name: bench-box\n", ""), 1, "name"),
        (PROFILE + "  http.sidecar.cpu_per_request: 1\n", 10, "duplicate"),
        (PROFILE.replace("{value: 0.0001, source", "{value: -1, source"), None, "cpu_per_request"),
    ],
)
def test_bad_profiles_are_one_located_line(
    tmp_path: Path, text: str, line: int | None, what: str
) -> None:
    prof = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(FLAGSHIP, calibration=str(prof))
    msg = str(e.value)
    assert "\n" not in msg and what in msg
    if line is not None:
        assert msg.startswith(f"{prof}:{line}:")


def test_cli_takes_a_profile_and_refuses_a_missing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prof = _write(tmp_path, "p.yaml", PROFILE)
    assert main(["validate", str(FLAGSHIP), "--calibration", str(prof)]) == 0
    assert main(["validate", str(FLAGSHIP), "--calibration", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.yaml" in err[0] and "no such file" in err[0]


def test_the_shipped_default_profile_is_the_models_defaults() -> None:
    prof = Profile.model_validate(yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8")))
    base = load_scenario(FLAGSHIP)
    for path, pv in prof.values.items():
        cur: object = base
        for k in path.split("."):
            cur = getattr(cur, k)
        assert cur == pytest.approx(pv.value), path
    assert {"nats-server", "haproxy"} <= set(prof.versions)
    assert prof.machine
