"""Parameter grids: the points a sweep runs, from ``--param`` expressions.

Two forms, each naming a dotted scenario path exactly as ``--set`` does:

* ``path=v1,v2,...`` — a list; each value is parsed as a YAML scalar by the scenario
  loader's own :func:`~sim.scenario.loader.parse_set` (so ``500``, ``0.5``, ``true``,
  ``2ms`` and ``http2`` mean what they mean in ``--set``). Commas inside ``[...]`` or
  ``{...}`` do not split, so flow lists stay one value.
* ``path=start..stop:steps`` — ``steps`` evenly spaced values from ``start`` to ``stop``
  inclusive (``numpy.linspace``). Integer ends whose spacing is whole give integers (for
  counts such as instances); a shared unit suffix (``1ms..5ms:5``, ``1KiB..8KiB:4``) is
  converted to seconds or bytes, the units the simulator works in.

Several ``--param`` make the Cartesian product, in the order given (the last varies
fastest). Each point becomes ``--set`` overrides applied on top of the user's own with
:func:`~sim.scenario.loader.apply_sets`, through :func:`sim.api.load_scenario`. Every
problem is a :class:`GridError` whose text is one line.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from sim.scenario.base import InputError
from sim.scenario.loader import parse_set
from sim.scenario.units import parse_duration, parse_size

_NUM = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_RANGE = re.compile(
    rf"^\s*({_NUM})\s*([A-Za-zµ]*)\s*\.\.\s*({_NUM})\s*([A-Za-zµ]*)\s*:\s*(\S+)\s*$"
)
MAX_POINTS = 100_000  # a typo such as 1..1000000:1000000 should fail fast, not fill a disk


class GridError(InputError):
    """A ``--param`` expression that cannot become a grid; str() is one line."""

    prefix = ""


@dataclass(frozen=True)
class Param:
    """One swept path and its values, in order."""

    path: str
    values: tuple[Any, ...]

    @property
    def kind(self) -> str:
        """Column type of its values: ``int``, ``float``, ``bool`` or ``str``."""
        return column_kind(self.values)


@dataclass(frozen=True)
class Point:
    """One combination of values: (path, value) pairs in grid order."""

    items: tuple[tuple[str, Any], ...]

    def sets(self) -> list[str]:
        """The point as ``path=value`` overrides for :func:`sim.api.load_scenario`."""
        return [f"{p}={yaml_scalar(v)}" for p, v in self.items]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.items)

    def label(self) -> str:
        return ", ".join(f"{p}={v}" for p, v in self.items)


def column_kind(values: Iterable[Any]) -> str:
    vals = list(values)
    if vals and all(isinstance(v, bool) for v in vals):
        return "bool"
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "int"
    if vals and all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        return "float"
    return "str"


def yaml_scalar(value: Any) -> str:
    """A value written so that YAML reads it back as the same value (floats included)."""
    if isinstance(value, str):
        return value
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("...").strip()


def _split(raw: str) -> list[str]:
    """Split on commas that are not inside brackets or braces."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in raw:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _unit_value(num: str, unit: str, expr: str) -> tuple[float, str]:
    """A number with a unit in seconds or bytes, and which of the two it is."""
    text = f"{num}{unit}"
    for kind, parse in (("duration", parse_duration), ("size", parse_size)):
        try:
            return parse(text), kind
        except ValueError:
            continue
    raise GridError(
        f"--param {expr!r}: unknown unit {unit!r} (durations: us ms s m h; sizes: B KiB…)"
    )


def _ends(a: str, ua: str, b: str, ub: str, expr: str) -> tuple[float, float, bool]:
    """Both ends as numbers (seconds or bytes when they carry units); True if units were used."""
    if bool(ua) != bool(ub):
        raise GridError(f"--param {expr!r}: give both ends a unit, or neither")
    if not ua:
        return float(a), float(b), False
    (lo, ka), (hi, kb) = _unit_value(a, ua, expr), _unit_value(b, ub, expr)
    if ka != kb:
        raise GridError(
            f"--param {expr!r}: both ends need the same kind of unit ({ua!r} vs {ub!r})"
        )
    return lo, hi, True


def _range(path: str, m: re.Match[str], expr: str) -> tuple[Any, ...]:
    a, ua, b, ub, steps_raw = m.groups()
    if not steps_raw.isdigit() or int(steps_raw) < 1:
        raise GridError(f"--param {expr!r}: steps must be a whole number >= 1, got {steps_raw!r}")
    steps = int(steps_raw)
    lo, hi, unit = _ends(a, ua, b, ub, expr)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise GridError(f"--param {expr!r}: ends must be finite numbers")
    if steps == 1:
        if lo != hi:
            raise GridError(f"--param {expr!r}: one step needs start == stop; use 2 or more")
        vals = np.array([lo])
    else:
        vals = np.linspace(lo, hi, steps)
    whole = not unit and _is_int(a) and _is_int(b)
    if whole and steps > 1 and (int(b) - int(a)) % (steps - 1) == 0:
        return tuple(round(float(v)) for v in vals)
    if whole and steps == 1:
        return (int(a),)
    return tuple(float(v) for v in vals)


def _is_int(text: str) -> bool:
    return re.fullmatch(r"[-+]?[0-9]+", text.strip()) is not None


_BOUNDS = re.compile(rf"^\s*({_NUM})\s*([A-Za-zµ]*)\s*\.\.\s*({_NUM})\s*([A-Za-zµ]*)\s*$")


def parse_bounds(expr: str) -> tuple[str, float, float]:
    """``path=lo..hi`` for a crossover search: integers stay integers, units are converted."""
    if "=" not in expr:
        raise GridError(f"--param {expr!r}: expected path=lo..hi")
    path, raw = (s.strip() for s in expr.split("=", 1))
    if not path or any(p == "" for p in path.split(".")):
        raise GridError(f"--param {expr!r}: empty path element")
    m = _BOUNDS.match(raw)
    if not m:
        raise GridError(
            f"--param {expr!r}: expected path=lo..hi with numbers, e.g. 1..64 or 1ms..20ms"
        )
    a, ua, b, ub = m.groups()
    lo, hi, unit = _ends(a, ua, b, ub, expr)
    if not unit and _is_int(a) and _is_int(b):
        lo, hi = int(a), int(b)
    if not lo < hi:
        raise GridError(f"--param {expr!r}: needs lo < hi")
    return path, lo, hi


def parse_param(expr: str) -> Param:
    """One ``path=v1,v2`` or ``path=start..stop:steps`` expression."""
    if "=" not in expr:
        raise GridError(f"--param {expr!r}: expected path=v1,v2,... or path=start..stop:steps")
    path, raw = (s.strip() for s in expr.split("=", 1))
    if not path or any(p == "" for p in path.split(".")):
        raise GridError(f"--param {expr!r}: empty path element")
    if not raw:
        raise GridError(f"--param {expr!r}: no values")
    m = _RANGE.match(raw)
    if m:
        values = _range(path, m, expr)
    elif ".." in raw and not raw.lstrip().startswith(("[", "{", "'", '"')):
        raise GridError(
            f"--param {expr!r}: a range is start..stop:steps with numbers, e.g. 1..8:8 or 1ms..5ms:5"
        )
    else:
        items = [s.strip() for s in _split(raw)]
        if any(s == "" for s in items):
            raise GridError(f"--param {expr!r}: empty value in the list")
        values_l = []
        for s in items:
            try:
                values_l.append(parse_set(f"{path}={s}")[1])
            except ValueError as e:  # parse_set names the --set it was given; name the value
                why = " ".join(str(e).split(": ", 1)[-1].split())  # always one line
                raise GridError(f"--param {expr!r}: value {s!r}: {why}") from None
        values = tuple(values_l)
    if len(set(map(repr, values))) != len(values):
        raise GridError(f"--param {expr!r}: repeated values")
    return Param(path, values)


@dataclass(frozen=True)
class Grid:
    """The Cartesian product of the swept parameters."""

    params: tuple[Param, ...]

    @classmethod
    def parse(cls, exprs: Sequence[str] | Mapping[str, Sequence[Any]]) -> Grid:
        """From ``--param`` strings, or from a mapping ``{path: [values]}`` (Python API)."""
        if isinstance(exprs, str):
            exprs = [exprs]
        if isinstance(exprs, Mapping):
            params = [Param(str(p), tuple(v)) for p, v in exprs.items()]
            for p in params:
                if not p.values:
                    raise GridError(f"--param {p.path}: no values")
        else:
            params = [parse_param(e) for e in exprs]
        if not params:
            raise GridError("a sweep needs at least one --param")
        paths = [p.path for p in params]
        if len(set(paths)) != len(paths):
            raise GridError(f"--param: a path is swept twice ({', '.join(paths)})")
        size = math.prod(len(p.values) for p in params)
        if size > MAX_POINTS:
            raise GridError(f"--param: {size} points is more than the limit of {MAX_POINTS}")
        return cls(tuple(params))

    def __len__(self) -> int:
        return math.prod(len(p.values) for p in self.params)

    def points(self) -> Iterator[Point]:
        """Every point, the last parameter varying fastest."""
        paths = [p.path for p in self.params]
        for combo in itertools.product(*(p.values for p in self.params)):
            yield Point(tuple(zip(paths, combo, strict=True)))
