"""From a scenario's ``messaging`` section to a deployment: clusters, servers, accounts.

Without ``clusters``, the deployment is one cluster of ``broker.servers`` servers named
``nats-0 … nats-{n-1}`` in the first region. With ``clusters``, each is a cluster of its own
in its region (servers ``nats-<cluster>-<i>``), and the clusters are joined by gateways into a
supercluster. A client connects to the cluster of its own region, or else to the cluster with
the lowest round-trip time from it (as a deployment would give each client its local URLs).

Accounts: ``messaging.accounts`` is the ``accounts`` block of nats-server.conf. Its ``users``
name who connects as that account: a service name, or ``clients`` for the edge clients; a
service or the edge listed nowhere connects to the global account ``$G``, as a user without an
account does; a user's ``permissions`` are enforced by the server
(:mod:`sim.messaging.permissions`). :func:`check_messaging` validates all of it (regions,
users and their permissions, and the accounts themselves through
:class:`~sim.messaging.accounts.AccountSpace`) and raises the loader's ``FILE:LINE`` error:
an :class:`AccountConfigError`'s ``path`` is mapped under ``messaging``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.messaging.accounts import GLOBAL_ACCOUNT, AccountConfigError, AccountSpace
from sim.messaging.permissions import PermissionsError
from sim.messaging.permissions import parse as parse_permissions
from sim.scenario.loader import Source
from sim.scenario.model import Scenario

EDGE_USER = "clients"


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """One cluster to build: its name, region and server names."""

    name: str
    region: str
    servers: tuple[str, ...]


def clusters(sc: Scenario) -> list[ClusterPlan]:
    """The clusters of the deployment (one default cluster when none are configured)."""
    m = sc.messaging
    first = sc.placement.regions[0].name
    if not m.clusters:
        names = tuple(f"nats-{i}" for i in range(m.broker.servers))
        return [ClusterPlan("C1", first, names)]
    return [
        ClusterPlan(
            c.name, c.region or first, tuple(f"nats-{c.name}-{i}" for i in range(c.servers))
        )
        for c in m.clusters
    ]


def account_of_users(accounts: Mapping[str, Any]) -> dict[str, str]:
    """Which account each user (service name or ``clients``) belongs to."""
    out: dict[str, str] = {}
    for name, body in accounts.items():
        for u in (body or {}).get("users", []) or []:
            if isinstance(u, Mapping) and "user" in u:
                out[str(u["user"])] = str(name)
    return out


def account_for(users: Mapping[str, str], who: str) -> str:
    """The account a service (or ``clients``) connects as; ``$G`` when not listed."""
    return users.get(who, GLOBAL_ACCOUNT)


def check_messaging(sc: Scenario, src: Source) -> None:
    """Raise the first problem of the messaging section as a ``FILE:LINE`` ScenarioError."""
    m = sc.messaging
    regions = {r.name for r in sc.placement.regions}
    seen: set[str] = set()
    for i, c in enumerate(m.clusters):
        if c.region is not None and c.region not in regions:
            raise src.error(
                ("messaging", "clusters", i, "region"),
                f"unknown region {c.region!r} (placement.regions has {sorted(regions)})",
            )
        if c.name in seen:
            raise src.error(("messaging", "clusters", i, "name"), f"duplicate cluster {c.name!r}")
        seen.add(c.name)
    if m.ingress.kind == "leafnode":
        for name, body in m.accounts.items():
            if (body or {}).get("imports"):
                raise src.error(
                    ("messaging", "ingress", "kind"),
                    f"leaf nodes with account imports are not modelled (account {name!r} "
                    "imports): the hub would send the imported subjects as interest",
                )
    try:
        AccountSpace.from_config(m.accounts)
    except AccountConfigError as e:
        path = ("messaging", *e.path) if e.path else ("messaging", "accounts")
        message = str(e)
        where = ".".join(str(p) for p in e.path)
        if where and message.startswith(where + ": "):
            message = message[len(where) + 2 :]
        raise src.error(path, message) from None
    owners: dict[str, str] = {}
    for name, body in m.accounts.items():
        users = (body or {}).get("users", []) or []
        if not isinstance(users, list):
            raise src.error(("messaging", "accounts", name, "users"), "users must be a list")
        for j, u in enumerate(users):
            path = ("messaging", "accounts", name, "users", j)
            if not isinstance(u, Mapping) or not isinstance(u.get("user"), str):
                raise src.error(path, "a user is a map with a `user` name")
            who = u["user"]
            if who != EDGE_USER and who not in sc.services:
                raise src.error(
                    (*path, "user"),
                    f"user {who!r} is neither a service nor {EDGE_USER!r} (the edge clients)",
                )
            if who in owners:
                raise src.error(
                    (*path, "user"), f"user {who!r} is already in account {owners[who]!r}"
                )
            owners[who] = name
            try:
                parse_permissions(u.get("permissions"))
            except PermissionsError as e:
                raise src.error((*path, "permissions", *e.path), str(e)) from None
            except (ValueError, TypeError) as e:
                raise src.error((*path, "permissions"), str(e)) from None
