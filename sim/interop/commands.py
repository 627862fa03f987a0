"""The CLI's ``sim import k8s PATH...`` and ``sim import traces FILE``.

Both write a scenario YAML with a comment on each value naming where it came from, and list
what they did not map; bad input is one ``FILE:LINE: path: message`` line and exit 2 (the
CLI's handling of :class:`~sim.scenario.ScenarioError`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXAMPLES = """examples:
  sim import k8s deploy/ istio/ nats.conf --out my-system.yaml
  sim import traces otel-export.json --out my-system.yaml --base my-system.yaml
  sim import traces jaeger-download.json --out imported.yaml --report fits/"""


def add_parser(sub: Any) -> None:
    """Add ``import`` (with ``k8s`` and ``traces``) to the CLI's subparsers."""
    p = sub.add_parser(
        "import",
        help="build a scenario from Kubernetes manifests or OpenTelemetry/Jaeger traces",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_subparsers(dest="source", required=True, parser_class=type(p))
    k = what.add_parser("k8s", help="Deployments, Services, HPAs, Istio, NATS config")
    k.add_argument("paths", nargs="+", help="YAML files or folders (and a nats-server .conf)")
    k.add_argument("--out", required=True, help="scenario YAML to write")
    k.add_argument("--name", help="scenario name (default: the output file's stem)")
    t = what.add_parser("traces", help="OTLP JSON (Collector file exporter) or Jaeger JSON")
    t.add_argument("file", help="trace file")
    t.add_argument("--out", required=True, help="scenario YAML to write")
    t.add_argument("--base", help="scenario whose infrastructure and instances to keep")
    t.add_argument(
        "--report", help="folder for fit-report.md and its figures (default: beside --out)"
    )
    t.add_argument("--name", help="scenario name (default: the output file's stem)")


def cmd_import(args: argparse.Namespace) -> int:
    """``sim import k8s|traces``."""
    from sim.interop.emit import dump
    from sim.io import atomic_text

    out = Path(args.out)
    name = args.name or out.stem
    if args.source == "k8s":
        from sim.interop.k8s import import_manifests

        imp = import_manifests([Path(p) for p in args.paths], name)
        header = "Imported by `sim import k8s` from: " + ", ".join(args.paths)
    else:
        from sim.interop.build import fit_report, from_traces
        from sim.interop.traces import analyse, read_spans

        base = None
        if args.base:
            from sim.scenario.loader import read_yaml

            base, _ = read_yaml(Path(args.base).read_text(encoding="utf-8"), args.base)
        imp = from_traces(analyse(read_spans(args.file)), args.file, name, base)
        report = Path(args.report) if args.report else out.parent / f"{out.stem}-fits"
        fit_report(imp, report, args.file)
        header = f"Imported by `sim import traces` from {args.file}" + (
            f" onto {args.base}" if args.base else ""
        )
        print(f"wrote {report}/fit-report.md")
    text = dump(imp.data, imp.notes, header)
    _check(text, str(out))
    atomic_text(out, text)
    print(f"wrote {out}")
    if imp.unmapped:
        print("not mapped:")
        for u in imp.unmapped:
            print(f"  - {u}")
    return 0


def _check(text: str, file: str) -> None:
    """The written scenario must load (a mapping the model refuses is reported, not written)."""
    from sim.api import check_subjects
    from sim.scenario.loader import read_yaml, validate

    data, src = read_yaml(text, file)
    check_subjects(validate(data, src), file, src)


def _run(args: argparse.Namespace) -> int:
    try:
        return cmd_import(args)
    except OSError as e:
        print(f"sim import: {e}", file=sys.stderr)
        return 2


COMMANDS = {"import": _run}
