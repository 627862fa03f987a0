"""The I/O cost mechanism (sim.core.io): exact traces of wake-ups, batching and cold starts.

Costs are round numbers in microseconds so every instant is known by hand: a wake-up 10 µs,
a message 1 µs, a byte 0.01 µs, a cold wake-up 100 µs extra after 1 ms asleep (and, where a
test says so, more after a deep sleep: ``deep_wakeup``; or a 50 µs wait for the sleeping core: ``cold_latency``, a step at 1 ms of sleep
unless a test gives it a ramp).
"""

from __future__ import annotations

import pytest
import simpy

from sim.core.cpu import Cpu
from sim.core.io import Io, pass_through
from sim.core.trace import Trace
from sim.scenario.common import IoCost

US = 1e-6
COST = IoCost(
    wakeup=10 * US,
    cold_wakeup=100 * US,
    deep_wakeup=0.0,
    cold_latency=0.0,
    cold_latency_after=1e-3,
    cold_latency_full_after=1e-3,
    warm_window=1e-3,
    per_message=1 * US,
    per_byte=0.01 * US,
    tls_per_record=5 * US,
    tls_per_byte=0.1 * US,
)


def world(cores: int = 1, cost: IoCost = COST) -> tuple[simpy.Environment, Cpu, Io]:
    env = simpy.Environment()
    cpu = Cpu(env, cores)
    io = Io.of(cpu, cost)
    assert io is not None
    return env, cpu, io


def at(env: simpy.Environment, t: float, fn: object) -> None:
    def go() -> simpy.events.Event:
        yield env.timeout(t)
        fn()  # type: ignore[operator]

    env.process(go())


def test_spaced_messages_cost_one_wakeup_each() -> None:
    env, cpu, io = world()
    done: list[tuple[str, float]] = []
    chan = io.channel(tls=False)
    # the first at 2 ms finds the process asleep for 2 ms: cold — it goes on after its warm
    # 11 µs, and the core stays busy 100 µs more; the second, 0.489 ms after the core went
    # idle, is warm
    at(env, 2e-3, lambda: chan.send(0, None, lambda: done.append(("a", env.now))))
    at(env, 2.6e-3, lambda: chan.send(0, None, lambda: done.append(("b", env.now))))
    env.run()
    assert done == [("a", pytest.approx(2e-3 + 11 * US)), ("b", pytest.approx(2.6e-3 + 11 * US))]
    assert (io.wakeups, io.cold_wakeups, io.messages) == (2, 1, 2)
    assert io.seconds == pytest.approx(122 * US)
    assert cpu.busy.area() == pytest.approx(122 * US)  # the cold extra kept the core busy
    assert cpu.idle_since == pytest.approx(2.6e-3 + 11 * US)


def test_three_messages_arriving_while_busy_share_one_wakeup() -> None:
    env, _cpu, io = world(cost=COST.model_copy(update={"cold_wakeup": 0.0}))
    done: list[tuple[str, float]] = []
    chan = io.channel(tls=False)
    # "a" is on the core from 0 to 11 µs; b, c, d arrive meanwhile and are read together
    # (one wake-up, three messages: 10 + 3 = 13 µs) from 11 to 24 µs
    at(env, 0.0, lambda: chan.send(0, None, lambda: done.append(("a", env.now))))
    for name, t in (("b", 2 * US), ("c", 5 * US), ("d", 9 * US)):
        at(env, t, lambda n=name: chan.send(0, None, lambda: done.append((n, env.now))))
    env.run()
    assert [n for n, _ in done] == ["a", "b", "c", "d"]
    assert [t for _, t in done] == pytest.approx([11 * US, 24 * US, 24 * US, 24 * US])
    assert (io.wakeups, io.messages) == (2, 4)
    assert io.seconds == pytest.approx(24 * US)


def test_messages_queued_for_a_core_join_the_batch_before_it_starts() -> None:
    env, cpu, io = world(cost=COST.model_copy(update={"cold_wakeup": 0.0}))
    done: list[tuple[str, float]] = []
    chan = io.channel(tls=False)
    cpu.execute(50 * US)  # someone else holds the only core until 50 µs
    at(env, 10 * US, lambda: chan.send(100, None, lambda: done.append(("a", env.now))))
    at(env, 20 * US, lambda: chan.send(100, None, lambda: done.append(("b", env.now))))
    env.run()
    # one wake-up at 50 µs: 10 + 2 × 1 + 200 B × 0.01 = 14 µs
    assert done == [("a", pytest.approx(64 * US)), ("b", pytest.approx(64 * US))]
    assert io.wakeups == 1


def test_two_connections_are_two_wakeups() -> None:
    env, _cpu, io = world(cores=2, cost=COST.model_copy(update={"cold_wakeup": 0.0}))
    done: list[float] = []
    one, two = io.channel(tls=False), io.channel(tls=False)
    at(env, 0.0, lambda: one.send(0, None, lambda: done.append(env.now)))
    at(env, 0.0, lambda: two.send(0, None, lambda: done.append(env.now)))
    env.run()
    assert done == pytest.approx([11 * US, 11 * US])  # two cores, one wake-up each
    assert io.wakeups == 2


def test_tls_adds_per_record_and_per_byte_work() -> None:
    env, _cpu, io = world(cost=COST.model_copy(update={"cold_wakeup": 0.0}))
    done: list[float] = []
    chan = io.channel(tls=True)
    chan.send(1000, None, lambda: done.append(env.now))
    env.run()
    # 10 + 1 + 1000 × 0.01 + TLS (5 + 1000 × 0.1) = 126 µs
    assert done == [pytest.approx(126 * US)]
    assert (io.tls_records, io.tls_bytes) == (1, 1000)


def test_trace_books_the_work_as_infra_and_the_wait_as_queueing() -> None:
    env, cpu, io = world(cost=COST.model_copy(update={"cold_wakeup": 0.0}))
    tr = Trace(0, "f", 0.0)
    chan = io.channel(tls=False)
    cpu.execute(30 * US)
    chan.send(0, tr, lambda: None)
    env.run()
    assert tr.infra == pytest.approx(11 * US)
    assert tr.queueing == pytest.approx(30 * US)


def test_cold_wakeup_needs_every_core_idle_for_the_window() -> None:
    env, cpu, io = world(cores=2)
    chan = io.channel(tls=False)
    cpu.execute(5e-3)  # one core busy until 5 ms: the process is awake
    at(env, 2e-3, lambda: chan.send(0, None, lambda: None))
    env.run()
    assert io.cold_wakeups == 0
    at(env, 6.5e-3 - env.now, lambda: chan.send(0, None, lambda: None))  # idle 1.5 ms
    env.run()
    assert io.cold_wakeups == 1


def test_a_cold_extra_delays_the_next_job_not_the_message() -> None:
    env, cpu, io = world()
    chan = io.channel(tls=False)
    done: list[float] = []
    at(env, 2e-3, lambda: chan.send(0, None, lambda: done.append(env.now)))
    at(env, 2.05e-3, lambda: cpu.execute(0.0).callbacks.append(lambda _e: done.append(env.now)))
    env.run()
    # the message is handed on after 11 µs; the next job waits for the cold 100 µs too
    assert done == pytest.approx([2.011e-3, 2.111e-3])


def test_free_io_is_no_io() -> None:
    env = simpy.Environment()
    cpu = Cpu(env, 1)
    zero = IoCost(**dict.fromkeys(IoCost.model_fields, 0.0))
    assert Io.of(cpu, zero) is None
    assert Io.of(cpu, None) is None
    assert Io.of(None, COST) is None
    hit: list[float] = []
    pass_through(None, 100, None, lambda: hit.append(env.now))
    assert hit == [0.0]  # at once, no event


def test_window_counts_from_the_mark() -> None:
    env, _cpu, io = world()
    chan = io.channel(tls=False)
    chan.send(10, None, lambda: None)
    env.run()
    io.mark()
    chan.send(10, None, lambda: None)
    env.run()
    w = io.window()
    assert (w["wakeups"], w["messages"], w["bytes"]) == (1, 1, 10)


def test_tagged_shares_add_up_to_every_second_charged() -> None:
    env, _cpu, io = world()
    booked: dict[str, float] = {}
    io.on_share = lambda tag, s: booked.__setitem__(tag, booked.get(tag, 0.0) + s)
    chan = io.channel(tls=False)
    cpu = io.cpu
    cpu.execute(50 * US)  # the core is taken at 0: A and B arrive meanwhile, read together
    at(env, 10 * US, lambda: chan.send(10, None, lambda: None, "A"))
    at(env, 20 * US, lambda: chan.send(10, None, lambda: None, "B"))
    at(env, 5e-3, lambda: chan.send(10, None, lambda: None, "A"))  # cold, alone
    env.run()
    assert sum(booked.values()) == pytest.approx(io.seconds)
    assert booked["B"] == pytest.approx((10 + 2 + 0.2) * US / 2)
    assert booked["A"] == pytest.approx((10 + 2 + 0.2) * US / 2 + (10 + 1 + 0.1 + 100) * US)


def test_a_batch_queued_behind_other_work_is_warm() -> None:
    env, cpu, io = world()
    chan = io.channel(tls=False)
    at(env, 5e-3, lambda: cpu.execute(3e-3))  # busy from 5 to 8 ms, after 5 ms asleep
    at(env, 6e-3, lambda: chan.send(0, None, lambda: None))  # waits for the core
    env.run()
    assert (io.wakeups, io.cold_wakeups) == (1, 0)  # the process was awake all along


def test_a_wakeup_from_idle_waits_cold_latency_and_takes_what_arrives_meanwhile() -> None:
    env, cpu, io = world(cost=COST.model_copy(update={"cold_latency": 50 * US}))
    done: list[tuple[str, float]] = []
    traces = {n: Trace(i, "f", 0.0) for i, n in enumerate("abc")}
    chan = io.channel(tls=False)

    def send(name: str) -> None:
        chan.send(0, traces[name], lambda: done.append((name, env.now)))

    # "a" at 2 ms finds the process asleep: its core wakes until 2.05 ms, using no CPU; "b"
    # arrives at 2.02 ms while it wakes and is read in the same wake-up (10 + 2 µs of work);
    # "c" at 2.6 ms (0.438 ms after the cold extra freed the core) is warm: no wait
    at(env, 2e-3, lambda: send("a"))
    at(env, 2.02e-3, lambda: send("b"))
    at(env, 2.6e-3, lambda: send("c"))
    env.run()
    assert done == [
        ("a", pytest.approx(2.062e-3)),
        ("b", pytest.approx(2.062e-3)),
        ("c", pytest.approx(2.611e-3)),
    ]
    assert (io.wakeups, io.cold_wakeups, io.messages) == (2, 1, 3)
    # CPU: 12 µs of reads, the 100 µs cold extra after them, 11 µs for "c"; the wait is free
    assert cpu.busy.area() == pytest.approx(123 * US)
    # the wait for the core is the transport's latency (infra), not queueing for a core
    assert traces["a"].infra == pytest.approx(62 * US) and traces["a"].queueing == pytest.approx(0)
    assert traces["b"].infra == pytest.approx(42 * US) and traces["b"].queueing == pytest.approx(0)
    assert traces["c"].infra == pytest.approx(11 * US)


def test_no_wait_while_any_core_is_busy_or_the_process_slept_briefly() -> None:
    env, _cpu, io = world(cores=2, cost=COST.model_copy(update={"cold_latency": 50 * US}))
    done: list[tuple[str, float]] = []
    one, two = io.channel(tls=False), io.channel(tls=False)
    io.cpu.background(5e-3)  # one core busy from 0 to 5 ms: the process is awake
    at(env, 2e-3, lambda: one.send(0, None, lambda: done.append(("a", env.now))))
    # 5 ms: every core idle; 5.5 ms is within the warm window
    at(env, 5.5e-3, lambda: two.send(0, None, lambda: done.append(("b", env.now))))
    env.run()
    assert done == [("a", pytest.approx(2.011e-3)), ("b", pytest.approx(5.511e-3))]
    assert io.cold_wakeups == 0


def test_a_brief_sleep_waits_idle_latency_a_long_one_cold_latency_an_awake_process_none() -> None:
    cost = COST.model_copy(update={"cold_latency": 50 * US, "idle_latency": 20 * US})
    env, cpu, io = world(cost=cost)
    done: list[tuple[str, float]] = []
    chan = io.channel(tls=False)

    def send(name: str) -> None:
        chan.send(100, None, lambda: done.append((name, env.now)))

    # each read: 10 µs wake-up + 1 µs message + 1 µs for 100 bytes = 12 µs of work
    at(env, 0.5e-3, lambda: send("a"))  # asleep 0.5 ms (< 1 ms): a shallow sleep, 20 µs
    at(env, 0.54e-3, lambda: send("b"))  # asleep 8 µs since "a": still a sleep, 20 µs
    at(env, 5e-3, lambda: send("c"))  # asleep ≈4.4 ms: a deep sleep, 50 µs (+100 µs CPU after)
    at(env, 5.1e-3, lambda: send("d"))  # the core is busy with c's cold extra: no wait
    env.run()
    assert done == [
        ("a", pytest.approx(0.532e-3)),
        ("b", pytest.approx(0.572e-3)),
        ("c", pytest.approx(5.062e-3)),
        ("d", pytest.approx(5.174e-3)),
    ]
    assert (io.wakeups, io.cold_wakeups) == (4, 1)
    assert cpu.busy.area() == pytest.approx((4 * 12 + 100) * US)  # the waits use no CPU


def test_the_wait_to_wake_grows_in_a_straight_line_between_its_two_idle_times() -> None:
    # idle_latency 20 µs up to 1 ms asleep, growing to cold_latency 110 µs at 10 ms asleep:
    # 10 µs more per ms of sleep in between
    cost = COST.model_copy(
        update={
            "cold_latency": 110 * US,
            "idle_latency": 20 * US,
            "cold_latency_after": 1e-3,
            "cold_latency_full_after": 10e-3,
            "cold_wakeup": 0.0,
        }
    )
    env, cpu, io = world(cost=cost)
    done: list[tuple[str, float]] = []
    chan = io.channel(tls=False)

    def send(name: str) -> None:
        chan.send(0, None, lambda: done.append((name, env.now)))

    # each read is 11 µs of work; the core is idle from the end of the previous one
    at(env, 0.5e-3, lambda: send("a"))  # asleep 0.5 ms: 20 µs
    at(env, 4.531e-3, lambda: send("b"))  # asleep 4 ms (from 0.531 ms): 20 + 3 × 10 = 50 µs
    at(env, 20e-3, lambda: send("c"))  # asleep ≈15.4 ms, past 10 ms: the whole 110 µs
    env.run()
    assert done == [
        ("a", pytest.approx(0.531e-3)),
        ("b", pytest.approx(4.592e-3)),
        ("c", pytest.approx(20.121e-3)),
    ]
    assert [io.waking(t) for t in (-1.0, 0.0, 1e-3, 5.5e-3, 10e-3, 1.0)] == pytest.approx(
        [0.0, 0.0, 20 * US, 65 * US, 110 * US, 110 * US]
    )
    assert cpu.busy.area() == pytest.approx(3 * 11 * US)  # the waits use no CPU


def test_a_full_after_at_or_below_the_start_makes_the_wait_a_step() -> None:
    cost = COST.model_copy(
        update={"cold_latency": 50 * US, "cold_latency_after": 2e-3, "cold_latency_full_after": 0}
    )
    _env, _cpu, io = world(cost=cost)
    assert [io.waking(t) for t in (1.999e-3, 2e-3, 3e-3)] == pytest.approx([0.0, 50 * US, 50 * US])


DEEP = COST.model_copy(
    update={"deep_wakeup": 200 * US, "cold_latency_after": 1e-3, "cold_latency_full_after": 5e-3}
)


def test_a_deep_sleep_costs_more_cpu_in_a_straight_line_with_its_depth() -> None:
    # deep_wakeup 200 µs: none up to 1 ms asleep, all of it from 5 ms, 50 µs more per ms
    # between; the cold 100 µs from 1 ms asleep (warm_window) as before
    env, _cpu, io = world(cost=DEEP)
    done: list[tuple[str, float]] = []
    chan = io.channel(tls=False)

    def send(name: str) -> None:
        chan.send(0, None, lambda: done.append((name, env.now)))

    at(env, 3e-3, lambda: send("a"))  # asleep 3 ms: half as deep, 11 + 100 + 100 µs of CPU
    at(env, 3.211e-3 + 6e-3, lambda: send("b"))  # asleep 6 ms: all of it, 11 + 100 + 200 µs
    at(env, 9.522e-3 + 0.5e-3, lambda: send("c"))  # asleep 0.5 ms: warm, 11 µs
    at(env, 10.033e-3 + 2e-3, lambda: send("d"))  # asleep 2 ms: a quarter, 11 + 100 + 50 µs
    env.run()
    # the extra keeps the core busy after the read; it delays no message
    assert done == [
        ("a", pytest.approx(3.011e-3)),
        ("b", pytest.approx(9.222e-3)),
        ("c", pytest.approx(10.033e-3)),
        ("d", pytest.approx(12.044e-3)),
    ]
    assert io.seconds == pytest.approx((211 + 311 + 11 + 161) * US)
    assert (io.cold_wakeups, io.deep_wakeups) == (3, pytest.approx(0.5 + 1 + 0.25))
    assert [io.depth(t) for t in (0.5e-3, 1e-3, 2e-3, 5e-3, 1.0)] == pytest.approx(
        [0.0, 0.0, 0.25, 1.0, 1.0]
    )
    assert io.window()["deep_wakeups"] == pytest.approx(1.75)


def test_a_busy_process_pays_no_deep_wakeup() -> None:
    env, cpu, io = world(cores=2, cost=DEEP)
    chan = io.channel(tls=False)
    cpu.execute(8e-3)  # one core busy until 8 ms: the process is awake
    at(env, 7e-3, lambda: chan.send(0, None, lambda: None))
    env.run()
    assert (io.wakeups, io.cold_wakeups, io.deep_wakeups, io.seconds) == (1, 0, 0.0, 11 * US)


def test_a_process_its_own_timer_woke_writes_at_once_and_its_next_read_waits_from_then() -> None:
    # the edge client's case: woken by its own timer to send (Cpu.awake at the send), it
    # writes at once; the reply finds it asleep since then
    cost = COST.model_copy(
        update={"cold_latency": 50 * US, "idle_latency": 20 * US, "cold_wakeup": 0.0}
    )
    env, cpu, io = world(cost=cost)
    tx, rx = io.channel(tls=False), io.channel(tls=False)
    done: list[tuple[str, float]] = []

    def send(chan: object, name: str, awake: bool = False) -> None:
        if awake:
            cpu.awake()
        chan.send(0, None, lambda: done.append((name, env.now)))  # type: ignore[attr-defined]

    at(env, 5e-3, lambda: send(tx, "request", awake=True))  # asleep 5 ms, but awake now
    at(env, 5.5e-3, lambda: send(rx, "reply"))  # asleep 0.489 ms since the write: 20 µs
    at(env, 20e-3, lambda: send(tx, "unwoken"))  # asleep 14.5 ms, nothing woke it: 50 µs
    env.run()
    assert done == [
        ("request", pytest.approx(5.011e-3)),  # 11 µs of work, no wait
        ("reply", pytest.approx(5.531e-3)),
        ("unwoken", pytest.approx(20.061e-3)),
    ]


def test_awake_leaves_a_busy_process_s_idle_time_alone() -> None:
    env, cpu, _io = world(cores=2)
    cpu.execute(1e-3)

    def check() -> None:
        cpu.awake()
        assert cpu.idle() == -1.0  # a core is still busy

    at(env, 0.5e-3, check)
    env.run()
    assert cpu.idle_since == pytest.approx(1e-3)


HANDOFF = COST.model_copy(update={"cold_wakeup": 0.0, "handoff_latency": 30 * US})


def test_a_write_waits_its_hand_off_and_takes_what_is_written_meanwhile() -> None:
    env, cpu, io = world(cores=2, cost=HANDOFF)
    done: list[tuple[str, float]] = []
    traces = {n: Trace(i, "f", 0.0) for i, n in enumerate("abcd")}
    rx, tx = io.channel(tls=False), io.channel(tls=False, write=True)

    def write(name: str) -> None:
        tx.send(0, traces[name], lambda: done.append((name, env.now)))

    # "a" read at 1 ms (11 µs) is written at once: the write waits 30 µs for its hand-off,
    # then 11 µs of work; "b", written at 1.02 ms while the hand-off is under way, joins
    # that write (12 µs for both); "c" written at 1.047 ms, while that write is on a core,
    # forms the next write, which goes straight on when it ends (no second hand-off); "d"
    # at 2 ms, with the writer idle again, waits a hand-off of its own
    at(env, 1e-3, lambda: rx.send(0, None, lambda: write("a")))
    at(env, 1.02e-3, lambda: write("b"))
    at(env, 1.047e-3, lambda: write("c"))
    at(env, 2e-3, lambda: write("d"))
    env.run()
    assert done == [
        ("a", pytest.approx(1.053e-3)),
        ("b", pytest.approx(1.053e-3)),
        ("c", pytest.approx(1.064e-3)),
        ("d", pytest.approx(2.041e-3)),
    ]
    assert (io.wakeups, io.messages) == (4, 5)  # one read, three writes
    assert cpu.busy.area() == pytest.approx(45 * US)  # the hand-off costs no CPU
    # the hand-off is the transport's latency (infra), not queueing for a core
    assert traces["a"].infra == pytest.approx(42 * US) and traces["a"].queueing == pytest.approx(0)
    assert traces["b"].infra == pytest.approx(33 * US)
    assert traces["c"].infra == pytest.approx(11 * US)
    assert traces["c"].queueing == pytest.approx(6 * US)
    assert traces["d"].infra == pytest.approx(41 * US)


def test_reads_take_no_hand_off_and_none_is_the_old_channel() -> None:
    env, _cpu, io = world(cost=HANDOFF)
    done: list[float] = []
    rx = io.channel(tls=False)
    at(env, 1e-3, lambda: rx.send(0, None, lambda: done.append(env.now)))
    env.run()
    assert done == [pytest.approx(1.011e-3)]
    env, _cpu, io = world(cost=COST.model_copy(update={"cold_wakeup": 0.0}))
    tx = io.channel(tls=False, write=True)
    at(env, 1e-3, lambda: tx.send(0, None, lambda: done.append(env.now)))
    env.run()
    assert done[1:] == [pytest.approx(1.011e-3)]
