"""The command-line options of ``sim run --precision`` and ``sim validate --theory``.

Kept apart from :mod:`~sim.validation.precision` and :mod:`~sim.validation.suite`, which
import the engine: building the CLI's parser must cost nothing (``sim list`` answers at once).
"""

from __future__ import annotations

import argparse


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    """``--precision F`` and ``--max-replications N`` on ``sim run`` (for the CLI owner).

    Wiring in ``sim.cli._run``: when ``args.precision`` is set, call
    ``compare_until(sc, precision=args.precision, max_replications=args.max_replications,
    seed=args.seed, architectures=archs)`` instead of ``compare(...)`` and print
    ``cmp.metadata["replications"]`` and ``precision_reached``.
    """
    parser.add_argument(
        "--precision",
        type=float,
        metavar="F",
        help="add paired replications until every headline metric's 95%% interval has a "
        "relative half-width <= F (e.g. 0.05), like JMT",
    )
    parser.add_argument(
        "--max-replications",
        type=int,
        default=50,
        metavar="N",
        help="stop at N replications even if --precision is not reached (default 50)",
    )


def add_theory_arguments(parser: argparse.ArgumentParser) -> None:
    """``--theory``, ``--replications``, ``--report`` and ``--case`` for ``sim validate``."""
    parser.add_argument(
        "--theory",
        action="store_true",
        help="run scenarios/validation/ on both architectures against queueing theory",
    )
    parser.add_argument(
        "--replications", type=int, metavar="N", help="override each case's run.replications"
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        default="reports/validation/theory.md",
        help="where to write the Markdown table (default reports/validation/theory.md)",
    )
    parser.add_argument(
        "--case",
        dest="cases",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this case (file stem, e.g. mm1; repeatable)",
    )
