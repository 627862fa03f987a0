"""The Python API: everything the CLI does, a notebook can do.

    sc = sim.load_scenario("scenarios/order-service.yaml")
    http = sim.simulate(sc, architecture="http", seed=1)
    cmp = sim.compare(sc, seed=1)
    cmp.summary

``load_scenario`` validates the file (``FILE:LINE`` errors) and the subjects against NATS
rules; ``simulate`` runs one architecture; ``compare`` runs both on the same random
streams, replication by replication, and pairs them.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim import __version__
from sim.app.names import ARCHITECTURES, Observer, request_subject
from sim.messaging.subjects import (
    MAX_SUBJECT_BYTES,
    InvalidSubject,
    SubjectIndex,
    is_valid_publish_subject,
)
from sim.messaging.topology import check_messaging
from sim.scenario import Scenario, ScenarioError, scenario_hash
from sim.scenario.loader import Source, apply_sets, load_with_source, validate
from sim.scenario.profile import resolve as resolve_profile
from sim.validation.precision import HEADLINE, MIN_REPLICATIONS

if TYPE_CHECKING:  # the engine, pandas and SciPy load when a run starts, not to read a file
    from sim.core.trace import Trace
    from sim.results import Comparison, RunResult


def load_scenario(
    path: str | Path, sets: Sequence[str] = (), calibration: str | None = None
) -> Scenario:
    """Read, override (``path=value`` strings), calibrate (a profile file written by
    ``sim calibrate``, :mod:`sim.scenario.profile`) and validate a scenario file."""
    sc, src = load_with_source(path, sets, calibration)
    check_subjects(sc, str(path), src)  # the same line map: the file is read once
    check_budget(sc, str(path), src)
    return sc


def check_budget(
    sc: Scenario,
    file: str = "<scenario>",
    src: Source | None = None,
    replications: int | None = None,
) -> None:
    """Refuse a scenario whose run would exceed this machine's memory or the time limit
    (:mod:`sim.validation.budget`), at the line of the key that drives the cost."""
    from sim.validation.budget import over_budget

    found = over_budget(sc, replications)
    if found is not None:
        raise (src or _source(file)).error(*found)


def _source(file: str) -> Source:
    """The line map of a scenario file (empty if it cannot be read again)."""
    from sim.scenario.loader import read_yaml

    try:
        return read_yaml(Path(file).read_text(encoding="utf-8"), file)[1]
    except (OSError, ScenarioError):
        return Source(file)


def scenario_from_dict(
    data: dict[str, Any],
    sets: Sequence[str] = (),
    name: str = "<dict>",
    calibration: str | None = None,
) -> Scenario:
    """Validate a scenario given as plain data (e.g. built in a notebook); ``calibration``
    names a profile file applied under its values."""
    src = Source(name)
    if sets:
        data = apply_sets(data, sets)
    data = resolve_profile(data, src, Path.cwd() / name, calibration)
    sc = validate(data, src)
    check_subjects(sc, name, src)
    check_budget(sc, name, src)
    return sc


def override(sc: Scenario, sets: Sequence[str]) -> Scenario:
    """A copy of a scenario with ``path=value`` overrides applied (as ``--set`` does)."""
    return scenario_from_dict(
        sc.model_dump(mode="json", by_alias=True, exclude_unset=True), sets, sc.name
    )


def check_subjects(sc: Scenario, file: str = "<scenario>", src: Source | None = None) -> None:
    """Subjects must be what nats-server accepts: patterns for subscriptions, literals for
    published events and request subjects."""
    if src is None:  # no lines to point at (a scenario built in memory)
        src = Source(file)
    probe = SubjectIndex()
    for name, svc in sc.services.items():
        for op_name, op in svc.operations.items():
            subject = request_subject(sc, name, op_name)
            for i, text in [(-1, subject), *enumerate(e.subject for e in op.emits)]:
                if len(text.encode()) > MAX_SUBJECT_BYTES:
                    where = ("emits", i, "subject") if i >= 0 else ("subject",)
                    raise src.error(
                        ("services", name, "operations", op_name, *where),
                        f"subject of {len(text.encode())} bytes; nats-server's control line "
                        f"holds {MAX_SUBJECT_BYTES} (max_control_line)",
                    )
            if not is_valid_publish_subject(subject):
                raise src.error(
                    ("services", name, "operations", op_name, "subject"),
                    f"{subject!r} is not a valid NATS subject to publish to (no wildcards, no empty tokens)",
                )
            for i, e in enumerate(op.emits):
                if not is_valid_publish_subject(e.subject):
                    raise src.error(
                        ("services", name, "operations", op_name, "emits", i, "subject"),
                        f"{e.subject!r} is not a valid NATS subject to publish to",
                    )
        for i, sub in enumerate(svc.subscriptions):
            if len(sub.subject.encode()) > MAX_SUBJECT_BYTES:
                raise src.error(
                    ("services", name, "subscriptions", i, "subject"),
                    f"subject of {len(sub.subject.encode())} bytes; nats-server's control line "
                    f"holds {MAX_SUBJECT_BYTES} (max_control_line)",
                )
            queue = name if sub.delivery == "shared" else None  # as the transport subscribes
            try:
                probe.unsubscribe(probe.subscribe(sub.subject, queue))
            except InvalidSubject as exc:
                raise src.error(
                    ("services", name, "subscriptions", i, "subject"), f"{sub.subject!r}: {exc}"
                ) from None
    check_messaging(sc, src)  # clusters, accounts (exports/imports agree), users


def observers(sc: Scenario) -> dict[str, tuple[Observer, ...]]:
    """Who hears each published subject (events and request subjects), by NATS matching."""
    from sim.observers import observers_of

    return observers_of(sc)


def _meta(sc: Scenario) -> dict[str, object]:
    from sim.results.cost import inputs as cost_inputs

    return {
        "scenario": sc.name,
        "scenario_hash": scenario_hash(sc),
        "version": __version__,
        "python": platform.python_version(),
        "duration": sc.run.duration,
        "warmup": sc.run.warmup,
        "cost": cost_inputs(sc),  # what the bill needs (sim.results.cost)
    }


def simulate(
    sc: Scenario,
    architecture: str = "http",
    seed: int | None = None,
    replication: int = 0,
    trace: Sequence[int] = (),
    progress: Callable[[float, float], None] | None = None,
) -> RunResult:
    """Run one replication of one architecture; ``trace`` lists request ids to trace hop by hop;
    ``progress(now, end)`` is told the simulated time as the run goes."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    from sim.engine import run
    from sim.results import frames_from_raw

    s = sc.run.seed if seed is None else seed
    raw = run(sc, architecture, s, replication, observers(sc), set(trace), progress)
    return frames_from_raw(raw, _meta(sc))


def compare(
    sc: Scenario,
    seed: int | None = None,
    replications: int | None = None,
    architectures: Sequence[str] = ARCHITECTURES,
    trace: Sequence[int] = (),
    on_run: Callable[[str, int], None] | None = None,
    on_progress: Callable[[str, int, float, float], None] | None = None,
) -> Comparison:
    """Both architectures over the same replications (common random numbers), paired.

    ``on_run(architecture, replication)`` is called after each run and
    ``on_progress(architecture, replication, now, end)`` as each run goes (progress bars)."""
    from sim.results import Comparison, compare_summaries, summarize

    n = sc.run.replications if replications is None else replications
    res: dict[str, list[RunResult]] = {a: [] for a in ARCHITECTURES}
    for r in range(n):
        for a in architectures:
            watch = None
            if on_progress is not None:
                watch = lambda now, end, a=a, r=r: on_progress(a, r, now, end)  # noqa: E731
            res[a].append(simulate(sc, a, seed, r, trace, watch))
            if on_run is not None:
                on_run(a, r)
    cmp = Comparison(res["http"], res["messaging"])
    if res["http"] and res["messaging"]:
        cmp.summary = compare_summaries(res["http"], res["messaging"])
    else:
        cmp.summary = summarize(cmp.results())
    cmp.metadata = {**_meta(sc), "seed": sc.run.seed if seed is None else seed, "replications": n}
    if any(r.metadata.get("events") for r in cmp.results()):  # a timeline: what it did
        from sim.faults.measures import disturbance_table

        table = disturbance_table(cmp)
        cmp.metadata["disturbance"] = (
            table.astype(object).where(table.notna(), None).to_dict("records")
        )
    return cmp


def compare_until(
    sc: Scenario,
    precision: float = 0.05,
    max_replications: int = 50,
    seed: int | None = None,
    architectures: Sequence[str] = ARCHITECTURES,
    metrics: Sequence[tuple[str, str]] = HEADLINE,
) -> Comparison:
    """Like :func:`compare`, adding paired replications until every headline metric's 95 %
    interval has a relative half-width <= ``precision`` (:mod:`sim.validation.precision`;
    the stopping rule is :func:`sim.stats.run_until_precision`)."""
    from sim.results import Comparison, compare_summaries, summarize
    from sim.results.summary import run_metrics
    from sim.stats import run_until_precision

    if not 0 < precision < 1:
        raise ValueError(f"precision must be in (0, 1), got {precision}")
    if max_replications < MIN_REPLICATIONS:
        raise ValueError(f"max_replications must be >= {MIN_REPLICATIONS}")
    runs: dict[str, list[RunResult]] = {a: [] for a in ARCHITECTURES}
    wanted = set(metrics)

    def one(r: int) -> dict[str, float]:
        row: dict[str, float] = {}
        for a in architectures:
            res = simulate(sc, a, seed, r)
            runs[a].append(res)
            for flow, metric, _unit, value in run_metrics(res):
                if (flow, metric) in wanted:
                    row[f"{a}/{flow}/{metric}"] = value
        return row

    names = [f"{a}/{f}/{m}" for a in architectures for f, m in metrics]
    out = run_until_precision(
        one,
        target=precision,
        min_replications=MIN_REPLICATIONS,
        max_replications=max_replications,
        metrics=names,
    )
    cmp = Comparison(runs["http"], runs["messaging"])
    both = bool(runs["http"] and runs["messaging"])
    cmp.summary = compare_summaries(cmp.http, cmp.messaging) if both else summarize(cmp.results())
    cmp.metadata = {
        **_meta(sc),
        "seed": sc.run.seed if seed is None else seed,
        "replications": out.replications,
        "precision": precision,
        "precision_reached": out.reached,
        "precision_worst_metric": out.worst_metric,
        "precision_worst_relative_half_width": out.estimates[out.worst_metric].relative_half_width,
    }
    return cmp


def trace_request(
    sc: Scenario,
    request_id: int,
    seed: int | None = None,
    replication: int = 0,
    architectures: Sequence[str] = ARCHITECTURES,
    until: float | None = None,
) -> dict[str, Trace]:
    """The trace (buckets and hops ``(t, from, to, what)``) of one request per architecture.

    Each run stops soon after the request completes (``until``: a time by which it has,
    else a horizon doubled from 1 s): the simulation is causal and draws the same streams,
    so the request meets exactly the system it meets in the full run (a tested property).
    An architecture is absent if the request never completes within the scenario's run.
    """
    # an automatic warm-up is at most one duration long (sim.engine): bound the horizon so
    fixed = sc.run.duration if sc.run.warmup == "auto" else sc.run.warmup
    end = fixed + sc.run.duration
    out: dict[str, Trace] = {}
    for a in architectures:
        t = min(end, until if until is not None else 1.0)
        while True:
            warm = fixed if fixed < t else 0.0
            run_ = sc.run.model_copy(update={"warmup": warm, "duration": t - warm})
            r = simulate(sc.model_copy(update={"run": run_}), a, seed, replication, [request_id])
            tr = r.traces.get(request_id)
            if tr is not None and tr.hops is not None:
                out[a] = tr
                break
            if t >= end:
                break
            t = min(end, 2 * t)
    return out
