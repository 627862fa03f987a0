"""Reading scenario YAML safely, with every error pointing at ``FILE:LINE``.

The YAML is composed into nodes with PyYAML's safe loader and walked once to build plain data
and a map from each key path to its line. Only the plain YAML tags (str, int, float, bool,
null, timestamp, map, seq) are accepted, so nothing in a scenario is ever constructed or
executed; the walk counts values and depth, so alias bombs ("billion laughs") and
self-referencing aliases are refused before they exhaust memory or the stack. Merge keys
(``<<: *defaults``) work as in YAML 1.1: keys written next to them win.

Pydantic validates the data; structural checks follow. Any error (syntax, unknown key, wrong
type, bad reference) becomes one :class:`ScenarioError` whose text is
``FILE:LINE: path: message``.

``--set path=value`` overrides are applied to the plain data before validation; their
values are parsed as YAML scalars (or flow collections) under the same rules, never
evaluated. An error in a value that came from an override names it as ``--set:N`` (the N-th
override) instead of a line of the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema

from sim.scenario import profile, replay
from sim.scenario.base import BoolText, InputError
from sim.scenario.checks import check_structure
from sim.scenario.fields import annotate
from sim.scenario.model import LocatedError, Scenario
from sim.scenario.paths import child, keys_at, place, suggest

T = TypeVar("T", bound=BaseModel)

Path_ = tuple[str | int, ...]
MAX_NODES = 200_000  # refuses alias bombs ("billion laughs") before they exhaust memory
MAX_DEPTH = 40  # a real scenario nests < 10 deep; refuses aliases that contain themselves
MAX_BYTES = 5_000_000
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MERGE = _TAG + "merge"


class ScenarioError(InputError):
    """A scenario that cannot be used; str() is one line per error, ``FILE:LINE: path:
    message`` (or ``--set:N: …`` for the N-th override), the first in ``file``, ``line``,
    ``path`` and ``message`` and the others in ``more``."""

    prefix = ""

    def __init__(
        self,
        file: str,
        line: int | None,
        path: Path_,
        message: str,
        more: Sequence[ScenarioError] = (),
    ):
        self.file, self.line, self.path, self.message = file, line, path, message
        self.more = tuple(more)  # further errors of the same file, one line each
        where = f"{file}:{line}" if line is not None else file
        dotted = printable(".".join(str(p) for p in path))  # one line, safe for a terminal
        first = printable(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")
        first = first.replace("\n", "\\n").replace("\r", "\\r")
        super().__init__("\n".join([first, *(str(m) for m in self.more)]))


@dataclass
class Source:
    """Where a scenario came from: its file name and the line of each key path."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)
    sets: dict[Path_, int] = field(default_factory=dict)  # overridden path → its --set number

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the longest prefix of path that exists in the YAML."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def error(self, path: Sequence[str | int], message: str) -> ScenarioError:
        """An error at path: the file's line, or ``--set:N`` if an override put it there."""
        p = tuple(path)
        for k in range(len(p), 0, -1):
            if p[:k] in self.sets:
                return ScenarioError("--set", self.sets[p[:k]], p, message)
        if p and p not in self.lines:  # a key the file does not have, made by an override
            for done, n in self.sets.items():
                if done[: len(p)] == p:
                    return ScenarioError("--set", n, p, message)
        return ScenarioError(self.file, self.line_of(p), p, message)


def read_yaml(text: str, file: str) -> tuple[Any, Source]:
    """Plain data and line map from YAML text; raises ScenarioError on any syntax problem."""
    src = Source(file)
    if len(text) > MAX_BYTES or len(text.encode()) > MAX_BYTES:
        raise ScenarioError(file, 1, (), f"file larger than {MAX_BYTES} bytes")
    bad = _CONTROL.search(text)
    if bad is not None:  # found here, so the message names the line and the character
        line = text.count("\n", 0, bad.start()) + 1
        raise ScenarioError(file, line, (), f"{_char(bad.group())} is not allowed in a scenario")
    loader = _Loader(text)
    try:
        node = _compose(loader, src)
        counter = [0]
        data = _build(loader, node, (), src, counter)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = mark.line + 1 if mark else None
        what = ", ".join(str(x) for x in (e.context, e.problem) if x) or str(e)
        raise ScenarioError(file, at, (), f"YAML syntax error: {printable(what)}") from None
    except yaml.reader.ReaderError as e:  # a character YAML forbids (the scan above is stricter)
        line = text.count("\n", 0, max(0, e.position)) + 1
        raise ScenarioError(file, line, (), f"YAML error: {printable(e.reason)}") from None
    except yaml.YAMLError as e:
        raise ScenarioError(file, None, (), f"YAML error: {printable(str(e))}") from None
    except RecursionError:  # thousands of nested [ or {
        raise ScenarioError(
            file, None, (), f"nested too deeply (at most {MAX_DEPTH} levels)"
        ) from None
    finally:
        loader.dispose()
    return data, src


# libyaml's parser where it is installed (tens of times faster); the same events and marks
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# C0 and C1 controls but tab, newline and carriage return; DEL; surrogates: a scenario is
# text, and these would reach terminals and reports (an ESC starts a terminal command)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _char(c: str) -> str:
    return f"control character U+{ord(c):04X}"


def printable(text: str) -> str:
    """Text with control characters written as escapes (``\\x1b``), safe for a terminal."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def _compose(loader: Any, src: Source) -> yaml.Node:
    """The single document's node graph, built from the parser's events with the limits
    checked as each node arrives: a huge or deeply nested file is refused at the line where
    it goes over, long before it is parsed whole (what ``yaml.compose`` does, plus counts)."""
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        raise ScenarioError(src.file, 1, (), "empty scenario file")
    loader.get_event()  # document start
    anchors: dict[str, yaml.Node] = {}
    stack: list[tuple[yaml.Node, list[Any]]] = []
    root: Any = None
    count = 0
    while True:
        ev: Any = loader.get_event()
        mark: Any = ev.start_mark  # libyaml's Mark or PyYAML's: the same fields
        if isinstance(ev, yaml.AliasEvent):
            if ev.anchor not in anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias {ev.anchor!r}", mark
                )
            node: Any = anchors[ev.anchor]
        elif isinstance(ev, yaml.ScalarEvent | yaml.SequenceStartEvent | yaml.MappingStartEvent):
            count += 1
            line = mark.line + 1
            if count > MAX_NODES:
                raise ScenarioError(src.file, line, (), f"too many values (more than {MAX_NODES})")
            if len(stack) >= MAX_DEPTH:
                raise ScenarioError(
                    src.file, line, (), f"nested too deeply (at most {MAX_DEPTH} levels)"
                )
            tag = ev.tag
            end: Any = ev.end_mark
            if isinstance(ev, yaml.ScalarEvent):
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)
                node = yaml.ScalarNode(tag, ev.value, mark, end, style=ev.style)
            else:
                kind = (
                    yaml.SequenceNode
                    if isinstance(ev, yaml.SequenceStartEvent)
                    else yaml.MappingNode
                )
                if tag is None or tag == "!":
                    tag = loader.resolve(kind, None, ev.implicit)
                node = kind(tag, [], mark, end, flow_style=ev.flow_style)
            if ev.anchor is not None:
                anchors[ev.anchor] = node
            if not isinstance(ev, yaml.ScalarEvent):
                stack.append((node, []))
                continue
        elif isinstance(ev, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            node, items = stack.pop()
            node.end_mark = ev.end_mark
            node.value = (
                list(zip(items[::2], items[1::2], strict=True))
                if isinstance(node, yaml.MappingNode)
                else items
            )
        else:  # pragma: no cover - the parser emits nothing else inside a document
            raise yaml.YAMLError(f"unexpected {type(ev).__name__}")
        if stack:
            stack[-1][1].append(node)
            continue
        root = node
        break
    loader.get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        ev = loader.get_event()
        raise yaml.composer.ComposerError(
            "expected a single document in the stream",
            root.start_mark,
            "but found another document",
            ev.start_mark,
        )
    return root


Pairs = dict[str, tuple[yaml.Node, yaml.Node]]


def _build(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path_,
    src: Source,
    n: list[int],
    memo: dict[int, Pairs] | None = None,
) -> Any:
    memo = {} if memo is None else memo
    line = node.start_mark.line + 1
    n[0] += 1
    if n[0] > MAX_NODES:  # point at the top-level key whose expansion went over
        top = src.lines.get(path[:1], line)
        raise ScenarioError(
            src.file, top, path[:1], f"too many values (more than {MAX_NODES}; an alias bomb?)"
        )
    if len(path) > MAX_DEPTH:
        raise ScenarioError(
            src.file, line, path[:1], f"nested too deeply (at most {MAX_DEPTH} levels)"
        )
    src.lines.setdefault(path, line)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key, (knode, vnode) in _pairs(loader, node, path, src, memo).items():
            src.lines[(*path, key)] = knode.start_mark.line + 1
            out[key] = _build(loader, vnode, (*path, key), src, n, memo)
        return out
    if isinstance(node, yaml.SequenceNode):
        _check_tag(node, _TAG + "seq", src)
        return [_build(loader, v, (*path, i), src, n, memo) for i, v in enumerate(node.value)]
    _check_tag(node, None, src)
    value = loader.construct_object(node, deep=True)
    if isinstance(value, str):
        _check_text(value, line, path, src)
    return value


def _check_text(value: str, line: int, path: Path_, src: Source) -> None:
    """Refuse control characters written as escapes (``"\\e[2J"``) in a value or a key."""
    bad = _CONTROL.search(value)
    if bad is not None:
        raise ScenarioError(src.file, line, path, f"{_char(bad.group())} is not allowed")


def _pairs(
    loader: yaml.SafeLoader,
    node: yaml.MappingNode,
    path: Path_,
    src: Source,
    memo: dict[int, Pairs],
) -> Pairs:
    """Key → (key node, value node) after merge keys (YAML 1.1): keys written in the mapping
    win over merged ones, an earlier merged mapping over a later one. Nodes are not mutated
    and each mapping is resolved once, so an alias reused many times costs nothing extra."""
    if id(node) in memo:
        return memo[id(node)]
    _check_tag(node, _TAG + "map", src)
    memo[id(node)] = {}  # a mapping that merges itself adds nothing
    merged: Pairs = {}
    own: Pairs = {}
    for knode, vnode in node.value:
        if knode.tag == _MERGE:
            subs = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
            for m in subs:
                if not isinstance(m, yaml.MappingNode):
                    raise ScenarioError(
                        src.file, m.start_mark.line + 1, path, "<< merges mappings only"
                    )
                for key, pair in _pairs(loader, m, path, src, memo).items():
                    merged.setdefault(key, pair)
            continue
        key = _key(loader, knode, path, src)
        if key in own:
            raise ScenarioError(src.file, knode.start_mark.line + 1, (*path, key), "duplicate key")
        own[key] = (knode, vnode)
    memo[id(node)] = out = {**merged, **own}
    return out


def _key(loader: yaml.SafeLoader, knode: yaml.Node, path: Path_, src: Source) -> str:
    """A mapping key as text (YAML numbers become their text: ``1: x`` is key "1")."""
    if isinstance(knode, yaml.ScalarNode):
        _check_tag(knode, None, src)
        key = loader.construct_object(knode, deep=True)
        if isinstance(key, str | int | float) and not isinstance(key, bool):
            text = key if isinstance(key, str) else str(key)
            _check_text(text, knode.start_mark.line + 1, path, src)
            return text
    raise ScenarioError(src.file, knode.start_mark.line + 1, path, "keys must be text")


def _check_tag(node: yaml.Node, expected: str | None, src: Source) -> None:
    """Refuse any tag but the plain ones: nothing in a scenario constructs an object."""
    ok = node.tag == expected if expected else node.tag in _SCALAR_TAGS
    if not ok:
        tag = node.tag.replace(_TAG, "!!")
        raise ScenarioError(
            src.file,
            node.start_mark.line + 1,
            (),
            f"YAML tag {tag!r} is not allowed in a scenario (only plain values, lists and mappings)",
        )


def parse_set(expr: str) -> tuple[list[str | int], Any]:
    """``a.b.0.c=value`` → (["a", "b", 0, "c"], value parsed as YAML by the scenario rules)."""
    if "=" not in expr:
        raise ValueError(f"--set {expr!r}: expected path=value")
    key, raw = expr.split("=", 1)
    parts: list[str | int] = [
        int(p) if p.isascii() and p.isdigit() else p for p in key.strip().split(".")
    ]
    if not key.strip() or any(p == "" for p in parts):
        raise ValueError(f"--set {expr!r}: empty path element")
    if not raw.strip():
        return parts, ""
    try:  # the same safe walk as a file: no tags, no alias bombs
        value, _ = read_yaml(raw, "--set")
    except ScenarioError as e:
        why = e.message
        if why == "empty scenario file":
            why = "empty value (# starts a YAML comment: quote the value)"
        raise ValueError(f"--set {expr!r}: {why}") from None
    return parts, value


def apply_sets(
    data: dict[str, Any], sets: Iterable[str], src: Source | None = None
) -> dict[str, Any]:
    """A copy of data with each ``path=value`` override applied in order.

    With ``src``, each overridden path is recorded so that errors in it name the override.
    """
    out = json.loads(json.dumps(data, default=str)) if data is not None else {}
    errors: list[ScenarioError] = []
    for i, expr in enumerate(sets, 1):
        try:
            _apply_one(out, i, expr, src)
        except ScenarioError as e:
            errors.append(e)  # report every bad override, not only the first
    if errors:
        first, *rest = errors
        raise ScenarioError(first.file, first.line, first.path, first.message, rest)
    return out


def _apply_one(out: dict[str, Any], i: int, expr: str, src: Source | None) -> None:
    """Apply the i-th override ``expr`` to ``out`` in place (see :func:`apply_sets`)."""
    try:
        parts, value = parse_set(expr)
    except ValueError as e:
        raise ScenarioError("--set", i, (), str(e)) from None
    cur: Any = out
    where: list[str | int] = []  # the path as the data spells it (dict keys are text)
    ann: Any = Scenario  # what the schema says is at this level (None: it does not say)
    dflt: Any = None
    for p in parts:
        last = len(where) + 1 == len(parts)
        here = place(ann, cur, dflt)
        if isinstance(cur, list) and isinstance(p, int) and p < len(cur):
            where.append(p)
        elif isinstance(cur, dict):
            key = str(p)
            if here.shape == "model" and key not in here.keys:
                raise ScenarioError(
                    "--set", i, (*where, key), f"unknown key {key!r}{suggest(key, here.keys)}"
                )
            if here.shape == "map" and key not in cur and key not in here.keys and not last:
                # a typo must not add a service: a new entry is given whole, on purpose
                dotted = ".".join(str(w) for w in (*where, key))
                raise ScenarioError(
                    "--set",
                    i,
                    (*where, key),
                    f"no entry {key!r}{suggest(key, here.keys) or _entries(here.keys)}; "
                    "--set changes what exists: "
                    f"to add an entry, give it whole (--set '{dotted}={{...}}')",
                )
            where.append(key)
        else:
            raise ScenarioError("--set", i, (*where, p), "no such place to set")
        ann, dflt = child(ann, cur, where[-1]) if ann is not None else (None, None)
        if not last:
            if isinstance(cur, dict) and where[-1] not in cur:  # seeded from a map default
                # (a model's defaults are not copied in: they stay defaults, so the report
                # still cites them and a calibration profile still fills them)
                is_map = ann is not None and place(ann, None, dflt).shape == "map"
                cur[where[-1]] = _plain(dflt) if is_map and isinstance(dflt, dict) else {}
            cur = cur[where[-1]]
    cur[where[-1]] = value
    if src is not None:
        done = tuple(where)
        for k in [k for k in src.sets if k[: len(done)] == done]:
            del src.sets[k]  # a later override of a parent replaces earlier ones
        src.sets[done] = i


def _plain(value: Any) -> Any:
    """A map default as plain data (its entries may be models)."""
    dump = lambda o: o.model_dump(mode="json", by_alias=True)  # noqa: E731
    return json.loads(json.dumps(value, default=dump))


def _entries(keys: Sequence[str]) -> str:
    return f" (there are {', '.join(map(repr, sorted(keys)))})" if 0 < len(keys) <= 12 else ""


def validate(data: Any, src: Source) -> Scenario:
    """A Scenario from plain data, or every schema error located in the source (structural
    checks, which need a valid model, then stop at their first)."""
    if not isinstance(data, dict):
        raise src.error((), "a scenario must be a mapping of keys (name, services, workload…)")
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as e:  # every error, in the file's order, overrides last
        found: dict[str, ScenarioError] = {}
        at: dict[tuple[Any, ...], ScenarioError] = {}
        for err in e.errors(include_url=False):
            one = _located(err, src, data)
            key = (one.file, one.line, tuple(one.path))
            prev = at.get(key)
            if prev is not None:  # one value that fits no member of a union: one line
                if one.message not in prev.message:
                    both = ScenarioError(
                        prev.file, prev.line, prev.path, f"{prev.message}; or {one.message}"
                    )
                    found[str(both)] = both
                    del found[str(prev)]
                    at[key] = both
                continue
            at[key] = one
            found.setdefault(str(one), one)
        first, *rest = sorted(
            found.values(), key=lambda x: (x.file == "--set", x.line or 0, str(x))
        )
        raise ScenarioError(first.file, first.line, first.path, first.message, rest) from None
    try:
        check_structure(sc)
    except LocatedError as e:
        raise src.error(e.path, e.message) from None
    return sc


def _located(err: Any, src: Source, data: Any) -> ScenarioError:
    kind = err["type"]
    names_key = kind in ("missing", "extra_forbidden")
    loc = list(err["loc"])
    path: list[str | int] = []
    cur: Any = data
    for k, el in enumerate(loc):
        is_last = k == len(loc) - 1
        if (isinstance(cur, dict) and el in cur) or (
            isinstance(cur, list) and isinstance(el, int) and el < len(cur)
        ):
            cur = cur[el]
            path.append(el)
        elif isinstance(el, str) and not isinstance(cur, dict | list) and k > 0:
            pass  # a union member's tag under a plain value (constrained-int, literal…)
        elif (is_last and names_key) or not isinstance(el, str) or not isinstance(cur, dict):
            path.append(el)  # a missing or unknown key: name it, at its parent's line
        # else: a union tag pydantic adds to the location; not a key in the file
    msg = err["msg"]
    ctx = err.get("ctx", {})
    if kind == "extra_forbidden":
        known = keys_at(Scenario, data, tuple(path[:-1]))
        msg = f"unknown key {path[-1]!r}{suggest(str(path[-1]), known)}"
    elif kind == "missing":
        msg = f"missing required key {path[-1]!r}"
    elif kind == "union_tag_invalid":
        msg = (
            f"unknown {ctx['discriminator'].strip(chr(39))} {ctx['tag']!r} "
            f"(expected one of {ctx['expected_tags']})"
        )
    elif kind == "union_tag_not_found":
        msg = f"missing required key {ctx['discriminator']} (which kind this is)"
    elif isinstance(err.get("input"), BoolText):  # rate: true (sim.scenario.base.unbool)
        msg = f"expected a number, not a boolean ({err['input']})"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]  # our own messages say what they got
    elif isinstance(err.get("input"), str | int | float) and len(repr(err["input"])) <= 60:
        msg = f"{msg}, got {err['input']!r}"
    return src.error(path, msg)


def validate_as(model: type[T], data: Any, src: Source) -> T:
    """Any strict model from plain data (a calibration profile…), errors located in ``src``."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise _located(e.errors(include_url=False)[0], src, data) from None


def load(path: str | Path, sets: Sequence[str] = (), calibration: str | None = None) -> Scenario:
    """Load, override, calibrate and validate a scenario file; every problem is a
    ScenarioError. ``calibration``: a profile applied under the scenario's own values
    (:mod:`sim.scenario.profile`; it wins over the file's ``calibration:``)."""
    return load_with_source(path, sets, calibration)[0]


def load_with_source(
    path: str | Path, sets: Sequence[str] = (), calibration: str | None = None
) -> tuple[Scenario, Source]:
    """:func:`load`, and where each value came from (file line or ``--set``) for later checks."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(str(path), None, (), "no such file") from None
    except OSError as e:
        raise ScenarioError(str(path), None, (), f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        bad = raw[e.start : e.start + 1].hex()
        raise ScenarioError(str(path), line, (), f"not UTF-8 text (byte 0x{bad})") from None
    data, src = read_yaml(text, str(path))
    if sets:
        data = apply_sets(data, sets, src)
    data = profile.resolve(data, src, p, calibration)
    data = replay.resolve(data, src, p)
    return validate(data, src), src


def scenario_hash(sc: Scenario) -> str:
    """A short stable hash of the validated scenario (defaults included)."""
    blob = json.dumps(sc.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


class _ScenarioSchema(GenerateJsonSchema):
    """Pydantic leaves a bound as a raw ``gt``/``ge`` key (ignored by JSON Schema validators)
    where it wraps a validator, as on ``Duration | None`` (pydantic issue #11576)."""

    def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        out = super().generate(schema, mode)
        _rename_bounds(out)
        annotate(out)  # defaults in units a person writes, and in every description
        return out


def _rename_bounds(node: Any) -> None:
    if isinstance(node, list):
        for v in node:
            _rename_bounds(v)
    elif isinstance(node, dict):
        for k in list(node):
            if k in ("properties", "$defs"):  # names, not keywords
                for v in node[k].values():
                    _rename_bounds(v)
            elif k in _BOUNDS and isinstance(node[k], int | float):
                node[_BOUNDS[k]] = node.pop(k)
            elif k not in ("default", "examples", "const", "enum"):  # data, not schemas
                _rename_bounds(node[k])


def json_schema() -> dict[str, Any]:
    """The scenario's JSON Schema (what `sim schema` prints), with each default's source."""
    return Scenario.model_json_schema(by_alias=True, schema_generator=_ScenarioSchema)
