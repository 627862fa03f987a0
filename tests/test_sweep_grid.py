"""Parameter grids: values parsed as --set parses them, ranges, products, one-line errors."""

from __future__ import annotations

import pytest
import yaml

from sim.sweep.grid import Grid, GridError, parse_bounds, parse_param, yaml_scalar
from sim.sweep.store import point_key


def test_list_values_are_yaml_scalars_like_set() -> None:
    p = parse_param("workload.arrivals.rate=100, 250.5,1e3")
    assert p.path == "workload.arrivals.rate"
    # PyYAML (YAML 1.1) reads 1e3 as text, exactly as `--set rate=1e3` would
    assert p.values == (100, 250.5, "1e3")
    assert parse_param("http.protocol=http1,http2").values == ("http1", "http2")
    assert parse_param("http.sidecar.enabled=true,false").values == (True, False)
    assert parse_param("x.y=[1,2],[3]").values == ([1, 2], [3])


def test_integer_range_gives_integers_and_float_range_floats() -> None:
    assert parse_param("services.a.instances=1..5:5").values == (1, 2, 3, 4, 5)
    assert parse_param("services.a.instances=2..8:4").values == (2, 4, 6, 8)
    assert parse_param("services.a.instances=1..2:3").values == (1.0, 1.5, 2.0)
    assert parse_param("w.rate=0.5..1.5:3").values == (0.5, 1.0, 1.5)
    assert parse_param("w.rate=7..7:1").values == (7,)


def test_range_with_units_is_in_seconds_or_bytes() -> None:
    assert parse_param("a.b=1ms..3ms:3").values == pytest.approx((0.001, 0.002, 0.003))
    assert parse_param("a.b=1KiB..3KiB:3").values == (1024.0, 2048.0, 3072.0)
    assert parse_bounds("a.b=1..64") == ("a.b", 1, 64)
    assert parse_bounds("a.b=50us..0.5ms")[1:] == pytest.approx((5e-5, 5e-4))


def test_grid_is_the_product_last_parameter_fastest() -> None:
    g = Grid.parse(["a.x=1,2", "b.y=p,q,r"])
    assert len(g) == 6
    pts = [pt.items for pt in g.points()]
    assert pts[:4] == [
        (("a.x", 1), ("b.y", "p")),
        (("a.x", 1), ("b.y", "q")),
        (("a.x", 1), ("b.y", "r")),
        (("a.x", 2), ("b.y", "p")),
    ]
    assert Grid.parse({"a.x": [3, 4]}).params[0].values == (3, 4)


@pytest.mark.parametrize("value", [0.1, 1e20, 1e-7, 3, True, "http2", 2.5e-05])
def test_point_overrides_read_back_as_the_same_value(value: object) -> None:
    assert yaml.safe_load(yaml_scalar(value)) == value


def test_point_key_is_stable_and_sensitive() -> None:
    k = point_key("abc", {"a.x": 1}, 3, 7)
    assert k == point_key("abc", {"a.x": 1}, 3, 7)
    assert len({k, point_key("abd", {"a.x": 1}, 3, 7), point_key("abc", {"a.x": 2}, 3, 7)}) == 3
    assert len({k, point_key("abc", {"a.x": 1}, 4, 7), point_key("abc", {"a.x": 1}, 3, 8)}) == 3


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("workload.arrivals.rate", "expected path=v1,v2"),
        ("=1,2", "empty path element"),
        ("a..b=1,2", "empty path element"),
        ("a.b=", "no values"),
        ("a.b=1,,2", "empty value"),
        ("a.b=1..5", "start..stop:steps"),
        ("a.b=1..5:0", "steps must be a whole number >= 1"),
        ("a.b=1..5:x", "steps must be a whole number"),
        ("a.b=1..5:1", "one step needs start == stop"),
        ("a.b=1ms..5KiB:3", "same kind of unit"),
        ("a.b=1..5ms:3", "both ends a unit"),
        ("a.b=1parsec..5parsec:3", "unknown unit"),
        ("a.b=1,1", "repeated values"),
        ("a.b=[1,2", "YAML"),
    ],
)
def test_bad_param_is_one_line_error(expr: str, fragment: str) -> None:
    with pytest.raises(GridError) as e:
        parse_param(expr)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("--param")
    assert fragment in msg


def test_bad_grid_and_bounds_are_one_line_errors() -> None:
    for call, fragment in [
        (lambda: Grid.parse([]), "at least one --param"),
        (lambda: Grid.parse(["a.b=1,2", "a.b=3"]), "swept twice"),
        (lambda: Grid.parse(["a.b=1..100000:100000", "c.d=1,2"]), "limit"),
        (lambda: parse_bounds("a.b=5..1"), "lo < hi"),
        (lambda: parse_bounds("a.b=x..y"), "lo..hi"),
    ]:
        with pytest.raises(GridError) as e:
            call()
        assert "\n" not in str(e.value) and fragment in str(e.value)
