"""What `sim` writes stays whole and honest, by class (issue 15): a run where nothing
completes gets a report that says so; scenario text is drawn as written; a run's folder
appears whole or not at all and never replaces a folder `sim` did not write; tampered saved
results are bad input; failed requests stay out of the latency of successful ones."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.output
from sim.cli import main
from sim.output import OLD, RUN_FILES, is_sim_folder, recover
from sim.results.stream import Window
from sim.results.summary import request_metrics

ROOT = Path(__file__).resolve().parents[1]

TINY = """\
name: tiny
run: {{duration: 1s, warmup: 0.2s}}
placement:
  regions: [{{name: r1}}, {{name: r2}}]
  network: {{region_rtt: {{r1: {{r2: {rtt}}}}}}}
services:
  a:
    region: r1
    operations:
      op: {{demand: {{dist: exponential, mean: 1ms}}, calls: [{{service: '{b}', operation: op, probability: {p}}}]}}
  '{b}':
    region: r2
    instances: {n}
    operations:
      op: {{demand: {{dist: constant, value: 0.5ms}}}}
workload:
  arrivals: {arrivals}
  clients: 4
  flows: [{{name: f, service: a, operation: op}}]
"""


def write(tmp_path: Path, **kw: object) -> Path:
    args = {
        "rtt": "10ms",
        "p": 0,
        "b": "b",
        "n": 1,
        "arrivals": "{kind: poisson, rate: 40}",
        **kw,
    }
    p = tmp_path / "s.yaml"
    p.write_text(TINY.format(**args))
    return p


def run(path: Path, out: Path, *extra: str) -> int:
    return main(["run", str(path), "--out", str(out), "--quiet", *extra])


def complete(out: Path) -> bool:
    names = {p.name for p in out.iterdir()}
    want = RUN_FILES - {"latencies.parquet"}
    return want <= names and len(list((out / "figures").glob("*.png"))) >= 7


# --------------------------------------------------------------------------- nothing completes
@pytest.mark.parametrize(
    "case",
    [
        {"arrivals": "{kind: poisson, rate: 0.001}"},
        {"arrivals": "{kind: profile, steps: [{at: 0, rate: 0}, {at: 50, rate: 5}]}"},
        {"p": 1, "n": 0},  # every request calls a service with no instance
        {"p": 1, "rtt": ".inf"},  # the called service is in an unreachable region
    ],
    ids=["rate-0.001", "profile-from-0", "no-instances", "infinite-rtt"],
)
def test_a_run_where_nothing_completes_gets_a_report_that_says_so(
    tmp_path: Path, case: dict[str, object], capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no empty means on the way
        assert run(write(tmp_path, **case), out) == 0, capfd.readouterr().err
    assert complete(out)
    report = (out / "report.md").read_text()
    assert "No request completed successfully over http" in report
    assert "No request completed successfully over messaging" in report
    s = pd.read_csv(out / "summary.csv").set_index(["flow", "metric"])
    assert math.isnan(s.loc[("all", "latency_p50"), "http"])
    assert main(["report", str(out)]) == 0  # and again from the files


def test_a_partial_run_reports_only_the_successes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(write(tmp_path, p=0.5, n=0), out) == 0
    report = (out / "report.md").read_text()
    assert "No request completed" not in report
    s = pd.read_csv(out / "summary.csv").set_index(["flow", "metric"])
    for arch in ("http", "messaging"):
        assert 0.3 < s.loc[("all", "error_rate"), arch] < 0.7
        assert s.loc[("all", "failed"), arch] > 0
        assert s.loc[("all", "latency_p50"), arch] > 0


# --------------------------------------------------------------------------- scenario text
@pytest.mark.parametrize("name", ["pay$\\x$", "a$b", "$\\frac{1}{0", "50%_{x}^y"])
def test_scenario_text_is_drawn_as_written(
    tmp_path: Path, name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(write(tmp_path, b=name, p=1), out) == 0, capfd.readouterr().err
    assert complete(out)


def test_sim_list_escapes_control_characters_in_file_names(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(ROOT / "scenarios" / "order-service.yaml", tmp_path / "x\x1b[2Jy.yaml")
    assert main(["list", "--dir", str(tmp_path)]) == 0
    out = capfd.readouterr().out
    assert "\x1b" not in out and "x\\x1b[2Jy.yaml" in out


# --------------------------------------------------------------------------- output folders
@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A scenario and the folder of a finished run of it (seed 1)."""
    d = tmp_path_factory.mktemp("good")
    s = write(d)
    assert run(s, d / "out") == 0
    return s, d / "out"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("stage", ["frames", "report", "swap"])
def test_an_interrupted_run_leaves_the_previous_folder_whole(
    good: tuple[Path, Path],
    tmp_path: Path,
    stage: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    s, src = good
    out = tmp_path / "out"
    shutil.copytree(src, out)
    before = snapshot(out)

    def boom(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    target = {
        "frames": (sim.output, "scenario_json"),
        "report": (sim.output, "write_report"),
        "swap": (sim.output, "_carry"),
    }[stage]
    if stage == "swap":  # killed after the new folder took the place: the old one is aside
        monkeypatch.setattr(*target, boom)
        assert run(s, out, "--seed", "2") == 1
        monkeypatch.undo()
        assert json.loads((out / "metadata.json").read_text())["seed"] == 2
        assert complete(out)
        recover(out)  # what the next run does first
        assert not list(tmp_path.glob(".out.*"))
        return
    monkeypatch.setattr(*target, boom)
    assert run(s, out, "--seed", "2") == 1
    capfd.readouterr()
    assert snapshot(out) == before  # not one file of seed 2 beside seed 1's report
    assert not list(tmp_path.glob(".out.*"))  # nothing half-written left beside it


def test_a_finished_run_replaces_the_folder_and_keeps_what_sim_did_not_write(
    good: tuple[Path, Path], tmp_path: Path
) -> None:
    s, src = good
    out = tmp_path / "out"
    shutil.copytree(src, out)
    (out / "notes.txt").write_text("mine")
    (out / "latencies.parquet").write_text("stale output of an older run")
    (out / ".report.md.abc.tmp").write_text("left by a kill")
    assert run(s, out, "--seed", "2") == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "latencies.parquet").exists()
    assert not list(out.glob(".*.tmp"))
    assert json.loads((out / "metadata.json").read_text())["seed"] == 2
    assert not list(tmp_path.glob(".out.*"))
    mode = (out / "summary.csv").stat().st_mode & 0o777
    assert mode == (out / "notes.txt").stat().st_mode & 0o777  # ordinary files


def test_a_folder_sim_did_not_write_is_refused_before_simulating(
    good: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    s, _ = good
    out = tmp_path / "mine"
    out.mkdir()
    (out / "summary.csv").write_text("my numbers")
    (out / "latencies.parquet").write_text("my data")
    monkeypatch.setattr("sim.api.compare", lambda *a, **k: pytest.fail("simulated"))
    assert run(s, out) == 2
    err = capfd.readouterr().err
    assert len(err.splitlines()) == 1 and "--force" in err
    assert (out / "summary.csv").read_text() == "my numbers"
    assert (out / "latencies.parquet").read_text() == "my data"
    monkeypatch.undo()
    (out / "notes.txt").write_text("kept")
    assert run(s, out, "--force") == 0
    assert (out / "notes.txt").read_text() == "kept" and complete(out)
    assert is_sim_folder(out)


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file", "read-only"])
def test_an_unwritable_destination_is_refused_before_simulating(
    good: tuple[Path, Path],
    tmp_path: Path,
    where: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    s, _ = good
    (tmp_path / "f").write_text("x")
    out = {"under-a-file": tmp_path / "f" / "out", "is-a-file": tmp_path / "f"}.get(where)
    if where == "read-only":
        import os

        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o555)
        out = tmp_path / "ro" / "out"
    assert out is not None
    monkeypatch.setattr("sim.api.compare", lambda *a, **k: pytest.fail("simulated"))
    assert run(s, out) == 2
    assert len(capfd.readouterr().err.splitlines()) == 1


def test_a_kill_between_the_two_renames_is_undone(good: tuple[Path, Path], tmp_path: Path) -> None:
    _, src = good
    out = tmp_path / "out"
    aside = tmp_path / f".out.{OLD}deadbeef"
    shutil.copytree(src, aside)  # moved aside, the new one not yet in place
    before = snapshot(aside)
    recover(out)
    assert snapshot(out) == before and not aside.exists()


def test_the_committed_example_is_a_folder_sim_wrote() -> None:
    assert is_sim_folder(ROOT / "reports" / "order-service")  # so `make demo` may replace it


# --------------------------------------------------------------------------- saved results
def _metadata_cases(base: dict[str, object]) -> dict[str, object]:
    return {
        "runs-text": {**base, "runs": "abc"},
        "runs-ints": {**base, "runs": [1, 2, 3]},
        "top-list": [1, 2, 3],
        "run-events": {**base, "runs": [{"events": 5}]},
        "event-time": {**base, "events": [{"t": "noon"}]},
        "warmup-text": {**base, "runs": [{"warmup": "abc", "rows": "none"}]},
        "replications": {**base, "replications": "many"},
        "disturbance": {**base, "disturbance": [{"failed": "x"}]},
    }


@pytest.mark.parametrize(
    "case",
    [
        *(f"meta:{k}" for k in _metadata_cases({})),
        "meta:deep",
        "summary:columns",
        "timeseries:text",
        "scenario:escape",
        "requests:garbage",
    ],
)
def test_tampered_saved_results_are_bad_input(
    good: tuple[Path, Path], tmp_path: Path, case: str, capfd: pytest.CaptureFixture[str]
) -> None:
    _, src = good
    d = tmp_path / "r"
    shutil.copytree(src, d)
    kind, what = case.split(":")
    if kind == "meta":
        base = json.loads((d / "metadata.json").read_text())
        body = (
            "[" * 100_000 + "]" * 100_000
            if what == "deep"
            else json.dumps(_metadata_cases(base)[what])
        )
        (d / "metadata.json").write_text(body)
    elif kind == "summary":
        (d / "summary.csv").write_text("a,b\n1,2\n")
    elif kind == "timeseries":
        (d / "timeseries.csv").write_text(
            "architecture,replication,t,metric,kind,value\nhttp,0,x,cpu_cores,client,y\n"
        )
    elif kind == "scenario":
        sc = json.loads((d / "scenario.json").read_text())
        sc["description"] = "\x1b]2;owned\x07"
        (d / "scenario.json").write_text(json.dumps(sc))
    else:
        (d / "requests.parquet").write_bytes(b"PAR1 not really")
    code = main(["report", str(d)])
    err = capfd.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "\x1b" not in err
    assert err.startswith(f"sim report: {d}/")


# --------------------------------------------------------------------------- failed requests
def test_failures_never_enter_the_latency_of_successes() -> None:
    ok = np.array([0.010, 0.020, 0.030])
    bad = np.zeros(97)  # 97 fast failures (pool overflow): as many as 0-latency requests
    w = Window(
        {"f": ok},
        {"f": 3},
        {b: 0.0 for b in ("network", "queueing", "cpu", "infra", "handshake")},
        {},
        {"f": bad},
    )
    m = {(f, k): v for f, k, _, v in request_metrics(w, 1.0)}
    assert m[("all", "requests")] == 100
    assert m[("all", "failed")] == 97
    assert m[("all", "error_rate")] == pytest.approx(0.97)
    assert m[("all", "latency_p50")] == pytest.approx(20.0)  # ms, of the successes only
    assert m[("all", "latency_mean")] == pytest.approx(20.0)
    assert m[("all", "failed_latency_mean")] == 0.0
    assert m[("all", "throughput")] == 3


def test_rows_kept_or_not_give_the_same_failure_figures(tmp_path: Path) -> None:
    """Both code paths (rows, and the streaming tally of ``run.rows: none``) keep failures
    apart, with the same values."""
    import sim

    path = write(tmp_path, p=0.5, n=0)
    rows = sim.compare(sim.load_scenario(path))
    none = sim.compare(sim.load_scenario(path, ["run.rows=none"]))
    cols = ["flow", "metric", "http", "messaging"]
    a, b = rows.summary[cols], none.summary[cols]
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    failed = rows.summary.set_index(["flow", "metric"]).loc[("all", "failed"), "http"]
    assert failed > 0
    req = rows.frame("requests")
    req = req[(req["kind"] == "request") & (req["architecture"] == "http")]
    ok = req[req["status"] == "ok"]["latency"].to_numpy() * 1e3
    p50 = rows.summary.set_index(["flow", "metric"]).loc[("all", "latency_p50"), "http"]
    assert p50 == pytest.approx(float(np.percentile(ok, 50)))
    lat = none.frame("latencies")
    assert len(lat[lat["architecture"] == "http"]) == len(ok)  # figures: successes only


def test_a_link_to_the_output_folder_is_kept(good: tuple[Path, Path], tmp_path: Path) -> None:
    s, src = good
    real = tmp_path / "data" / "out"
    real.parent.mkdir()
    shutil.copytree(src, real)
    link = tmp_path / "out"
    link.symlink_to(real, target_is_directory=True)
    assert run(s, link, "--seed", "2") == 0
    assert link.is_symlink() and complete(real)
    assert json.loads((real / "metadata.json").read_text())["seed"] == 2
