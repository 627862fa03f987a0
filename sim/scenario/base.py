"""Building blocks shared by every part of the scenario model: strict models, cited
defaults, located errors and the size limits that refuse absurd scenarios."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_INSTANCES_PER_SERVICE = 10_000
MAX_TOTAL_INSTANCES = 100_000
MAX_SERVICES = 5_000
MAX_RATE = 1_000_000.0


def cited(default: Any, source: str, description: str = "", **kw: Any) -> Any:
    """A pydantic Field whose default carries its source (shown by reports and `sim schema`)."""
    return Field(default, description=description, json_schema_extra={"source": source}, **kw)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class LocatedError(ValueError):
    """A semantic error that knows where in the scenario it is (a path of keys and indexes)."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.path = path
        self.message = message
