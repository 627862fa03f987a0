"""Every malformed scenario in ``tests/malformed/`` is refused with exit 2 and ONE line,
``FILE:LINE: …``, whose line is the offending one.

Each file starts with three comments: what is wrong, ``# expect-line: N`` and
``# expect: fragment of the message``. All but a few hostile ones are small edits of
``BASE`` below (a valid scenario), so the edit is what makes them fail.
"""

from __future__ import annotations

import difflib
import re
import tracemalloc
from pathlib import Path

import pytest

import sim.api  # imported once here, so the timings below measure loading only
from sim.cli import main
from sim.scenario.loader import read_yaml, validate

MALFORMED = Path(__file__).parent / "malformed"
FILES = sorted(MALFORMED.glob("*.yaml"))
NOT_VARIANTS = {"alias-bomb.yaml", "empty.yaml", "top-level-list.yaml"}

BASE = """\
name: tiny
description: two services, one event
run: {duration: 5s, warmup: 1s, seed: 1}
placement:
  regions:
    - {name: eu-west, zones: [a, b]}
services:
  front:
    instances: 2
    cores: 1
    operations:
      create:
        demand: {dist: exponential, mean: 1ms}
        request_bytes: 1KiB
        calls:
          - {service: back, operation: store}
        emits:
          - {subject: ORDERS.created, bytes: 512B}
  back:
    instances: 1
    operations:
      store:
        demand: {dist: lognormal, mean: 0.5ms, p99: 2ms}
    subscriptions:
      - {subject: "ORDERS.>", operation: store, delivery: each}
workload:
  arrivals: {kind: poisson, rate: 50}
  flows:
    - {name: create, service: front, operation: create}
"""


def _header(path: Path) -> tuple[str, int, str]:
    """(what is wrong, expected line, expected message fragment) from the first comments."""
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    what = lines[0]
    line = re.fullmatch(r"# expect-line: (\d+)", lines[1])
    frag = re.fullmatch(r"# expect: (.+)", lines[2])
    assert what.startswith("# ") and line and frag, f"{path.name}: bad header"
    return what[2:], int(line.group(1)), frag.group(1)


def test_there_are_enough_cases() -> None:
    assert len(FILES) >= 20


def test_base_is_valid() -> None:
    data, src = read_yaml(BASE, "base.yaml")
    sc = validate(data, src)
    sim.api.check_subjects(sc, "base.yaml", src)
    assert sorted(sc.services) == ["back", "front"]


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_each_file_is_a_small_edit_of_base(path: Path) -> None:
    if path.name in NOT_VARIANTS:
        pytest.skip("hostile input, not an edit of the base")
    body = path.read_bytes().decode("utf-8", "replace").splitlines()[3:]
    ops = difflib.SequenceMatcher(a=BASE.splitlines(), b=body, autojunk=False).get_opcodes()
    changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")
    assert 1 <= changed <= 4


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_validate_prints_one_located_line(path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    _, line, fragment = _header(path)
    code = main(["validate", str(path)])
    out, err = capfd.readouterr()
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    m = re.match(rf"^{re.escape(str(path))}:(\d+): ", lines[0])
    assert m, lines[0]
    assert int(m.group(1)) == line, lines[0]
    assert fragment in lines[0]
    assert "Traceback" not in err  # (that hostile sizes are not expanded: the memory test below)


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_run_refuses_and_writes_nothing(
    path: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    _, err = capfd.readouterr()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"{path}:")
    assert not out.exists()


def test_run_leaves_an_existing_folder_untouched(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("previous good report")
    assert main(["run", str(MALFORMED / "zero-rate.yaml"), "--out", str(out)]) == 2
    capfd.readouterr()
    assert [p.name for p in out.iterdir()] == ["report.md"]
    assert (out / "report.md").read_text() == "previous good report"


@pytest.mark.parametrize("name", ["python-object-tag.yaml", "python-object-tag-mapping.yaml"])
def test_python_tags_are_never_executed(name: str, capfd: pytest.CaptureFixture[str]) -> None:
    # the tags would run `echo hacked` (os.system, subprocess.Popen) with an unsafe loader;
    # capfd sees the process's real stdout/stderr, where a child's echo would land
    assert main(["validate", str(MALFORMED / name)]) == 2
    out, err = capfd.readouterr()
    assert "hacked" not in out
    assert "is not allowed" in err


@pytest.mark.parametrize("name", ["alias-bomb.yaml", "absurd-instances.yaml"])
def test_hostile_sizes_are_refused_without_a_memory_blowup(
    name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    tracemalloc.start()
    try:
        code = main(["validate", str(MALFORMED / name)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    capfd.readouterr()
    assert code == 2
    assert peak < 100 * 2**20  # fully expanded, the bomb would be 9^9 ≈ 387 M strings


def test_debug_shows_the_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    from sim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="unknown key 'colour'"):
        main(["--debug", "validate", str(MALFORMED / "unknown-key-top.yaml")])
