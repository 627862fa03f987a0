"""What a long command shows while it works.

On a terminal: one bar per architecture that counts *simulated* seconds over all
replications (a run of 70 simulated seconds moves in about a hundred steps, not once at its
end), kept when done. Elsewhere (a pipe, a CI log): one line per finished run and per stage,
so a log says what happened and when. ``--quiet`` shows nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO


class RunProgress:
    """Progress of the runs of one command (``sim run``, ``sim validate --theory``)."""

    def __init__(
        self,
        name: str,
        architectures: Sequence[str],
        replications: int,
        quiet: bool = False,
        stream: TextIO | None = None,
    ):
        self.name, self.replications, self.quiet = name, replications, quiet
        self.stream = sys.stderr if stream is None else stream
        self.tty = not quiet and self.stream.isatty()
        self.t0 = time.perf_counter()
        self.bars: dict[str, Any] = {}
        if self.tty:
            from tqdm import tqdm

            width = max(len(a) for a in architectures)
            for i, a in enumerate(architectures):
                self.bars[a] = tqdm(
                    total=1.0,
                    desc=f"{name} {a.ljust(width)}",
                    position=i,
                    file=self.stream,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]",
                    leave=True,
                    dynamic_ncols=True,
                )

    def progress(self, arch: str, replication: int, now: float, end: float) -> None:
        """A run of ``arch`` has simulated ``now`` of its ``end`` seconds."""
        bar = self.bars.get(arch)
        if bar is None or end <= 0:
            return
        total = self.replications * end
        bar.total = total
        bar.n = min(total, replication * end + now)
        bar.set_postfix_str(
            f"{bar.n:.3g}/{total:.3g} simulated s, replication {replication + 1}/{self.replications}",
            refresh=False,
        )
        bar.refresh()

    def run_done(self, arch: str, replication: int) -> None:
        """One line per finished run where there are no bars."""
        if not self.tty and not self.quiet:
            took = time.perf_counter() - self.t0
            print(
                f"{self.name}: {arch} replication {replication + 1}/{self.replications} done "
                f"({took:.1f} s)",
                file=self.stream,
                flush=True,
            )

    def stage(self, text: str) -> None:
        """A step that is not a run (writing the report): one line, on a terminal too."""
        if not self.quiet:
            self.close()
            print(f"{self.name}: {text}", file=self.stream, flush=True)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars = {}
