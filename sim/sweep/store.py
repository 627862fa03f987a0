"""The sweep's results on disk: a Parquet dataset with one part file per completed point.

Resuming is safe because a part file is the *only* proof that a point is done, and it
appears whole or not at all: it is written to a temporary name in the same folder, flushed
to disk, then renamed (``os.replace``, atomic on POSIX and Windows within one file system).
A sweep killed at any instant leaves complete parts and perhaps a stray temporary file,
which the next run deletes. Each part is named by the point's key — a stable hash of the
validated scenario with the point applied, the point itself, the replications and the
seed — so a point can never be stored twice, and a changed scenario or seed makes new keys
instead of silently reusing old results.

Each part carries its key in the Parquet footer (key-value metadata ``meshsim.point_key``,
with the point and the scenario hash for people): a part counts as done only if its footer
reads and names its own key, so a truncated or garbage file, or another point's part copied
over it, is reported by name (:attr:`Store.damaged`) and computed again instead of being
used. Parts are ordinary files (mode 0666 less the umask), like every other output.

``manifest.json`` (also replaced atomically) records what the sweep is and every planned
point with its key, part name and state, for people and tools; when it disagrees with the
parts (a kill between the rename and the manifest update), the parts win.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
PART_PREFIX = "part-"
TMP_PREFIX = ".tmp-"


def point_key(scenario_hash: str, point: Mapping[str, Any], replications: int, seed: int) -> str:
    """A stable 16-hex-digit key for one point of one sweep."""
    blob = json.dumps(
        {
            "scenario": scenario_hash,
            "point": sorted((k, repr(v)) for k, v in point.items()),
            "replications": replications,
            "seed": seed,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


KEY_META = b"meshsim.point_key"


def _atomic_write_bytes(path: Path, write: Any) -> None:
    """Call write(file_object) on a temporary file beside path, fsync, then rename onto path."""
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; parts are ordinary outputs
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Store:
    """A folder holding one sweep dataset (or several sweeps' points of the same scenario)."""

    def __init__(self, folder: str | Path):
        self.damaged: dict[Path, str] = {}  # part files found unusable, and why
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stray in self.folder.glob(f"{TMP_PREFIX}*"):  # left by a killed writer
            with contextlib.suppress(OSError):
                stray.unlink()

    def part_path(self, key: str) -> Path:
        return self.folder / f"{PART_PREFIX}{key}.parquet"

    def done(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` whose part file exists and is theirs (see :meth:`check`);
        a part that is not is named in :attr:`damaged` and left to be computed again."""
        out = set()
        for k in keys:
            if not self.part_path(k).exists():
                continue
            problem = self.check(k)
            if problem is None:
                out.add(k)
            else:
                self.damaged[self.part_path(k)] = problem
        return out

    def check(self, key: str) -> str | None:
        """Why the part of ``key`` cannot be used (None: it can): its footer must read and
        name this key."""
        try:
            meta = pq.read_schema(self.part_path(key)).metadata or {}
        except (OSError, pa.ArrowException) as e:
            return f"unreadable ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
        found = meta.get(KEY_META, b"").decode(errors="replace")
        if found != key:
            return f"holds point {found or '(none: no key in its footer)'}, not {key}"
        return None

    def write_part(
        self, key: str, frame: pd.DataFrame, about: Mapping[str, Any] | None = None
    ) -> Path:
        """Store one point's rows atomically, with its key (and ``about``: the point, the
        scenario hash) in the footer."""
        table = pa.Table.from_pandas(frame, preserve_index=False)
        extra = {KEY_META: key.encode()}
        for k, v in (about or {}).items():
            extra[f"meshsim.{k}".encode()] = json.dumps(v, default=str).encode()
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
        path = self.part_path(key)
        _atomic_write_bytes(path, lambda f: pq.write_table(table, f))
        return path

    def read_part(self, key: str) -> pd.DataFrame:
        return pq.read_table(self.part_path(key)).to_pandas()

    def read(self, keys: Iterable[str]) -> pd.DataFrame:
        """The rows of the given points, in the order given."""
        frames = [self.read_part(k) for k in keys]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------ manifest
    def read_manifest(self) -> dict[str, Any]:
        p = self.folder / MANIFEST
        if not p.exists():
            return {}
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # a damaged manifest is rebuilt from the parts
        return data if isinstance(data, dict) else {}

    def write_manifest(
        self, sweep: Mapping[str, Any], points: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Record the sweep and its points; entries of other sweeps in this folder are kept."""
        old = self.read_manifest().get("points", {})
        merged = {k: v for k, v in old.items() if k not in points} if isinstance(old, dict) else {}
        for key, entry in points.items():
            merged[key] = {
                **entry,
                "part": self.part_path(key).name,
                "done": self.part_path(key).exists(),
            }
        body = json.dumps({"sweep": dict(sweep), "points": merged}, indent=1, default=str)
        _atomic_write_bytes(self.folder / MANIFEST, lambda f: f.write(body.encode()))
