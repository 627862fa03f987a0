"""Progress by simulated time (issue 16, item 8): watching a run changes none of its
results, a terminal gets bars, a log gets one line per run and per stage."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.progress import RunProgress

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "gold" / "tiny.yaml"


def test_watching_a_run_changes_no_result() -> None:
    sc = sim.load_scenario(TINY)
    seen: list[tuple[float, float]] = []
    for arch in ("http", "messaging"):
        plain = sim.simulate(sc, arch, seed=5)
        watched = sim.simulate(sc, arch, seed=5, progress=lambda now, end: seen.append((now, end)))
        for name in ("requests", "components", "timeseries"):
            pd.testing.assert_frame_equal(getattr(plain, name), getattr(watched, name))
    end = sc.run.warmup + sc.run.duration
    assert seen[-1] == (end, end) and 90 <= len(seen) // 2 <= 110  # ≈ a hundred steps a run
    assert all(a[0] < b[0] for a, b in itertools.pairwise(seen) if a[0] != end)


def test_compare_tells_each_architecture_and_replication() -> None:
    sc = sim.load_scenario(TINY)
    calls: list[tuple[str, int]] = []
    sim.compare(sc, replications=2, on_progress=lambda a, r, now, end: calls.append((a, r)))
    assert list(dict.fromkeys(calls)) == [
        ("http", 0),
        ("messaging", 0),
        ("http", 1),
        ("messaging", 1),
    ]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_per_architecture_in_simulated_seconds() -> None:
    out = _Tty()
    p = RunProgress("tiny", ["http", "messaging"], 2, stream=out)
    p.progress("http", 1, 1.25, 2.5)
    p.run_done("http", 1)
    p.close()
    text = out.getvalue()
    assert "tiny http" in text and "tiny messaging" in text
    assert "3.75/5 simulated s, replication 2/2" in text
    assert "done (" not in text  # bars, not lines, on a terminal


def test_a_log_gets_one_line_per_run_and_per_stage(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(TINY), "--out", str(tmp_path), "--replications", "2"]) == 0
    err = capfd.readouterr().err.splitlines()
    assert err == [
        "tiny: http replication 1/2 done" + err[0].split("done")[1],
        "tiny: messaging replication 1/2 done" + err[1].split("done")[1],
        "tiny: http replication 2/2 done" + err[2].split("done")[1],
        "tiny: messaging replication 2/2 done" + err[3].split("done")[1],
        f"tiny: writing {tmp_path}/ (data, figures, report.md, report.html)",
    ]
    assert main(["run", str(TINY), "--out", str(tmp_path), "--quiet"]) == 0
    assert capfd.readouterr() == ("", "")
