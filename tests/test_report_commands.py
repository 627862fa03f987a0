"""`sim report`, `sim trace`, `sim list` through their parser and command functions, and the
property `sim trace` rests on: a request traced in a run cut short right after it completes
meets exactly the system it meets in the full run.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

import sim
from sim.api import trace_request
from sim.report.commands import COMMANDS, add_parser
from sim.report.data import load_results
from tests.test_report_fixtures import TINY, TinyRun, tiny_run

__all__ = ["tiny_run"]

ROOT = Path(__file__).resolve().parents[1]


def run(argv: list[str]) -> int:
    """Parse like the CLI does (its subparsers + add_parser) and run the command."""
    p = argparse.ArgumentParser(prog="sim")
    sub = p.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = p.parse_args(argv)
    return COMMANDS[args.command](args)


@pytest.mark.parametrize("command", ["report", "trace", "list"])
def test_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        run([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"sim {command}" in out


def test_report_regenerates_a_results_folder(
    tiny_run: TinyRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(tiny_run.out, folder)
    for f in ("report.md", "report.html"):
        (folder / f).unlink()
    shutil.rmtree(folder / "figures")
    assert run(["report", str(folder)]) == 0
    assert "report.html" in capsys.readouterr().out
    assert (folder / "report.md").read_text() == (tiny_run.out / "report.md").read_text()
    assert len(list((folder / "figures").glob("*.png"))) == 8
    html = (folder / "report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == 8


def test_report_on_a_folder_that_is_not_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "summary.csv: missing" in err
    assert run(["report", str(tmp_path / "nope")]) == 2
    assert "no such results folder" in capsys.readouterr().err


def test_saved_trace_is_the_first_measured_request(tiny_run: TinyRun) -> None:
    res = load_results(tiny_run.out)
    assert set(res.traces) == {"http", "messaging"}
    req = tiny_run.cmp.frame("requests")
    r = req[(req["kind"] == "request") & (req["request_id"] == res.sample)]
    assert len(r) == 2 and r["start"].min() == req[req["kind"] == "request"]["start"].min()
    for a, tr in res.traces.items():
        row = r[r["architecture"] == a].iloc[0]
        assert tr.start == row["start"]
        assert tr.latency == pytest.approx(row["latency"], abs=1e-12)
        assert tr.hops[0][1] == "clients" and tr.hops[-1][2] == "clients"


def test_trace_in_a_short_run_equals_the_full_run(tiny_run: TinyRun) -> None:
    sc = tiny_run.scenario
    rid = 15  # arrives at 0.75 s (20/s constant), inside the 2.5 s run
    full = sim.compare(sc, trace=[rid])
    short = trace_request(sc, rid)
    for r in full.results():
        assert short[r.architecture].hops == r.traces[rid].hops  # exactly: same floats
        assert short[r.architecture].start == r.traces[rid].start


def test_trace_prints_mermaid_for_both(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fig = tmp_path / "t.png"
    assert run(["trace", str(TINY), "--request", "3", "--out", str(fig)]) == 0
    out = capsys.readouterr().out
    assert out.count("sequenceDiagram") == 2
    assert "%% http: request 3" in out and "%% messaging: request 3" in out
    assert fig.read_bytes()[:4] == b"\x89PNG"


def test_trace_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(["trace", str(TINY), "--request", "0", "--arch", "messaging", "--format", "json"]) == 0
    )
    body = json.loads(capsys.readouterr().out)
    assert body["request_id"] == 0 and list(body["traces"]) == ["messaging"]
    hops = body["traces"]["messaging"]["hops"]
    assert [h[1] for h in hops][:2] == ["clients", "nats-0"]
    assert run(["trace", str(TINY), "--request", "0", "--arch", "http", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("http: request 0, reply after") and "clients -> gateway-0" in out


def test_trace_of_a_request_that_never_happens_fails(capsys: pytest.CaptureFixture[str]) -> None:
    # 20/s for 2.5 s: about 50 requests, never a millionth
    assert run(["trace", str(TINY), "--request", "1000000", "--arch", "messaging"]) == 1
    assert "did not complete" in capsys.readouterr().err
    assert run(["trace", str(TINY), "--request", "-1"]) == 2


def test_list_shows_bundled_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["list", "--dir", str(ROOT / "scenarios")]) == 0
    out = capsys.readouterr().out
    assert "order-service.yaml" in out and "order-service:" in out


def test_list_json_and_invalid_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(TINY, tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("name: broken\nservices: {}\n")
    assert run(["list", "--dir", str(tmp_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["tiny", "b"]
    assert rows[0]["description"].startswith("Front calls back")
    assert rows[1]["description"].startswith("invalid: ")
    assert run(["list", "--dir", str(tmp_path / "none")]) == 2
