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
from typing import Any

from sim import __version__
from sim.app.application import Observer, request_subject
from sim.core.trace import Trace
from sim.engine import ARCHITECTURES, run
from sim.messaging.subjects import InvalidSubject, SubjectIndex, is_valid_publish_subject
from sim.messaging.topology import check_messaging
from sim.results import Comparison, RunResult, compare_summaries, frames_from_raw
from sim.results.cost import inputs as cost_inputs
from sim.scenario import Scenario, ScenarioError, scenario_hash
from sim.scenario.loader import Source, apply_sets, validate
from sim.scenario.loader import load as _load
from sim.scenario.profile import resolve as resolve_profile


def load_scenario(
    path: str | Path, sets: Sequence[str] = (), calibration: str | None = None
) -> Scenario:
    """Read, override (``path=value`` strings), calibrate (a profile file written by
    ``sim calibrate``, :mod:`sim.scenario.profile`) and validate a scenario file."""
    sc = _load(path, sets, calibration)
    check_subjects(sc, str(path))
    return sc


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
    return sc


def override(sc: Scenario, sets: Sequence[str]) -> Scenario:
    """A copy of a scenario with ``path=value`` overrides applied (as ``--set`` does)."""
    return scenario_from_dict(
        sc.model_dump(mode="json", by_alias=True, exclude_unset=True), sets, sc.name
    )


def check_subjects(sc: Scenario, file: str = "<scenario>", src: Source | None = None) -> None:
    """Subjects must be what nats-server accepts: patterns for subscriptions, literals for
    published events and request subjects."""
    from sim.scenario.loader import read_yaml

    if src is None:
        try:
            _, src = read_yaml(Path(file).read_text(encoding="utf-8"), file)
        except (OSError, ScenarioError):
            src = Source(file)
    probe = SubjectIndex()
    for name, svc in sc.services.items():
        for op_name, op in svc.operations.items():
            subject = request_subject(sc, name, op_name)
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
            try:
                probe.unsubscribe(probe.subscribe(sub.subject))
            except InvalidSubject as exc:
                raise src.error(
                    ("services", name, "subscriptions", i, "subject"), f"{sub.subject!r}: {exc}"
                ) from None
    check_messaging(sc, src)  # clusters, accounts (exports/imports agree), users


def observers(sc: Scenario) -> dict[str, tuple[Observer, ...]]:
    """Who hears each published subject (events and request subjects), by NATS matching."""
    index = SubjectIndex()
    for name, svc in sc.services.items():
        for sub in svc.subscriptions:
            index.subscribe(sub.subject, owner=Observer(name, sub.operation, sub.delivery))
    subjects: set[str] = set()
    for name, svc in sc.services.items():
        for op_name, op in svc.operations.items():
            subjects.add(request_subject(sc, name, op_name))
            subjects.update(e.subject for e in op.emits)
    out: dict[str, tuple[Observer, ...]] = {}
    for s in sorted(subjects):
        m = index.match(s)
        obs = tuple(h.owner for h in m.plain)
        if obs:
            # two subscriptions of one service to overlapping patterns still mean two copies,
            # as on a broker where each subscription gets its own
            out[s] = obs  # type: ignore[assignment]
    return out


def _meta(sc: Scenario) -> dict[str, object]:
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
) -> RunResult:
    """Run one replication of one architecture; ``trace`` lists request ids to trace hop by hop."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    s = sc.run.seed if seed is None else seed
    raw = run(sc, architecture, s, replication, observers(sc), set(trace))
    return frames_from_raw(raw, _meta(sc))


def compare(
    sc: Scenario,
    seed: int | None = None,
    replications: int | None = None,
    architectures: Sequence[str] = ARCHITECTURES,
    trace: Sequence[int] = (),
    on_run: Callable[[str, int], None] | None = None,
) -> Comparison:
    """Both architectures over the same replications (common random numbers), paired.

    ``on_run(architecture, replication)`` is called after each run (progress bars)."""
    n = sc.run.replications if replications is None else replications
    res: dict[str, list[RunResult]] = {a: [] for a in ARCHITECTURES}
    for r in range(n):
        for a in architectures:
            res[a].append(simulate(sc, a, seed, r, trace))
            if on_run is not None:
                on_run(a, r)
    cmp = Comparison(res["http"], res["messaging"])
    if res["http"] and res["messaging"]:
        cmp.summary = compare_summaries(res["http"], res["messaging"])
    else:
        from sim.results import summarize

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
) -> Comparison:
    """Like :func:`compare`, adding paired replications until every headline metric's 95 %
    interval has a relative half-width <= ``precision`` (:mod:`sim.validation.precision`)."""
    from sim.validation.precision import compare_until as until

    return until(sc, precision, max_replications, seed, architectures)


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
