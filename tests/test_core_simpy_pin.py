"""The SimPy internals :mod:`sim.core.schedule` relies on, checked against the pinned version.

SimPy offers no public way to schedule a bare callback, or an event whose outcome is known
now but delivered later (``succeed`` schedules at once; only ``Timeout`` does this, in its
constructor). The model does both on its hot paths, through three private attributes of
SimPy 4.1 (``_ok``, ``_value``, and ``Environment.step``'s reading of them), so
``pyproject.toml`` pins the minor version and these tests say what a new one must keep:

* the installed SimPy satisfies the pin;
* ``Environment.step`` runs any scheduled object's ``callbacks`` and reads its ``_ok``;
* ``succeed_at`` is a ``Timeout``: same value, same place among same-instant events;
* ``Task`` sees a failed event as ``Process`` does (the public ``defused`` keeps the
  environment running), and an exception whose class cannot be rebuilt from its ``args``
  still reaches the generator;
* ``Environment.now`` is a property over ``_now``, which hot paths read directly.
"""

from __future__ import annotations

import tomllib
from collections.abc import Generator
from typing import Any

import pytest
import simpy
from packaging.requirements import Requirement

from sim.core.schedule import Call, Signal, Task, succeed_at
from tests.helpers import ROOT


def test_installed_simpy_is_the_pinned_version() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if Requirement(d).name == "simpy"]
    assert req.specifier, "simpy must be pinned: sim.core.schedule relies on its internals"
    assert simpy.__version__ in req.specifier
    assert "<" in str(req.specifier)  # an upper bound: a new minor version is checked first


def test_step_runs_a_bare_call_and_reads_its_outcome() -> None:
    env = simpy.Environment()
    seen: list[float] = []
    env.schedule(Call(lambda _e: seen.append(env.now)), simpy.events.NORMAL, 2.0)
    env.run()
    assert seen == [2.0]

    class Failed(Call):  # the attributes step reads after the callbacks
        _ok = False
        _value = ValueError("boom")

    env.schedule(Failed(lambda _e: None), simpy.events.NORMAL, 1.0)
    with pytest.raises(ValueError, match="boom"):
        env.run()


def test_succeed_at_is_a_timeout() -> None:
    env = simpy.Environment()
    order: list[tuple[str, float, Any]] = []
    a = env.timeout(1.5)
    b = succeed_at(env, simpy.Event(env), 1.5)
    c = env.timeout(1.5)
    for name, ev in (("c", c), ("b", b), ("a", a)):
        ev.callbacks.append(lambda e, n=name: order.append((n, env.now, e.value)))
    assert b.triggered and b.ok and not b.processed  # the outcome is there at once
    env.run()
    assert order == [("a", 1.5, None), ("b", 1.5, None), ("c", 1.5, None)]


class Odd(Exception):
    """An exception whose constructor takes other arguments than its ``args``."""

    def __init__(self, code: int, why: str):
        super().__init__(f"{code}: {why}")


@pytest.mark.parametrize(
    ("exc", "copied"), [(ValueError("plain"), True), (Odd(7, "odd"), False)], ids=["plain", "odd"]
)
def test_task_throws_a_failed_event_into_its_generator(exc: Exception, copied: bool) -> None:
    env = simpy.Environment()
    caught: list[BaseException] = []

    def gen() -> Generator[Any, Any, None]:
        try:
            yield ev
        except Exception as e:
            caught.append(e)

    ev = simpy.Event(env)
    Task(env, gen())
    env.run(until=1)
    ev.fail(exc)
    env.run(until=2)  # the failure is defused: the environment goes on
    (e,) = caught
    assert type(e) is type(exc) and e.args == exc.args
    assert (e is not exc and e.__cause__ is exc) if copied else e is exc
    assert ev.defused


def test_now_is_the_private_clock() -> None:
    """Hot paths read ``env._now`` (an attribute) instead of the ``now`` property."""
    env = simpy.Environment(initial_time=1.25)
    env.run(until=3.5)
    assert env._now == env.now == 3.5
    assert isinstance(simpy.Environment.now, property)


def test_a_signal_is_a_timeout_when_scheduled_and_fire_when_called() -> None:
    """A Cpu job's Signal takes a Timeout's place among same-instant events; a Signal that
    is called runs its waiters at once; a SimPy process and a Task both wait on one."""
    env = simpy.Environment()
    order: list[tuple[str, float]] = []
    a = env.timeout(1.5)
    b = Signal()
    env.schedule(b, simpy.events.NORMAL, 1.5)
    c = env.timeout(1.5)
    for name, ev in (("c", c), ("b", b), ("a", a)):
        ev.callbacks.append(lambda _e, n=name: order.append((n, env.now)))
    env.run()
    assert order == [("a", 1.5), ("b", 1.5), ("c", 1.5)] and b.processed

    called = Signal()
    seen: list[tuple[str, Any]] = []

    def waiter(who: str) -> Generator[Any, Any, None]:
        seen.append((who, (yield called)))

    env.process(waiter("process"))
    Task(env, waiter("task"))
    env.run(until=2)
    assert not called.processed and not seen
    called()  # both go on at once, in the order they began to wait
    assert called.processed and seen == [("process", None), ("task", None)]
