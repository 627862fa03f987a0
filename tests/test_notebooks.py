"""The teaching notebooks: committed with their outputs (figures visible on a code host),
and every one runs top to bottom without error.

``make notebooks`` executes them in place (:mod:`sim.notebooks`); this suite executes each
again, in memory, with nbclient and a kernel spec made for the test in its own folder
(JUPYTER_PATH), pointing at this interpreter, so the notebooks run against the checkout's
``sim`` whatever kernels the machine has installed. Each notebook runs with its own folder
as working directory, as in Jupyter. No test asserts how long a notebook took (that depends
on how busy the machine is); nbclient's per-cell timeout is only a hang guard, far above
normal (a whole notebook takes 10-80 s on a quiet machine). The runtime of each is printed
(``pytest -s``) and recorded as a test property.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "meshsim-tests"
HANG_GUARD = 15 * 60.0  # seconds per cell: a hang, not a slow machine (never a speed test)
EXPECTED = [
    "01-side-by-side.ipynb",
    "02-request-reply.ipynb",
    "03-events-fan-out.ipynb",
    "04-load-sharing-and-scaling.ipynb",
    "05-multi-tenancy.ipynb",
    "06-failures-and-failover.ipynb",
    "07-cost-at-scale.ipynb",
    "08-where-the-lines-cross.ipynb",
    "09-your-own-system.ipynb",
]


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_the_eight_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_committed_with_outputs_and_teaches(path: Path) -> None:
    """Valid nbformat 4, executed top to bottom (``make notebooks``) with its figures and no
    error in it, and the parts every lesson has."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: run `make notebooks` to commit it executed in order, with its outputs"
    )
    errors = [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: committed with an error output"
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), (
        f"{path.name}: committed without a figure"
    )
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for part in ("Learning goals", "Predict", "When HTTP is the better choice"):
        assert part in text, f"{path.name}: no {part!r} section"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch) -> str:
    """A kernel spec for this interpreter, found first on JUPYTER_PATH."""
    from ipykernel.kernelspec import install
    from jupyter_client.kernelspec import KernelSpecManager

    prefix = tmp_path_factory.mktemp("kernel")
    install(kernel_name=KERNEL, prefix=str(prefix), display_name="meshsim tests")
    monkeypatch_module.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
    return KERNEL


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _listing(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path: Path, kernel: str, record_property: pytest.RecordProperty) -> None:
    nb = nbformat.read(path, as_version=4)
    before = _listing(path.parent)  # the kernel's working directory: where a stray write lands
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=int(HANG_GUARD),
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{path.name}: a cell failed:\n{e}")
    took = time.perf_counter() - t0
    record_property("runtime_s", round(took, 1))
    print(f"\n{path.name}: {took:.1f} s")
    images = sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    )
    assert images >= 1, f"{path.name}: no figure was drawn"
    assert _listing(path.parent) == before, f"{path.name} wrote into notebooks/ (use a temp dir)"
