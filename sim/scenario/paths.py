"""What a key path can name in a scenario: the schema walked alongside the data.

``--set`` overrides and unknown-key errors use it to tell a typo from a new entry and to
suggest the closest key (``did you mean 'arrivals'?``). The walk follows the pydantic
models' fields (by alias), picks the member of a discriminated union that the data names
(``kind: poisson``), and treats ``dict[str, X]`` fields (services, operations, routes…) as
maps of named entries whose keys are the data's own (or the field default's).
"""

from __future__ import annotations

import difflib
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel


@dataclass(frozen=True)
class Place:
    """One level of the scenario: a model (fixed keys), a map of named entries, a list, or
    a value whose inside the schema does not describe (``shape`` "any")."""

    shape: str  # "model", "map", "list", "any"
    keys: tuple[str, ...] = ()  # the model's keys, or the map's existing entries
    annotation: Any = None


def _strip(ann: Any) -> Any:
    while get_origin(ann) is Annotated:
        ann = get_args(ann)[0]
    return ann


def _members(ann: Any) -> list[Any]:
    ann = _strip(ann)
    if get_origin(ann) in (Union, types.UnionType):
        return [m for a in get_args(ann) for m in _members(a) if m is not type(None)]
    return [ann]


def _model_keys(model: type[BaseModel]) -> dict[str, Any]:
    return {(f.alias or name): f for name, f in model.model_fields.items()}


def _pick(models: list[type[BaseModel]], here: Any) -> list[type[BaseModel]]:
    """The union members the data names by a literal tag (``kind``, ``dist``, ``action``)."""
    if not isinstance(here, dict) or len(models) < 2:
        return models
    for m in models:
        for key, f in _model_keys(m).items():
            if get_origin(_strip(f.annotation)) is Literal and here.get(key) in get_args(
                _strip(f.annotation)
            ):
                return [m]
    return models


def place(ann: Any, here: Any, default: Any = None) -> Place:
    """What the annotation ``ann`` describes, given the data ``here`` at that level."""
    members = _members(ann)
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if models:
        keys: dict[str, None] = {}
        for m in _pick(models, here):
            keys.update(dict.fromkeys(_model_keys(m)))
        return Place("model", tuple(keys), ann)
    for m in members:
        origin = get_origin(m)
        if origin is dict:
            have = here if isinstance(here, dict) else default if isinstance(default, dict) else {}
            return Place("map", tuple(str(k) for k in have), ann)
        if origin in (list, tuple):
            return Place("list", (), ann)
    return Place("any")


def child(ann: Any, here: Any, key: str | int) -> tuple[Any, Any]:
    """The annotation and default of ``key`` one level below ``ann`` (None, None: unknown)."""
    members = _members(ann)
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    for m in _pick(models, here):
        f = _model_keys(m).get(str(key))
        if f is not None:
            default = f.default
            if isinstance(default, BaseModel):
                default = default.model_dump(by_alias=True)
            return f.annotation, default
    for m in members:
        args = get_args(m)
        if get_origin(m) is dict and len(args) == 2:
            return args[1], None
        if get_origin(m) is list and args:
            return args[0], None
        if get_origin(m) is tuple and args:
            return (args[0] if len(args) == 2 and args[1] is Ellipsis else Any), None
    return None, None


def suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def keys_at(root: type[BaseModel], data: Any, path: tuple[str | int, ...]) -> tuple[str, ...]:
    """The keys a model at ``path`` of the data accepts (empty if the path is not a model)."""
    ann: Any = root
    here: Any = data
    for p in path:
        ann, _ = child(ann, here, p)
        if ann is None:
            return ()
        if isinstance(here, dict):
            here = here.get(str(p))
        elif isinstance(here, list) and isinstance(p, int) and p < len(here):
            here = here[p]
        else:
            here = None
    pl = place(ann, here)
    return pl.keys if pl.shape == "model" else ()
