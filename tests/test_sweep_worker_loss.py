"""A process-pool worker that dies (OOM killer, kill -9) does not lose or duplicate points.

Kept in a module of its own with nothing heavy imported at the top: spawned workers import
this module to find the task, so they start in a fraction of a second.
"""

from __future__ import annotations

import os
from pathlib import Path


def die_once(marker: str) -> int:
    """A task whose first attempt kills its worker process, as the OOM killer would."""
    flag = Path(marker)
    if not flag.exists():
        flag.write_text("died", encoding="utf-8")
        os._exit(9)
    return os.getpid()


def test_process_pool_survives_a_lost_worker(tmp_path: Path) -> None:
    from sim.sweep.executors import ProcessPool

    markers = [str(tmp_path / f"m{i}") for i in range(3)]
    Path(markers[0]).write_text("", encoding="utf-8")
    Path(markers[2]).write_text("", encoding="utf-8")  # only task 1 kills its worker, once
    pool = ProcessPool(workers=2, retries=1)
    try:
        got = dict(pool.run(die_once, markers))
    finally:
        pool.close()
    assert sorted(got) == [0, 1, 2]  # each task's result exactly once
    assert Path(markers[1]).read_text(encoding="utf-8") == "died"


def test_process_pool_gives_up_after_its_retries(tmp_path: Path) -> None:
    from concurrent.futures.process import BrokenProcessPool

    import pytest

    from sim.sweep.executors import ProcessPool

    pool = ProcessPool(workers=1, retries=0)
    try:
        with pytest.raises(BrokenProcessPool):
            list(pool.run(die_once, [str(tmp_path / "m")]))
    finally:
        pool.close()
