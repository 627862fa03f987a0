"""A scenario as YAML with a comment on each value saying where it came from.

PyYAML writes no comments, so this small emitter walks plain data (dicts, lists, scalars)
and writes block YAML, putting ``# note`` after any value whose key path has a note. Scalars
are written by PyYAML itself (quoting, escapes), lists of scalars in flow style. The result
is read back by the scenario loader in the tests, so what is written is what is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


def scalar(v: Any) -> str:
    """One YAML scalar (PyYAML's quoting)."""
    text = yaml.safe_dump(v, default_flow_style=True, allow_unicode=True, width=10**9).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _comment(notes: Mapping[Path_, str], path: Path_) -> str:
    note = notes.get(path)
    return f"  # {' '.join(note.split())}" if note else ""


def _flow(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{scalar(k)}: {_flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    return scalar(v)


def _simple(v: Any) -> bool:
    """Written on one line: scalars, lists of scalars, small flat mappings."""
    if isinstance(v, list):
        return all(not isinstance(x, dict | list) for x in v)
    if isinstance(v, dict):
        return len(v) <= 4 and all(not isinstance(x, dict | list) for x in v.values())
    return True


def dump(data: Mapping[str, Any], notes: Mapping[Path_, str], header: str = "") -> str:
    """Block YAML of data with the notes as end-of-line comments."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _mapping(data, (), 0, notes, lines)
    return "\n".join(lines) + "\n"


def _mapping(
    d: Mapping[str, Any], path: Path_, indent: int, notes: Mapping[Path_, str], out: list[str]
) -> None:
    pad = " " * indent
    for k, v in d.items():
        p = (*path, k)
        if _simple(v) and not (isinstance(v, dict) and any((*p, kk) in notes for kk in v)):
            out.append(f"{pad}{scalar(k)}: {_flow(v)}{_comment(notes, p)}")
        elif isinstance(v, dict):
            out.append(f"{pad}{scalar(k)}:{_comment(notes, p)}")
            _mapping(v, p, indent + 2, notes, out)
        else:
            out.append(f"{pad}{scalar(k)}:{_comment(notes, p)}")
            for i, x in enumerate(v):
                q = (*p, i)
                if isinstance(x, dict) and not _simple(x):
                    first = True
                    for kk, vv in x.items():
                        lead = f"{pad}  - " if first else f"{pad}    "
                        first = False
                        if _simple(vv):
                            out.append(
                                f"{lead}{scalar(kk)}: {_flow(vv)}{_comment(notes, (*q, kk))}"
                            )
                        else:
                            out.append(f"{lead}{scalar(kk)}:{_comment(notes, (*q, kk))}")
                            if isinstance(vv, dict):
                                _mapping(vv, (*q, kk), indent + 6, notes, out)
                            else:
                                out.extend(f"{pad}      - {_flow(e)}" for e in vv)
                else:
                    out.append(f"{pad}  - {_flow(x)}{_comment(notes, q)}")
