"""Benchmarks of the simulator, measured side by side in one run: ``make bench``.

    .venv/bin/python benchmarks/run.py            # full (~3-4 min on 2 idle cores)
    .venv/bin/python benchmarks/run.py --quick    # smoke run (~1 min)
    .venv/bin/python benchmarks/run.py --million  # also 1M requests with rows: none (slow)

What is measured (every figure that compares is a ratio of runs made in this process, one
after the other, alternating contenders and taking the median of ``--repeats``, so a busy
machine slows all contenders alike):

(a) simulated requests per second on the flagship, each architecture: requests generated
    over warm-up + duration, divided by the event loop's CPU time (``time.process_time`` —
    the wall time of an idle machine, but not inflated when other jobs share the cores;
    building the frames afterwards is reported separately);
(b) the same request path as a minimal hand-made SimPy model (``handmade_path.py``), same
    duration and seed — the ratio simulator / hand-made (> 1: the simulator is faster);
(c) an M/M/1 queue (λ = 800/s, μ = 1000/s) in this simulator with every overhead off,
    in Ciw 3 and in a hand-made SimPy model: customers per CPU-second and the ratios,
    with the mean time in system against the closed form 1/(μ − λ) = 5 ms as a check;
(d) peak memory (``ru_maxrss`` of a fresh subprocess, minus the same after imports) per
    request, from runs of growing duration, with the rows kept (``run.rows: all``) and
    without (``run.rows: none``, streaming aggregation), extrapolated to 1M requests; with
    ``--million`` 1M requests are run in ``rows: none`` mode;
(e) run time and peak memory as the mesh grows (10, 100, 1,000 services, one instance
    each, the same total load spread over them) and as the duration grows (is it linear?);
(f) the event loop's floor: SimPy events per request of each contender and the CPU cost of
    one bare SimPy event, hence the best ratio reachable on SimPy if everything besides
    scheduling the events were free.

Results go to stdout and to ``benchmarks/results.md``. Nothing here is a test: timings
are never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FLAGSHIP = ROOT / "scenarios" / "order-service-minimal.yaml"  # the path the hand-made model walks
sys.path.insert(0, str(HERE))

# the speed targets (issue 17): the flagship against the hand-made model, the M/M/1 against Ciw
TARGETS = {
    "flagship http": 1.0,
    "flagship messaging": 0.8,
    "M/M/1 http": 1.5,
    "M/M/1 messaging": 1.0,
}

from contenders import (  # noqa: E402  (a script beside its helpers)
    MM1_MU,
    MM1_RATE,
    bare_events,
    child,
    ciw_mm1,
    counted_events,
    handmade,
    mm1_scenario,
    ours,
    simpy_mm1,
)


def side_by_side(
    contenders: dict[str, Callable[[], dict[str, float]]], repeats: int
) -> dict[str, dict[str, float]]:
    """Alternate the contenders `repeats` times; per contender the median run (by rate)."""
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            r = fn()
            r["rate"] = r["n"] / r["secs"]
            runs[name].append(r)
    out = {}
    for name, rs in runs.items():
        med = statistics.median(r["rate"] for r in rs)
        out[name] = min(rs, key=lambda r: abs(r["rate"] - med))
    return out


def in_subprocess(spec: dict[str, Any]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return slope, my - slope * mx


# --------------------------------------------------------------------------- report
def table(head: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
        return str(v)

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def event_counts() -> dict[str, float]:
    """SimPy events scheduled per request (or customer) by each contender, counted at
    ``Environment.schedule`` in separate 10 s runs (never in the timed ones): keys
    ``"<arch>/sim"``, ``"<arch>/hand"`` (flagship), ``"mm1 <arch>"`` and ``"mm1 hand"``."""
    from sim.api import load_scenario

    sc = load_scenario(FLAGSHIP, ["run.duration=10"])
    mm1_sc = mm1_scenario(10.0)
    counts: dict[str, float] = {}
    for arch in ("http", "messaging"):
        for who, fn in (("sim", ours), ("hand", handmade)):
            with counted_events() as ev:
                r = fn(sc, arch)
            counts[f"{arch}/{who}"] = ev.n / r["n"]
        with counted_events() as ev:
            r = ours(mm1_sc, arch)
        counts[f"mm1 {arch}"] = ev.n / r["n"]
    with counted_events() as ev:
        r = simpy_mm1(10.0)
    counts["mm1 hand"] = ev.n / r["n"]
    return counts


def bench_flagship(
    flag_dur: float, repeats: int, counts: dict[str, float]
) -> tuple[str, dict[str, dict[str, float]]]:
    """(a) and (b): the simulator and the hand-made model on the flagship path, with the
    events each schedules per request; also the median runs (``"<arch>/sim"``,
    ``"<arch>/hand"``) for (f)."""
    from sim.api import load_scenario

    sc = load_scenario(FLAGSHIP, [f"run.duration={flag_dur}"])
    rows = []
    kept: dict[str, dict[str, float]] = {}
    for arch in ("http", "messaging"):
        res = side_by_side(
            {"sim": lambda a=arch: ours(sc, a), "hand": lambda a=arch: handmade(sc, a)}, repeats
        )
        s, h = res["sim"], res["hand"]
        kept[f"{arch}/sim"], kept[f"{arch}/hand"] = s, h
        rows.append(
            [
                arch,
                s["rate"],
                h["rate"],
                s["rate"] / h["rate"],
                counts[f"{arch}/sim"],
                counts[f"{arch}/hand"],
                s["frames"],
                s["mean"] * 1e3,
                h["mean"] * 1e3,
            ]
        )
    text = (
        f"## (a, b) Flagship: simulated requests per CPU-second ({flag_dur:g} s + "
        f"{sc.run.warmup:g} s warm-up, 200 orders/s)\n\n"
        + table(
            [
                "architecture",
                "simulator req/s",
                "hand-made SimPy req/s",
                "sim / hand-made",
                "sim events / req",
                "hand-made events / req",
                "frames s",
                "sim mean ms",
                "hand-made mean ms",
            ],
            rows,
        )
        + "\n\nsim / hand-made > 1: the simulator is faster than the minimal hand-made model of "
        "the same path (targets: >= 1 over http, >= 0.8 over messaging). `frames s`: building result frames after the event "
        "loop (not in the rate). The means differ by what the minimal model leaves out (the waits to wake "
        "from idle, the in-service protocol I/O, handshakes, cold wake-ups, batching: `handmade_path.py`), "
        "so it is the lighter of the two.\n"
    )
    return text, kept


def bench_mm1(
    mm1_dur: float, repeats: int, counts: dict[str, float]
) -> tuple[str, dict[str, dict[str, float]]]:
    """(c): M/M/1 in this simulator, in Ciw and in hand-made SimPy, with the SimPy events per
    customer (Ciw schedules none); also the median runs."""
    mm1 = mm1_scenario(mm1_dur)
    res = side_by_side(
        {
            "sim (http)": lambda: ours(mm1, "http"),
            "sim (messaging)": lambda: ours(mm1, "messaging"),
            "Ciw": lambda: ciw_mm1(mm1_dur),
            "hand-made SimPy": lambda: simpy_mm1(mm1_dur),
        },
        repeats,
    )
    ciw_rate, hand_rate = res["Ciw"]["rate"], res["hand-made SimPy"]["rate"]
    events = {
        "sim (http)": counts["mm1 http"],
        "sim (messaging)": counts["mm1 messaging"],
        "Ciw": "-",
        "hand-made SimPy": counts["mm1 hand"],
    }
    rows = [
        [k, v["rate"], v["rate"] / ciw_rate, v["rate"] / hand_rate, events[k], v["mean"] * 1e3]
        for k, v in res.items()
    ]
    text = (
        f"## (c) M/M/1 (λ={MM1_RATE:g}/s, μ={MM1_MU:g}/s, {mm1_dur:g} s ≈ "
        f"{MM1_RATE * mm1_dur:,.0f} customers)\n\n"
        + table(
            [
                "model",
                "customers / CPU-s",
                "× Ciw",
                "× hand-made SimPy",
                "events / customer",
                "mean in system ms",
            ],
            rows,
        )
        + f"\n\nClosed form: mean time in system 1/(μ−λ) = {1e3 / (MM1_MU - MM1_RATE):g} ms "
        "(one run each: at ρ = 0.8 a run's mean wanders by several per cent). Targets: >= 1.5× Ciw "
        "over http, >= 1× over messaging.\n"
    )
    return text, res


def _model_code(cost: float, budget: float, loop: float) -> tuple[float, float, str]:
    """(model code µs per request, what the target allows for it, the cut that needs): the
    CPU per request beyond the bare cost of its events, now and at the target's budget."""
    now, allowed = (cost - loop) * 1e6, (budget - loop) * 1e6
    cut = "impossible" if allowed <= 0 else f"{1 - allowed / now:.0%}" if allowed < now else "0%"
    return now, allowed, cut


def bench_floor(
    flag: dict[str, dict[str, float]],
    mm1: dict[str, dict[str, float]],
    repeats: int,
    counts: dict[str, float],
) -> str:
    """(f): how many SimPy events each contender schedules per request (``counts``), what
    one bare event costs (the floor), and so the best ratio the simulator could reach if
    everything it does besides scheduling its events cost nothing."""
    floor = side_by_side({"bare": bare_events}, repeats)["bare"]
    per_event = floor["secs"] / floor["n"]  # CPU s per bare event
    rows = []
    for arch in ("http", "messaging"):
        hand_cost = 1.0 / flag[f"{arch}/hand"]["rate"]  # CPU s per request, hand-made
        sim_cost = 1.0 / flag[f"{arch}/sim"]["rate"]
        n = counts[f"{arch}/sim"]
        rows.append(
            [
                f"flagship {arch}",
                n,
                counts[f"{arch}/hand"],
                sim_cost / n * 1e6,
                hand_cost / counts[f"{arch}/hand"] * 1e6,
                "hand-made",
                hand_cost / (n * per_event),
                TARGETS[f"flagship {arch}"],
                *_model_code(sim_cost, hand_cost / TARGETS[f"flagship {arch}"], n * per_event),
            ]
        )
    ciw_cost = 1.0 / mm1["Ciw"]["rate"]
    for arch in ("http", "messaging"):
        n = counts[f"mm1 {arch}"]
        sim_cost = 1.0 / mm1[f"sim ({arch})"]["rate"]
        rows.append(
            [
                f"M/M/1 {arch}",
                n,
                counts["mm1 hand"],
                sim_cost / n * 1e6,
                1.0 / mm1["hand-made SimPy"]["rate"] / counts["mm1 hand"] * 1e6,
                "Ciw",
                ciw_cost / (n * per_event),
                TARGETS[f"M/M/1 {arch}"],
                *_model_code(sim_cost, ciw_cost / TARGETS[f"M/M/1 {arch}"], n * per_event),
            ]
        )
    return (
        "## (f) The event loop's floor: where the time goes, and how far SimPy allows\n\n"
        f"One bare SimPy event (a timeout whose callback schedules the next; no process, no "
        f"generator, no logic) costs {per_event * 1e6:.2f} µs of CPU here. Events are counted "
        "at `Environment.schedule` (10 s runs). `best possible` = the yardstick's CPU time "
        "per request / (the simulator's events per request × the bare event): the ratio the "
        "simulator would reach if all it does besides scheduling its events cost nothing. "
        "Above the target: the target is within SimPy's reach, and the gap is the CPU spent "
        "per event (sim vs hand-made µs / event), not the number of events. `model code` = "
        "the simulator's CPU per request minus its events × the bare event: the Python the "
        "model runs per request (routing, accounting, traces, gauges); `allowed` = what the "
        "target leaves for it (the yardstick's CPU per request / the target, minus the same "
        "events × the bare event; negative: the events alone exceed the target).\n\n"
        + table(
            [
                "path",
                "sim events / request",
                "hand-made events / request",
                "sim µs / event",
                "hand-made µs / event",
                "yardstick",
                "best possible × yardstick",
                "target",
                "model code µs / request",
                "allowed at target",
                "cut needed",
            ],
            rows,
        )
        + "\n"
    )


def bench_duration(durations: list[float]) -> tuple[str, dict[str, tuple[float, float]]]:
    """(e, duration): run time and memory as the flagship's duration grows."""
    rows, mem, notes = [], {}, []
    for arch in ("http", "messaging"):
        pts = [in_subprocess({"kind": "flagship", "arch": arch, "duration": d}) for d in durations]
        sim_t = [d + 10.0 for d in durations]  # the flagship's warm-up is 10 s
        for d, t, p in zip(durations, sim_t, pts, strict=True):
            rows.append(
                [arch, d, p["n"], p["secs"], p["secs"] / t * 1e3, p["run_mb"], p["base_mb"]]
            )
        b, a = fit(sim_t, [p["secs"] for p in pts])
        resid = max(
            abs(p["secs"] - (a + b * t)) / p["secs"] for t, p in zip(sim_t, pts, strict=True)
        )
        mem[arch] = fit([p["n"] for p in pts], [p["run_mb"] for p in pts])
        notes.append(
            f"- {arch}: loop ≈ {a:.2f} s + {b * 1e3:.0f} ms per simulated second "
            f"(largest deviation from the line {resid:.0%}); memory {mem[arch][0] * 1024:.2f} KB "
            "per request (least-squares slope)"
        )
    text = (
        "## (e) Duration growth, flagship (a fresh process per run)\n\n"
        + table(
            [
                "architecture",
                "duration s",
                "requests",
                "loop CPU s",
                "CPU ms / simulated s",
                "run peak MB",
                "RSS before run MB",
            ],
            rows,
        )
        + "\n\n"
        + "\n".join(notes)
        + "\n"
    )
    return text, mem


def bench_memory(mem: dict[str, tuple[float, float]], durations: list[float], million: bool) -> str:
    """(d): peak memory per request with the rows kept (``run.rows: all``, fitted over the
    duration-growth runs of (e)) and without (``run.rows: none``, fitted over runs of the same
    durations here); extrapolated to 1M requests, and measured at 1M with ``--million``."""
    rows = []
    for arch in ("http", "messaging"):
        pts = [
            in_subprocess({"kind": "flagship", "arch": arch, "duration": d, "rows": "none"})
            for d in durations
        ]
        lean = fit([p["n"] for p in pts], [p["run_mb"] for p in pts])
        direct = "not run (--million)"
        if million:
            p = in_subprocess(
                {"kind": "flagship", "arch": arch, "duration": 1_000_000 / 200, "rows": "none"}
            )
            direct = f"{p['run_mb']:,.0f} ({p['n']:,.0f} requests, loop {p['secs']:.0f} s)"
        slope, icpt = mem[arch]
        rows.append(
            [
                arch,
                slope * 1024,
                lean[0] * 1024,
                icpt + slope * 1e6,
                lean[1] + lean[0] * 1e6,
                direct,
            ]
        )
    return (
        "## (d) Peak memory for 1M requests\n\n"
        + table(
            [
                "architecture",
                "KB per request, rows: all",
                "KB per request, rows: none",
                "MB at 1M, all (extrapolated)",
                "MB at 1M, none (extrapolated)",
                "MB at 1M, none, measured",
            ],
            rows,
        )
        + "\n\nPeak RSS during `simulate()` above the RSS before it (sampled every 5 ms), fitted "
        "over runs of growing duration. `rows: all` (default) keeps a row per request and per "
        "event delivery until the frames are built at the end; `rows: none` (`--set "
        "run.rows=none`) keeps 8 bytes per measured request or delivery for exact quantiles "
        "(sim/results/stream.py). Target: 10M requests in < 2 GB, i.e. < 0.2 KB per request.\n"
    )


def bench_mesh(sizes: list[int], mesh_dur: float) -> str:
    """(e, mesh): run time and memory as the number of services grows."""
    rows = []
    for n in sizes:
        for arch in ("http", "messaging"):
            p = in_subprocess({"kind": "mesh", "services": n, "arch": arch, "duration": mesh_dur})
            rows.append([n, arch, p["n"], p["secs"], p["total"], p["run_mb"]])
    return (
        f"## (e) Mesh growth ({mesh_dur:g} s + 1 s warm-up, 200 requests/s spread over N "
        "services, one instance each)\n\n"
        + table(
            [
                "services",
                "architecture",
                "requests",
                "loop CPU s",
                "simulate() CPU s",
                "run peak MB",
            ],
            rows,
        )
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="short runs, one repeat (~1-2 min)")
    ap.add_argument("--million", action="store_true", help="also measure 1M requests directly")
    ap.add_argument("--repeats", type=int, help="side-by-side repeats (default 3; quick 1)")
    ap.add_argument("--out", default=str(HERE / "results.md"))
    ap.add_argument(
        "--speed",
        action="store_true",
        help="only the speed ratios and events per request (a, b, c, f): no memory or growth runs",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    quick = args.quick
    repeats = args.repeats or (1 if quick else 3)
    t0 = time.perf_counter()
    sections = []

    def show(text: str) -> None:
        print("\n" + text, flush=True)
        sections.append(text)

    counts = event_counts()
    flag_text, flag = bench_flagship(10.0 if quick else 30.0, repeats, counts)
    show(flag_text)
    mm1_text, mm1 = bench_mm1(25.0 if quick else 125.0, repeats, counts)
    show(mm1_text)
    show(bench_floor(flag, mm1, repeats, counts))
    if args.speed:
        print(f"\n--speed: took {time.perf_counter() - t0:.0f} s; {args.out} not written")
        return 0
    durations = [5.0, 10.0, 20.0, 40.0] if quick else [25.0, 50.0, 100.0, 200.0]
    dur_text, mem = bench_duration(durations)
    show(bench_memory(mem, durations, args.million))
    show(dur_text)
    show(bench_mesh([10, 100] if quick else [10, 100, 1000], 5.0 if quick else 10.0))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    head = (
        "# Benchmark results\n\n"
        f"Command: `.venv/bin/python benchmarks/run.py{' --quick' if quick else ''}"
        f"{' --million' if args.million else ''}` (`make bench`). Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}; {repeats} "
        f"side-by-side repeat(s), median kept; took {time.perf_counter() - t0:.0f} s; load "
        f"average at the end {load:.1f}.\n\n"
    )
    Path(args.out).write_text(head + "\n".join(sections), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
