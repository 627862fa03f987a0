"""Named random streams: reproducible, independent, and unaffected by new names.

Independence checks use the sample correlation of n paired uniforms, which for independent
streams is approximately N(0, 1/n); |r| < 4/sqrt(n) fails a correct implementation with
probability ~6e-5. The golden values pin the derivation (seed, replication, crc32 of the
name) so that results stay reproducible across versions of the simulator.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

import sim
from sim.core.streams import Streams
from tests.helpers import queue_scenario, requests_of

N = 100_000


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1])


def test_same_seed_replication_and_name_give_identical_draws() -> None:
    a = Streams(7, 2).get("arrivals").random(1000)
    b = Streams(7, 2).get("arrivals").random(1000)
    np.testing.assert_array_equal(a, b)


def test_get_returns_the_same_generator_so_draws_continue() -> None:
    s = Streams(7, 0)
    assert s.get("x") is s.get("x")
    first, second = s.get("x").random(5), s.get("x").random(5)
    np.testing.assert_array_equal(
        np.concatenate([first, second]), Streams(7, 0).get("x").random(10)
    )


def test_derivation_is_the_documented_seed_sequence() -> None:
    """Replication r is spawn key (r,), a name adds crc32(name) under it."""
    ss = np.random.SeedSequence(11, spawn_key=(3, zlib.crc32(b"demand/a/b")))
    expected = np.random.Generator(np.random.PCG64(ss)).random(10)
    np.testing.assert_array_equal(Streams(11, 3).get("demand/a/b").random(10), expected)


def test_golden_values() -> None:
    assert Streams(1, 0).get("arrivals").random() == 0.3187386385380607
    assert Streams(1, 3).get("demand/svc/op").random() == 0.4691258117165594


@pytest.mark.parametrize(
    ("other_seed", "other_rep", "other_name"),
    [(1, 0, "b"), (1, 1, "a"), (2, 0, "a"), (1, 5, "b")],
    ids=["name", "replication", "seed", "replication+name"],
)
def test_different_streams_are_uncorrelated(
    other_seed: int, other_rep: int, other_name: str
) -> None:
    x = Streams(1, 0).get("a").random(N)
    y = Streams(other_seed, other_rep).get(other_name).random(N)
    assert not np.array_equal(x[:10], y[:10])
    assert abs(_corr(x, y)) < 4 / math.sqrt(N)
    # lagged too: one stream must not be a shifted copy of another
    assert abs(_corr(x[1:], y[:-1])) < 4 / math.sqrt(N)


def test_many_names_are_pairwise_distinct() -> None:
    s = Streams(1, 0)
    names = [f"demand/svc-{i}/op" for i in range(200)] + ["arrivals", "flows", "queue-pick"]
    firsts = {s.get(n).integers(0, 2**63) for n in names}
    assert len(firsts) == len(names)


def test_a_new_name_does_not_change_an_existing_stream() -> None:
    alone = Streams(3, 1)
    a_alone = alone.get("a").random(20)

    crowded = Streams(3, 1)
    crowded.get("new-1").random(50)
    a1 = crowded.get("a").random(10)
    crowded.get("new-2").random(50)  # created and used between two draws of "a"
    a2 = crowded.get("a").random(10)
    np.testing.assert_array_equal(np.concatenate([a1, a2]), a_alone)


def test_adding_a_service_leaves_existing_arrivals_and_demands_unchanged() -> None:
    """A scenario-level check: a new service adds named streams but shifts none."""
    base = queue_scenario(100, "{dist: exponential, mean: 1ms}", duration=2, warmup=0)
    extra = queue_scenario(
        100,
        "{dist: exponential, mean: 1ms}",
        duration=2,
        warmup=0,
        extra_services="""
  other:
    instances: 1
    operations:
      op: {demand: {dist: exponential, mean: 5ms}}
""",
    )
    a = requests_of(sim.simulate(base, "http", seed=4))
    b = requests_of(sim.simulate(extra, "http", seed=4))
    assert len(a) > 100
    np.testing.assert_array_equal(a["start"].to_numpy(), b["start"].to_numpy())
    np.testing.assert_array_equal(a["cpu"].to_numpy(), b["cpu"].to_numpy())
