"""Building blocks shared by every part of the scenario model: strict models, cited
defaults, located errors and the size limits that refuse absurd scenarios."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_INSTANCES_PER_SERVICE = 10_000
MAX_TOTAL_INSTANCES = 100_000
MAX_SERVICES = 5_000
MAX_RATE = 1_000_000.0


def cited(default: Any, source: str, description: str | None = None, **kw: Any) -> Any:
    """A pydantic Field whose default carries its source (shown by reports and `sim schema`).

    The description is usually the string written under the field (its attribute docstring)."""
    return Field(
        default, description=description or None, json_schema_extra={"source": source}, **kw
    )


class Strict(BaseModel):
    # a string under a field is its description (`sim schema`, scenarios/FIELDS.md)
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, frozen=True, use_attribute_docstrings=True
    )

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


class LocatedError(ValueError):
    """A semantic error that knows where in the scenario it is (a path of keys and indexes)."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.path = path
        self.message = message
