"""Import and export: span export against the official OTLP schema, trace import (OTLP and
Jaeger, with skew, missing parents and bad spans counted), self-time fitting, manifests,
and the one-line FILE:LINE errors of bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

import sim
from sim.cli import main
from sim.interop.build import from_traces
from sim.interop.emit import dump
from sim.interop.export import export_otlp, sample_ids
from sim.interop.fit import fit_times
from sim.interop.k8s import import_manifests
from sim.interop.traces import analyse, read_spans
from sim.scenario.loader import read_yaml

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "scenarios/order-service.yaml"
SHOP = ROOT / "scenarios/import-examples/shop"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[sim.Scenario, object, Path]:
    sc = sim.load_scenario(FLAGSHIP, ["run.duration=3s", "run.warmup=1s"])
    cmp = sim.compare(sc, trace=sample_ids(sc, 40))
    path = tmp_path_factory.mktemp("otlp") / "traces.otlp.json"
    assert export_otlp(sc, cmp, path) > 60
    return sc, cmp, path


def test_export_is_valid_otlp_with_whole_trees_and_viewer_attributes(exported) -> None:
    _, _, path = exported
    data = json_format.Parse(path.read_text(), TracesData())  # the official schema
    spans = {}
    for rs in data.resource_spans:
        res = {a.key: a.value.string_value for a in rs.resource.attributes}
        assert {"service.name", "service.instance.id", "deployment.environment.name"} <= set(res)
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans[(s.trace_id, s.span_id)] = s
    kinds = {s.kind for s in spans.values()}
    assert {2, 3, 4, 1} <= kinds  # server, client, producer, internal (gateway/sidecar/broker)
    for (trace, _), s in spans.items():
        assert s.start_time_unix_nano <= s.end_time_unix_nano
        if s.parent_span_id:
            parent = spans[(trace, s.parent_span_id)]  # every parent is in the file
            assert parent.start_time_unix_nano <= s.start_time_unix_nano
            assert s.end_time_unix_nano <= parent.end_time_unix_nano


def test_self_time_of_server_spans_is_the_cpu_demand_of_the_request(exported) -> None:
    """Per request, the server spans' self-times sum to the request's CPU bucket (the demands
    drawn for it), so the import fits demands, not waits."""
    _, cmp, path = exported
    obs_by_trace: dict[str, float] = {}
    spans = read_spans(path)
    analyse(spans)  # links children
    for s in spans:
        if s.kind == "SERVER" and not s.infra:
            called = sum(c.length for c in s.children if c.kind == "CLIENT")
            obs_by_trace[s.trace] = obs_by_trace.get(s.trace, 0.0) + s.length - called
    roots = {s.trace: s for s in spans if not s.parent}
    checked = 0
    for r in cmp.results():
        for rid, tr in r.traces.items():
            match = [
                t
                for t, root in roots.items()
                if root.attrs.get("meshsim.request.id") == rid
                and root.group == f"simulated-{r.architecture}"
            ]
            if match:
                assert obs_by_trace[match[0]] == pytest.approx(tr.cpu, abs=2e-9)  # ns rounding
                checked += 1
    assert checked > 60


def test_import_of_simulated_spans_recovers_structure(exported) -> None:
    _, _, path = exported
    imp = from_traces(analyse(read_spans(path)), "t.json", "x")
    svc = imp.data["services"]
    create = svc["order-create"]["operations"]["create"]
    assert create["calls"] == [{"service": "order-dispatch", "operation": "dispatch"}]
    assert create["emits"] == [{"subject": "ORDERS.created", "bytes": 512}]
    assert create["subject"] == "ORDERS.cmd.create" and create["request_bytes"] == 1024
    assert svc["order-dispatch"]["operations"]["dispatch"]["response_bytes"] == 256
    assert svc["order-create"]["instances"] == 3
    assert imp.data["workload"]["flows"][0]["service"] == "order-create"
    text = dump(imp.data, imp.notes, "x")
    assert read_yaml(text, "x")[0] == imp.data  # what is written is what is loaded
    assert "# t.json: self-time of" in text


def _jaeger(spans: list[dict], procs: dict) -> dict:
    return {"data": [{"traceID": "1", "spans": spans, "processes": procs}]}


def _js(sid: str, parent: str | None, name: str, kind: str, start: int, dur: int, pid: str) -> dict:
    refs = [{"refType": "CHILD_OF", "traceID": "1", "spanID": parent}] if parent else []
    return {
        "traceID": "1",
        "spanID": sid,
        "operationName": name,
        "references": refs,
        "startTime": start,
        "duration": dur,
        "processID": pid,
        "tags": [{"key": "span.kind", "type": "string", "value": kind}],
    }


def test_jaeger_import_counts_skew_missing_parents_and_bad_spans(tmp_path: Path) -> None:
    procs = {"p1": {"serviceName": "web", "tags": []}, "p2": {"serviceName": "db-api", "tags": []}}
    spans = [
        _js("a", None, "GET /", "server", 1_000_000, 10_000, "p1"),
        _js("b", "a", "call", "client", 1_002_000, 5_000, "p1"),
        # the server clock runs 3 ms ahead: starts after its client span ended
        _js("c", "b", "query", "server", 1_006_000, 4_000, "p2"),
        _js("d", "zz", "orphan", "server", 2_000_000, 1_000, "p2"),  # parent not in the file
        _js("e", "a", "broken", "internal", 1_000_000, -5, "p1"),  # ends before it starts
    ]
    path = tmp_path / "jaeger.json"
    path.write_text(json.dumps(_jaeger(spans, procs)))
    obs = analyse(read_spans(path))
    assert (obs.counts.skewed, obs.counts.missing_parent, obs.counts.negative) == (1, 1, 1)
    web = obs.ops[("web", "GET /")]
    assert web.self_times == [pytest.approx(0.005)]  # 10 ms less the 5 ms client span
    assert web.calls == [[("db-api", "query")]]
    assert obs.ops[("db-api", "query")].self_times == [pytest.approx(0.004)]
    assert obs.ops[("db-api", "orphan")]  # a partial trace still counts


def test_fit_chooses_the_family_or_falls_back_to_empirical() -> None:
    rng = np.random.default_rng(3)
    f = fit_times(rng.exponential(2e-3, 800))
    assert f.family == "exponential" and f.p_value >= 0.05
    assert f.mean == pytest.approx(2e-3, rel=4 / math.sqrt(800))
    bimodal = np.concatenate([rng.normal(1e-3, 1e-5, 500), rng.normal(9e-3, 1e-5, 500)])
    g = fit_times(bimodal)
    assert g.family == "empirical" and g.p_value is not None and g.p_value < 0.05
    assert len(g.spec["edges"]) > 10  # a histogram on quantile bins
    assert fit_times(np.full(10, 1e-3)).family == "constant"
    sc = sim.scenario_from_dict(
        {
            "name": "e",
            "services": {"a": {"operations": {"x": {"demand": g.spec}}}},
            "workload": {
                "arrivals": {"kind": "poisson", "rate": 1},
                "flows": [{"name": "f", "service": "a", "operation": "x"}],
            },
        }
    )
    assert sc.services["a"].operations["x"].demand.mean == pytest.approx(bimodal.mean(), rel=0.01)


def test_k8s_example_maps_every_field_with_its_source_and_lists_the_rest(tmp_path: Path) -> None:
    imp = import_manifests([SHOP], "shop")
    svc = imp.data["services"]
    assert svc["orders"]["instances"] == 3 and svc["payments"]["cores"] == 2
    assert svc["shipping"]["instances"] == 1  # replicas absent: the Kubernetes default
    assert svc["frontend"]["memory"] == 256 * 2**20
    assert svc["orders"]["autoscale"] == {
        "min": 3,
        "max": 12,
        "target": 0.6,
        "scale_down_window": 120.0,
    }
    routes = imp.data["http"]["routes"]
    assert routes["payments"]["retries"] == {
        "attempts": 3,
        "per_try_timeout": 1.0,
        "retry_on": ["connect-failure", "5xx"],
    }
    assert routes["orders"]["outlier"]["consecutive_5xx"] == 3
    assert imp.data["messaging"]["broker"]["servers"] == 3
    assert "frontend" not in str(imp.data["messaging"]["accounts"]["AUDIT"])
    unmapped = "\n".join(imp.unmapped)
    for needle in (
        "localityLbSetting",
        "legacy-inventory",
        "PodDisruptionBudget",
        "ConfigMap",
        "gateway-error",
        "auditor",
    ):
        assert needle in unmapped
    assert imp.notes[("services", "orders", "instances")].startswith(f"{SHOP}/deployments.yaml:")
    out = tmp_path / "shop.yaml"
    assert main(["import", "k8s", str(SHOP), "--out", str(out)]) == 0
    sc = sim.load_scenario(out)  # loads as written
    assert sc.services["orders"].autoscale is not None
    assert "ASSUMPTION" in out.read_text()


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a\n", "bad.yaml:4"),
        (
            "nokind.yaml",
            "kind: ConfigMap\nmetadata: {name: c}\n---\nmetadata: {name: a}\n",
            "nokind.yaml:4",
        ),
        (
            "cpu.yaml",
            "kind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          resources: {requests: {cpu: lots}}\n",
            "cpu.yaml:8",
        ),
        ("nats.conf", "cluster {\n  routes: [\n", "nats.conf:"),
    ],
)
def test_bad_manifests_are_one_line_file_line_exit_2(
    tmp_path: Path, capsys, name: str, text: str, where: str
) -> None:
    (tmp_path / name).write_text(text)
    assert main(["import", "k8s", str(tmp_path / name), "--out", str(tmp_path / "o.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(str(tmp_path / where)) and "\n" not in err
    assert not (tmp_path / "o.yaml").exists()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("{not json", ":1: not JSON"),
        (
            '{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x"}]}]}]}',
            ":1: resourceSpans[0].spans[0]: malformed span",
        ),
        ('{"hello": 1}', ":1: neither OTLP JSON"),
        ('{"resourceSpans": []}\n{"resourceSpans": 5}\n', ":2: resourceSpans: expected a list"),
    ],
)
def test_bad_trace_files_are_one_line_file_line_exit_2(
    tmp_path: Path, capsys, text: str, where: str
) -> None:
    f = tmp_path / "t.json"
    f.write_text(text)
    assert main(["import", "traces", str(f), "--out", str(tmp_path / "o.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{f}{where}") and "\n" not in err


def test_sim_run_traces_otlp_then_import_with_base(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", str(FLAGSHIP), "--set", "run.duration=2s", "--set", "run.warmup=1s", "--quiet"]
    assert main([*args, "--out", str(out), "--traces", "otlp", "--trace-sample", "20"]) == 0
    otlp = out / "traces.otlp.json"
    envs = {
        a["value"]["stringValue"]
        for rs in json.loads(otlp.read_text())["resourceSpans"]
        for a in rs["resource"]["attributes"]
        if a["key"] == "deployment.environment.name"
    }
    assert envs == {"simulated-http", "simulated-messaging"}
    target = tmp_path / "imported.yaml"
    assert main(["import", "traces", str(otlp), "--out", str(target), "--base", str(FLAGSHIP)]) == 0
    sc = sim.load_scenario(target)
    assert (
        sc.http.protocol == "http1" and len(sc.services["order-notify"].subscriptions) == 1
    )  # kept
    assert (tmp_path / "imported-fits" / "fit-report.md").exists()
    data = yaml.safe_load(target.read_text())
    assert data["workload"]["arrivals"]["kind"] == "poisson"
