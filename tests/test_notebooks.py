"""The teaching notebooks: committed with their outputs (figures visible on a code host),
and every one runs top to bottom without error — with every direction its text states still
true.

``make notebooks`` executes them in place (``tools/execute_notebooks.py``); this suite executes each
again, in memory, with nbclient and a kernel spec made for the test in its own folder
(JUPYTER_PATH), pointing at this interpreter, so the notebooks run against the checkout's
``sim`` whatever kernels the machine has installed. Each notebook runs with its own folder
as working directory, as in Jupyter. No test asserts how long a notebook took (that depends
on how busy the machine is); nbclient's per-cell timeout is only a hang guard, far above
normal (a whole notebook takes 10-80 s on a quiet machine). The runtime of each is printed
(``pytest -s``) and recorded as a test property.

A notebook's conclusions are computed from its own results, or stated and then *claimed*
(:func:`sim.teaching.claim`): a claim that no longer holds fails the suite, both in the
committed outputs and when the notebook runs again, so a change of a model default cannot
leave a stale conclusion behind. The instructor solutions (``notebooks/solutions/``, kept
apart from the lessons) are held to the same: committed executed, run again here, claims
checked; the lesson sections are not asked of them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.teaching import failed_claims

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = ROOT / "notebooks" / "solutions" / "instructor-solutions.ipynb"
EVERY = [*NOTEBOOKS, SOLUTIONS]
KERNEL = "meshsim-tests"
HANG_GUARD = 15 * 60.0  # seconds per cell: a hang, not a slow machine (never a speed test)
EXPECTED = [
    "00-primer.ipynb",
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


SECTIONS = (
    "Learning goals",
    "Predict",
    "When HTTP is the better choice",
    "Summary, and what would change this conclusion",
)


def test_the_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == EXPECTED
    assert SOLUTIONS.is_file()


def _code(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def _outputs(nb: Any) -> list[dict[str, Any]]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _committed_executed(path: Path) -> Any:
    """The notebook as committed: valid, executed top to bottom, no error, no failed claim."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    counts = [c.execution_count for c in _code(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: run `make notebooks` to commit it executed in order, with its outputs"
    )
    errors = [o for o in _outputs(nb) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: committed with an error output"
    stale = failed_claims(_outputs(nb))
    assert not stale, f"{path.name}: committed with claims its results contradict: {stale}"
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_committed_with_outputs_and_teaches(path: Path) -> None:
    """Valid nbformat 4, executed top to bottom (``make notebooks``) with its figures, no
    error and no failed claim in it, and the parts every lesson has: its sections, a
    predict-then-run cell that checks a recorded guess, and answers folded away."""
    nb = _committed_executed(path)
    assert any("image/png" in o.get("data", {}) for o in _outputs(nb)), (
        f"{path.name}: committed without a figure"
    )
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for part in SECTIONS:
        assert part in text, f"{path.name}: no {part!r} section"
    code = "\n".join(c.source for c in _code(nb))
    assert "my_guess = None" in code and "check(my_guess" in code, (
        f"{path.name}: no predict-then-run cell (my_guess = None, then check(my_guess, …))"
    )
    shown = "\n".join(str(o.get("data", {}).get("text/markdown", "")) for o in _outputs(nb))
    assert "<details><summary>" in text + shown, f"{path.name}: no collapsed answer"


def test_solutions_are_committed_executed_and_cover_every_lesson() -> None:
    nb = _committed_executed(SOLUTIONS)
    headings = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for p in NOTEBOOKS:
        assert f"`{p.name}`" in headings, f"the solutions say nothing about {p.name}"


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
@pytest.mark.parametrize("path", EVERY, ids=_ids(EVERY))
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
    stale = failed_claims(_outputs(nb))
    assert not stale, f"{path.name}: its results no longer support: {stale}"
    if path != SOLUTIONS:
        images = sum(1 for o in _outputs(nb) if "image/png" in o.get("data", {}))
        assert images >= 1, f"{path.name}: no figure was drawn"
    assert _listing(path.parent) == before, f"{path.name} wrote into notebooks/ (use a temp dir)"
