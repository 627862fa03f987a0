"""Writing outputs atomically: a failed or interrupted run never leaves a half-written file
in place of a good one (write to a temporary file in the same folder, then rename)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | Path, write: Callable[[IO[Any]], None], binary: bool = False) -> None:
    """Call write(f) on a temporary file next to path, then atomically replace path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        f: IO[Any] = (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        )
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_text(path: str | Path, text: str) -> None:
    """Write text atomically."""

    def write(f: IO[Any]) -> None:
        f.write(text)

    atomic_write(path, write)


def save_figure(fig: Any, path: str | Path, **kw: Any) -> None:
    """Save a matplotlib figure atomically (format from the file's suffix)."""
    fmt = Path(path).suffix.lstrip(".") or "png"

    def write(f: IO[Any]) -> None:
        fig.savefig(f, format=fmt, **kw)

    atomic_write(path, write, binary=True)
