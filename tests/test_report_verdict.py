"""The report's verdict (sim.report.verdict): sentences from the summary, estimates from the
components frame, checked on a hand-made comparison.

HTTP: 0.4 infrastructure cores, of which sidecars 0.3 (6 s busy over 10 s, two replications
of 3 s each); messaging: 0.1 cores, one broker server using all of it. Without sidecars HTTP
would use 0.4 − 0.3 = 0.1 cores; a 3-server cluster 0.1 × 3 = 0.3 cores. Mean latency 2.0 ms
over HTTP, 1.8 ms over messaging (difference −0.2 ms, interval [−0.3, −0.1]: significant),
mostly from proxy / broker time (−0.3 ms), then network (+0.1 ms).
"""

from __future__ import annotations

import pandas as pd

import sim
from sim.report.verdict import build_verdict
from tests.helpers import ROOT

COLS = [
    "flow",
    "metric",
    "http",
    "messaging",
    "difference",
    "difference_low",
    "difference_high",
    "significant",
]


def summary() -> pd.DataFrame:
    rows = [
        ("system", "cpu_cores_infra", 0.4, 0.1, -0.3, -0.3, -0.3, True),
        ("system", "connections_mean", 100.0, 20.0, -80.0, -80.0, -80.0, True),
        ("all", "latency_mean", 2.0, 1.8, -0.2, -0.3, -0.1, True),
        ("all", "time_network", 0.5, 0.6, 0.1, 0.05, 0.15, True),
        ("all", "time_infra", 0.5, 0.2, -0.3, -0.35, -0.25, True),
        ("all", "time_cpu", 1.0, 1.0, 0.0, 0.0, 0.0, False),
    ]
    return pd.DataFrame(rows, columns=COLS)


def components() -> pd.DataFrame:
    rows = [
        (a, rep, kind, sec)
        for rep in (0, 1)
        for a, kind, sec in [
            ("http", "sidecar", 1.5),
            ("http", "sidecar", 1.5),
            ("http", "gateway", 1.0),
            ("messaging", "broker", 1.0),
        ]
    ]
    c = pd.DataFrame(rows, columns=["architecture", "replication", "kind", "cpu_seconds"])
    c["memory_mean"] = 2.0**20
    return c


def test_verdict_from_a_hand_made_comparison() -> None:
    sc = sim.load_scenario(ROOT / "tests" / "gold" / "tiny.yaml", ["run.duration=10"])
    v = build_verdict(sc, summary(), components())
    text = " ".join(v.sentences)
    assert "messaging uses 0.25× the infrastructure CPU of HTTP (0.1 against 0.4 cores)" in text
    assert "0.2× its connections (20 against 100 open on average)" in text
    assert "Mean latency is 0.2 ms lower over messaging" in text
    assert "[-0.3, -0.1] ms, significant" in text
    assert "mostly from proxy / broker (-0.3 ms), then network (+0.1 ms)" in text
    choices = " ".join(v.choices)
    assert "HTTP without sidecars: 0.1 cores of infrastructure (0.3 cores and 2 MiB" in choices
    assert "3-server cluster (the production minimum): at least 0.3 cores" in choices
    assert "not against HTTP without sidecars" in choices
    assert "On latency messaging is the better choice here: 0.2 ms (10.0%) faster" in choices


def test_no_verdict_without_both_architectures() -> None:
    sc = sim.load_scenario(ROOT / "tests" / "gold" / "tiny.yaml")
    one = summary().drop(columns=["messaging"])
    assert build_verdict(sc, one, components()).sentences == []


def test_a_side_without_completed_requests_has_no_latency_sentence() -> None:
    sc = sim.load_scenario(ROOT / "tests" / "gold" / "tiny.yaml", ["run.duration=10"])
    s = summary()
    s.loc[s["metric"] == "latency_mean", ["messaging", "difference"]] = float("nan")
    s.loc[s["metric"] == "latency_mean", ["difference_low", "difference_high"]] = float("nan")
    s.loc[s["metric"] == "latency_mean", "significant"] = False
    text = " ".join(build_verdict(sc, s, components()).sentences)
    assert "no latency to compare" in text and "nan" not in text
