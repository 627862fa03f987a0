"""The same sweep gives bit-identical frames in-process, in a process pool and on Dask.

Workers are fresh processes (spawn for the pool; Dask's nanny processes), each with its own
string-hash seed, so any dependence on process state (``hash()`` order, ``id()`` order,
module globals) would show up as a difference here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.sweep import run_sweep
from sim.sweep.executors import InProcess, make_executor
from tests.test_sweep_resume import TINY

PARAMS = ["workload.arrivals.rate=60,120", "http.protocol=http1,http2"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("exec") / "tiny.yaml"
    p.write_text(TINY, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def in_process(tiny: Path) -> pd.DataFrame:
    return run_sweep(tiny, PARAMS, executor="inprocess", progress=False)


@pytest.mark.slow
def test_process_pool_equals_in_process(tiny: Path, in_process: pd.DataFrame) -> None:
    pooled = run_sweep(tiny, PARAMS, executor="process", workers=2, progress=False)
    pd.testing.assert_frame_equal(pooled, in_process, check_exact=True)


@pytest.mark.slow
def test_dask_local_cluster_equals_in_process(
    tiny: Path, in_process: pd.DataFrame, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    ) as cluster:
        on_dask = run_sweep(tiny, PARAMS, scheduler=cluster, out=tmp_path, progress=False)
    pd.testing.assert_frame_equal(on_dask, in_process, check_exact=True)


def test_executor_choice() -> None:
    assert isinstance(make_executor("inprocess"), InProcess)
    assert make_executor("process", workers=3).workers == 3
    with pytest.raises(ValueError, match="needs a scheduler"):
        make_executor("dask")
    with pytest.raises(ValueError, match="must be inprocess, process or dask"):
        make_executor("threads")


def test_closing_after_an_interrupt_waits_for_the_pool_s_manager_thread() -> None:
    # an interrupted sweep closes its pool without waiting for the running points; the pool's
    # manager thread must have finished (and closed its wake-up pipe) when close() returns, or
    # CPython 3.11's unlocked exit hook may write to that pipe as it closes and print a
    # traceback ("Bad file descriptor") after the "interrupted" line
    import threading
    import time

    from sim.sweep.executors import ProcessPool

    pool = ProcessPool(workers=1)
    pool._pool = pool._new_pool()
    fut = pool._pool.submit(time.sleep, 30.0)
    deadline = time.monotonic() + 60.0
    while not fut.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fut.running()
    pool.close()
    managers = [t for t in threading.enumerate() if type(t).__name__ == "_ExecutorManagerThread"]
    assert not [t for t in managers if t.is_alive()]
