"""Calibration profiles: measured defaults for a machine, applied under a scenario's values.

A profile is a YAML file that ``sim calibrate`` writes after measuring real servers (a
nats-server, an L7 proxy) on the user's machine. It states where it came from — the machine,
the versions, the date — and gives values by dotted scenario path, each with its source::

    profile: 1
    name: my-laptop
    measured: "2026-12-06"
    machine: {cpu: AMD EPYC, cores: 2, kernel: 6.1, virtualised: true}
    versions: {nats-server: 2.15.1, haproxy: 2.6.12}
    values:
      messaging.broker.io.wakeup: {value: 3.1e-06, source: "measured: …"}

A scenario names one (``calibration: FILE``, relative to the scenario's folder) or the CLI
applies one (``--calibration FILE``, which wins). Its values are defaults: wherever the
scenario (or a ``--set``) gives a value itself, that value is used. The resolved scenario
carries an :class:`AppliedProfile` — the profile's identity and, for each value it supplied,
its source — so the report's parameter table cites the profile a value came from, also when
a saved run is reloaded. With no profile, the defaults are the models' own, whose figures are
those of the profile shipped in ``sim/calibration/default.yaml`` (a test keeps them equal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from sim.scenario.base import Strict


class ProfileValue(Strict):
    value: Any
    source: str = Field(min_length=1, max_length=2000)


class Profile(Strict):
    """A calibration profile as written to disk."""

    profile: Literal[1] = Field(description="format version")
    name: str = Field(min_length=1, max_length=200)
    measured: str = Field(min_length=1, max_length=100, description="when (ISO date)")
    machine: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    values: dict[str, ProfileValue] = Field(min_length=1)


class AppliedProfile(Strict):
    """What a profile gave a scenario: its identity and the values it supplied."""

    file: str = Field(description="the profile file (as named)")
    name: str = Field(description="the profile's name")
    measured: str = Field(description="when it was measured (ISO date)")
    machine: dict[str, Any] = Field(
        default_factory=dict, description="the machine it was measured on"
    )
    versions: dict[str, str] = Field(
        default_factory=dict, description="versions of the servers it measured"
    )
    applied: dict[str, str] = Field(
        default_factory=dict, description="dotted path → source, for each value it supplied"
    )

    def cite(self, path: str) -> str | None:
        """The source of the value at ``path`` if this profile supplied it."""
        source = self.applied.get(path)
        if source is None:
            return None
        return f"profile {self.name} ({self.measured}): {source}"


def apply(data: dict[str, Any], profile: Profile, file: str) -> tuple[dict[str, Any], list[str]]:
    """The scenario data with the profile's values filled in where the scenario gave none,
    and the list of paths that do not fit the scenario's shape (a value under a key that is
    not a mapping, e.g. ``io: null``: the scenario switched that part off)."""
    out = _copy(data)
    applied: dict[str, str] = {}
    misfits: list[str] = []
    for path, pv in profile.values.items():
        keys = path.split(".")
        cur: Any = out
        ok = True
        for k in keys[:-1]:
            if k not in cur:
                cur[k] = {}
            nxt = cur[k]
            if not isinstance(nxt, dict):
                ok = False  # e.g. `io: null` in the scenario: nothing to calibrate there
                break
            cur = nxt
        if not ok:
            misfits.append(path)
            continue
        if keys[-1] in cur:
            continue  # the scenario's own value wins
        cur[keys[-1]] = pv.value
        applied[path] = pv.source
    out["calibration"] = AppliedProfile(
        file=file,
        name=profile.name,
        measured=profile.measured,
        machine=profile.machine,
        versions=profile.versions,
        applied=applied,
    ).model_dump()
    return out, misfits


def _copy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_copy(v) for v in d]
    return d


def resolve(data: Any, src: Any, scenario_file: Path, override: str | None = None) -> Any:
    """Apply the profile the scenario names (``calibration: FILE``) or ``override`` names;
    errors are ScenarioErrors located in the scenario or in the profile file."""
    from sim.scenario.loader import ScenarioError, read_yaml, validate_as

    if not isinstance(data, dict):
        return data
    named = data.get("calibration")
    if override is None and not isinstance(named, str):
        return data  # none, or already resolved (a saved scenario's AppliedProfile)
    if override is not None:
        path = Path(override)
        where: tuple[str, ...] = ()
        label = "--calibration"
    else:
        assert isinstance(named, str)
        path = Path(named) if Path(named).is_absolute() else scenario_file.parent / named
        where = ("calibration",)
        label = ""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = "no such file" if isinstance(e, FileNotFoundError) else f"cannot read: {e}"
        if label:
            raise ScenarioError(label, None, (), f"{path}: {why}") from None
        raise src.error(where, f"calibration profile {path}: {why}") from None
    raw, psrc = read_yaml(text, str(path))
    profile = validate_as(Profile, raw, psrc)
    body = {k: v for k, v in data.items() if k != "calibration"}
    out, misfits = apply(body, profile, str(path))
    del misfits  # a part the scenario switched off (io: null) simply takes no calibration
    return out
