"""The Markdown report: report data first (plain dicts), then a Jinja2 template.

Every string that came from a scenario is escaped before it reaches the template, so a
scenario name cannot inject markup.
"""

from __future__ import annotations

import html
from typing import Any

import jinja2
import pandas as pd

from sim.report.table import headline_rows
from sim.scenario.model import Scenario

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("sim.report", "templates"),
    autoescape=False,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


def esc(s: object) -> str:
    """Scenario text made safe for Markdown/HTML (no tags, no table breaks)."""
    return html.escape(str(s)).replace("|", "\\|").replace("\n", " ")


def report_data(sc: Scenario, summary: pd.DataFrame, metadata: dict[str, Any]) -> dict[str, Any]:
    """Everything the report shows, as plain data."""
    services = [
        {
            "name": esc(n),
            "instances": s.instances,
            "cores": s.cores,
            "operations": esc(", ".join(s.operations)),
            "subscriptions": esc(", ".join(f"{x.subject} ({x.delivery})" for x in s.subscriptions))
            or "–",
        }
        for n, s in sc.services.items()
    ]
    events = summary[summary["metric"].isin(["delivery_mean", "delivery_p99"])]
    event_rows = [
        {
            "flow": esc(r.flow),
            "metric": r.metric,
            "http": f"{r.http:.4g}",
            "messaging": f"{r.messaging:.4g}",
        }
        for r in events.itertuples()
    ]
    breakdown = [
        {
            "bucket": m.removeprefix("time_"),
            "http": f"{r.http:.4g}",
            "messaging": f"{r.messaging:.4g}",
        }
        for m in ("time_network", "time_queueing", "time_cpu", "time_infra", "time_handshake")
        for r in summary[(summary["flow"] == "all") & (summary["metric"] == m)].itertuples()
    ]
    a = sc.workload.arrivals
    return {
        "name": esc(sc.name),
        "description": esc(sc.description),
        "arrivals": esc(a.kind + (f", {a.rate:g}/s" if hasattr(a, "rate") else "")),
        "duration": sc.run.duration,
        "warmup": sc.run.warmup,
        "seed": metadata.get("seed"),
        "replications": metadata.get("replications", 1),
        "services": services,
        "headline": headline_rows(summary),
        "breakdown": breakdown,
        "events": event_rows,
        "http": {
            "protocol": sc.http.protocol,
            "route": sc.http.internal_route,
            "gateway": sc.http.gateway.replicas if sc.http.gateway.enabled else 0,
            "sidecars": sc.http.sidecar.enabled,
            "tls": sc.http.tls.version,
        },
        "messaging": {"servers": sc.messaging.broker.servers, "tls": sc.messaging.tls.version},
        "version": metadata.get("version", ""),
        "scenario_hash": metadata.get("scenario_hash", ""),
    }


def render_markdown(data: dict[str, Any]) -> str:
    """report.md from report data."""
    return _ENV.get_template("report.md.j2").render(**data)
