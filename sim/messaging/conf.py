"""The nats-server.conf a simulated deployment stands for.

:func:`server_conf` renders the configuration of one server of a scenario's messaging
section: limits (``max_payload``, ``max_pending``, ``write_deadline``, ``ping_interval``,
``ping_max``), its ``cluster`` block (``pool_size`` and the routes to its peers), its
``gateway`` block and the ``accounts`` block as written in the scenario. The differential
tests start real nats-server processes from it, so the simulated and the real deployment
are configured alike; a user can start from it to run the same topology for real.
Listen addresses and the peers' URLs are the caller's (the simulator has no sockets).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from sim.scenario.messaging import MessagingSettings


def duration(seconds: float) -> str:
    """A nats-server duration string ("120s", "250ms")."""
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000, 6):g}ms"


def server_conf(
    cfg: MessagingSettings,
    cluster: str,
    cluster_listen: str | None = None,
    routes: Sequence[str] = (),
    gateway_listen: str | None = None,
    gateways: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The configuration (without ``server_name``, ``listen`` and ``http``) of one server."""
    b = cfg.broker
    lines = [
        f"max_payload: {int(b.max_payload)}",
        f"max_pending: {int(b.max_pending)}",
        f'write_deadline: "{duration(b.write_deadline)}"',
        f'ping_interval: "{duration(b.ping_interval)}"',
        f"ping_max: {b.max_pings_out}",
    ]
    if cluster_listen is not None:
        urls = ", ".join(f'"{u}"' for u in routes)
        lines.append(
            f'cluster {{\n  name: "{cluster}"\n  listen: "{cluster_listen}"\n'
            f"  pool_size: {cfg.routes.pool_size}\n  routes: [{urls}]\n}}"
        )
    if gateway_listen is not None:
        remotes = ",\n".join(
            f'    {{name: "{name}", urls: [{", ".join(json.dumps(u) for u in urls)}]}}'
            for name, urls in (gateways or {}).items()
        )
        lines.append(
            f'gateway {{\n  name: "{cluster}"\n  listen: "{gateway_listen}"\n'
            f"  gateways: [\n{remotes}\n  ]\n}}"
        )
    if cfg.accounts:
        lines.append(f"accounts: {json.dumps(cfg.accounts, indent=1)}")
    return "\n".join(lines) + "\n"
