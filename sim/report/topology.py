"""Topology drawings: who holds connections to whom, sized by load.

The graph comes from the run itself, not from the scenario: nodes are the components of
replication 0 (``components`` frame), and a directed edge ``a → b`` means ``a`` opened
connections to ``b`` during the run (``links`` frame, booked by
:func:`sim.core.connections.open_accounting`). Node area grows with the requests or
messages the component handled; edge width with the connections opened between the pair.

Components are drawn in columns by kind — clients, then gateways and edge bridges, sidecars
or broker servers, services, and the control plane — with a sidecar on the same row as its
service (so it is labelled ``sidecar`` only). Labels sit under their node on a light ground,
so they stay readable where edges cross. Beyond
:data:`MAX_NODES` components, instances of one service are folded into one node
(``sidecar order-create ×3``) so a large mesh stays legible.
"""

from __future__ import annotations

import math

import networkx as nx
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.report.plots import ARCH_COLORS, KIND_COLORS

MAX_NODES = 40
LAYER = {"client": 0, "gateway": 1, "bridge": 1, "broker": 2, "sidecar": 2, "service": 3}
OTHER_LAYER = 4  # control plane, discovery, anything new


def connection_graph(
    components: pd.DataFrame, links: pd.DataFrame, architecture: str
) -> nx.DiGraph:
    """Directed graph of one architecture (replication 0): opener → peer, weight = opened."""
    c = components[(components["architecture"] == architecture) & (components["replication"] == 0)]
    lk = links[links["architecture"] == architecture]
    if "replication" in lk.columns:
        lk = lk[lk["replication"] == 0]
    fold = len(c) > MAX_NODES
    g = nx.DiGraph(architecture=architecture, folded=fold)
    key: dict[str, str] = {}
    for r in c.itertuples():
        name, kind = str(r.name), str(r.kind)
        service = "" if pd.isna(r.service) else str(r.service)
        node = f"{kind} {service}".strip() if fold and service else name
        key[name] = node
        if node not in g:
            g.add_node(node, kind=kind, service=service, handled=0.0, count=0)
        g.nodes[node]["handled"] += float(r.handled)
        g.nodes[node]["count"] += 1
    for r in lk.itertuples():
        a, b = key.get(str(r.source)), key.get(str(r.target))
        if a is None or b is None:
            continue
        w = g.edges[a, b]["opened"] if g.has_edge(a, b) else 0
        g.add_edge(a, b, opened=w + int(r.opened))
    return g


def layout(g: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Columns by kind; within a column by service then name, so a sidecar faces its service."""
    columns: dict[int, list[str]] = {}
    for n, d in g.nodes(data=True):
        columns.setdefault(LAYER.get(d["kind"], OTHER_LAYER), []).append(n)
    pos = {}
    for x, layer in enumerate(sorted(columns)):  # empty columns closed up
        nodes = sorted(columns[layer], key=lambda n: (g.nodes[n]["service"], n))
        k = len(nodes)
        for i, n in enumerate(nodes):
            pos[n] = (float(x), 0.0 if k == 1 else 1.0 - 2.0 * i / (k - 1))
    return pos


def draw(ax: Axes, g: nx.DiGraph) -> None:
    """Draw one architecture's graph on an axes."""
    pos = layout(g)
    loads = [d["handled"] for _, d in g.nodes(data=True)]
    top = max(loads) if loads and max(loads) > 0 else 1.0
    sizes = [60 + 500 * math.sqrt(d["handled"] / top) for _, d in g.nodes(data=True)]
    colors = [KIND_COLORS.get(d["kind"], "#bdbdbd") for _, d in g.nodes(data=True)]
    opened = [d["opened"] for _, _, d in g.edges(data=True)]
    most = max(opened) if opened else 1
    widths = [0.4 + 3.0 * w / most for w in opened]
    size_of = dict(zip(g.nodes, sizes, strict=True))
    for same_column in (False, True):  # edges within a column curve, or they would overlap
        edges = [
            (a, b, w)
            for (a, b), w in zip(g.edges, widths, strict=True)
            if (pos[a][0] == pos[b][0]) == same_column
        ]
        if not edges:
            continue
        nx.draw_networkx_edges(
            g,
            pos,
            edgelist=[(a, b) for a, b, _ in edges],
            ax=ax,
            width=[w for _, _, w in edges],
            edge_color="#9e9e9e",
            arrows=True,
            arrowsize=6,
            alpha=0.7,
            node_size=[size_of[n] for n in g.nodes],
            connectionstyle="arc3,rad=0.35" if same_column else "arc3",
        )
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=sizes, node_color=colors, linewidths=0)
    for (n, d), size in zip(g.nodes(data=True), sizes, strict=True):
        ax.annotate(
            _label(n, d),
            pos[n],
            xytext=(0, -(math.sqrt(size) / 2 + 1.5)),  # node_size is an area in points²
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=7,
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
            zorder=5,
        )
    ax.set_title(
        f"{g.graph['architecture']}: {_processes(g)} components, {g.number_of_edges()} connected pairs",
        color=ARCH_COLORS.get(g.graph["architecture"], "black"),
        fontsize=10,
    )
    ax.margins(0.12)
    ax.set_axis_off()


def _processes(g: nx.DiGraph) -> int:
    return int(sum(d["count"] for _, d in g.nodes(data=True)))


def _label(n: str, d: dict[str, object]) -> str:
    count = int(d["count"])  # type: ignore[call-overload]
    if d["kind"] == "sidecar" and count == 1:
        return "sidecar"  # on its service's row
    text = n if len(n) <= 26 else n[:25] + "…"
    return f"{text} ×{count}" if count > 1 else text


def draw_topologies(components: pd.DataFrame, links: pd.DataFrame) -> Figure:
    """Both architectures' connection graphs side by side."""
    present = set(components["architecture"]) if len(components) else set()
    archs = [a for a in ARCH_COLORS if a in present]
    fig = Figure(figsize=(11, 6.5), dpi=100, layout="constrained")
    axes = fig.subplots(1, max(len(archs), 1), squeeze=False)[0]
    for ax, a in zip(axes, archs, strict=False):
        draw(ax, connection_graph(components, links, a))
    fig.suptitle("Who holds connections to whom (node area: load handled; edge width: connections)")
    return fig
