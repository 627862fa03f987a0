"""One mapping from what a command raised to its exit code and its one line (sim.exits)."""

from __future__ import annotations

import pytest

from sim.cli import UsageError
from sim.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, guard
from sim.report.data import ResultsError
from sim.scenario import ScenarioError
from sim.scenario.base import InputError
from sim.sweep.grid import GridError


def _raise(e: BaseException) -> int:
    raise e


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (InputError("--replications must be >= 1"), "sim: --replications must be >= 1"),
        (ScenarioError("x.yaml", 3, ("run", "duration"), "must be > 0"), "x.yaml:3:"),
        (GridError("--param: bad"), "--param: bad"),
        (UsageError("sim run: bad --arch"), "sim run: bad --arch"),
        (ResultsError("no summary.csv"), "sim: no summary.csv"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    exc: BaseException, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert guard(lambda: _raise(exc)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1


def test_a_failed_run_is_exit_1_with_where_its_results_are(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = guard(lambda: _raise(RuntimeError("boom")), after_failure=lambda: "; see out/")
    assert code == EXIT_FAILED
    assert capsys.readouterr().err == "sim: run failed: RuntimeError: boom; see out/\n"
    assert guard(lambda: _raise(KeyboardInterrupt()), interrupted=lambda: "stopped") == 1
    assert capsys.readouterr().err == "stopped\n"
    assert guard(lambda: EXIT_OK) == EXIT_OK


def test_debug_shows_the_traceback() -> None:
    with pytest.raises(InputError):
        guard(lambda: _raise(InputError("x")), debug=True)
    with pytest.raises(RuntimeError):
        guard(lambda: _raise(RuntimeError("x")), debug=True)
