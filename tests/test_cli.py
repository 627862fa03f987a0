"""The command line: help with examples, exit codes, outputs of `sim run`, one-line errors,
and atomic writes (a failed run never damages the previous good files)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

import sim.output
import sim.report
from sim.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = str(ROOT / "scenarios" / "order-service.yaml")
SHORT = ["--set", "run.duration=1", "--set", "run.warmup=0.2"]
OUTPUTS = {
    "summary.csv",
    "requests.parquet",
    "components.csv",
    "timeseries.csv",
    "report.md",
    "metadata.json",
}


def _commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- help
def test_the_commands_exist() -> None:
    assert {"run", "validate", "schema"} <= set(_commands())


@pytest.mark.parametrize(
    "command", [[], *([c] for c in _commands())], ids=lambda c: " ".join(c) or "sim"
)
def test_help_has_examples(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    assert "\n  sim " in out  # the examples are commands one can paste


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: command"),
        (["run"], "the following arguments are required: file"),
        (["run", FLAGSHIP, "--bogus"], "unrecognized arguments: --bogus"),
        (["--bogus", "validate", FLAGSHIP], "unrecognized arguments: --bogus"),
        (["run", FLAGSHIP, "--arch", "pigeon"], "invalid choice: 'pigeon'"),
        (["run", FLAGSHIP, "--seed", "abc"], "invalid int value: 'abc'"),
        (["run", FLAGSHIP, "--replications", "0"], "--replications must be >= 1"),
        (["validate", "no/such/file.yaml"], "no/such/file.yaml: no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], fragment: str, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capfd.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    assert fragment in err
    assert "Traceback" not in err and "usage:" not in err


def test_out_that_is_a_file_is_bad_input(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "taken"
    f.write_text("not a folder")
    assert main(["run", FLAGSHIP, *SHORT, "--out", str(f)]) == 2
    err = capfd.readouterr().err
    assert err == f"sim run: --out {f} exists and is not a folder\n"
    assert f.read_text() == "not a folder"


def test_validate_and_schema(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", FLAGSHIP]) == 0
    out, err = capfd.readouterr()
    assert out == f"{FLAGSHIP}: ok — 4 services, 9 instances, 1 flow(s)\n"
    assert err == ""
    assert main(["schema"]) == 0
    assert json.loads(capfd.readouterr().out)["title"] == "Scenario"


# --------------------------------------------------------------------------- run
@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One short run of both architectures, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("run") / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["run", FLAGSHIP, "--out", str(out), *SHORT])
    assert code == 0
    return out, buf.getvalue()


def test_run_writes_every_output(good_run: tuple[Path, str]) -> None:
    out, stdout = good_run
    assert {p.name for p in out.iterdir()} >= OUTPUTS
    assert all((out / name).stat().st_size > 0 for name in OUTPUTS)
    assert _leftovers(out) == []
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["scenario"] == "order-service"
    assert meta["duration"] == 1.0
    assert "messaging/http" in stdout  # the side-by-side table
    assert f"wrote {out}/" in stdout


def test_run_format_json(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    argv = ["run", FLAGSHIP, "--out", str(tmp_path), *SHORT, "--arch", "http", "--format", "json"]
    assert main(argv) == 0
    out, err = capfd.readouterr()
    rows = json.loads(out)  # stdout is the JSON alone; progress lines go to stderr
    assert "Traceback" not in err and all(x.startswith("order-service: ") for x in err.splitlines())
    csv = (tmp_path / "summary.csv").read_text().splitlines()
    assert len(rows) == len(csv) - 1  # the same summary, one record per row
    assert list(rows[0]) == csv[0].split(",")
    assert {(r["flow"], r["metric"]) for r in rows} >= {
        ("all", "latency_p99"),
        ("all", "throughput"),
    }


def test_run_quiet_prints_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    argv = ["run", FLAGSHIP, "--out", str(tmp_path), *SHORT, "--arch", "messaging", "--quiet"]
    assert main(argv) == 0
    assert capfd.readouterr() == ("", "")
    assert (tmp_path / "summary.csv").exists()


def test_run_one_architecture(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    argv = ["run", FLAGSHIP, "--out", str(tmp_path), *SHORT, "--arch", "messaging"]
    assert main(argv) == 0
    out, err = capfd.readouterr()
    assert (
        err.splitlines()[0]
        == "order-service: messaging replication 1/1 done" + (err.splitlines()[0].split("done")[1])
    )  # progress on stderr: one line per run and per stage when not on a terminal
    # the same table as a comparison, the run's column alone (no raw pandas dump)
    header = next(line for line in out.splitlines() if line.startswith("metric"))
    assert header.split() == ["metric", "unit", "messaging"]
    assert "latency p99" in out and "NaN" not in out and "nan" not in out
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert {r["architecture"] for r in meta["runs"]} == {"messaging"}
    # and a report, which `sim report` rebuilds from the folder
    md = (tmp_path / "report.md").read_text()
    assert "Only one architecture was run (messaging)" in md and "nan" not in md
    assert (tmp_path / "report.html").exists()
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").read_text() == md


# --------------------------------------------------------------------------- atomic writes
def _renderers() -> list[object]:
    """The modules through which `sim run` renders report.md."""
    mods: list[object] = [sim.output]
    files = getattr(sim.report, "files", None)  # the report package may write it itself
    if files is not None:
        mods.append(files)
    return [m for m in mods if hasattr(m, "render_markdown")]


@pytest.mark.parametrize("how", ["raises", "fails mid-write"])
def test_a_failed_run_keeps_the_previous_report(
    how: str,
    good_run: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    shutil.copytree(good_run[0], out)
    before = (out / "report.md").read_bytes()

    def boom(*args: object, **kwargs: object) -> object:
        if how == "raises":
            raise RuntimeError("boom")
        return object()  # not text: the atomic writer fails after its temporary file exists

    assert _renderers(), "render_markdown is no longer where sim run looks for it"
    for mod in _renderers():
        monkeypatch.setattr(mod, "render_markdown", boom)
    assert main(["run", FLAGSHIP, "--out", str(out), *SHORT]) == 1
    _, err = capfd.readouterr()
    err = "".join(x for x in err.splitlines(True) if not x.startswith("order-service: "))
    assert err.count("\n") == 1  # progress lines aside, the failure is one line
    assert err.startswith("sim: run failed: ")
    assert ("RuntimeError: boom" if how == "raises" else "TypeError") in err
    assert (out / "report.md").read_bytes() == before
    assert _leftovers(out) == []
