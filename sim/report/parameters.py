"""Every parameter a run used, where its value came from, and which values are assumptions.

The scenario model is the only place defaults live, and each calibrated default carries its
source in the pydantic ``Field``'s ``json_schema_extra["source"]`` (:func:`sim.scenario.base.cited`).
:func:`parameters` walks the validated scenario (nested models, dicts of services, lists of
flows) and lists each leaf that is either cited or left at its default, with:

* ``origin`` — ``scenario`` when the file (or ``--set``) gave the value, ``profile`` when a
  calibration profile did (:mod:`sim.scenario.profile`; the source then names it), ``default``
  when the model did (pydantic's ``model_fields_set``, along the whole path from the root: a model
  built by a default factory is a default even where the factory passed arguments);
* ``source`` — the citation, or ``"model default"`` for a structural default with no figure
  behind it (an on/off switch, a count of one).

Rows that differ only by a service or flow name and agree on value, origin and source are
folded into one ``services.*.memory`` row, so a scenario with many services stays readable.
A part switched off (``enabled: false``) lists only that switch: its other settings are not
used. Sources starting with ``assumption`` are listed again as the report's assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from sim.scenario.base import Strict
from sim.scenario.profile import AppliedProfile
from sim.scenario.units import Duration, Size

NO_SOURCE = "model default"
_NAMED = {"services", "operations", "flows", "calls", "emits", "subscriptions", "regions", "steps"}


@dataclass(frozen=True)
class Parameter:
    """One parameter of the run: dotted path, value as text, origin and source."""

    path: str
    value: str
    origin: str  # "scenario" | "profile" | "default"
    source: str
    count: int = 1  # how many folded rows (services.* …)

    @property
    def assumption(self) -> bool:
        """True when the value is an assumption rather than a measurement or standard."""
        return self.source.lower().startswith("assumption")


def parameters(model: BaseModel) -> list[Parameter]:
    """Cited or defaulted leaves of the scenario, folded over service and flow names."""
    raw: list[tuple[tuple[str, ...], str, str, str]] = []
    _walk(model, (), raw)
    cal = getattr(model, "calibration", None)
    if isinstance(cal, AppliedProfile):  # values a calibration profile supplied cite it
        for i, (path, value, _origin, _source) in enumerate(raw):
            cited = cal.cite(".".join(path))
            if cited is not None:
                raw[i] = (path, value, "profile", cited)
    folded: dict[tuple[str, str, str, str], list[tuple[str, ...]]] = {}
    for path, value, origin, source in raw:
        key = (_generic(path), value, origin, source)
        folded.setdefault(key, []).append(path)
    out = []
    for (generic, value, origin, source), paths in folded.items():
        shown = ".".join(paths[0]) if len(paths) == 1 else generic
        out.append(Parameter(shown, value, origin, source, len(paths)))
    return out


def _generic(path: tuple[str, ...]) -> str:
    """services.<name>.operations.<op>… and list indexes become *."""
    return ".".join("*" if i > 0 and path[i - 1] in _NAMED else part for i, part in enumerate(path))


def _walk(
    model: BaseModel,
    prefix: tuple[str, ...],
    out: list[tuple[tuple[str, ...], str, str, str]],
    given: bool = True,
    outer: str = "",
) -> None:
    """``given``: the scenario wrote this model (a default factory's model is not given, even
    when the factory passed arguments). ``outer``: the citation of a default that built this
    model with explicit arguments (``cited(Route(balancing="round_robin"), "Envoy …")``):
    those arguments take that citation, not the nested field's own."""
    fields = type(model).model_fields
    off = getattr(model, "enabled", True) is False
    for name, info in fields.items():
        if off and name != "enabled":
            continue  # a switched-off part: its settings are not used
        if not prefix and name == "calibration":
            continue  # the profile itself: cited on each value it supplied
        value = getattr(model, name)
        key = info.alias or name
        path = (*prefix, key)
        is_set = given and name in model.model_fields_set
        extra = info.json_schema_extra
        source = str(extra.get("source", "")) if isinstance(extra, dict) else ""
        if not given and outer and name in model.model_fields_set:
            source = outer
        if isinstance(value, BaseModel):
            if isinstance(value, Strict):  # not distributions: those are the application's own
                _walk(value, path, out, is_set, "" if is_set else source)
            continue
        if isinstance(value, dict) and value and all(isinstance(v, Strict) for v in value.values()):
            for k, v in value.items():
                _walk(v, (*path, str(k)), out, is_set)
            continue
        if isinstance(value, list) and value and all(isinstance(v, Strict) for v in value):
            for i, v in enumerate(value):
                _walk(v, (*path, str(i)), out, is_set)
            continue
        if not source and is_set:
            continue  # the scenario's own value with nothing to cite: shown elsewhere
        if not source and (info.is_required() or value is None or value in ([], {}, ())):
            continue  # required, or an optional feature left unused
        origin = "scenario" if is_set else "default"
        out.append(
            (path, _text(value, info.metadata, info.annotation), origin, source or NO_SOURCE)
        )


def _text(value: Any, metadata: list[Any], annotation: Any) -> str:
    """A value as a person writes it: durations in s/ms/µs, sizes in B/KiB/MiB."""
    kind = _unit_kind(annotation, metadata)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and kind == "duration":
        return duration_text(float(value))
    if number and kind == "size":
        return size_text(float(value))
    if isinstance(value, dict):
        return "{}" if not value else ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def dist_text(d: BaseModel) -> str:
    """A distribution as written: ``lognormal mean 1.5 ms, p99 8 ms``."""
    data = d.model_dump(by_alias=True, exclude_unset=True)
    name = str(data.pop("dist", type(d).__name__))
    parts = []
    for k, v in data.items():
        if isinstance(v, float):
            parts.append(f"{k} {duration_text(v)}")
        elif isinstance(v, list):
            parts.append(f"{k} [{len(v)} values]")
        else:
            parts.append(f"{k} {v}")
    return name + (" " + ", ".join(parts) if parts else "")


def _unit_kind(annotation: Any, metadata: list[Any]) -> str:
    if annotation is Duration or repr(Duration) in repr(annotation):
        return "duration"
    if annotation is Size or repr(Size) in repr(annotation):
        return "size"
    text = repr(metadata)
    if "parse_duration" in text:
        return "duration"
    if "parse_size" in text:
        return "size"
    return ""


def duration_text(s: float) -> str:
    """Seconds as 1.5 s, 250 ms or 25 µs."""
    if s == 0:
        return "0"
    if abs(s) >= 1:
        return f"{s:g} s"
    if abs(s) >= 1e-3:
        return f"{s * 1e3:g} ms"
    return f"{s * 1e6:g} µs"


def size_text(b: float) -> str:
    """Bytes as 512 B, 10 KiB or 45 MiB (binary units, as the scenario files write them)."""
    for unit, f in (("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10)):
        if abs(b) >= f:
            return f"{b / f:g} {unit}"
    return f"{b:g} B"
