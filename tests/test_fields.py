"""Every scenario field has words: a description (with its default) in `sim schema`, and
``scenarios/FIELDS.md`` is the reference generated from that schema (issue 16, item 6)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sim.scenario.fields import reference
from sim.scenario.loader import json_schema
from sim.scenario.units import format_duration, format_size, parse_duration, parse_size

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ROOT / "scenarios" / "FIELDS.md"


def _properties(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    models = {"Scenario": schema, **schema["$defs"]}
    return [(m, k, p) for m, d in models.items() for k, p in d.get("properties", {}).items()]


def test_every_field_has_a_description_that_states_its_default() -> None:
    props = _properties(json_schema())
    assert len(props) > 300
    bare = [f"{m}.{k}" for m, k, p in props if not p.get("description") and "$ref" not in p]
    assert bare == []
    for m, k, p in props:
        if "default" in p and "description" in p:
            assert " Default: " in p["description"], f"{m}.{k}"


def test_defaults_are_written_in_the_units_a_person_writes() -> None:
    props = {f"{m}.{k}": p for m, k, p in _properties(json_schema())}
    assert props["Service.memory"]["default"] == "128MiB"
    assert props["Service.memory"]["description"].endswith("Default: 128MiB.")
    assert props["Pool.idle_timeout"]["default"] == "1h"
    assert props["Network.same_host_rtt"]["default"] == "5us"
    assert props["Service.instances"]["default"] == 1  # not a unit field: as it was


@pytest.mark.parametrize("seconds", [2.0, 0.025, 25e-6, 3600.0, 0.066, 90.0, 1e-7, 0.5])
def test_a_formatted_duration_reads_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize("size", [134217728, 15360, 1283, 786432, 0, 512, 47185920])
def test_a_formatted_size_reads_back(size: int) -> None:
    assert parse_size(format_size(size)) == size


def test_the_field_reference_is_generated_from_the_schema() -> None:
    text = reference(json_schema())
    if os.environ.get("SIM_UPDATE_FIELDS"):
        FIELDS.write_text(text, encoding="utf-8")
    assert FIELDS.read_text(encoding="utf-8") == text, (
        "scenarios/FIELDS.md is stale: SIM_UPDATE_FIELDS=1 .venv/bin/pytest tests/test_fields.py"
    )
    for words in (
        "bare number means **seconds**",
        "svc.<service>.<operation>",
        "Capacity warnings",
    ):
        assert words in text
    assert "| `instances` | integer | `1` | Identical instances" in text
    assert "`services.<name>.operations.<name>`" in text
