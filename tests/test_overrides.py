"""``--set`` changes what exists, names itself in errors and suggests the closest key; a
file's errors are all reported, in line order (issue 16, items 2 and 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.api import load_scenario
from sim.cli import main
from sim.scenario import ScenarioError

FLAGSHIP = "scenarios/order-service.yaml"


def _errors(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["validate", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    return err.splitlines()


def test_a_typo_in_a_service_name_is_refused_not_added(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _errors(capsys, FLAGSHIP, "--set", "services.nope.instances=2")
    assert lines == [
        "--set:1: services.nope: no entry 'nope' (there are 'order-audit', 'order-create', "
        "'order-dispatch', 'order-notify'); --set changes what exists: to add an entry, give "
        "it whole (--set 'services.nope={...}')"
    ]
    lines = _errors(capsys, FLAGSHIP, "--set", "services.order-creat.instances=2")
    assert lines[0].startswith(
        "--set:1: services.order-creat: no entry 'order-creat' (did you mean 'order-create'?)"
    )


def test_a_new_entry_given_whole_is_added_on_purpose() -> None:
    sc = load_scenario(FLAGSHIP, ["services.cache={instances: 2, cores: 2}"])
    assert sc.services["cache"].instances == 2 and sc.services["cache"].cores == 2
    assert len(sc.services) == 5


def test_existing_entries_and_schema_defaults_can_be_changed() -> None:
    sc = load_scenario(
        FLAGSHIP,
        ["services.order-create.instances=5", "workload.clients=4", "http.protocol=http2"],
    )
    assert sc.services["order-create"].instances == 5
    assert sc.workload.clients == 4 and sc.http.protocol == "http2"


def test_an_unknown_key_names_the_override_and_the_closest_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = _errors(capsys, FLAGSHIP, "--set", "workload.arivals.rate=500")
    assert lines == ["--set:1: workload.arivals: unknown key 'arivals' (did you mean 'arrivals'?)"]
    lines = _errors(capsys, FLAGSHIP, "--set", "workload.arrivals.rat=5")
    assert lines == ["--set:1: workload.arrivals.rat: unknown key 'rat' (did you mean 'rate'?)"]


def test_every_bad_override_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _errors(capsys, FLAGSHIP, "--set", "services.nope.instances=2", "--set", "run.sed=3")
    assert [x.split(":")[:2] for x in lines] == [["--set", "1"], ["--set", "2"]]
    assert lines[1] == "--set:2: run.sed: unknown key 'sed' (did you mean 'seed'?)"


def test_a_bad_value_from_an_override_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _errors(capsys, FLAGSHIP, "--set", "services.order-create.instances=-1")
    assert len(lines) == 1 and lines[0].startswith("--set:1: services.order-create.instances: ")
    subject = "services.order-create.operations.create.subject=ORDERS..x"
    lines = _errors(capsys, FLAGSHIP, "--set", subject)
    assert len(lines) == 1 and lines[0].startswith(
        "--set:1: services.order-create.operations.create.subject: "
    ), lines


def test_every_error_of_a_file_is_reported_in_line_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "two.yaml"
    f.write_text(
        "name: two\n"
        "services:\n"
        "  a:\n"
        "    instances: -1\n"
        "    cores: 0\n"
        "    operations: {op: {}}\n"
        "workload:\n"
        "  arrivals: {kind: poisson, rate: 10}\n"
        "  flows: [{name: f, service: a, operation: op}]\n"
        "  clinets: 3\n"
    )
    lines = _errors(capsys, str(f))
    assert [x.split(": ")[0] for x in lines] == [f"{f}:4", f"{f}:5", f"{f}:10"]
    assert lines[2].endswith("unknown key 'clinets' (did you mean 'clients'?)")
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    assert (e.value.line, len(e.value.more)) == (4, 2)  # the first error, then the others
