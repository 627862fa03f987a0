"""Where the flagship's time goes: cProfile of one run per architecture.

    .venv/bin/python benchmarks/profile_flagship.py [--duration 20] [--top 10] [--sort tottime]
        [--arch messaging] [--scenario scenarios/validation/mm1.yaml]

Prints, per architecture, the functions with the most time spent in themselves (``tottime``)
and the cumulative view, so the speed work can start from measurements, and how many
garbage collections ran (objects kept alive per message, e.g. a cache entry per reply
subject, show up there first). cProfile slows Python functions several-fold, so shares
matter here, not absolute times (use ``benchmarks/run.py`` for those).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import sys
from pathlib import Path

FLAGSHIP = Path(__file__).resolve().parents[1] / "scenarios" / "order-service-minimal.yaml"


def profile(arch: str, duration: float, top: int, sort: str, path: Path = FLAGSHIP) -> str:
    """The top `top` rows of a profile of one run of `arch` (the flagship by default)."""
    from sim.api import load_scenario, simulate

    sc = load_scenario(path, [f"run.duration={duration}"])
    simulate(sc, arch)  # warm caches and lazy imports outside the profile
    before = [g["collections"] for g in gc.get_stats()]
    prof = cProfile.Profile()
    prof.enable()
    simulate(sc, arch)
    prof.disable()
    runs = [g["collections"] - b for g, b in zip(gc.get_stats(), before, strict=True)]
    out = io.StringIO()
    out.write(f"garbage collections by generation: {runs}\n")
    stats = pstats.Stats(prof, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"])
    ap.add_argument("--arch", choices=["http", "messaging", "both"], default="both")
    ap.add_argument("--scenario", type=Path, default=FLAGSHIP, help="default: the flagship")
    args = ap.parse_args(argv)
    archs = ("http", "messaging") if args.arch == "both" else (args.arch,)
    for arch in archs:
        print(f"===== {arch} ({args.duration:g} s + warm-up, sorted by {args.sort})")
        print(profile(arch, args.duration, args.top, args.sort, args.scenario))
    return 0


if __name__ == "__main__":
    sys.exit(main())
