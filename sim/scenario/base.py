"""Building blocks shared by every part of the scenario model: strict models, cited
defaults, located errors and the size limits that refuse absurd scenarios."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_INSTANCES_PER_SERVICE = 10_000
MAX_TOTAL_INSTANCES = 100_000
MAX_SERVICES = 5_000
MAX_RATE = 1_000_000.0
MAX_CLIENTS = 1_000_000  # as many as closed-loop users: each holds connections and a process


def cited(default: Any, source: str, description: str | None = None, **kw: Any) -> Any:
    """A pydantic Field whose default carries its source (shown by reports and `sim schema`).

    The description is usually the string written under the field (its attribute docstring)."""
    return Field(
        default, description=description or None, json_schema_extra={"source": source}, **kw
    )


def _types(annotation: Any) -> list[Any]:
    """The plain types a field annotation admits (through Annotated, unions and Optional)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _types(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [t for a in get_args(annotation) for t in _types(a)]
    if origin is Literal:
        return [type(v) for v in get_args(annotation)]
    return [annotation]


class BoolText(str):
    """A boolean's YAML text standing where a number was wanted (see :func:`unbool`)."""

    __slots__ = ()


def unbool(annotation: Any, value: Any) -> Any:
    """``value`` with each boolean written where ``annotation`` wants a number replaced by its
    YAML text (``rate: true`` → ``"true"``), which the number's own validation then refuses
    at that key: Python counts True as 1, a scenario must not. Lists, tuples and mappings
    are looked into."""
    kinds = _types(annotation)
    if isinstance(value, bool):
        numeric = any(k in (int, float) for k in kinds)
        if numeric and not {bool, str} & set(kinds):
            return BoolText("true" if value else "false")
        return value
    for k in kinds:
        origin, args = get_origin(k), get_args(k)
        if origin in (list, tuple) and isinstance(value, list | tuple) and args:
            fixed = args if origin is tuple and Ellipsis not in args else args[:1] * len(value)
            out = [unbool(a, v) for a, v in zip(fixed, value, strict=False)]
            return type(value)([*out, *value[len(out) :]])
        if origin is dict and isinstance(value, dict) and len(args) == 2:
            return {key: unbool(args[1], v) for key, v in value.items()}
    return value


def unbool_fields(cls: type[BaseModel], data: Any) -> Any:
    """:func:`unbool` over every field of a model's input mapping."""
    if not isinstance(data, dict):
        return data
    out = data
    for name, info in cls.model_fields.items():
        key = info.alias if info.alias in data else name
        if key in data:
            fixed = unbool(info.annotation, data[key])
            if fixed is not data[key]:
                if out is data:
                    out = dict(data)
                out[key] = fixed
    return out


class Strict(BaseModel):
    # a string under a field is its description (`sim schema`, scenarios/FIELDS.md)
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, frozen=True, use_attribute_docstrings=True
    )

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        return unbool_fields(cls, data)

    @model_validator(mode="before")
    @classmethod
    def _over_cited_defaults(cls, data: Any) -> Any:
        """A partial mapping given for a field whose default is a configured model (e.g. the
        gateway's ``cited(Route(timeout=15, …))``) overrides that default key by key, instead
        of starting again from the nested model's plain defaults."""
        if not isinstance(data, dict):
            return data
        out = data
        for name, info in cls.model_fields.items():
            default = info.default
            if not isinstance(default, BaseModel):
                continue
            key = info.alias or name
            if key not in data and name in data:
                key = name
            value = data.get(key)
            if isinstance(value, dict):
                if out is data:
                    out = dict(data)
                out[key] = _merge(default.model_dump(by_alias=True, exclude_unset=True), value)
        return out


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, recursively for nested mappings."""
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class InputError(ValueError):
    """Input the user can correct (a scenario, an option, a results folder): the command line
    prints it as one line and exits 2 (:mod:`sim.exits`). ``prefix`` goes before ``str()``:
    errors that name their own place (``FILE:LINE: …``, ``sim run: …``) have none."""

    prefix = "sim: "


class LocatedError(ValueError):
    """A semantic error that knows where in the scenario it is (a path of keys and indexes)."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.path = path
        self.message = message
