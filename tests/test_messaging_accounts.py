"""Accounts in a scenario: the ``accounts`` block of nats-server.conf, enforced by the broker.

Traffic crosses accounts only where both sides agree (an export and a matching import); an
import without an export is a scenario error at its ``FILE:LINE``; the audit service hears
the order traffic through a stream import; every cost is booked per account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sim
from sim.messaging.message import Interest, Msg
from sim.messaging.permissions import parse as parse_permissions
from sim.messaging.sandbox import Sandbox
from sim.results import RunResult
from sim.scenario import ScenarioError
from tests.helpers import scenario

ROOT = Path(__file__).resolve().parents[1]
ACCOUNTS = ROOT / "scenarios" / "messaging-accounts.yaml"
SHORT = ["run.duration=3", "run.warmup=1"]


def run(*sets: str) -> RunResult:
    return sim.simulate(sim.load_scenario(ACCOUNTS, [*SHORT, *sets]), "messaging")


def counts(r: RunResult) -> dict[tuple[str, str, str], int]:
    g = r.requests.groupby(["kind", "flow", "status"]).size()
    return {k: int(v) for k, v in g.items()}


def test_import_without_export_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = ACCOUNTS.read_text().replace('        - {stream: "ORDERS.>", accounts: [AUDIT]}\n', "")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    line = next(
        i for i, row in enumerate(text.splitlines(), 1) if "{stream: {account: ORDERS" in row
    )
    with pytest.raises(ScenarioError) as err:
        sim.load_scenario(bad)
    assert str(err.value).startswith(f"{bad}:{line}: messaging.accounts.AUDIT.imports.0: ")
    assert "not authorized" in str(err.value)


def test_export_to_another_account_only() -> None:
    text = ACCOUNTS.read_text().replace("accounts: [AUDIT]", "accounts: [SHOP]")
    with pytest.raises(ScenarioError, match=r"messaging.accounts.AUDIT.imports.0"):
        scenario(text, "x.yaml")


def test_users_must_be_services_or_clients() -> None:
    text = ACCOUNTS.read_text().replace("{user: order-audit}", "{user: order-audtt}")
    line = next(i for i, r in enumerate(text.splitlines(), 1) if "order-audtt" in r)
    with pytest.raises(ScenarioError) as err:
        scenario(text, "x.yaml")
    assert str(err.value).startswith(f"x.yaml:{line}: messaging.accounts.AUDIT.users.0.user: ")


def test_traffic_crosses_only_where_both_agree() -> None:
    r = run()
    c = counts(r)
    n = c[("request", "create-order", "ok")]
    assert n > 300
    # the audit hears what is published inside ORDERS (dispatch requests, created events),
    # not the shop's requests that reached ORDERS through a service import
    # (rows belong to the window by their start: a few straddle its edges)
    assert c[("event", "ORDERS.cmd.dispatch → order-audit", "ok")] == pytest.approx(n, abs=2)
    assert c[("event", "ORDERS.created → order-audit", "ok")] == pytest.approx(n, abs=2)
    assert ("event", "ORDERS.cmd.create → order-audit", "ok") not in c
    # without the shop's service import its clients reach nobody: 503 at once
    alone = run("messaging.accounts.SHOP.imports=[]")
    statuses = set(alone.requests[alone.requests["kind"] == "request"]["status"])
    assert statuses == {"no_responders"}
    # without the audit's stream import (export kept) it hears nothing
    deaf = run("messaging.accounts.AUDIT.imports=[]")
    assert not deaf.requests["flow"].str.endswith("order-audit").any()


def test_every_cost_is_booked_per_account() -> None:
    r = run()
    b = r.broker
    acc = b[b["scope"] == "account"].pivot_table(index="name", columns="metric", values="value")
    broker = r.components[r.components["kind"] == "broker"]
    assert acc["cpu_seconds"].sum() == pytest.approx(broker["cpu_seconds"].sum(), rel=1e-3)
    n = counts(r)[("request", "create-order", "ok")]
    # SHOP publishes the requests (its replies come back in SHOP after the service import)
    assert acc.loc["SHOP", "messages_in"] == pytest.approx(n, abs=2)
    # AUDIT only receives: two copies per order
    assert acc.loc["AUDIT", "messages_out"] == pytest.approx(2 * n, abs=4)
    assert acc.loc["AUDIT", "cpu_seconds"] > 0
    memory = acc["memory_bytes_mean"]
    assert set(memory.index) >= {"SHOP", "ORDERS", "AUDIT"}
    assert memory["SHOP"] > memory["AUDIT"]  # 16 client connections against one


# ---------------------------------------------------------------- user permissions
def _responder_box(perms: dict[str, object]) -> tuple[Sandbox, Any, Any]:
    b = Sandbox({"tls": {"version": "none"}})
    r, s = b.client("r"), b.client("s")
    s.restrict(parse_permissions(perms))
    return b, r, s


def test_allow_responses_lets_a_restricted_responder_answer_once() -> None:
    """publish allow [] + allow_responses: the reply to a request it got goes through, a
    second reply to the same request is refused, anything else too."""
    b, r, s = _responder_box({"publish": {"allow": []}, "allow_responses": True})
    got: list[str] = []

    def answer_twice(msg: Msg, interest: Interest) -> None:
        for _ in range(2):
            out = Msg(s.account, msg.reply or "", None, 0.0, msg.tr, msg.start, "ok")
            out.sender = s
            s.publish(out)
        b.publish(s, "elsewhere")
        got.append(msg.subject)

    s.subscribe("svc", "q", "responder", handler=answer_twice)
    b.run(1.0)
    p = b.request(r, "svc")
    b.run(2.0)
    assert got == ["svc"] and p.value[0] == "ok"
    violations = b.servers[0].book.tallies[("server", "nats-0", "permission_violations")]
    assert violations.value == 2  # the second reply and the other subject
    assert r.late_replies == 0  # the second reply never reached the requester


def test_without_allow_responses_the_reply_is_refused_and_the_request_times_out() -> None:
    b, r, s = _responder_box({"publish": {"allow": ["other.>"]}})
    b.respond(s, "svc", "q")
    b.run(1.0)
    p = b.request(r, "svc", timeout=0.5)
    b.run(2.0)
    assert p.value == ("timeout", None)


def test_subscribe_permission_refuses_interest() -> None:
    b, r, s = _responder_box({"subscribe": {"allow": ["_INBOX.>"], "deny": ["svc"]}})
    b.respond(s, "svc", "q")
    b.run(1.0)
    p = b.request(r, "svc")
    b.run(2.0)
    assert p.value[0] == "no_responders"


def test_bad_permissions_are_a_scenario_error_at_their_line() -> None:
    text = ACCOUNTS.read_text().replace(
        "{user: order-audit}", "{user: order-audit, permissions: {publsh: [x]}}"
    )
    line = next(i for i, r in enumerate(text.splitlines(), 1) if "publsh" in r)
    with pytest.raises(ScenarioError) as err:
        scenario(text, "x.yaml")
    assert str(err.value).startswith(f"x.yaml:{line}: messaging.accounts.AUDIT.users.0.")
