"""Where the flagship's time goes: cProfile of one run per architecture.

    .venv/bin/python benchmarks/profile_flagship.py [--duration 20] [--top 10] [--sort tottime]

Prints, per architecture, the functions with the most time spent in themselves (``tottime``)
and the cumulative view, so the speed work can start from measurements. cProfile slows
Python functions several-fold, so shares matter here, not absolute times (use
``benchmarks/run.py`` for those).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from pathlib import Path

FLAGSHIP = Path(__file__).resolve().parents[1] / "scenarios" / "order-service.yaml"


def profile(arch: str, duration: float, top: int, sort: str) -> str:
    """The top `top` rows of a profile of one flagship run of `arch`."""
    from sim.api import load_scenario, simulate

    sc = load_scenario(FLAGSHIP, [f"run.duration={duration}"])
    simulate(sc, arch)  # warm caches and lazy imports outside the profile
    prof = cProfile.Profile()
    prof.enable()
    simulate(sc, arch)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"])
    args = ap.parse_args(argv)
    for arch in ("http", "messaging"):
        print(f"===== {arch} ({args.duration:g} s + warm-up, sorted by {args.sort})")
        print(profile(arch, args.duration, args.top, args.sort))
    return 0


if __name__ == "__main__":
    sys.exit(main())
