"""Units a person writes in a scenario: durations ("250us", "2ms", "10s", "5m") and sizes
("512B", "1KiB", "60MB").

Bare numbers are seconds and bytes. Strings are parsed with a strict regular expression, never
evaluated. NaN is refused (it passes no bound and poisons every statistic); infinity is kept,
as in an untruncated ``high: .inf``. Internally the simulator works in seconds and bytes only.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from sim.scenario.base import BoolText

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(us|µs|ms|s|m|h)?\s*$")
_DURATION_FACTORS = {
    None: 1.0,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$")
_SIZE_FACTORS = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "KiB": 1024,
    "MB": 1000**2,
    "MiB": 1024**2,
    "GB": 1000**3,
    "GiB": 1024**3,
}


def _number(value: int | float, what: str) -> float:
    try:
        x = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{what} is too large: a {len(str(value))}-digit integer") from None
    if math.isnan(x):
        raise ValueError(f"{what} must be a number, got nan")
    return x


def parse_duration(value: Any) -> float:
    """Seconds from a number (seconds) or a string with a unit (us, ms, s, m, h)."""
    if isinstance(value, bool | BoolText):
        raise ValueError("expected a duration such as 2ms or 0.5, not a boolean")
    if isinstance(value, int | float):
        return _number(value, "a duration")
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _DURATION_FACTORS[m.group(2)]
    raise ValueError(f"expected a duration such as 2ms, 10s or 0.5 (seconds), got {value!r}")


def parse_size(value: Any) -> float:
    """Bytes from a number or a string with a unit (B, KB, KiB, MB, MiB, GB, GiB)."""
    if isinstance(value, bool | BoolText):
        raise ValueError("expected a size such as 1KiB or 512, not a boolean")
    if isinstance(value, int | float):
        return _number(value, "a size")
    if isinstance(value, str):
        m = _SIZE.match(value)
        if m:
            return float(m.group(1)) * _SIZE_FACTORS[m.group(2)]
    raise ValueError(f"expected a size such as 512B, 1KiB or 60MB, got {value!r}")


class _OrText:
    """JSON Schema of a unit field: a number (with the field's bounds) or text such as "2ms",
    so that editors using `sim schema` accept what the loader accepts."""

    def __init__(self, pattern: re.Pattern[str], examples: list[str]):
        self.pattern, self.examples = pattern.pattern, examples

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        text = {"type": "string", "pattern": self.pattern, "examples": self.examples}
        return {"anyOf": [handler(core), text]}


Duration = Annotated[
    float, BeforeValidator(parse_duration), _OrText(_DURATION, ["250us", "2ms", "10s", "5m"])
]
Size = Annotated[float, BeforeValidator(parse_size), _OrText(_SIZE, ["512B", "1KiB", "60MB"])]
