"""The ``sim sweep`` and ``sim crossover`` commands: thin shells over :mod:`sim.sweep`.

Registered by the CLI with ``add_parser(subparsers)``; each sub-parser sets ``func`` to
:func:`cmd_sweep` or :func:`cmd_crossover`, which return the exit code (0 success, 1 a run
that failed or was interrupted, 2 bad input) and print errors as one line.

``sim sweep`` writes, in ``--out`` (default ``reports/<scenario>-sweep/``): the Parquet
parts and ``manifest.json`` (rerun the same command to resume), ``summary.csv`` (per
point: both architectures and the paired difference with 95 % intervals) and, for a
one-parameter sweep, one figure per headline metric. ``sim crossover`` stores its runs the
same way (a rerun reuses them) and writes ``crossover.csv`` and ``crossover.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.exits import EXIT_OK, guard
from sim.io import atomic_text, save_figure
from sim.scenario.base import InputError

HEADLINE = ("p99", "connections", "cpu", "memory")

SWEEP_EXAMPLES = """examples:
  sim sweep scenarios/order-service.yaml --param workload.arrivals.rate=100..800:8
  sim sweep scenarios/order-service.yaml --param http.protocol=http1,http2 \\
      --param services.order-create.instances=1..6:6 --replications 5 --workers 8
  sim sweep scenarios/order-service.yaml --param workload.clients=4,16,64 \\
      --scheduler tcp://scheduler:8786
(interrupted? run the same command again: finished points are kept)"""

CROSSOVER_EXAMPLES = """examples:
  sim crossover scenarios/order-service.yaml --param workload.arrivals.rate=50..2000 --metric p99
  sim crossover scenarios/order-service.yaml --param services.order-notify.instances=1..64 \\
      --metric connections --replications 10"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="scenario YAML")
    p.add_argument("--out", help="output folder (stores every finished point; rerun to resume)")
    p.add_argument("--seed", type=int, help="override run.seed")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario value for every point (repeatable)",
    )
    p.add_argument(
        "--executor",
        choices=["process", "inprocess", "dask"],
        default="process",
        help="where points run (default: a local process pool)",
    )
    p.add_argument("--workers", type=int, help="process-pool size (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--quiet", action="store_true", help="no progress bar, print only errors")


def add_parser(subparsers: Any) -> None:
    """Add ``sweep`` and ``crossover`` to the CLI's sub-parsers."""
    fmt = argparse.RawDescriptionHelpFormatter
    s = subparsers.add_parser(
        "sweep",
        help="run a grid of parameter values for both architectures",
        epilog=SWEEP_EXAMPLES,
        formatter_class=fmt,
    )
    _common(s)
    s.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        required=True,
        metavar="PATH=V1,V2|START..STOP:STEPS",
        help="a swept value list or range (repeatable: grid)",
    )
    s.add_argument("--replications", type=int, help="override run.replications")
    s.set_defaults(func=cmd_sweep)
    c = subparsers.add_parser(
        "crossover",
        help="find where the two architectures' metric cross",
        epilog=CROSSOVER_EXAMPLES,
        formatter_class=fmt,
    )
    _common(c)
    c.add_argument("--param", required=True, metavar="PATH=LO..HI", help="the searched range")
    c.add_argument(
        "--metric",
        default="p99",
        help="p99, p50, latency, connections, cpu, memory, cost (allocation $/month), "
        "cost-usage, or FLOW:METRIC (default p99)",
    )
    c.add_argument("--replications", type=int, default=5, help="per point (default 5)")
    c.add_argument("--tol", type=float, help="stop when the bracket is this narrow")
    c.set_defaults(func=cmd_crossover)


def _executor(args: argparse.Namespace) -> tuple[str, Any]:
    if args.executor == "dask" and not args.scheduler:
        raise InputError("--executor dask needs --scheduler tcp://host:8786")
    return args.executor, args.scheduler


def _out(args: argparse.Namespace, suffix: str) -> Path:
    if args.out:
        return Path(args.out)
    from sim.api import load_scenario

    name = load_scenario(args.file, args.sets).name
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name).strip(".-")
    return Path("reports") / f"{safe or 'scenario'}-{suffix}"


def _guard(fn: Any, args: argparse.Namespace, out: list[Path]) -> int:
    def where() -> str:
        return f"; finished points are stored in {out[0]}" if out else ""

    def interrupted() -> str:
        at = f" in {out[0]}" if out else ""
        return f"interrupted: finished points are stored{at}; run the same command to resume"

    debug = bool(getattr(args, "debug", False))
    return guard(lambda: fn(args, out), debug, interrupted, where)


def cmd_sweep(args: argparse.Namespace) -> int:
    """``sim sweep``: run the grid, store it, summarise and plot it."""
    return _guard(_sweep, args, [])


def _sweep(args: argparse.Namespace, where: list[Path]) -> int:
    from sim.sweep.grid import Grid
    from sim.sweep.plots import plot_metric, summarize_sweep
    from sim.sweep.runner import run_sweep

    grid = Grid.parse(args.params)  # bad --param: fail before loading anything
    if args.replications is not None and args.replications < 1:
        raise InputError("--replications must be >= 1")
    executor, scheduler = _executor(args)
    out = _out(args, "sweep")
    where.append(out)
    frame = run_sweep(
        args.file,
        args.params,
        replications=args.replications,
        executor=executor,
        workers=args.workers,
        scheduler=scheduler,
        out=out,
        sets=args.sets,
        seed=args.seed,
        progress=not args.quiet,
    )
    params = [p.path for p in grid.params]
    summary = summarize_sweep(frame, params)
    atomic_text(out / "summary.csv", summary.to_csv(index=False))
    if len(params) == 1 and all(isinstance(v, int | float) for v in grid.params[0].values):
        for m in HEADLINE:
            save_figure(plot_metric(frame, params[0], m), out / f"{m}.png")
    if not args.quiet:
        _print_points(summary, params)
        print(f"\nwrote {out}/ ({len(grid)} points: part-*.parquet, manifest.json, summary.csv)")
    return EXIT_OK


def _print_points(summary: Any, params: list[str]) -> None:
    sel = summary[(summary["flow"] == "all") & (summary["metric"] == "latency_p99")]
    cols = [*params, "http", "messaging", "difference", "difference_low", "difference_high"]
    print("latency p99 (ms) per point; difference = messaging − http (95 % paired interval)")
    print(sel[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def cmd_crossover(args: argparse.Namespace) -> int:
    """``sim crossover``: bisection for the parameter value where the metric crosses."""
    return _guard(_crossover, args, [])


def _crossover(args: argparse.Namespace, where: list[Path]) -> int:
    from sim.sweep.crossover import crossover
    from sim.sweep.grid import parse_bounds
    from sim.sweep.plots import plot_crossover

    path, lo, hi = parse_bounds(args.param)
    if args.replications < 2:
        raise InputError("--replications must be >= 2 for an interval")
    executor, scheduler = _executor(args)
    out = _out(args, "crossover")
    where.append(out)
    res = crossover(
        args.file,
        path,
        lo,
        hi,
        args.metric,
        replications=args.replications,
        executor=executor,
        workers=args.workers,
        scheduler=scheduler,
        out=out,
        sets=args.sets,
        seed=args.seed,
        tol=args.tol,
        progress=not args.quiet,
    )
    atomic_text(out / "crossover.csv", res.frame().rename(columns={"x": path}).to_csv(index=False))
    save_figure(plot_crossover(res), out / "crossover.png")
    print(res.message)
    if not args.quiet:
        print(f"wrote {out}/ (crossover.csv, crossover.png, part-*.parquet)")
    return EXIT_OK


COMMANDS = {"sweep": cmd_sweep, "crossover": cmd_crossover}
