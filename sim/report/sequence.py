"""Sequence diagrams of one request: the same request id in both architectures, hop by hop.

A traced request carries the hops its transport recorded (``tr.hop(t, from, to, what)``):
the instant each message left one component for the next. Because both architectures draw
the same arrivals and service demands (common random numbers), request *N* is the same
order in both, so the two diagrams differ only by the architecture.

Two renderings of the same data:

* :func:`mermaid` — a Mermaid ``sequenceDiagram`` per architecture for Markdown (GitHub
  renders it). Participant names come from the scenario (service names), so they are
  reduced to a safe alphabet and referenced through aliases; nothing else reaches Mermaid.
* :func:`timeline` — a matplotlib figure: one lifeline per component, time flowing down in
  milliseconds since the request started, one arrow per hop at its send time, the two
  architectures side by side on the same time scale.
"""

from __future__ import annotations

import re

from matplotlib.figure import Figure

from sim.report.data import TracedRequest
from sim.report.plots import ARCH_COLORS, BUCKET_LABELS

_UNSAFE = re.compile(r"[^A-Za-z0-9 ._\-]")
WHAT_STYLE = {"request": "->>", "response": "-->>", "msg": "->>"}


def safe(text: str, limit: int = 60) -> str:
    """Text reduced to letters, digits and ``._- `` (no markup reaches Mermaid)."""
    return _UNSAFE.sub("_", text)[:limit]


def wire_hops(tr: TracedRequest) -> list[tuple[float, str, str, str]]:
    """The hops between two components (an instance's marks of its own work, from itself to
    itself, are for span export and stay out of the diagrams)."""
    return [h for h in tr.hops if h[1] != h[2]]


def participants(tr: TracedRequest) -> list[str]:
    """Components in order of first appearance along the request."""
    seen: dict[str, None] = {}
    for _, a, b, _what in wire_hops(tr):
        seen.setdefault(a, None)
        seen.setdefault(b, None)
    return list(seen)


def mermaid(tr: TracedRequest) -> str:
    """A Mermaid sequenceDiagram: one arrow per hop, labelled with ms since the start."""
    names = participants(tr)
    alias = {n: f"P{i}" for i, n in enumerate(names)}
    lines = ["sequenceDiagram"]
    lines += [f"    participant {alias[n]} as {safe(n)}" for n in names]
    for t, a, b, what in wire_hops(tr):
        arrow = WHAT_STYLE.get(what, "->>")
        lines.append(
            f"    {alias[a]}{arrow}{alias[b]}: {safe(what)} at {(t - tr.start) * 1e3:.3f} ms"
        )
    if names:
        lines.append(
            f"    Note over {alias[names[0]]}: reply received at {tr.latency * 1e3:.3f} ms"
        )
        if tr.buckets.get("handshake", 0.0) > 0:
            lines.append(
                f"    Note over {alias[names[0]]}: of which {tr.buckets['handshake'] * 1e3:.3f} ms "
                "connection set-up (TCP + TLS handshakes)"
            )
    return "\n".join(lines)


def time_split(tr: TracedRequest) -> str:
    """Where the request's time went, so a gap between two hops is never unexplained:
    ``network 1.2 ms, queueing 0 ms, …, handshakes 2.2 ms (TCP + TLS set-up of a new
    pooled connection, paid once per connection)``."""
    parts = [
        f"{BUCKET_LABELS.get(b, b)} {abs(v) * 1e3:.3f} ms"  # abs: -1e-16 of float sums is 0
        for b, v in tr.buckets.items()
        if abs(v) > 1e-12 or b == "cpu"
    ]
    text = ", ".join(parts)
    if tr.buckets.get("handshake", 0.0) > 0:
        text += (
            "; the handshakes are the TCP + TLS set-up of a connection opened for this "
            "request (a pooled connection pays it once, later requests reuse it)"
        )
    return text


def hop_table(tr: TracedRequest) -> list[tuple[str, str, str, str, str]]:
    """(ms since start, +ms since previous hop, from, to, what) per hop."""
    rows = []
    prev = tr.start
    for t, a, b, what in wire_hops(tr):
        rows.append((f"{(t - tr.start) * 1e3:.3f}", f"+{(t - prev) * 1e3:.3f}", a, b, what))
        prev = t
    return rows


def timeline(traces: dict[str, TracedRequest], request_id: int | None = None) -> Figure:
    """Both architectures' hops as sequence diagrams on one time scale (ms, downwards)."""
    archs = [a for a in ARCH_COLORS if a in traces] + [a for a in traces if a not in ARCH_COLORS]
    longest = max((traces[a].latency for a in archs), default=0.0) * 1e3
    widest = max((len(participants(traces[a])) for a in archs), default=1)
    fig = Figure(figsize=(max(8.0, 1.1 * widest * len(archs)), 5.5), dpi=100, layout="constrained")
    axes = fig.subplots(1, max(len(archs), 1), sharey=True, squeeze=False)[0]
    for ax, a in zip(axes, archs, strict=False):
        tr = traces[a]
        names = participants(tr)
        x = {n: i for i, n in enumerate(names)}
        for n, i in x.items():
            ax.axvline(i, color="#bdbdbd", lw=0.8, ls="--", zorder=0)
            ax.text(
                i,
                1.01,
                n,
                rotation=30,
                ha="left",
                va="bottom",
                fontsize=7,
                transform=ax.get_xaxis_transform(),
            )
        color = ARCH_COLORS.get(a, "#333333")
        for t, frm, to, what in wire_hops(tr):
            y = (t - tr.start) * 1e3
            ax.annotate(
                "",
                xy=(x[to], y),
                xytext=(x[frm], y),
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": color,
                    "lw": 1.2,
                    "ls": "--" if what == "response" else "-",
                },
            )
            ax.text(
                x[frm],
                y,
                f"{y:.2f}",
                fontsize=6,
                ha="right" if x[to] > x[frm] else "left",
                va="bottom",
                color="#555555",
            )
        ax.axhline(tr.latency * 1e3, color=color, lw=0.8, alpha=0.6)
        ax.text(
            0,
            tr.latency * 1e3,
            f" reply at {tr.latency * 1e3:.3f} ms",
            fontsize=7,
            va="top",
            color=color,
        )
        ax.set_xlim(-0.5, max(len(names) - 0.5, 0.5))
        ax.set_xticks([])
        ax.set_title(a, color=color, pad=60)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylim(longest * 1.05 if longest > 0 else 1.0, 0)
    axes[0].set_ylabel("time since the request started (ms)")
    title = "One request, hop by hop" + (
        f" (request {request_id})" if request_id is not None else ""
    )
    fig.suptitle(title)
    return fig
