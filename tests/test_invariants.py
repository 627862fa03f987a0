"""Invariants of every run: determinism, conservation, the latency breakdown, utilisation,
common random numbers; on the flagship (shortened) and on small random scenarios.

* Determinism: same scenario + seed ⇒ identical ``requests``, ``components`` and
  ``timeseries`` frames; another seed ⇒ different ones.
* Conservation: requests generated = completed + in flight (metadata of the run).
* Breakdown: network + queueing + cpu + infra + handshake = latency for every row
  (requests and event deliveries), within 1e-9 s.
* Utilisation of every component in [0, 1]; connections open at the end = opened − closed.
* Common random numbers: request k has the same ``cpu`` bucket on both architectures (up
  to float summation order).
* Timeseries: busy cores per interval, summed over the measured window, equal the
  components' CPU seconds, and the last interval ends at the end of the run.

The random scenarios come from :func:`small_scenarios` (Hypothesis): chains of 1–3 services
with probabilistic calls and events, open or closed load, gateway/sidecars/routes/protocol/
TLS drawn at random, and pools and idle timeouts small enough to make callers wait and
connections close.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.api import _meta, observers
from sim.core.trace import BUCKETS
from sim.engine import run
from sim.results import RunResult, frames_from_raw
from tests.evidence import (
    check_conservation_from_rows,
    check_cpu_against_jobs,
    check_memory_and_connections,
    logging_jobs,
)
from tests.helpers import flagship, requests_of, scenario

ARCHS = ("http", "messaging")
SHORT = ("run.duration=5", "run.warmup=1")


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, int], RunResult]:
    """The shortened flagship, both architectures, seeds 1 and 2 (computed once)."""
    sc = flagship(*SHORT)
    return {(a, s): sim.simulate(sc, a, seed=s) for a in ARCHS for s in (1, 2)}


# --------------------------------------------------------------------------- checks


def check_conservation(res: RunResult) -> None:
    md = res.metadata
    assert md["generated"] == md["completed"] + md["in_flight"], md
    assert md["in_flight"] >= 0
    # the frame holds the completed requests that started in the measured window
    assert len(requests_of(res)) <= md["completed"]


def check_breakdown(res: RunResult) -> None:
    req = res.requests
    parts = req[list(BUCKETS)]
    assert (parts.to_numpy() >= -1e-12).all()
    total = parts.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, req["latency"].to_numpy(), rtol=0, atol=1e-9)


def check_components(res: RunResult) -> None:
    c = res.components
    # a core busy the whole window sums its busy spans to 1 within round-off (as cpu_seconds)
    assert c["utilisation"].between(0.0, 1.0 + 1e-12).all(), c[["name", "utilisation"]]
    duration = res.metadata["duration"]
    assert (c["cpu_seconds"] <= c["cores"] * duration * (1 + 1e-12)).all()
    opened, closed = c["connections_opened_run"], c["connections_closed_run"]  # whole run
    assert (c["connections_open_end"] == opened - closed).all()
    assert (c["connections_opened"] <= opened).all()  # measured window
    assert (c["connections_closed"] <= closed).all()
    assert (c["tls_handshakes"] <= c["tls_handshakes_run"]).all()
    assert (c["tls_handshakes"] <= c["tcp_handshakes"]).all()
    assert (c["mtls_handshakes"] <= c["tls_handshakes"]).all()
    assert (c["memory_peak"] >= c["memory_mean"] * (1 - 1e-12)).all()
    ts = res.timeseries
    cores = ts[ts["metric"] == "cpu_cores"].merge(
        c.groupby("kind", as_index=False)["cores"].sum(), on="kind"
    )
    assert (cores["value"] >= -1e-9).all()
    assert (cores["value"] <= cores["cores"] + 1e-9).all()


def check_common_random_numbers(http: RunResult, messaging: RunResult) -> int:
    """The cpu bucket of each request is the same on both sides; returns how many compared.

    Same demands, but each transport may add a nested call's buckets to its caller's in its
    own grouping ((a + b) + c or a + (b + c)), and float addition is not associative: equal
    to the last few ulps, hence rtol 1e-12 (a different draw would differ by O(1))."""
    h = requests_of(http).set_index("request_id")
    m = requests_of(messaging).set_index("request_id")
    both = h.index.intersection(m.index)
    ok = (h.loc[both, "status"] == "ok") & (m.loc[both, "status"] == "ok")
    both = both[ok.to_numpy()]
    np.testing.assert_allclose(
        h.loc[both, "cpu"].to_numpy(), m.loc[both, "cpu"].to_numpy(), rtol=1e-12, atol=0
    )
    return len(both)


# --------------------------------------------------------------------------- flagship


@pytest.mark.parametrize("arch", ARCHS)
def test_same_seed_gives_identical_frames(
    runs: dict[tuple[str, int], RunResult], arch: str
) -> None:
    again = sim.simulate(flagship(*SHORT), arch, seed=1)
    first = runs[(arch, 1)]
    pd.testing.assert_frame_equal(first.requests, again.requests)
    pd.testing.assert_frame_equal(first.components, again.components)
    pd.testing.assert_frame_equal(first.timeseries, again.timeseries)
    volatile = {"wall_time"}
    assert {k: v for k, v in first.metadata.items() if k not in volatile} == {
        k: v for k, v in again.metadata.items() if k not in volatile
    }


@pytest.mark.parametrize("arch", ARCHS)
def test_another_seed_gives_different_frames(
    runs: dict[tuple[str, int], RunResult], arch: str
) -> None:
    a, b = runs[(arch, 1)], runs[(arch, 2)]
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(a.requests, b.requests)
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    assert not np.array_equal(requests_of(a)["start"][:50], requests_of(b)["start"][:50])


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("seed", [1, 2])
def test_flagship_invariants(runs: dict[tuple[str, int], RunResult], arch: str, seed: int) -> None:
    res = runs[(arch, seed)]
    req = requests_of(res)
    assert len(req) > 800  # ≈ 200/s for 5 s
    assert (req["status"] == "ok").all()
    assert (res.requests["kind"] == "event").sum() > 0
    assert res.requests["start"].min() >= 1.0  # nothing from the warm-up
    check_conservation(res)
    check_breakdown(res)
    check_components(res)


@pytest.mark.parametrize("seed", [1, 2])
def test_flagship_common_random_numbers(runs: dict[tuple[str, int], RunResult], seed: int) -> None:
    http, msg = runs[("http", seed)], runs[("messaging", seed)]
    assert check_common_random_numbers(http, msg) > 800
    # the same arrivals too: request k starts at the same instant on both sides
    h = requests_of(http).set_index("request_id")["start"]
    m = requests_of(msg).set_index("request_id")["start"]
    both = h.index.intersection(m.index)
    np.testing.assert_array_equal(h[both].to_numpy(), m[both].to_numpy())


@pytest.mark.parametrize("arch", ARCHS)
def test_gauge_series_covers_the_measured_window_and_agrees_with_components(
    runs: dict[tuple[str, int], RunResult], arch: str
) -> None:
    """Busy cores per interval, summed over the measured window, are the components' CPU
    seconds: the same integral read two ways. The last interval ends at the end of the run."""
    res = runs[(arch, 1)]
    md = res.metadata
    ts = res.timeseries
    cores = ts[ts["metric"] == "cpu_cores"]
    interval = 1.0  # the flagship's run.timeseries_interval
    assert cores["t"].max() == pytest.approx(md["simulated_time"])
    assert ts[ts["metric"] == "throughput"]["t"].max() == pytest.approx(md["simulated_time"])
    window = cores[cores["t"] > md["warmup"] + 1e-9]
    by_kind = (window.groupby("kind")["value"].sum() * interval).sort_index()
    expected = res.components.groupby("kind")["cpu_seconds"].sum().sort_index()
    pd.testing.assert_series_equal(by_kind, expected, check_names=False, rtol=1e-9, atol=1e-12)


def test_flagship_generates_the_same_requests_on_both_sides(
    runs: dict[tuple[str, int], RunResult],
) -> None:
    assert runs[("http", 1)].metadata["generated"] == runs[("messaging", 1)].metadata["generated"]


# --------------------------------------------------------------------------- random scenarios


@st.composite
def small_scenarios(draw: Any) -> dict[str, Any]:
    """A chain of 1–3 services with optional calls and an event observer, and random
    transport settings (gateway, sidecars, route, protocol, TLS, tiny pools and timeouts)."""
    n = draw(st.integers(1, 3))
    ms = st.floats(0.1, 4.0).map(lambda x: f"{x:.3f}ms")
    services: dict[str, Any] = {}
    for i in range(n):
        op: dict[str, Any] = {
            "demand": draw(
                st.sampled_from(
                    [
                        {"dist": "exponential", "mean": draw(ms)},
                        {"dist": "constant", "value": draw(ms)},
                        {"dist": "lognormal", "mean": "1ms", "p99": "5ms"},
                    ]
                )
            )
        }
        if i + 1 < n:
            op["calls"] = [
                {
                    "service": f"s{i + 1}",
                    "operation": "op",
                    "probability": draw(st.sampled_from([1.0, 0.5])),
                }
            ]
        if i == 0 and draw(st.booleans()):
            op["emits"] = [{"subject": "EV.done", "probability": draw(st.sampled_from([1.0, 0.3]))}]
        services[f"s{i}"] = {
            "instances": draw(st.integers(1, 3)),
            "cores": draw(st.integers(1, 3)),
            "operations": {"op": op},
        }
    services["obs"] = {
        "instances": draw(st.integers(1, 2)),
        "operations": {"handle": {"demand": {"dist": "exponential", "mean": draw(ms)}}},
        "subscriptions": [
            {
                "subject": "EV.>",
                "operation": "handle",
                "delivery": draw(st.sampled_from(["shared", "each"])),
            }
        ],
    }
    kind = draw(st.sampled_from(["poisson", "constant", "closed"]))
    rate = draw(st.floats(5.0, 250.0))
    arrivals: dict[str, Any] = (
        {
            "kind": "closed",
            "users": draw(st.integers(1, 20)),
            "think": {"dist": "exponential", "mean": "20ms"},
        }
        if kind == "closed"
        else {"kind": kind, "rate": rate}
    )
    tls = {"version": draw(st.sampled_from(["none", "1.2", "1.3"])), "mutual": draw(st.booleans())}
    return {
        "name": "hypothesis",
        "run": {
            "duration": draw(st.sampled_from([0.5, 1.0])),
            "warmup": draw(st.sampled_from([0, 0.1])),
            "seed": draw(st.integers(0, 2**16)),
        },
        "placement": {
            "regions": [{"name": "r", "zones": draw(st.sampled_from([["a"], ["a", "b", "c"]]))}]
        },
        "services": services,
        "workload": {
            "arrivals": arrivals,
            "clients": draw(st.integers(1, 4)),
            "flows": [{"name": "f", "service": "s0", "operation": "op"}],
        },
        "http": {
            "protocol": draw(st.sampled_from(["http1", "http2"])),
            "internal_route": draw(st.sampled_from(["mesh", "gateway", "direct"])),
            "gateway": {"enabled": draw(st.booleans()), "replicas": draw(st.integers(1, 2))},
            "sidecar": {"enabled": draw(st.booleans())},
            "pool": {
                "max_connections": draw(st.integers(1, 4)),
                "max_streams": draw(st.integers(1, 4)),
                "idle_timeout": draw(st.sampled_from([0.005, 0.05, 3600])),
            },
            "client_idle_timeout": draw(st.sampled_from([0.01, 90])),
            "tls": tls,
        },
        "messaging": {"tls": tls},
    }


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios())
def test_invariants_hold_on_small_random_scenarios(data: dict[str, Any]) -> None:
    sc = scenario(yaml.safe_dump(data, sort_keys=False), "<hypothesis>")
    results = {}
    for a in ARCHS:
        with logging_jobs() as log:  # independent evidence: the CPU jobs' own start and end
            raw = run(sc, a, sc.run.seed, 0, observers(sc))
            # a tail nobody waited for is released when its Cpu is next read (sim.core.cpu):
            # building the frames reads them, so the log must still be listening then
            res = results[a] = frames_from_raw(raw, _meta(sc))
        check_conservation(res)
        check_breakdown(res)
        check_components(res)
        check_cpu_against_jobs(raw, res, log)
        check_memory_and_connections(raw, res)
        check_conservation_from_rows(raw, res)
    if data["workload"]["arrivals"]["kind"] != "closed":  # open arrivals: the same requests
        assert results["http"].metadata["generated"] == results["messaging"].metadata["generated"]
    check_common_random_numbers(results["http"], results["messaging"])
