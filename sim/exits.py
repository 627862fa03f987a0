"""Exit codes and the one mapping from an exception to a line and a code, for every command.

``0`` success; ``1`` a run that failed (or was interrupted); ``2`` bad input — any
:class:`~sim.scenario.base.InputError` (a scenario, a ``--param``, an option out of range,
a results folder), printed as one line, never a traceback unless ``--debug``
(coverage.py's ``cmdline``: named exit codes, one-line domain errors).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from sim.scenario.base import InputError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def guard(
    fn: Callable[[], int],
    debug: bool = False,
    interrupted: Callable[[], str] = lambda: "interrupted",
    after_failure: Callable[[], str] = lambda: "",
) -> int:
    """Run a command: its code, or the code and one line on stderr for what it raised.
    ``interrupted()`` is the line for Ctrl-C; ``after_failure()`` is appended to the line of
    a failed run (e.g. where its finished results are)."""
    try:
        return int(fn())
    except InputError as e:
        if debug:
            raise
        print(f"{e.prefix}{e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(interrupted(), file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # a run that failed: one line unless --debug
        if debug:
            raise
        print(f"sim: run failed: {type(e).__name__}: {e}{after_failure()}", file=sys.stderr)
        return EXIT_FAILED
