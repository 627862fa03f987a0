"""Execute every teaching notebook in place and save it with its outputs (``make notebooks``).

Each notebook runs top to bottom in its own folder (as in Jupyter) on a kernel of this
interpreter, declared in a temporary JUPYTER_PATH so that whatever kernels the machine has
cannot pick another Python. Timing metadata is not recorded, so re-running after a model
change shows only the outputs that changed. A cell that fails stops with its error and
leaves that notebook as it was.

    python tools/execute_notebooks.py [NOTEBOOK ...]
    # default: notebooks/*.ipynb, then the instructor solutions in notebooks/solutions/
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat
from ipykernel.kernelspec import install

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "python3"  # the name the notebooks declare; bound here to this interpreter
HANG_GUARD = 15 * 60  # seconds per cell: a hang, not a slow machine


def execute(path: Path) -> float:
    """Run one notebook and write it back with its outputs; returns the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=HANG_GUARD,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    client.execute()
    took = time.perf_counter() - t0
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)  # a notebook is replaced whole or not at all
    return took


def main(argv: list[str]) -> int:
    lessons = sorted((ROOT / "notebooks").glob("*.ipynb"))
    paths = [Path(a) for a in argv] or [
        *lessons,
        *sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb")),
    ]
    with tempfile.TemporaryDirectory() as prefix:
        install(kernel_name=KERNEL, prefix=prefix, display_name="Python 3 (ipykernel)")
        os.environ["JUPYTER_PATH"] = str(Path(prefix) / "share" / "jupyter")
        for path in paths:
            print(f"{path.name}: running…", flush=True)
            try:
                took = execute(path.resolve())
            except nbclient.exceptions.CellExecutionError as e:
                print(f"{path.name}: a cell failed, notebook left as it was:\n{e}", file=sys.stderr)
                return 1
            print(f"{path.name}: saved with outputs ({took:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
