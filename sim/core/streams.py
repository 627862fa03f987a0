"""Named, independent random streams spawned from one scenario seed.

Replication ``r`` of seed ``s`` is ``SeedSequence(s).spawn(r + 1)[r]`` (spawn key ``(r,)``).
Each purpose gets its own child keyed by a stable hash of its name, not by the order in
which streams are first asked for, so a draw added on one architecture's side never shifts
another stream: this is what makes common random numbers work (Law, *Simulation Modeling
and Analysis*, §11.2). Never use ``random.*`` or ``np.random.*`` module functions.
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """A family of numpy Generators for one replication, one per named purpose."""

    def __init__(self, seed: int, replication: int = 0):
        self.seed = seed
        self.replication = replication
        self._root = np.random.SeedSequence(seed).spawn(replication + 1)[replication]
        self._cache: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        """The generator for a purpose (e.g. ``arrivals``, ``demand/order-create/create``)."""
        g = self._cache.get(name)
        if g is None:
            ss = np.random.SeedSequence(
                self._root.entropy, spawn_key=(*self._root.spawn_key, _key(name))
            )
            g = np.random.Generator(np.random.PCG64(ss))
            self._cache[name] = g
        return g
