"""The README's command reference is the real ``--help`` output (:func:`sim.docs.cli_reference`).

Run ``SIM_UPDATE_README=1 .venv/bin/pytest tests/test_readme.py`` after changing the CLI to
rewrite the section between the markers; without it the test fails on any difference.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.docs import END, START, cli_reference, help_texts, readme_section, update_readme

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_command_reference_is_the_real_help() -> None:
    if os.environ.get("SIM_UPDATE_README") == "1":
        update_readme(README)
    section = readme_section(README.read_text(encoding="utf-8"))
    assert section is not None, f"README.md lacks the {START} … {END} markers"
    assert section == cli_reference(), (
        "README.md's command reference is out of date: run "
        "SIM_UPDATE_README=1 .venv/bin/pytest tests/test_readme.py"
    )


def test_reference_covers_every_subcommand_with_examples() -> None:
    from sim.cli import build_parser
    from sim.docs import _subcommands

    names = [n for n, _ in help_texts()]
    assert names == ["sim", *(f"sim {c}" for c in _subcommands(build_parser()))]
    for name, text in help_texts():
        assert text.startswith(f"usage: {name}"), name
        assert "examples:" in text, f"{name} --help shows no examples"


def test_update_rewrites_only_the_marked_section(tmp_path: Path) -> None:
    p = tmp_path / "README.md"
    p.write_text(f"# t\n\nbefore\n{START}\nstale\n{END}\nafter\n", encoding="utf-8")
    assert update_readme(p) is True
    text = p.read_text(encoding="utf-8")
    assert text.startswith("# t\n\nbefore\n") and text.endswith(f"{END}\nafter\n")
    assert readme_section(text) == cli_reference()
    assert update_readme(p) is False  # idempotent


def test_update_refuses_a_readme_without_markers(tmp_path: Path) -> None:
    p = tmp_path / "README.md"
    p.write_text("# no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cli-reference:start"):
        update_readme(p)


def test_help_is_the_same_whatever_the_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = cli_reference()
    monkeypatch.setenv("COLUMNS", "40")
    assert cli_reference() == wide


def test_scenarios_readme_describes_every_bundled_scenario() -> None:
    folder = README.parent / "scenarios"
    text = (folder / "README.md").read_text(encoding="utf-8")
    files = sorted(
        str(p.relative_to(folder))
        for p in [*folder.glob("*.yaml"), *folder.glob("validation/*.yaml")]
    )
    assert files, "no bundled scenarios found"
    missing = [f for f in files if f"`{f}`" not in text]
    assert not missing, f"scenarios/README.md does not describe {missing}"
