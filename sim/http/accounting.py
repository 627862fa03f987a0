"""Connection accounting: who holds how many connections, and how that grows with the mesh.

Every component already keeps its books (:class:`~sim.core.component.Component`):
connections opened and closed, open over time (a time-weighted gauge: mean and peak),
TCP/TLS/mTLS handshakes, bytes sent. These functions read them out of a run's
``components`` frame (and ``links``: who opened connections to whom) as tables an SRE
would ask for: per kind of component, and mesh-wide. A connection is counted once at
each end, so mesh-wide figures halve the sums.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = {
    "components": ("name", "count"),
    "opened": ("connections_opened", "sum"),
    "closed": ("connections_closed", "sum"),
    "open_mean": ("connections_mean", "sum"),
    "open_end": ("connections_open_end", "sum"),
    "open_peak_max": ("connections_peak", "max"),
    "tcp_handshakes": ("tcp_handshakes", "sum"),
    "tls_handshakes": ("tls_handshakes", "sum"),
    "mtls_handshakes": ("mtls_handshakes", "sum"),
    "bytes_out": ("bytes_out", "sum"),
    "memory_mean_each": ("memory_mean", "mean"),
}


def connections_by_kind(components: pd.DataFrame) -> pd.DataFrame:
    """Per architecture and component kind: connection counts, handshakes, bytes, memory."""
    keys = [k for k in ("architecture", "replication") if k in components]
    out = components.groupby([*keys, "kind"], sort=True).agg(**COLUMNS)
    return out.reset_index()


def mesh_wide(components: pd.DataFrame) -> pd.Series:
    """Connections of the whole system, each counted once (both ends book every one)."""
    c = components
    return pd.Series(
        {
            "instances": int((c["kind"] == "service").sum()),
            "proxies": int(c["kind"].isin(["sidecar", "gateway", "ztunnel"]).sum()),
            "opened": c["connections_opened"].sum() / 2,
            "open_mean": c["connections_mean"].sum() / 2,
            "open_end": c["connections_open_end"].sum() / 2,
            "tls_handshakes": c["tls_handshakes"].sum() / 2,
        }
    )


def links_by_kind(links: pd.DataFrame) -> pd.DataFrame:
    """Connections opened, by (opener kind, acceptor kind): e.g. sidecar → sidecar."""
    return (
        links.groupby(["source_kind", "target_kind"], sort=True)["opened"]
        .agg(["count", "sum"])
        .rename(columns={"count": "pairs", "sum": "opened"})
        .reset_index()
    )
