"""The Cpu: exact ``(name, env.now)`` traces on tiny cases, and its busy-cores gauge.

Times are whole or dyadic numbers of seconds so that every instant is exact in binary
floating point and the traces can be compared with ``==``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy

from sim.core.cpu import Cpu
from sim.core.metrics import Gauge
from tests.helpers import Log


@pytest.fixture
def env() -> simpy.Environment:
    return simpy.Environment()


@pytest.fixture
def log(env: simpy.Environment) -> Log:
    return Log(env)


def job(
    env: simpy.Environment,
    cpu: Cpu,
    log: Log,
    name: str,
    work: float,
    at: float = 0.0,
    tail: float = 0.0,
) -> Generator[Any, Any, None]:
    if at:
        yield env.timeout(at)
    log(f"{name} submits")
    yield cpu.execute(work, tail)
    log(f"{name} done")


def test_one_core_serves_in_turn(env: simpy.Environment, log: Log) -> None:
    cpu = Cpu(env, 1)
    env.process(job(env, cpu, log, "a", 2))
    env.process(job(env, cpu, log, "b", 3))
    env.run()
    assert log == [("a submits", 0), ("b submits", 0), ("a done", 2), ("b done", 5)]
    assert cpu.jobs == 2
    assert cpu.free == 1
    assert cpu.queue_length == 0


def test_two_cores_third_job_takes_the_first_free_core(env: simpy.Environment, log: Log) -> None:
    cpu = Cpu(env, 2)
    env.process(job(env, cpu, log, "a", 2))
    env.process(job(env, cpu, log, "b", 3))
    env.process(job(env, cpu, log, "c", 1))
    env.run(until=0.5)
    assert cpu.free == 0
    assert cpu.queue_length == 1
    env.run()
    # c waits for a's core (free at 2) and finishes at 3, after b (same instant, b first)
    assert [e for e in log if e[0].endswith("done")] == [
        ("a done", 2),
        ("b done", 3),
        ("c done", 3),
    ]


def test_queue_is_first_come_first_served(env: simpy.Environment, log: Log) -> None:
    cpu = Cpu(env, 1)
    env.process(job(env, cpu, log, "a", 4))
    env.process(job(env, cpu, log, "late", 1, at=2))
    env.process(job(env, cpu, log, "early", 1, at=1))
    env.process(job(env, cpu, log, "short", 0.5, at=3))  # shortest, but last: no priority
    env.run()
    assert log == [
        ("a submits", 0),
        ("early submits", 1),
        ("late submits", 2),
        ("short submits", 3),
        ("a done", 4),
        ("early done", 5),
        ("late done", 6),
        ("short done", 6.5),
    ]


def test_tail_releases_the_caller_but_keeps_the_core_busy(env: simpy.Environment, log: Log) -> None:
    cpu = Cpu(env, 1)
    env.process(job(env, cpu, log, "a", 1, tail=2))
    env.process(job(env, cpu, log, "b", 1))
    env.run()
    assert log == [("a submits", 0), ("b submits", 0), ("a done", 1), ("b done", 4)]
    assert cpu.busy.area() == 4  # the core was busy the whole time, tail included


def test_background_work_occupies_a_core_with_no_waiter(env: simpy.Environment, log: Log) -> None:
    cpu = Cpu(env, 1)
    cpu.background(3)
    cpu.background(0)  # nothing at all
    env.process(job(env, cpu, log, "a", 1))
    env.run()
    assert log == [("a submits", 0), ("a done", 4)]
    assert cpu.jobs == 2


def test_zero_work_fires_at_once_on_a_free_core_but_queues_behind_others(
    env: simpy.Environment, log: Log
) -> None:
    cpu = Cpu(env, 1)
    env.process(job(env, cpu, log, "zero-free", 0))
    env.process(job(env, cpu, log, "a", 2, at=1))
    env.process(job(env, cpu, log, "zero-queued", 0, at=1.5))
    env.run()
    assert log == [
        ("zero-free submits", 0),
        ("zero-free done", 0),
        ("a submits", 1),
        ("zero-queued submits", 1.5),
        ("a done", 3),
        ("zero-queued done", 3),
    ]


def test_busy_cores_gauge_is_exact(env: simpy.Environment) -> None:
    """2 cores: a job of 2 s at t=0 and one of 1 s at t=1; measured from t=1 to t=4."""
    cpu = Cpu(env, 2)
    cpu.execute(2)
    env.run(until=1)
    cpu.busy.mark()  # end of warm-up
    cpu.execute(1)
    assert cpu.busy.value == 2
    env.run(until=4)
    assert cpu.busy.area() == 3  # 2 core-seconds + 1 core-second since t=0
    assert cpu.busy.peak == 2
    # window [1, 4]: both cores busy during [1, 2], none after: 2 core-seconds over 3 s
    assert cpu.busy.mean() == pytest.approx(2 / 3, abs=1e-15)
    assert cpu.busy.mean() / cpu.cores == pytest.approx(1 / 3, abs=1e-15)
    assert cpu.busy.value == 0


def test_a_core_busy_all_window_is_fully_utilised_to_the_rounding(env: simpy.Environment) -> None:
    """The area is summed piece by piece (0.2 - 0.1) + (1.1 - 0.2), which rounds above the
    span 1.1 - 0.1: the average is 1 to within that rounding, and not clamped to the peak
    (a clamp would also hide a real over-count; tests allow 1e-12 relative instead)."""
    cpu = Cpu(env, 1)
    env.run(until=0.1)
    cpu.execute(0.1)  # busy from 0.1 to 0.2 …
    cpu.busy.mark()
    env.run(until=0.2)
    cpu.execute(5)  # … and again from 0.2 on
    env.run(until=1.1)
    assert (0.2 - 0.1) + (1.1 - 0.2) > 1.1 - 0.1  # the rounding a clamp used to hide
    assert cpu.busy.mean() == pytest.approx(1.0, rel=1e-15, abs=0)
    assert cpu.busy.window_area() == pytest.approx(1.0, rel=1e-15, abs=0)


def test_a_gauge_created_mid_run_counts_from_its_birth(env: simpy.Environment) -> None:
    """A gauge created at t = 2 after the mark at t = 1: its window starts at its birth."""
    env.run(until=2)
    cpu = Cpu(env, 2)
    assert cpu.busy.since == 2
    cpu.execute(1)
    env.run(until=4)
    assert cpu.busy.area() == 1
    assert cpu.busy.window_area() == 1
    assert cpu.busy.mean() == 0.5  # one core busy half of [2, 4]


def test_busy_never_exceeds_cores_under_a_burst(env: simpy.Environment, log: Log) -> None:
    cpu = Cpu(env, 3)
    for i in range(10):
        env.process(job(env, cpu, log, f"j{i}", 1 + (i % 3)))
    env.run()
    assert cpu.busy.peak == 3
    assert cpu.busy.value == 0
    # total work 1+2+3+1+2+3+1+2+3+1 = 19 core-seconds, all of it on the gauge
    assert cpu.busy.area() == 19
    # in FIFO on 3 cores the jobs finish in this exact order and at these instants
    assert [e for e in log if e[0].endswith("done")] == [
        ("j0 done", 1),
        ("j1 done", 2),
        ("j3 done", 2),
        ("j2 done", 3),
        ("j4 done", 4),
        ("j6 done", 4),
        ("j5 done", 5),
        ("j7 done", 6),
        ("j9 done", 6),
        ("j8 done", 7),
    ]


def test_a_tail_nobody_waits_for_is_released_when_next_looked_at(env: simpy.Environment) -> None:
    """No timer for a tail while the queue is empty: the core is released at the tail's end
    when the Cpu is next read or used, with the gauge and idle_since as a timer would leave
    them; a job queued during the tail still starts exactly at its end."""
    cpu = Cpu(env, 1)
    cpu.execute(1, tail=2)  # the caller goes on at 1, the core stays busy until 3
    assert len(env._queue) == 1  # the caller's event: nothing is scheduled for the tail's end
    env.run(until=2)
    assert cpu.free == 0
    env.run(until=4)
    assert cpu.free == 1 and cpu.idle_since == 3
    assert cpu.busy.area() == 3 and cpu.busy.value == 0
    cpu.execute(1, tail=1)  # busy 4..6; a job arriving at 5 waits for the tail
    env.run(until=5)
    done = cpu.execute(0.5)
    env.run()
    assert done.processed and env.now == 6.5
    assert cpu.busy.area() == 5.5


def test_busy_log_folded_mid_run_gives_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The busy-core changes are logged and folded into the gauge when read or every
    FOLD_EVERY jobs: folding often or only at the end gives the same area and peaks, bit
    for bit, as both apply the changes one by one in order (Gauge.set_at's arithmetic)."""
    import random

    import sim.core.cpu as cpu_mod

    def run(fold_every: int) -> tuple[float, float, float, float]:
        monkeypatch.setattr(cpu_mod, "FOLD_EVERY", fold_every)
        env = simpy.Environment()
        cpu = Cpu(env, 2)
        rng = random.Random(7)
        t = 0.0
        for _ in range(500):
            t += rng.expovariate(1.0)
            env.run(until=t)
            cpu.execute(rng.expovariate(1.2), rng.choice((0.0, 0.3)))
            if rng.random() < 0.1:
                cpu.background(0.2)
        env.run(until=t + 50)
        g = cpu.busy
        return g.area(), g.peak, g.peak_window, g.value

    assert run(1) == run(3) == run(10**9)


def test_gauge_set_many_is_set_at_one_by_one(env: simpy.Environment) -> None:
    changes = [(0.1, 1), (0.30000000000000004, 2), (0.7, 1), (0.7, 0), (1.9, 3)]
    env.run(until=2)
    a, b = Gauge(env), Gauge(env)
    for t, v in changes:
        a.set_at(t, v)
    b.set_many([t for t, _ in changes], [v for _, v in changes])
    assert (a.area(), a.peak, a.peak_window, a.value) == (b.area(), b.peak, b.peak_window, b.value)
