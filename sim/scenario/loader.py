"""Reading scenario YAML safely, with every error pointing at ``FILE:LINE``.

The YAML is composed into nodes with PyYAML's safe loader (no tags that construct Python
objects, so nothing in a scenario is ever executed) and walked once to build plain data and
a map from each key path to its line. Pydantic validates the data; structural checks follow.
Any error (syntax, unknown key, wrong type, bad reference) becomes one
:class:`ScenarioError` whose text is ``FILE:LINE: path: message``.

``--set path=value`` overrides are applied to the plain data before validation; their
values are parsed as YAML scalars (or flow collections), never evaluated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.scenario.checks import check_structure
from sim.scenario.model import LocatedError, Scenario

Path_ = tuple[str | int, ...]
MAX_NODES = 200_000  # refuses alias bombs ("billion laughs") before they exhaust memory
MAX_BYTES = 5_000_000


class ScenarioError(ValueError):
    """A scenario that cannot be used; str() is one line: ``FILE:LINE: path: message``."""

    def __init__(self, file: str, line: int | None, path: Path_, message: str):
        self.file, self.line, self.path, self.message = file, line, path, message
        where = f"{file}:{line}" if line is not None else file
        dotted = ".".join(str(p) for p in path)
        super().__init__(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")


@dataclass
class Source:
    """Where a scenario came from: its file name and the line of each key path."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the longest prefix of path that exists in the YAML."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def error(self, path: Sequence[str | int], message: str) -> ScenarioError:
        return ScenarioError(self.file, self.line_of(path), tuple(path), message)


def read_yaml(text: str, file: str) -> tuple[Any, Source]:
    """Plain data and line map from YAML text; raises ScenarioError on any syntax problem."""
    src = Source(file)
    if len(text.encode()) > MAX_BYTES:
        raise ScenarioError(file, 1, (), f"file larger than {MAX_BYTES} bytes")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError(file, 1, (), "empty scenario file")
        counter = [0]
        data = _build(loader, node, (), src, counter)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError(file, line, (), f"YAML syntax error: {e.problem or e}") from None
    except yaml.YAMLError as e:
        raise ScenarioError(file, None, (), f"YAML error: {e}") from None
    finally:
        loader.dispose()
    return data, src


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, src: Source, n: list[int]) -> Any:
    n[0] += 1
    if n[0] > MAX_NODES:
        raise ScenarioError(src.file, node.start_mark.line + 1, path, "scenario too large")
    src.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            if not isinstance(key, str | int | float | bool) or isinstance(key, bool):
                raise ScenarioError(src.file, knode.start_mark.line + 1, path, "keys must be text")
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                raise ScenarioError(
                    src.file, knode.start_mark.line + 1, (*path, key), "duplicate key"
                )
            src.lines[(*path, key)] = knode.start_mark.line + 1
            out[key] = _build(loader, vnode, (*path, key), src, n)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, v, (*path, i), src, n) for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_set(expr: str) -> tuple[list[str | int], Any]:
    """``a.b.0.c=value`` → (["a", "b", 0, "c"], value parsed as a YAML scalar)."""
    if "=" not in expr:
        raise ValueError(f"--set {expr!r}: expected path=value")
    key, raw = expr.split("=", 1)
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in key.strip().split(".")]
    if not key.strip() or any(p == "" for p in parts):
        raise ValueError(f"--set {expr!r}: empty path element")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ValueError(f"--set {expr!r}: value is not valid YAML ({e})") from None
    return parts, value


def apply_sets(data: dict[str, Any], sets: Iterable[str]) -> dict[str, Any]:
    """A copy of data with each ``path=value`` override applied in order."""
    out = json.loads(json.dumps(data, default=str)) if data is not None else {}
    for i, expr in enumerate(sets, 1):
        try:
            parts, value = parse_set(expr)
        except ValueError as e:
            raise ScenarioError("--set", i, (), str(e)) from None
        cur: Any = out
        for j, p in enumerate(parts[:-1]):
            if isinstance(cur, list) and isinstance(p, int) and p < len(cur):
                cur = cur[p]
            elif isinstance(cur, dict):
                cur = cur.setdefault(p if isinstance(p, str) else str(p), {})
            else:
                raise ScenarioError("--set", i, tuple(parts[: j + 1]), "no such place to set")
        last = parts[-1]
        if isinstance(cur, list) and isinstance(last, int) and last < len(cur):
            cur[last] = value
        elif isinstance(cur, dict):
            cur[str(last)] = value
        else:
            raise ScenarioError("--set", i, tuple(parts), "no such place to set")
    return out


def validate(data: Any, src: Source) -> Scenario:
    """A Scenario from plain data, or the first error located in the source."""
    if not isinstance(data, dict):
        raise src.error((), "a scenario must be a mapping of keys (name, services, workload…)")
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as e:
        raise _located(e, src, data) from None
    try:
        check_structure(sc)
    except LocatedError as e:
        raise src.error(e.path, e.message) from None
    return sc


def _located(e: ValidationError, src: Source, data: Any) -> ScenarioError:
    err = e.errors(include_url=False)[0]
    loc = list(err["loc"])
    path: list[str | int] = []
    cur: Any = data
    for k, el in enumerate(loc):
        is_last = k == len(loc) - 1
        if (isinstance(cur, dict) and el in cur) or (
            isinstance(cur, list) and isinstance(el, int) and el < len(cur)
        ):
            cur = cur[el]  # type: ignore[index]
            path.append(el)
        elif is_last or not isinstance(el, str) or not isinstance(cur, dict):
            path.append(el)  # a missing or unknown key: name it, at its parent's line
        # else: a union tag pydantic adds to the location; not a key in the file
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = f"unknown key {path[-1]!r}"
        path = [*path[:-1], path[-1]]
    elif err["type"] == "missing":
        msg = f"missing required key {path[-1]!r}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return src.error(path, msg)


def load(path: str | Path, sets: Sequence[str] = ()) -> Scenario:
    """Load, override and validate a scenario file; every problem is a ScenarioError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(path), None, (), "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(str(path), None, (), f"cannot read: {e}") from None
    data, src = read_yaml(text, str(path))
    if sets:
        data = apply_sets(data, sets)
    return validate(data, src)


def scenario_hash(sc: Scenario) -> str:
    """A short stable hash of the validated scenario (defaults included)."""
    blob = json.dumps(sc.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
