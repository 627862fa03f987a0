"""A nats-server configuration file into the scenario's ``messaging`` section.

Parsed with pyhocon: nats-server's ``key: value`` / ``key { … }`` / ``[…]`` syntax is HOCON's
(a file that uses nats-only forms, such as ``key value`` without a separator or ``include``,
is refused with its line). Mapped: the number of cluster routes → ``broker.servers``;
``max_payload`` and ``max_pending``; the ``accounts`` block as written (exports, imports,
and users that name a service of the scenario or ``clients``). Everything else is listed as
not mapped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sim.interop.build import Imported
from sim.scenario import ScenarioError


def import_nats_conf(f: Path, imp: Imported) -> None:
    """Broker size, limits and accounts from one nats-server config file."""
    from pyhocon import ConfigFactory
    from pyparsing import ParseBaseException

    try:
        conf = ConfigFactory.parse_string(f.read_text(encoding="utf-8")).as_plain_ordered_dict()
    except ParseBaseException as e:
        raise ScenarioError(str(f), e.lineno, (), f"nats-server config: {e.msg}") from None
    except Exception as e:  # pyhocon raises its own errors for substitutions and includes
        raise ScenarioError(str(f), None, (), f"nats-server config: {e}") from None
    lines = f.read_text(encoding="utf-8").splitlines()

    def line(key: str) -> str:
        n = next((i for i, ln in enumerate(lines, 1) if re.match(rf"\s*{key}\b", ln)), None)
        return f"{f}:{n} {key}" if n else f"{f} {key}"

    msg = imp.data.setdefault("messaging", {})
    routes = (conf.get("cluster") or {}).get("routes")
    if routes:
        msg.setdefault("broker", {})["servers"] = len(routes)
        imp.notes[("messaging", "broker", "servers")] = (
            f"{line('routes')}: {len(routes)} route URLs (one per server)"
        )
    for key, field in (("max_payload", "max_payload"), ("max_pending", "max_pending")):
        if isinstance(conf.get(key), int):
            msg.setdefault("broker", {})[field] = conf[key]
            imp.notes[("messaging", "broker", field)] = line(key)
    accounts = conf.get("accounts")
    if isinstance(accounts, dict):
        services = set(imp.data["services"]) | {"clients"}
        out: dict[str, Any] = {}
        for acc, body in accounts.items():
            body = dict(body or {})
            users = [
                u
                for u in body.get("users", [])
                if isinstance(u, dict) and u.get("user") in services
            ]
            dropped = [
                u.get("user")
                for u in body.get("users", [])
                if isinstance(u, dict) and u.get("user") not in services
            ]
            if dropped:
                imp.unmapped.append(
                    f"{line(acc)}: users {', '.join(map(str, dropped))} name no service here (dropped)"
                )
            entry = {k: body[k] for k in ("exports", "imports") if k in body}
            if users:
                entry["users"] = [{"user": u["user"]} for u in users]
            for k in body:
                if k not in ("users", "exports", "imports"):
                    imp.unmapped.append(f"{line(acc)}: accounts.{acc}.{k} not modelled")
            out[acc] = entry
        msg["accounts"] = out
        imp.notes[("messaging", "accounts")] = f"{line('accounts')}: exports and imports as written"
    for k in conf:
        ignored = ("port", "listen", "server_name", "http", "http_port", "monitor_port")
        if k not in ("cluster", "accounts", "max_payload", "max_pending", *ignored):
            imp.unmapped.append(f"{line(k)}: {k} not mapped")
