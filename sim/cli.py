"""The command line: a thin shell over :mod:`sim.api`.

``main(argv) -> int`` with exit codes 0 (success), 1 (a run that failed), 2 (bad input).
Errors are one line (``scenarios/x.yaml:12: workload.arrivals.rate: …``), never a
traceback, unless ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.scenario import Scenario

from sim.exits import EXIT_BAD_INPUT, EXIT_OK, guard
from sim.scenario.base import InputError

EXAMPLES = {
    "run": """examples:
  sim run scenarios/order-service.yaml
  sim run scenarios/order-service.yaml --arch messaging --seed 7
  sim run scenarios/order-service.yaml --set workload.arrivals.rate=500 --out /tmp/r500
  sim run scenarios/order-service.yaml --precision 0.05 --max-replications 30""",
    "validate": """examples:
  sim validate scenarios/order-service.yaml
  sim validate --theory
  sim validate --theory --case mm1 --replications 20
  sim validate --real --quick
  sim validate --real --out reports/validation-real""",
    "schema": """examples:
  sim schema > scenario.schema.json""",
}


class UsageError(InputError):
    """Bad command-line input (exit 2); the message names the command."""

    prefix = ""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="sim",
        description="Compare an HTTP service mesh with a message broker for one application.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  sim validate scenarios/order-service.yaml\n"
        "  sim run scenarios/order-service.yaml --out /tmp/r\n\n"
        "Run `sim COMMAND --help` for each command's options and examples.",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser(
        "run",
        help="simulate a scenario and write results and a report",
        epilog=EXAMPLES["run"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("file", help="scenario YAML")
    r.add_argument("--arch", choices=["http", "messaging", "both"], default="both")
    r.add_argument("--out", help="output folder (default reports/<scenario-name>/)")
    r.add_argument("--seed", type=int, help="override run.seed")
    r.add_argument("--replications", type=int, help="override run.replications")
    r.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario value, e.g. workload.arrivals.rate=500 (repeatable)",
    )
    r.add_argument(
        "--calibration",
        metavar="FILE",
        help="a calibration profile (from `sim calibrate`) whose values are the defaults "
        "under the scenario's own (wins over the scenario's `calibration:`)",
    )
    r.add_argument("--quiet", action="store_true", help="print nothing but errors")
    r.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty --out folder that sim did not create",
    )
    from sim.validation.options import add_precision_option, add_theory_arguments

    add_precision_option(r)
    r.add_argument("--format", choices=["table", "json"], default="table", help="terminal output")
    r.add_argument(
        "--traces",
        choices=["otlp"],
        help="also write a sample of simulated requests as OTLP JSON spans (traces.otlp.json)",
    )
    r.add_argument("--trace-sample", type=int, default=200, metavar="N", help="requests per run")

    v = sub.add_parser(
        "validate",
        help="check a scenario file without running it",
        epilog=EXAMPLES["validate"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("file", nargs="?", help="scenario YAML (not needed with --theory)")
    v.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE")
    v.add_argument("--calibration", metavar="FILE", help="apply a calibration profile")

    add_theory_arguments(v)
    from sim.real.compare import add_arguments as add_real_arguments

    add_real_arguments(v)

    sub.add_parser(
        "schema",
        help="print the scenario JSON Schema (for editor autocompletion)",
        epilog=EXAMPLES["schema"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for module in _command_modules():
        module.add_parser(sub)
    return p


def _command_modules() -> list[Any]:
    """Modules that contribute subcommands: each has add_parser(sub) and COMMANDS."""
    from sim.interop import commands as interop_commands
    from sim.real import calibrate as calibrate_commands
    from sim.report import commands as report_commands
    from sim.sweep import commands as sweep_commands

    return [report_commands, sweep_commands, calibrate_commands, interop_commands]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = build_parser().parse_args(args_list)
    except UsageError as e:
        print(e, file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as e:  # --help
        return int(e.code or 0)

    def command() -> int:
        for module in _command_modules():
            if args.command in module.COMMANDS:
                return int(module.COMMANDS[args.command](args))
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "schema":
            return _schema()
        return EXIT_BAD_INPUT

    previous = _interrupt_on_sigterm()  # SIGTERM interrupts like Ctrl-C (pools torn down)
    try:
        return guard(command, debug)
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


def _interrupt_on_sigterm() -> Any:
    """SIGTERM interrupts like Ctrl-C, so pools are torn down and partial outputs removed
    (Python's default for SIGTERM is to die at once, leaving worker processes behind).
    Returns the handler it replaced (None when not on the main thread)."""
    import signal
    import threading

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, interrupt)


def _load(args: argparse.Namespace) -> Scenario:
    from sim.api import load_scenario

    return load_scenario(args.file, args.sets, getattr(args, "calibration", None))


def _validate(args: argparse.Namespace) -> int:
    if args.theory:
        from sim.validation.suite import cmd_validate_theory

        return cmd_validate_theory(args)
    if args.real:
        from sim.real.compare import cmd_validate_real

        return cmd_validate_real(args)
    if not args.file:
        print("sim validate: give a scenario FILE (or --theory)", file=sys.stderr)
        return EXIT_BAD_INPUT
    from sim.validation.capacity import capacity_report

    sc = _load(args)
    n = sum(s.instances for s in sc.services.values())
    print(
        f"{args.file}: ok — {len(sc.services)} services, {n} instances, {len(sc.workload.flows)} flow(s)"
    )
    for w in capacity_report(sc):
        print(f"warning: {w}")
    return EXIT_OK


def _schema() -> int:
    from sim.scenario.loader import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from sim.api import compare
    from sim.output import write_run
    from sim.report import side_by_side

    sc = _load(args)
    if args.replications is not None and args.replications < 1:
        print("sim run: --replications must be >= 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.replications is not None:  # the file's count was checked when it was loaded
        from sim.api import check_budget

        check_budget(sc, args.file, replications=args.replications)
    out = Path(args.out) if args.out else Path("reports") / _safe_name(sc.name)
    from sim.output import OutputError, prepare

    try:  # found now, not after the simulation
        prepare(out, args.force)
    except OutputError as e:
        print(f"sim run: --out {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    archs = ("http", "messaging") if args.arch == "both" else (args.arch,)
    if args.traces and (args.precision is not None or args.trace_sample < 1):
        print("sim run: --traces needs --trace-sample >= 1 and no --precision", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.precision is not None:
        if not 0 < args.precision < 1:
            print("sim run: --precision must be between 0 and 1, e.g. 0.05", file=sys.stderr)
            return EXIT_BAD_INPUT
        from sim.api import compare_until

        cmp = compare_until(
            sc,
            precision=args.precision,
            max_replications=args.max_replications,
            seed=args.seed,
            architectures=archs,
        )
    else:
        from sim.progress import RunProgress

        traced: Sequence[int] = ()
        if args.traces:  # a sample of consecutive measured requests, hop by hop (sim.interop)
            from sim.interop.export import sample_ids

            traced = sample_ids(sc, args.trace_sample)
        n = args.replications or sc.run.replications
        progress = RunProgress(sc.name, archs, n, quiet=args.quiet)
        try:
            cmp = compare(
                sc,
                seed=args.seed,
                replications=args.replications,
                architectures=archs,
                trace=traced,
                on_run=progress.run_done,
                on_progress=progress.progress,
            )
        finally:
            progress.close()
    if not args.quiet:
        print(f"{sc.name}: writing {out}/ (data, figures, report.md, report.html)", file=sys.stderr)
    write_run(out, sc, cmp)
    if args.traces:
        from sim.interop.export import export_otlp

        export_otlp(sc, cmp, out / "traces.otlp.json")
    if args.quiet:
        return EXIT_OK
    if args.format == "json":
        print(cmp.summary.to_json(orient="records"))
    else:  # one architecture: the same table, its column alone
        warm = [r.metadata.get("warmup", 0.0) for r in cmp.results()]
        wtxt = f"{warm[0]:g} s" if len(set(warm)) == 1 else f"{min(warm):g}–{max(warm):g} s"
        auto = " (MSER-5)" if sc.run.warmup == "auto" else ""
        reached = cmp.metadata.get("precision_reached")
        prec = "" if reached is None else f", precision {'reached' if reached else 'NOT reached'}"
        print(
            f"{sc.name}: {sc.run.duration:g} s measured after {wtxt} warm-up{auto}, "
            f"{cmp.metadata['replications']} replication(s){prec}, seed {cmp.metadata['seed']}\n"
        )
        print(side_by_side(cmp.summary))
        from sim.report.ledger import build_ledger

        print("\n" + build_ledger(sc, cmp.frame("components")).compact())
        rows = "requests.parquet, " if sc.run.rows == "all" else "latencies.parquet, "
        print(
            f"\nwrote {out}/ (report.md, report.html, figures/, summary.csv, {rows}"
            "components.csv, timeseries.csv, links.csv, broker.csv, metadata.json, scenario.json, "
            "traces.json)"
        )
    return EXIT_OK


def _safe_name(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name).strip(".-")
    return keep or "scenario"


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
