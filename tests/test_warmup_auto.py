"""``run.warmup: auto``: MSER-5 on growing pilots (sim.stats.pilot_warmup, sim.engine).

The bias test uses a closed loop whose steady state is known exactly (mean value analysis):
200 users with exponential think time 0.2 s in front of one exponential 1 ms core
(ρ ≈ 0.95). Every user sends its first request at t = 0 into an empty system, so the first
second is a deep transient. With ``warmup: 0`` the mean response of 5 s runs is biased far
beyond its 95 % half-width (the transient is real); with ``auto`` the bias is below it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import sim
from sim.scenario import ScenarioError
from sim.stats import pilot_warmup, replication_interval
from sim.validation.theory import closed_single_server
from tests.helpers import ZERO_OVERHEAD, flagship, queue_scenario, scenario


def test_auto_is_accepted_and_bad_values_are_named() -> None:
    assert flagship("run.warmup=auto").run.warmup == "auto"
    assert flagship("run.warmup=250ms").run.warmup == 0.25
    with pytest.raises(ScenarioError, match="or auto"):
        flagship("run.warmup=soon")
    with pytest.raises(ScenarioError, match=">= 0"):
        flagship("run.warmup=-1")


def _observer(values_at: object, rate: float = 100.0) -> tuple[list[float], object]:
    """An observe(t) over a synthetic series with `rate` observations per unit of time."""
    seen: list[float] = []

    def observe(t: float) -> tuple[np.ndarray, np.ndarray]:
        seen.append(t)
        times = np.arange(0.0, t, 1.0 / rate)
        return times, values_at(times)  # type: ignore[operator]

    return seen, observe


def test_pilot_is_extended_until_the_transient_ends_in_its_first_part() -> None:
    noise = np.random.default_rng(3).normal(0, 1, 10_000)
    ramp = lambda t: np.maximum(20 * (1 - t / 5), 0) + noise[: len(t)]  # noqa: E731
    seen, observe = _observer(ramp)
    choice = pilot_warmup(observe, 1.0, 16.0)  # type: ignore[arg-type]
    # 100, 200, 400 observations are too few; at t = 8 the ramp (to t = 5) still fills the
    # first half, so the minimum sits at the end of the range; at t = 16 it settles
    assert seen == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert choice.settled
    assert choice.warmup == 16.0
    assert 4.5 <= choice.truncation <= 6.0
    assert choice.observations == 1600
    assert choice.truncated == round(choice.truncation * 100)


def test_stationary_series_settles_at_once() -> None:
    noise = np.random.default_rng(4).normal(5, 1, 10_000)
    seen, observe = _observer(lambda t: noise[: len(t)])
    choice = pilot_warmup(observe, 8.0, 64.0)  # type: ignore[arg-type]
    assert seen == [8.0]
    assert choice.settled and choice.truncation < 4.0


def test_too_few_observations_use_the_limit() -> None:
    seen, observe = _observer(lambda t: np.ones(len(t)), rate=10)
    choice = pilot_warmup(observe, 1.0, 4.0)  # type: ignore[arg-type]
    assert seen == [1.0, 2.0, 4.0]
    assert (choice.warmup, choice.settled, choice.observations) == (4.0, False, 40)
    assert math.isnan(choice.truncation)


def test_auto_warmup_in_a_run() -> None:
    """The window starts where the pilot settled, lasts `duration`, and is reported."""
    sc = queue_scenario(800, "{dist: exponential, mean: 1ms}", duration=4, warmup=0)
    sc = sc.model_copy(update={"run": sc.run.model_copy(update={"warmup": "auto"})})
    for a in ("http", "messaging"):
        r = sim.simulate(sc, a)
        md = r.metadata
        pilots = {4 / 16 * 2**k for k in range(5)}
        assert md["warmup"] in pilots
        assert md["warmup_settled"] is True
        assert 0 <= md["warmup_mser"] <= md["warmup"]
        assert md["simulated_time"] == pytest.approx(md["warmup"] + 4)
        assert r.requests["start"].min() >= md["warmup"]
        s = r.summary
        row = s[(s["flow"] == "system") & (s["metric"] == "warmup")]
        assert float(row["value"].iloc[0]) == md["warmup"]


CLOSED = """
name: closed-loop
run: {{duration: 5, warmup: {warmup}, seed: 1}}
services:
  svc:
    instances: 1
    cores: 1
    operations:
      op: {{demand: {{dist: exponential, mean: 1ms}}, request_bytes: 0, response_bytes: 0}}
workload:
  arrivals: {{kind: closed, users: 200, think: {{dist: exponential, mean: 0.2}}}}
  clients: 1
  flows: [{{name: f, service: svc, operation: op}}]
{zero}
"""


@pytest.mark.slow
def test_auto_warmup_removes_the_initial_transient() -> None:
    """On HTTP: the warm-up is chosen by the engine, the same code for both architectures,
    and with every overhead off both are the same queue request by request
    (tests/test_validation_suite.py::test_both_architectures_are_the_same_queue)."""
    exact, _throughput = closed_single_server(200, 0.2, 1e-3)  # ≈ 11.5 ms
    out = {}
    for warmup in ("0", "auto"):
        sc = scenario(CLOSED.format(warmup=warmup, zero=ZERO_OVERHEAD))
        means = [sim.simulate(sc, "http", None, r).requests["latency"].mean() for r in range(10)]
        out[warmup] = replication_interval(means)
    biased, auto = out["0"], out["auto"]
    assert biased.value - exact > biased.half_width  # the transient is there to remove
    assert abs(auto.value - exact) < auto.half_width
