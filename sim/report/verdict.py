"""The report's verdict: a few generated sentences at the top, in plain language.

Every number comes from the summary the headline table shows (ratios, the paired difference
of the mean latency with its interval, the time buckets) or from the run's components frame
— never from a second simulation. "When each would be the better choice" is read from the
run's own sensitivity, as *estimates from this run*, said so in the text:

* HTTP without sidecars: the sidecars' CPU and memory subtracted from HTTP's infrastructure
  (their latency is inside the proxy time of the breakdown; their absence would also remove
  mTLS, retries and balancing between services);
* messaging as a 3-server cluster (when it runs fewer): the broker rows × 3 / servers — the
  same work per server; the hops between servers are not counted, so it is a lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from sim.report.plots import BUCKET_LABELS
from sim.scenario.model import Scenario

CLUSTER = 3  # servers of a production NATS cluster (NATS docs, clustering: 3 is the minimum)


@dataclass(frozen=True)
class Verdict:
    sentences: list[str] = field(default_factory=list)  # what this run says
    choices: list[str] = field(default_factory=list)  # when each would be better (estimates)


def _row(s: pd.DataFrame, flow: str, metric: str) -> pd.Series | None:
    sel = s[(s["flow"] == flow) & (s["metric"] == metric)]
    return None if sel.empty else sel.iloc[0]


def _x(h: float, m: float) -> str:
    return (
        f"{m / h:.2g}×"
        if h and math.isfinite(h) and math.isfinite(m)
        else "an undefined multiple of"
    )


def _per_run(c: pd.DataFrame, arch: str, kinds: tuple[str, ...], col: str) -> float:
    """Mean over replications of the sum of ``col`` over components of these kinds."""
    sel = c[(c["architecture"] == arch) & c["kind"].isin(kinds)]
    n = max(1, c[c["architecture"] == arch]["replication"].nunique()) if len(c) else 1
    return float(sel[col].sum()) / n


def build_verdict(sc: Scenario, s: pd.DataFrame, components: pd.DataFrame) -> Verdict:
    """The verdict of a paired comparison (empty without one)."""
    cpu, conn = _row(s, "system", "cpu_cores_infra"), _row(s, "system", "connections_mean")
    lat = _row(s, "all", "latency_mean")
    if cpu is None or conn is None or lat is None or "messaging" not in s:
        return Verdict()
    h_cpu, m_cpu = float(cpu["http"]), float(cpu["messaging"])
    out = [
        f"For this scenario messaging uses {_x(h_cpu, m_cpu)} the infrastructure CPU of HTTP "
        f"({m_cpu:.3g} against {h_cpu:.3g} cores) and {_x(conn['http'], conn['messaging'])} "
        f"its connections ({conn['messaging']:.4g} against {conn['http']:.4g} open on average)."
    ]
    d = float(lat["difference"])
    lo, hi = float(lat["difference_low"]), float(lat["difference_high"])
    if math.isfinite(lo) and math.isfinite(hi):
        sig = "significant" if bool(lat["significant"]) else "not significant"
        how = f"95 % interval [{lo:.3g}, {hi:.3g}] ms, {sig}"
    else:
        how = "no interval from this run"
    side = "lower" if d < 0 else "higher"
    if math.isfinite(d):
        out.append(
            f"Mean latency is {abs(d):.3g} ms {side} over messaging ({lat['messaging']:.3g} "
            f"against {lat['http']:.3g} ms; {how})."
        )
    else:
        out.append("There is no latency to compare: a side completed no request.")
    parts = []
    for b, label in BUCKET_LABELS.items():
        r = _row(s, "all", f"time_{b}")
        if r is not None and math.isfinite(float(r["difference"])):
            parts.append((float(r["difference"]), label))
    parts.sort(key=lambda p: -abs(p[0]))
    if parts and abs(parts[0][0]) > 1e-9:
        main = f"{parts[0][1]} ({parts[0][0]:+.3g} ms)"
        rest = [f"{lbl} ({v:+.3g} ms)" for v, lbl in parts[1:3] if abs(v) > 1e-9]
        tail = f", then {' and '.join(rest)}" if rest else ""
        out.append(
            f"Per request, the difference (messaging − HTTP) comes mostly from {main}{tail}."
        )
    alloc, usage = _row(s, "system", "cost_allocation"), _row(s, "system", "cost_usage")
    if alloc is not None and usage is not None:
        out.append(
            f"In money: {alloc['http']:,.0f} $ against {alloc['messaging']:,.0f} $ a month by "
            f"allocation (HTTP, messaging), {usage['http']:,.2f} $ against "
            f"{usage['messaging']:,.2f} $ by usage."
        )
    return Verdict(out, _choices(sc, components, h_cpu, m_cpu, d, lat))


def _choices(
    sc: Scenario, c: pd.DataFrame, h_cpu: float, m_cpu: float, d: float, lat: pd.Series
) -> list[str]:
    dur = sc.run.duration
    out = []
    side = _per_run(c, "http", ("sidecar",), "cpu_seconds") / dur
    h_bare = h_cpu - side
    if side > 0:
        mib = _per_run(c, "http", ("sidecar",), "memory_mean") / 2**20
        out.append(
            f"Estimate from this run, HTTP without sidecars: {h_bare:.3g} cores of "
            f"infrastructure ({side:.3g} cores and {mib:.4g} MiB of sidecars subtracted; "
            "no mTLS, retries or balancing between services then)."
        )
    servers = [c.servers for c in sc.messaging.clusters] or [sc.messaging.broker.servers]
    m_big = m_cpu
    if len(servers) == 1 and servers[0] < CLUSTER:
        broker = _per_run(c, "messaging", ("broker",), "cpu_seconds") / dur
        m_big = m_cpu + broker * (CLUSTER / servers[0] - 1)
        out.append(
            f"Estimate from this run, messaging as a {CLUSTER}-server cluster (the production "
            f"minimum): at least {m_big:.3g} cores (its broker rows × {CLUSTER}/{servers[0]}; "
            "the hops between servers not counted)."
        )
    if m_big < h_bare:
        out.append(
            "On infrastructure CPU messaging is the better choice here, even against HTTP "
            f"without sidecars and as a {CLUSTER}-server cluster."
        )
    elif m_cpu < h_cpu:
        out.append(
            "On infrastructure CPU messaging wins as configured, but not against HTTP without "
            f"sidecars if it must run a {CLUSTER}-server cluster: the choice is the sidecars' "
            "features against the broker's servers."
        )
    else:
        out.append("On infrastructure CPU HTTP is the better choice here.")
    if bool(lat["significant"]):
        faster = "messaging" if d < 0 else "HTTP"
        rel = abs(d) / float(lat["http"]) if float(lat["http"]) else math.nan
        out.append(
            f"On latency {faster} is the better choice here: {abs(d):.3g} ms ({rel:.1%}) "
            "faster on average, a significant difference."
        )
    else:
        out.append("Latency does not decide between them here (no significant difference).")
    return out
