"""``sim validate --theory``: the validation scenarios against their closed forms.

Each file in ``scenarios/validation/`` is an ordinary scenario with every overhead off; its
exact values are computed from the scenario itself (:func:`sim.validation.queueing.expected`),
so a case cannot disagree with its own parameters. Each case runs ``run.replications``
independent replications (``SeedSequence.spawn`` from ``run.seed``) of both architectures.
Per replication, each metric is one number: the mean response time and mean wait (the
``queueing`` bucket), p50 and p99 of the response time, the fraction of requests that
waited at all, and each station's utilisation; across replications it gets a 95 %
Student-t interval (the replication method, Law 2015 §9.4; also for the quantiles, whose
per-replication estimator has an O(1/n) bias negligible at these run lengths).

A row passes when the exact value lies inside its 95 % interval. A case has several
metrics, so if each were judged alone at 95 %, a correct model would still fail some case
now and then; the case verdict therefore uses Bonferroni-adjusted intervals at level
``1 - 0.05/k`` for its k metrics per architecture (Law 2015, §9.7), which keeps the chance
of a false alarm per case and architecture below 5 %.

The report is a Markdown table, written atomically (:func:`sim.io.atomic_text`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from sim.engine import ARCHITECTURES
from sim.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from sim.io import atomic_text
from sim.scenario.model import Scenario
from sim.stats import Estimate, replication_interval
from sim.validation.options import add_theory_arguments as add_arguments
from sim.validation.queueing import QUANTILES, expected

CASES = Path(__file__).resolve().parents[2] / "scenarios" / "validation"
LEVEL = 0.95
WAIT_EPS = 1e-12  # a wait shorter than this is float rounding of "no wait"


@dataclass(frozen=True)
class Row:
    """One metric of one case on one architecture."""

    case: str
    architecture: str
    metric: str
    estimate: Estimate
    exact: float
    family: Estimate  # the Bonferroni-adjusted interval used for the case verdict

    @property
    def inside(self) -> bool:
        """The exact value lies in the 95 % interval."""
        return self.estimate.contains(self.exact)


@dataclass
class SuiteResult:
    """All rows, the per-case verdicts and what it took."""

    rows: list[Row] = field(default_factory=list)
    replications: dict[str, int] = field(default_factory=dict)
    wall_time: float = 0.0

    def verdict(self, case: str) -> bool:
        """Every metric of the case inside its Bonferroni-adjusted interval."""
        return all(r.family.contains(r.exact) for r in self.rows if r.case == case)

    @property
    def cases(self) -> list[str]:
        """Case names in run order."""
        return list(dict.fromkeys(r.case for r in self.rows))

    @property
    def passed(self) -> bool:
        """Every case passed."""
        return all(self.verdict(c) for c in self.cases)


def measure(res: object, metrics: Sequence[str]) -> dict[str, float]:
    """The per-replication value of each metric from one RunResult."""
    from sim.results.frames import RunResult

    assert isinstance(res, RunResult)
    req = res.requests[res.requests["kind"] == "request"]
    lat = req["latency"].to_numpy(dtype=float)
    out: dict[str, float] = {}
    comps = res.components
    for name in metrics:
        if name == "latency_mean":
            out[name] = float(lat.mean())
        elif name == "wait_mean":
            out[name] = float(req["queueing"].mean())
        elif name == "p_wait":
            out[name] = float((req["queueing"].to_numpy() > WAIT_EPS).mean())
        elif name in QUANTILES:
            out[name] = float(np.quantile(lat, QUANTILES[name]))
        elif name.startswith("utilisation/"):
            svc = comps[(comps["kind"] == "service") & (comps["service"] == name.split("/", 1)[1])]
            out[name] = float(svc["utilisation"].mean())
        else:
            raise KeyError(f"unknown validation metric {name!r}")
    return out


def run_case(
    sc: Scenario,
    replications: int | None = None,
    architectures: Sequence[str] = ARCHITECTURES,
    case: str | None = None,
    progress: Any = None,
) -> list[Row]:
    """Simulate one validation scenario on each architecture; one Row per metric.

    ``progress``: a :class:`sim.progress.RunProgress` (or None) told of each run."""
    from sim.api import simulate

    exact = expected(sc)
    n = sc.run.replications if replications is None else replications
    if n < 2:
        raise ValueError("a validation case needs at least 2 replications")
    name = case or sc.name
    family_level = 1 - (1 - LEVEL) / len(exact)
    rows = []
    for a in architectures:
        values = []
        for r in range(n):
            watch = None if progress is None else partial(progress.progress, a, r)
            values.append(measure(simulate(sc, a, None, r, progress=watch), list(exact)))
            if progress is not None:
                progress.run_done(a, r)
        for metric, x in exact.items():
            v = [row[metric] for row in values]
            rows.append(
                Row(
                    name,
                    a,
                    metric,
                    replication_interval(v, LEVEL),
                    x,
                    replication_interval(v, family_level),
                )
            )
    return rows


def case_files(folder: Path = CASES) -> list[Path]:
    """The validation scenarios, in name order."""
    return sorted(folder.glob("*.yaml"))


def run_suite(
    files: Sequence[Path] | None = None,
    replications: int | None = None,
    architectures: Sequence[str] = ARCHITECTURES,
    quiet: bool = True,
) -> SuiteResult:
    """Run every validation case (default: all of ``scenarios/validation/``); unless
    ``quiet``, show each case's progress (:mod:`sim.progress`) on stderr."""
    from sim.api import load_scenario
    from sim.progress import RunProgress

    t0 = time.perf_counter()
    out = SuiteResult()
    paths = list(files if files is not None else case_files())
    for i, path in enumerate(paths, 1):
        sc = load_scenario(path)
        n = sc.run.replications if replications is None else replications
        progress = RunProgress(f"[{i}/{len(paths)}] {path.stem}", architectures, n, quiet=quiet)
        try:
            rows = run_case(sc, replications, architectures, path.stem, progress)
        finally:
            progress.close()
        out.rows.extend(rows)
        out.replications[path.stem] = sc.run.replications if replications is None else replications
    out.wall_time = time.perf_counter() - t0
    return out


def _fmt(metric: str, x: float) -> str:
    if metric.startswith(("utilisation", "p_wait")):
        return f"{x:.4f}"
    return f"{x * 1e3:.4f}"


def render_markdown(result: SuiteResult) -> str:
    """The suite as a Markdown report: one table per case, verdicts first."""
    lines = [
        "# Validation against queueing theory",
        "",
        "Each case is a scenario of `scenarios/validation/` with every overhead off; exact "
        "values are computed from the scenario (sim/validation/queueing.py). Times in ms. "
        "Intervals are 95 % Student-t across independent replications; a case passes when "
        "every exact value lies in its Bonferroni-adjusted interval (level 1 − 0.05/k for k "
        "metrics).",
        "",
        "| case | replications | verdict |",
        "|---|---:|---|",
    ]
    for c in result.cases:
        verdict = "pass" if result.verdict(c) else "**FAIL**"
        lines.append(f"| {c} | {result.replications.get(c, '')} | {verdict} |")
    for c in result.cases:
        lines += [
            "",
            f"## {c}",
            "",
            "| architecture | metric | simulated | 95 % interval | exact | in 95 % | in family |",
            "|---|---|---:|---|---:|---|---|",
        ]
        for r in (r for r in result.rows if r.case == c):
            e = r.estimate
            lines.append(
                f"| {r.architecture} | {r.metric} | {_fmt(r.metric, e.value)} | "
                f"[{_fmt(r.metric, e.low)}, {_fmt(r.metric, e.high)}] | "
                f"{_fmt(r.metric, r.exact)} | {'yes' if r.inside else 'no'} | "
                f"{'yes' if r.family.contains(r.exact) else '**no**'} |"
            )
    lines += ["", f"Wall time: {result.wall_time:.1f} s.", ""]
    return "\n".join(lines)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """A stand-alone ``validate-theory`` command (if the CLI prefers it to a flag)."""
    p = subparsers.add_parser("validate-theory", help="check the simulator against queueing theory")
    add_arguments(p)
    p.set_defaults(theory=True)
    return p


def cmd_validate_theory(args: argparse.Namespace) -> int:
    """Run the suite, print the table, write the report; 0 if every case passed, else 1."""
    import sys

    files = case_files()
    if args.cases:
        known = {f.stem: f for f in files}
        missing = [c for c in args.cases if c not in known]
        if missing:
            print(
                f"sim validate: unknown case(s) {', '.join(missing)}; known: "
                f"{', '.join(sorted(known))}",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        files = [known[c] for c in args.cases]
    if args.replications is not None and args.replications < 2:
        print("sim validate: --replications must be >= 2", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = run_suite(files, args.replications, quiet=False)
    text = render_markdown(result)
    atomic_text(args.report, text)
    print(text)
    print(f"wrote {args.report}")
    return EXIT_OK if result.passed else EXIT_FAILED
