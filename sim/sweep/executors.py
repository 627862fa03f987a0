"""Where the points of a sweep run: in this process, a local process pool, or Dask.

All three take the same task — a module-level function and a picklable argument (the
validated :class:`~sim.scenario.Scenario` of one point, its seed and replications) — and
yield ``(index, result)`` as tasks finish, in whatever order. Results are identical on all
three because a run depends on nothing but its arguments: every random draw comes from
:class:`~sim.core.streams.Streams` (seed, replication), nothing iterates a ``set`` of
objects or depends on ``hash()`` of strings (randomised per process), and workers are
started with ``spawn`` so no state leaks from the parent. The tests compare the frames
bit for bit. (As with any ``spawn`` pool, a script that sweeps must guard its top level with
``if __name__ == "__main__":``; the ``sim`` command and notebooks need nothing.)

Failure handling: a worker process that dies (OOM killer, ``kill -9``) breaks a
``ProcessPoolExecutor``; the pool is rebuilt and the unfinished points are resubmitted,
up to ``retries`` times. Dask reschedules the tasks of a lost worker itself
(``distributed.scheduler.allowed-failures``). Results are returned to the caller, which
writes the part files, so workers on other machines need no shared file system.

No process is left behind: :meth:`ProcessPool.close` (called on success, error, Ctrl-C or
SIGTERM, which the CLI turns into an interrupt) terminates the workers still running, and
each worker watches the process that started it (:func:`_watch_parent`) and exits within a
second of its death, so a ``kill -9`` of ``sim sweep`` takes its workers with it — and with
them the last holders of multiprocessing's resource-tracker pipe, which then exits too, and
of the terminal's pipe (``sim sweep … | tee`` ends).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

Task = Callable[[Any], Any]


class Executor(Protocol):
    """Runs tasks, yielding (index, result) as each finishes."""

    workers: int

    def run(self, fn: Task, args: Sequence[Any]) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...


class InProcess:
    """One task after the other in this process (small sweeps, debugging)."""

    workers = 1

    def run(self, fn: Task, args: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        for i, a in enumerate(args):
            yield i, fn(a)

    def close(self) -> None:
        pass


class ProcessPool:
    """A local pool of ``workers`` spawned processes (default: one per core)."""

    def __init__(self, workers: int | None = None, retries: int = 3):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.retries = retries
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("spawn")  # set for this pool only, never globally
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=ctx,
            initializer=_watch_parent,
            initargs=(os.getpid(),),
        )

    def run(self, fn: Task, args: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        pending = set(range(len(args)))
        failures = 0
        while pending:
            self._pool = self._new_pool()
            futures: dict[Future[Any], int] = {
                self._pool.submit(fn, args[i]): i for i in sorted(pending)
            }
            try:
                while futures:
                    finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        i = futures.pop(fut)
                        result = fut.result()
                        pending.discard(i)
                        yield i, result
            except BrokenProcessPool as e:
                failures += 1
                self._shutdown()
                if failures > self.retries:
                    raise BrokenProcessPool(
                        f"worker processes died {failures} times; if this runs from a script, "
                        "guard its top level with `if __name__ == '__main__':` (spawned "
                        "workers import the main module), or use executor='inprocess'"
                    ) from e
                continue  # a worker died: rebuild the pool, resubmit what is unfinished
            finally:
                if futures:
                    for fut in futures:
                        fut.cancel()
            self._shutdown()

    def _shutdown(self, wait: bool = True) -> None:
        if self._pool is not None:
            # the executor's own table of its workers (no public accessor): taken before
            # shutdown() forgets it, so that workers busy with a point can be ended
            procs = list((getattr(self._pool, "_processes", None) or {}).values())
            # and its manager thread (no public accessor either), for the same reason
            manager = getattr(self._pool, "_executor_manager_thread", None)
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None
            if not wait:
                for p in procs:
                    if p.is_alive():
                        p.terminate()
                for p in procs:
                    p.join(timeout=5)
                if manager is not None:
                    # let it finish closing its wake-up pipe before the interpreter exits:
                    # CPython 3.11's exit hook (concurrent.futures.process._python_exit)
                    # writes to that pipe without a lock, so a close in between printed
                    # "OSError: [Errno 9] Bad file descriptor" after an interrupted sweep
                    # (fixed upstream with a lock in _ThreadWakeup, python/cpython#125451)
                    manager.join(timeout=5)

    def close(self) -> None:
        self._shutdown(wait=False)  # after an interrupt: end the running points' workers


WATCH_INTERVAL = 0.5  # seconds between a worker's checks that its parent is alive


def _watch_parent(parent: int) -> None:
    """Pool initializer: end this worker when the process that started it has died (its
    parent id changes when it is re-parented), so a killed sweep leaves no workers."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


class DaskCluster:
    """Tasks on a Dask cluster: a scheduler address, a ``LocalCluster`` or a ``Client``."""

    def __init__(self, scheduler: Any):
        from distributed import Client

        self._own = not isinstance(scheduler, Client)
        self.client = Client(scheduler) if self._own else scheduler
        info = self.client.scheduler_info()
        workers = info.get("workers", {})
        self.workers = max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def run(self, fn: Task, args: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        futures = [self.client.submit(fn, a, pure=False) for a in args]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            for f in futures:
                if not f.done():
                    f.cancel()

    def close(self) -> None:
        if self._own:
            self.client.close()


def make_executor(
    executor: str | Executor = "process", workers: int | None = None, scheduler: Any = None
) -> Executor:
    """``"inprocess"``, ``"process"`` (default) or ``"dask"`` (needs `scheduler`); a ready
    executor object is returned as it is. A `scheduler` alone means Dask."""
    if not isinstance(executor, str):
        return executor
    if scheduler is not None and executor in ("process", "dask"):
        return DaskCluster(scheduler)
    if executor == "inprocess":
        return InProcess()
    if executor == "process":
        return ProcessPool(workers)
    if executor == "dask":
        raise ValueError("the dask executor needs a scheduler (tcp://host:8786 or a LocalCluster)")
    raise ValueError(f"executor must be inprocess, process or dask, got {executor!r}")
