"""Input `sim` must refuse in one line, by class (issue 15; `tests/malformed/` holds one file
per example, this file the classes): limits checked while parsing, libyaml's parser giving
the lines Python's does, control characters anywhere in the text, booleans never counted as
numbers, infinite distribution parameters, and the memory and time budget of a run."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.scenario import loader
from sim.scenario.loader import MAX_NODES, ScenarioError, read_yaml
from sim.validation import budget

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "scenarios" / "order-service.yaml"
BUNDLED = sorted((ROOT / "scenarios").glob("*.yaml"))

TINY = """\
name: tiny
run: {duration: 1s, warmup: 0.2s}
services:
  a:
    instances: 1
    operations:
      op: {demand: {dist: exponential, mean: 1ms}}
workload:
  arrivals: {kind: poisson, rate: 50}
  clients: 4
  flows: [{name: f, service: a, operation: op}]
"""


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return p


# --------------------------------------------------------------------------- the parser
def test_libyaml_is_used_where_installed() -> None:
    if yaml.__with_libyaml__:
        assert loader._Loader is yaml.CSafeLoader
    else:  # pragma: no cover - depends on the PyYAML build
        assert loader._Loader is yaml.SafeLoader


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_c_and_python_parsers_give_the_same_data_and_lines(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = path.read_text()
    fast, fast_src = read_yaml(text, str(path))
    monkeypatch.setattr(loader, "_Loader", yaml.SafeLoader)
    slow, slow_src = read_yaml(text, str(path))
    assert fast == slow
    assert fast_src.lines == slow_src.lines


@pytest.mark.parametrize(
    "text",
    [
        "name: big\nservices:\n" + "".join(f"  s{i}: {{}}\n" for i in range(150_000)),
        "name: big\nx:\n" + "  - [1, 2, 3]\n" * 300_000,
    ],
    ids=["many-keys", "many-values"],
)
def test_size_limits_stop_the_parse_where_they_are_crossed(text: str) -> None:
    """The error names the line where the count went over, long before the end of the
    file: the limit is checked while parsing, not after building everything."""
    tracemalloc.start()
    try:
        with pytest.raises(ScenarioError) as e:
            read_yaml(text, "big.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    m = re.match(r"big\.yaml:(\d+): too many values", str(e.value))
    assert m, str(e.value)
    assert int(m.group(1)) < 0.75 * text.count("\n")
    assert peak < 400 * 2**20


@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting_is_refused_while_parsing(depth: int) -> None:
    with pytest.raises(ScenarioError, match=r"^deep\.yaml:1: .*(nested too deeply|nesting depth)"):
        read_yaml("a: " + "[" * depth + "]" * depth + "\n", "deep.yaml")


@pytest.mark.parametrize(
    ("text", "line", "char"),
    [
        ("name: a\x00b\n", 1, "U+0000"),
        ("name: ok\ndescription: \x1b[2J\n", 2, "U+001B"),
        ("name: ok\ndescription: x\x7fy\n", 2, "U+007F"),
        ("name: ok\ndescription: x\x85y\n", 2, "U+0085"),
        ('name: ok\ndescription: "\\e]2;title\\a"\n', 2, "U+001B"),
        ('name: ok\n"k\\x07": 1\n', 2, "U+0007"),
        ("name: ok\ndescription: '\x9b31m'\n", 2, "U+009B"),
    ],
    ids=["nul", "esc", "del", "nel", "escape-in-quotes", "escape-in-key", "c1-csi"],
)
def test_control_characters_are_refused_at_their_line(text: str, line: int, char: str) -> None:
    with pytest.raises(ScenarioError) as e:
        read_yaml(text, "c.yaml")
    msg = str(e.value)
    assert msg.startswith(f"c.yaml:{line}: ") and char in msg
    assert not loader._CONTROL.search(msg)  # the message itself is safe for a terminal


def test_error_text_is_escaped_for_terminals() -> None:
    e = ScenarioError("f\x1b[2J.yaml", 3, ("services", "x\x1by"), "bad\nthing")
    assert "\x1b" not in str(e) and "\n" not in str(e)
    assert "\\x1b" in str(e)


def test_a_nul_byte_from_the_command_line_is_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "nul.yaml"
    p.write_bytes(TINY.encode().replace(b"tiny", b"ti\x00ny", 1))
    assert main(["validate", str(p)]) == 2
    assert one_line(capfd.readouterr().err).startswith(f"{p}:1: ")


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("workload.arrivals.rate=true", "not a boolean"),
        ("services.a.instances=true", "not a boolean"),
        ("services.a.cores=false", "not a boolean"),
        ("run.seed=true", "not a boolean"),
        ("workload.clients=true", "not a boolean"),
        ("workload.arrivals={kind: mmpp, rates: [true, 3], mean_sojourn: [1, 1]}", "boolean"),
        ("services.a.operations.op.demand={dist: erlang, k: true, mean: 1ms}", "boolean"),
        ("services.a.operations.op.demand={dist: gamma, shape: true, mean: 1ms}", "boolean"),
        ("placement.network.bandwidth=true", "not a boolean"),
    ],
)
def test_a_boolean_is_never_a_number(
    tiny: Path, override: str, fragment: str, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tiny), "--set", override]) == 2
    line = one_line(capfd.readouterr().err)
    assert line.startswith("--set:1: ") and fragment in line


@pytest.mark.parametrize(
    "demand",
    [
        "{dist: uniform, low: 0, high: .inf}",
        "{dist: exponential, mean: .inf}",
        "{dist: constant, value: .inf}",
        "{dist: lognormal, mean: 1ms, p99: .inf}",
        "{dist: gamma, shape: .inf, mean: 1ms}",
        "{dist: empirical, samples: [1ms, .inf]}",
    ],
)
def test_distribution_parameters_are_finite(
    tiny: Path, demand: str, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tiny), "--set", f"services.a.operations.op.demand={demand}"]) == 2
    msg = one_line(capfd.readouterr().err)
    assert msg.startswith("--set:1: services.a.operations.op.demand")
    assert "finite" in msg or "too large" in msg


def test_an_untruncated_normal_keeps_its_infinite_bound(tiny: Path) -> None:
    from sim.api import load_scenario

    sc = load_scenario(
        tiny, ["services.a.operations.op.demand={dist: normal, mean: 1ms, sd: 0.1ms}"]
    )
    assert sc.services["a"].operations["op"].demand.high == float("inf")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "override",
    [
        "run.warmup=.inf",
        "run.warmup=1e300",
        "run.warmup=-1",
        "run.duration=.inf",
        "run.timeseries_interval=1us",
        "run.timeseries_interval=.inf",
        "workload.clients=100000000",
        "workload.clients=1e30",
        "placement.network.same_zone_rtt=-1",
    ],
)
def test_run_sizes_are_bounded(
    tiny: Path, override: str, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tiny), "--set", override]) == 2
    assert one_line(capfd.readouterr().err).startswith("--set:1: ")


@pytest.mark.parametrize("rtt", ["-1", "-.inf", "-0.001"])
def test_region_rtts_are_not_negative(
    tmp_path: Path, rtt: str, capfd: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(
        TINY
        + "placement:\n  regions: [{name: r1}, {name: r2}]\n"
        + f"  network: {{region_rtt: {{r1: {{r2: {rtt}}}}}}}\n"
    )
    assert main(["validate", str(p)]) == 2
    assert one_line(capfd.readouterr().err).startswith(f"{p}:14: placement.network.region_rtt")


# --------------------------------------------------------------------------- budget
@pytest.mark.parametrize(
    ("override", "key", "line"),
    [  # a key the override itself gives is blamed on the override (--set:N), else its line
        ("workload.clients=1000000", "workload.clients", "--set:1"),
        ("run.timeseries_interval=1ms", "run.timeseries_interval", "--set:1"),
        ("workload.arrivals.rate=100000", "workload.arrivals", 9),
    ],
)
def test_a_run_beyond_the_memory_limit_is_refused_at_the_key_that_drives_it(
    tiny: Path,
    override: str,
    key: str,
    line: int | str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SIM_MEMORY_LIMIT", "100MB")
    sets = [override, "run.duration=600"]
    assert main(["validate", str(tiny), *(a for s in sets for a in ("--set", s))]) == 2
    msg = one_line(capfd.readouterr().err)
    where = line if isinstance(line, str) else f"{tiny}:{line}"
    assert msg.startswith(f"{where}: {key}: this run would need about ")
    assert "the limit is 0.1 GB (SIM_MEMORY_LIMIT)" in msg
    monkeypatch.setenv("SIM_MEMORY_LIMIT", "1000GB")  # the same scenario fits a larger machine
    assert main(["validate", str(tiny), *(a for s in sets for a in ("--set", s))]) == 0


def test_a_run_beyond_the_time_limit_is_refused(
    tiny: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIM_TIME_LIMIT", "10s")
    monkeypatch.setenv("SIM_MEMORY_LIMIT", "1000GB")
    assert main(["validate", str(tiny), "--set", "run.duration=3600"]) == 2
    msg = one_line(capfd.readouterr().err)
    assert msg.startswith(f"{tiny}:9: workload.arrivals: this run would take about ")
    assert "(SIM_TIME_LIMIT)" in msg
    assert main(["run", str(tiny), "--replications", "5000", "--out", str(tiny.parent / "o")]) == 2
    assert "CPU hours" in one_line(capfd.readouterr().err)
    assert not (tiny.parent / "o").exists()


def test_the_estimate_of_the_flagship_agrees_with_its_benchmark() -> None:
    """benchmarks/README.md: 13 hops a request, 3.76 KB a request with rows kept and 343 /
    240 µs of CPU a request: the estimate may err low, by less than half."""
    from sim.api import load_scenario

    sc = load_scenario(FLAGSHIP)
    e = budget.estimate(sc)
    assert e.hops == 13
    assert e.requests == pytest.approx(200 * 70)
    measured_bytes = 2 * e.requests * 3.76e3
    assert 0.5 * measured_bytes < e.parts["requests"] <= measured_bytes
    measured_cpu = e.requests * (343e-6 + 240e-6)
    assert 0.5 * measured_cpu < e.seconds <= 1.1 * measured_cpu


def test_every_bundled_scenario_fits_the_default_budget() -> None:
    from sim.api import load_scenario

    for p in BUNDLED:
        assert budget.over_budget(load_scenario(p)) is None, p


def test_the_node_limit_is_far_above_the_largest_bundled_scenario() -> None:
    for p in BUNDLED:
        text = p.read_text()
        events = sum(1 for _ in yaml.parse(text, Loader=loader._Loader))
        assert events < MAX_NODES / 4, p
