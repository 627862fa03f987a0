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

    def __init__(self, pattern: re.Pattern[str], examples: list[str], unit: str):
        self.pattern, self.examples, self.unit = pattern.pattern, examples, unit

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        text = {"type": "string", "pattern": self.pattern, "examples": self.examples}
        # "unit": what a bare number means (sim.scenario.fields writes defaults in it)
        return {"anyOf": [handler(core), text], "unit": self.unit}


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    _OrText(_DURATION, ["250us", "2ms", "10s", "5m"], "seconds"),
]
Size = Annotated[
    float, BeforeValidator(parse_size), _OrText(_SIZE, ["512B", "1KiB", "60MB"], "bytes")
]


def format_duration(seconds: float) -> str:
    """A duration as a person writes it and :func:`parse_duration` reads it back exactly
    where it can ("250us", "2ms", "10s", "1h"); other values as plain seconds."""
    if seconds == 0 or not math.isfinite(seconds):
        return f"{seconds:g}"
    for unit, factor in (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        n = seconds / factor
        whole = factor < 60 or float(n).is_integer()  # 90 s, not 1.5m
        if abs(n) >= 1 and whole and math.isclose(parse_duration(f"{n:g}{unit}"), seconds):
            return f"{n:g}{unit}"
    return f"{seconds:g}"


def format_size(size: float) -> str:
    """A size in binary units where it is a whole number of them ("128MiB", "15KiB"),
    else in bytes ("1283B")."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size / factor:g}{unit}"
    return f"{size:g}B"
