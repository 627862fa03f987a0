"""The scenario layer's reading rules: units, ``--set`` overrides, line maps, merge keys,
the JSON Schema that ``sim schema`` prints, and the scenario hash."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from sim.api import load_scenario
from sim.cli import main
from sim.scenario import Scenario, ScenarioError, scenario_hash
from sim.scenario.loader import apply_sets, parse_set, read_yaml
from sim.scenario.units import parse_duration, parse_size

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "scenarios" / "order-service.yaml"


def _line_of(text: str, needle: str) -> int:
    """The 1-based line of the only line containing needle."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


# --------------------------------------------------------------------------- units
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250us", 250e-6),
        ("250µs", 250e-6),
        ("2ms", 2e-3),
        ("1.5ms", 1.5e-3),
        (" 2 ms ", 2e-3),
        ("10s", 10.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1e-3", 1e-3),
        ("0.5", 0.5),
        (0.5, 0.5),
        (3, 3.0),
        (0, 0.0),
        (math.inf, math.inf),  # no bound: e.g. an untruncated normal's `high: .inf`
        ("1e400s", math.inf),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-12)


def test_override_round_trips_an_untruncated_normal() -> None:
    from sim.api import override

    demand = (
        "services.order-dispatch.operations.dispatch.demand={dist: normal, mean: 1ms, sd: 0.2ms}"
    )
    sc = override(load_scenario(FLAGSHIP, [demand]), ["run.seed=3"])
    assert sc.services["order-dispatch"].operations["dispatch"].demand.high == math.inf  # type: ignore[union-attr]
    assert sc.run.seed == 3


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [
        ("512B", 512),
        ("1KB", 1000),
        ("1KiB", 1024),
        ("60MB", 60e6),
        ("1.5MiB", 1.5 * 2**20),
        ("2GiB", 2 * 2**30),
        ("1GB", 1e9),
        ("512", 512),
        (512, 512),
        (0.5, 0.5),
    ],
)
def test_sizes(text: object, nbytes: float) -> None:
    assert parse_size(text) == nbytes


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "not a boolean"),
        (False, "not a boolean"),
        ("5 parsecs", "got '5 parsecs'"),
        ("2 ms ms", "expected a duration"),
        ("-1s", "expected a duration"),
        ("", "expected a duration"),
        ("ms", "expected a duration"),
        ("nan", "expected a duration"),
        ("2 + 3", "expected a duration"),
        ("__import__('os')", "expected a duration"),
        (None, "expected a duration"),
        ([1], "expected a duration"),
        (math.nan, "a duration must be a number, got nan"),
        (10**400, "a duration is too large: a 401-digit integer"),
    ],
)
def test_durations_refuse(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "not a boolean"),
        ("1 KiBi", "got '1 KiBi'"),
        ("1kb", "expected a size"),
        ("-1B", "expected a size"),
        ("1e3B", "expected a size"),
        ("lots", "expected a size"),
        (math.nan, "a size must be a number, got nan"),
        (10**400, "a size is too large"),
    ],
)
def test_sizes_refuse(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_size(value)


# --------------------------------------------------------------------------- --set
@pytest.mark.parametrize(
    ("expr", "path", "value"),
    [
        ("run.seed=7", ["run", "seed"], 7),
        ("workload.flows.0.weight=2.5", ["workload", "flows", 0, "weight"], 2.5),
        ("a.b=true", ["a", "b"], True),
        ("a=null", ["a"], None),
        ("a=2ms", ["a"], "2ms"),
        ("a='5'", ["a"], "5"),
        ("a=[1, 2]", ["a"], [1, 2]),
        ("a={x: 1}", ["a"], {"x": 1}),
        ("a=b=c", ["a"], "b=c"),
        ("a=", ["a"], ""),
        (" a.b =1", ["a", "b"], 1),
        ("a.²=1", ["a", "²"], 1),  # a Unicode digit is a key, not a list index
    ],
)
def test_parse_set(expr: str, path: list[str | int], value: Any) -> None:
    assert parse_set(expr) == (path, value)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("novalue", "expected path=value"),
        ("a..b=1", "empty path element"),
        ("=1", "empty path element"),
        ("a=[1", "YAML syntax error"),
        ("a=#x", "empty value"),
        ('name=!!python/object/apply:os.system ["echo hacked"]', "is not allowed"),
        ("a=!!binary aGk=", "is not allowed"),
        ("a=&x [*x]", "nested too deeply"),
    ],
)
def test_parse_set_refuses(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as e:
        parse_set(expr)
    assert "\n" not in str(e.value)


def test_apply_sets_copies_and_overrides_in_order() -> None:
    data = {"run": {"seed": 1}, "workload": {"flows": [{"name": "a"}, {"name": "b"}]}}
    out = apply_sets(data, ["run.seed=2", "workload.flows.1.name=c", "run.seed=3"])
    assert out == {"run": {"seed": 3}, "workload": {"flows": [{"name": "a"}, {"name": "c"}]}}
    assert data["run"] == {"seed": 1}  # the input is not modified
    with pytest.raises(ScenarioError, match=r"^--set:1: x: unknown key 'x'"):
        apply_sets(data, ["x.y=1"])  # an override changes what the schema has, never adds keys


@pytest.mark.parametrize(
    ("sets", "line"),
    [
        (["workload.flows.5.name=x"], "--set:1: workload.flows.5: no such place to set"),
        (["run.seed=1", "run.seed.x=1"], "--set:2: run.seed.x: no such place to set"),
        (["workload.flows.name=x"], "--set:1: workload.flows.name: no such place to set"),
        (["run.duration=abc"], "--set:1: run.duration: expected a duration"),
        (["run.duration=5", "run.duration=abc"], "--set:2: run.duration: expected a duration"),
        (["colour=blue"], "--set:1: colour: unknown key 'colour'"),
        (
            ["services.order-create.instances=1000000000"],
            "--set:1: services.order-create.instances: Input should be less than or equal to 10000",
        ),
        (
            ["workload.flows.0.service=nope"],
            "--set:1: workload.flows.0.service: unknown service 'nope'",
        ),
        (["run.duration=abc", "run={duration: 3}"], None),  # a later parent override wins
        (["run.duration=5", "run={duration: abc}"], "--set:2: run.duration: expected a duration"),
        (["novalue"], "--set:1: --set 'novalue': expected path=value"),
        (
            ['name=!!python/object/apply:os.system ["echo hacked"]'],
            "--set:1: --set 'name=!!python/object/apply:os.system",
        ),
    ],
)
def test_set_errors_name_the_override(
    sets: list[str], line: str | None, capfd: pytest.CaptureFixture[str]
) -> None:
    argv = ["validate", str(FLAGSHIP)]
    for s in sets:
        argv += ["--set", s]
    code = main(argv)
    out, err = capfd.readouterr()
    assert "hacked" not in out
    if line is None:
        assert code == 0, err
        return
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(line), err


def test_errors_outside_the_overrides_still_name_the_file(tmp_path: Path) -> None:
    text = FLAGSHIP.read_text().replace("rate: 200}", "rate: 0}")
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(p, ["run.seed=3"])
    assert str(e.value).startswith(f"{p}:{_line_of(text, 'rate: 0}')}: workload.arrivals.rate:")


def test_sets_reach_the_model() -> None:
    sc = load_scenario(
        FLAGSHIP,
        [
            "workload.arrivals.rate=500",
            "run.duration=2s",
            "services.order-create.operations.create.calls.0.probability=0.5",
            "http.protocol=http2",
        ],
    )
    assert sc.workload.arrivals.rate == 500  # type: ignore[union-attr]
    assert sc.run.duration == 2.0
    assert sc.services["order-create"].operations["create"].calls[0].probability == 0.5
    assert sc.http.protocol == "http2"


# --------------------------------------------------------------------------- line map
NESTED = """\
top:
  - x: 1
    y:
      - 10
      - [20, 30]
      - {z: 40}
  - {x: 2}
other: 3
"""


def test_line_map_of_nested_lists() -> None:
    data, src = read_yaml(NESTED, "n.yaml")
    assert data["top"][0]["y"][2] == {"z": 40}
    lines = src.lines
    assert lines[("top",)] == 1
    assert lines[("top", 0)] == 2
    assert lines[("top", 0, "x")] == 2
    assert lines[("top", 0, "y")] == 3
    assert lines[("top", 0, "y", 0)] == 4
    assert lines[("top", 0, "y", 1)] == 5
    assert lines[("top", 0, "y", 1, 1)] == 5
    assert lines[("top", 0, "y", 2, "z")] == 6
    assert lines[("top", 1)] == 7
    assert lines[("top", 1, "x")] == 7
    assert lines[("other",)] == 8
    # a path that is not in the file (a default, a missing key) falls back to its parent
    assert src.line_of(("top", 0, "y", 2, "w")) == 6
    assert src.line_of(("nowhere", "at", "all")) == 1


def test_line_map_of_the_flagship() -> None:
    text = FLAGSHIP.read_text()
    _, src = read_yaml(text, str(FLAGSHIP))
    sub = ("services", "order-audit", "subscriptions", 0, "subject")
    assert src.lines[sub] == _line_of(text, '"ORDERS.>"')
    call = ("services", "order-create", "operations", "create", "calls", 0, "operation")
    assert src.lines[call] == _line_of(text, "{service: order-dispatch, operation: dispatch}")
    assert src.lines[("workload", "flows", 0, "name")] == _line_of(text, "name: create-order")


# --------------------------------------------------------------------------- YAML rules
MERGE = """\
x-small: &small {instances: 1, cores: 1}
x-big: &big {instances: 4, memory: 1GiB}
a: &a {<<: *small, instances: 3}
b: {<<: [*small, *big]}
c: *a
d: {<<: *a}
"""


def test_merge_keys_follow_yaml_rules() -> None:
    data, src = read_yaml(MERGE, "m.yaml")
    assert data["a"] == {"instances": 3, "cores": 1}  # a key written next to << wins
    assert data["b"] == {"instances": 1, "cores": 1, "memory": "1GiB"}  # earlier merge wins
    assert data["c"] == data["d"] == data["a"]  # a merged mapping reused is resolved once
    assert src.lines[("a", "instances")] == 3
    assert src.lines[("b", "cores")] == 1  # merged keys point where they are written


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: {<<: 5}\n", 1, "<< merges mappings only"),
        ("x: &x {k: 1}\na:\n  <<: *x\n  k: 2\n  k: 3\n", 5, "duplicate key"),
        ("a: !!set {x, y}\n", 1, "YAML tag '!!set' is not allowed"),
        ("a: !!binary aGk=\n", 1, "YAML tag '!!binary' is not allowed"),
        ("a:\n  b: !local x\n", 2, "YAML tag '!local' is not allowed"),
        ("? !!python/name:os.system x\n: 1\n", 1, "YAML tag '!!python/name:os.system'"),
        ("a: 1\n? [x]\n: 2\n", 2, "keys must be text"),
        ("a: 1\n--- \nb: 2\n", 2, "expected a single document in the stream"),
    ],
)
def test_yaml_refusals(text: str, line: int, message: str) -> None:
    with pytest.raises(ScenarioError) as e:
        read_yaml(text, "y.yaml")
    assert str(e.value).startswith(f"y.yaml:{line}: ")
    assert message in str(e.value)


def test_plain_values_keep_their_yaml_types() -> None:
    data, _ = read_yaml("1: a\nb: 2024-01-02\nc: 0x10\nd: ~\ne: '2'\n", "t.yaml")
    assert data == {
        "1": "a",
        "b": __import__("datetime").date(2024, 1, 2),
        "c": 16,
        "d": None,
        "e": "2",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("dir", "cannot read: Is a directory")],
)
def test_unreadable_files(
    content: str | None, message: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "s.yaml"
    if content == "dir":
        p.mkdir()
    assert main(["validate", str(p)]) == 2
    assert capfd.readouterr().err == f"{p}: {message}\n"


# --------------------------------------------------------------------------- JSON Schema
_ANNOTATIONS = {"title", "description", "default", "examples", "source", "discriminator", "unit"}
_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/"), ref
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


def _is(value: Any, t: str) -> bool:
    if isinstance(value, bool) and t != "boolean":
        return False
    return isinstance(value, _TYPES[t])


def _errors(schema: dict[str, Any], value: Any, root: dict[str, Any], at: str = "") -> list[str]:
    """A small JSON Schema validator for the keywords pydantic emits; refuses any other."""
    if "$ref" in schema:
        return _errors(_resolve(root, schema["$ref"]), value, root, at)
    errs: list[str] = []
    props = schema.get("properties", {})
    for kw, arg in schema.items():
        bad = False
        if kw in _ANNOTATIONS or kw in ("$defs", "properties"):
            pass
        elif kw == "type":
            bad = not any(_is(value, t) for t in ([arg] if isinstance(arg, str) else arg))
        elif kw == "const":
            bad = value != arg
        elif kw == "enum":
            bad = value not in arg
        elif kw in ("anyOf", "oneOf"):
            ok = sum(not _errors(s, value, root, at) for s in arg)
            bad = ok == 0 if kw == "anyOf" else ok != 1
        elif kw == "required":
            bad = isinstance(value, dict) and not set(arg) <= set(value)
        elif kw == "additionalProperties":
            if isinstance(value, dict):
                for k, v in value.items():
                    if k in props:
                        continue
                    if arg is False:
                        errs.append(f"{at}/{k}: unknown key")
                    elif isinstance(arg, dict):
                        errs += _errors(arg, v, root, f"{at}/{k}")
        elif kw == "items":
            if isinstance(value, list):
                for i, v in enumerate(value):
                    errs += _errors(arg, v, root, f"{at}/{i}")
        elif kw == "prefixItems":
            if isinstance(value, list):
                for i, (s, v) in enumerate(zip(arg, value, strict=False)):
                    errs += _errors(s, v, root, f"{at}/{i}")
        elif kw in ("minProperties", "maxProperties"):
            if isinstance(value, dict):
                bad = len(value) < arg if kw.startswith("min") else len(value) > arg
        elif kw in ("minItems", "maxItems", "minLength", "maxLength"):
            if isinstance(value, list | str):
                bad = len(value) < arg if kw.startswith("min") else len(value) > arg
        elif kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if _is(value, "number"):
                bad = {
                    "minimum": value < arg,
                    "maximum": value > arg,
                    "exclusiveMinimum": value <= arg,
                    "exclusiveMaximum": value >= arg,
                }[kw]
        elif kw == "pattern":
            bad = isinstance(value, str) and re.search(arg, value) is None
        else:
            raise NotImplementedError(f"{at}: keyword {kw!r} not understood by this checker")
        if bad:
            errs.append(f"{at}: {kw} {arg!r} fails for {value!r}")
    if isinstance(value, dict):
        for k, s in props.items():
            if k in value:
                errs += _errors(s, value[k], root, f"{at}/{k}")
    return errs


def _subschemas(node: Any) -> typing.Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for k, v in node.items():
            if k not in ("default", "examples", "const", "enum"):
                yield from _subschemas(v)
    elif isinstance(node, list):
        for v in node:
            yield from _subschemas(v)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["schema"]) == 0
    return json.loads(buf.getvalue())  # type: ignore[no-any-return]


def test_schema_is_well_formed(schema: dict[str, Any]) -> None:
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert {"name", "services", "workload"} <= set(schema["required"])
    for s in _subschemas(schema):
        if "$ref" in s:
            _resolve(schema, s["$ref"])  # every reference resolves
        if "type" in s:
            types_ = [s["type"]] if isinstance(s["type"], str) else s["type"]
            assert set(types_) <= set(_TYPES)
        if "required" in s:
            assert set(s["required"]) <= set(s["properties"])
        if "pattern" in s:
            re.compile(s["pattern"])
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:
        return
    jsonschema.Draft202012Validator.check_schema(schema)


def _flagship_data() -> Any:
    data, _ = read_yaml(FLAGSHIP.read_text(), str(FLAGSHIP))
    return data


def test_schema_checker_can_fail(schema: dict[str, Any]) -> None:
    data = _flagship_data()
    data["colour"] = "blue"
    data["workload"]["arrivals"]["rate"] = "fast"
    data["services"]["order-create"]["operations"]["create"]["request_bytes"] = "1 KiBi"
    errs = _errors(schema, data, schema)
    assert "/colour: unknown key" in errs
    assert any(e.startswith("/workload/arrivals: oneOf") for e in errs)
    assert any(e.startswith("/services/order-create/operations/create/request_bytes") for e in errs)


def test_unit_fields_accept_numbers_and_text(schema: dict[str, Any]) -> None:
    emit = schema["$defs"]["Emit"]["properties"]["bytes"]
    assert not _errors(emit, 512, schema) and not _errors(emit, "1KiB", schema)
    assert _errors(emit, -1, schema) and _errors(emit, "1 lots", schema)
    duration = schema["$defs"]["Run"]["properties"]["duration"]
    assert not _errors(duration, "250us", schema) and not _errors(duration, 0.5, schema)
    assert _errors(duration, 0, schema) and _errors(duration, "5 parsecs", schema)


def test_flagship_validates_against_the_schema(schema: dict[str, Any]) -> None:
    data = _flagship_data()
    warmup = schema["$defs"]["Run"]["properties"]["warmup"]
    for ok in ("10s", 10, "auto", "250ms"):
        assert not _errors(warmup, ok, schema), ok
    for bad in ("ten", -1, "5 parsecs"):
        assert _errors(warmup, bad, schema), bad
    assert _errors(schema, data, schema) == []
    try:
        import jsonschema
    except ImportError:
        pass
    else:
        jsonschema.validate(data, schema)


def _models(t: Any, seen: dict[type[BaseModel], None]) -> dict[type[BaseModel], None]:
    """Every pydantic model reachable from type t (through unions, lists, dicts, Annotated)."""
    if isinstance(t, type) and issubclass(t, BaseModel):
        if t not in seen:
            seen[t] = None
            for f in t.model_fields.values():
                _models(f.annotation, seen)
    else:
        for a in typing.get_args(t):
            if not isinstance(a, str | int | float | types.NoneType):
                _models(a, seen)
    return seen


def _schema_of(schema: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    if model is Scenario:
        return schema
    found = [d for k, d in schema["$defs"].items() if k.split("__")[-1] == model.__name__]
    assert len(found) == 1, model
    return found[0]  # type: ignore[no-any-return]


def test_every_cited_default_is_in_the_schema(schema: dict[str, Any]) -> None:
    cited = 0
    for model in _models(Scenario, {}):
        props = _schema_of(schema, model).get("properties", {})
        for name, f in model.model_fields.items():
            extra = f.json_schema_extra
            if not isinstance(extra, dict) or "source" not in extra:
                continue
            cited += 1
            prop = props[f.alias or name]
            assert prop["source"] == extra["source"], (model.__name__, name)
            shown = prop["default"]
            if isinstance(shown, str) and "unit" in str(prop):  # "128MiB": the value, in its unit
                read = parse_size if "'bytes'" in str(prop) else parse_duration
                assert read(shown) == pytest.approx(f.default, rel=1e-12), (model.__name__, name)
            else:
                assert shown == to_jsonable_python(f.default), (model.__name__, name)
    assert (
        cited >= 30
    )  # the calibrated defaults (scenarios/SOURCES.md); a walk that finds none fails


# --------------------------------------------------------------------------- hash
def test_hash_is_stable_and_semantic(tmp_path: Path) -> None:
    h = scenario_hash(load_scenario(FLAGSHIP))
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    assert scenario_hash(load_scenario(FLAGSHIP)) == h
    # comments, layout and an explicit default do not change what is simulated
    p = tmp_path / "copy.yaml"
    p.write_text("# a comment\n" + FLAGSHIP.read_text().replace("seed: 1", "seed:   1  # same"))
    assert scenario_hash(load_scenario(p)) == h
    assert scenario_hash(load_scenario(FLAGSHIP, ["run.seed=1"])) == h
    assert scenario_hash(load_scenario(FLAGSHIP, ["run.seed=2"])) != h
    assert scenario_hash(load_scenario(FLAGSHIP, ["workload.arrivals.rate=201"])) != h


def test_hash_is_the_same_in_another_process() -> None:
    code = (
        "from sim.api import load_scenario; from sim.scenario import scenario_hash; "
        f"print(scenario_hash(load_scenario({str(FLAGSHIP)!r})))"
    )
    env = {"PYTHONHASHSEED": "12345", "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=ROOT
    )
    assert out.stdout.strip() == scenario_hash(load_scenario(FLAGSHIP))


def test_a_partial_override_keeps_the_rest_of_a_cited_default() -> None:
    """--set on one field of the gateway's cited Route must not reset its 15 s timeout,
    no-retry policy and round robin to the plain Route defaults."""
    from sim.api import load_scenario

    base = load_scenario(FLAGSHIP).http.gateway.route
    changed = load_scenario(
        FLAGSHIP, ["http.gateway.route.outlier.enabled=true"]
    ).http.gateway.route
    assert changed.outlier.enabled is True
    assert (changed.timeout, changed.retries.attempts, changed.balancing) == (
        base.timeout,
        base.retries.attempts,
        base.balancing,
    )
    assert (base.timeout, base.retries.attempts, base.balancing) == (15.0, 0, "round_robin")
