"""The CLI's report commands: ``sim report DIR``, ``sim trace FILE --request N``, ``sim list``.

The CLI (:mod:`sim.cli`) registers them with :func:`add_parser` and dispatches to
:data:`COMMANDS` by ``args.command``; each ``cmd_*`` returns an exit code (0 success, 1 a
run that failed, 2 bad input) and prints errors as one line. A scenario error is left to
propagate as :class:`~sim.scenario.ScenarioError`, which the CLI prints as ``FILE:LINE``.

``sim trace`` runs each architecture only until the request has completed
(:func:`sim.api.trace_request`), so tracing an early request of a long scenario is quick.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

EXAMPLES = {
    "report": """examples:
  sim report reports/order-service
  sim report /tmp/r500 --out /tmp/r500-report""",
    "trace": """examples:
  sim trace scenarios/order-service.yaml --request 100
  sim trace scenarios/order-service.yaml --request 100 --out trace.png
  sim trace scenarios/order-service.yaml --request 5 --format table --set http.protocol=http2""",
    "list": """examples:
  sim list
  sim list --dir my-scenarios --format json""",
}


def add_parser(subparsers: Any) -> None:
    """Add the ``report``, ``trace`` and ``list`` subcommands to the CLI's subparsers."""
    raw = argparse.RawDescriptionHelpFormatter
    r = subparsers.add_parser(
        "report",
        help="regenerate report.md and report.html from a saved results folder",
        description="Read the files `sim run` wrote (summary.csv, requests.parquet, or "
        "latencies.parquet when the run kept no rows, components.csv, timeseries.csv, links.csv, metadata.json, scenario.json, "
        "traces.json) and write report.md, report.html and figures/ again. Runs nothing.",
        epilog=EXAMPLES["report"],
        formatter_class=raw,
    )
    r.add_argument("dir", help="results folder written by `sim run`")
    r.add_argument("--out", help="write the report here instead (default: DIR)")
    r.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty --out folder that sim did not create",
    )

    t = subparsers.add_parser(
        "trace",
        help="follow one request hop by hop through both architectures",
        description="Simulate the scenario just until request N has completed in each "
        "architecture and print its hops as a Mermaid sequence diagram (or a table, or "
        "JSON). Both architectures see the same request (common random numbers).",
        epilog=EXAMPLES["trace"],
        formatter_class=raw,
    )
    t.add_argument("file", help="scenario YAML")
    t.add_argument("--request", type=int, required=True, metavar="N", help="request id (0 = first)")
    t.add_argument("--arch", choices=["http", "messaging", "both"], default="both")
    t.add_argument("--seed", type=int, help="override run.seed")
    t.add_argument("--replication", type=int, default=0, help="replication (default 0)")
    t.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario value (repeatable)",
    )
    t.add_argument("--format", choices=["mermaid", "table", "json"], default="mermaid")
    t.add_argument("--out", help="also draw the timeline figure to this file (.png, .svg, .pdf)")

    ls = subparsers.add_parser(
        "list",
        help="list the bundled scenarios with one-line descriptions",
        epilog=EXAMPLES["list"],
        formatter_class=raw,
    )
    ls.add_argument(
        "--dir", help="folder of scenario files (default: ./scenarios, else the bundled ones)"
    )
    ls.add_argument("--format", choices=["table", "json"], default="table")


def cmd_report(args: argparse.Namespace) -> int:
    """``sim report DIR``: regenerate the report of a results folder."""
    from sim.report.data import ResultsError
    from sim.report.files import regenerate

    if args.out:  # another folder: the rules of `sim run --out`
        from sim.output import OutputError, prepare

        try:
            prepare(Path(args.out), args.force)
        except OutputError as e:
            print(f"sim report: --out {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        rep = regenerate(args.dir, args.out)
    except ResultsError as e:
        print(f"sim report: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = Path(args.out or args.dir)
    if args.out and not (out / "metadata.json").exists():  # the report's provenance, and
        from sim.io import atomic_text  # the mark of a folder sim wrote (sim.output)

        atomic_text(out / "metadata.json", (Path(args.dir) / "metadata.json").read_text())
    print(f"wrote {out / 'report.md'}, {out / 'report.html'} and {len(rep.figures)} figures")
    return EXIT_OK


def cmd_trace(args: argparse.Namespace) -> int:
    """``sim trace FILE --request N``: one request, hop by hop, in both architectures."""
    from sim.api import load_scenario, trace_request
    from sim.report.data import TracedRequest
    from sim.report.sequence import hop_table, mermaid, time_split, timeline

    if args.request < 0 or args.replication < 0:
        print("sim trace: --request and --replication must be >= 0", file=sys.stderr)
        return EXIT_BAD_INPUT
    sc = load_scenario(args.file, args.sets)
    archs = ("http", "messaging") if args.arch == "both" else (args.arch,)
    found = trace_request(sc, args.request, args.seed, args.replication, archs)
    traces = {a: TracedRequest.of(t) for a, t in found.items()}
    missing = [a for a in archs if a not in traces]
    if args.format == "json":
        body = {"request_id": args.request, "traces": {a: t.as_json() for a, t in traces.items()}}
        print(json.dumps(body, indent=2))
    for a, tr in traces.items():
        if args.format == "mermaid":
            print(f"%% {a}: request {args.request}, reply after {tr.latency * 1e3:.3f} ms")
            print(f"%% {time_split(tr)}")
            print(mermaid(tr) + "\n")
        elif args.format == "table":
            print(f"{a}: request {args.request}, reply after {tr.latency * 1e3:.3f} ms")
            print(f"  {time_split(tr)}")
            for row in hop_table(tr):
                print(f"  {row[0]:>9} ms  {row[1]:>9}  {row[2]} -> {row[3]}  {row[4]}")
            print()
    if args.out and traces:
        from sim.io import save_figure
        from sim.report.document import plain_text

        with plain_text():
            save_figure(timeline(traces, args.request), args.out, dpi=110)
        print(f"wrote {args.out}", file=sys.stderr)
    if missing:
        print(
            f"sim trace: request {args.request} did not complete within the run "
            f"over {', '.join(missing)}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def scenarios_dir(given: str | None = None) -> Path:
    """Where scenarios are: ``given``, else ./scenarios, else the ones next to the package."""
    if given:
        return Path(given)
    here = Path("scenarios")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "scenarios"


def list_scenarios(folder: Path) -> list[dict[str, str]]:
    """Each scenario file: path, name, description (or the error that stops it loading)."""
    from sim.api import load_scenario
    from sim.scenario import ScenarioError

    out = []
    for p in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            sc = load_scenario(p)
            out.append({"file": str(p), "name": sc.name, "description": sc.description})
        except ScenarioError as e:
            out.append({"file": str(p), "name": p.stem, "description": f"invalid: {e}"})
    return out


def cmd_list(args: argparse.Namespace) -> int:
    """``sim list``: the bundled scenarios and what each is about."""
    folder = scenarios_dir(args.dir)
    if not folder.is_dir():
        print(f"sim list: {folder}: no such folder", file=sys.stderr)
        return EXIT_BAD_INPUT
    rows = list_scenarios(folder)
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print(f"no scenarios in {folder}")
        return EXIT_OK
    from sim.scenario.loader import printable

    width = max(len(r["file"]) for r in rows)
    for r in rows:  # file names are not checked like scenario text: escape what a terminal runs
        print(printable(f"{r['file'].ljust(width)}  {r['name']}: {r['description']}"))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "report": cmd_report,
    "trace": cmd_trace,
    "list": cmd_list,
}
