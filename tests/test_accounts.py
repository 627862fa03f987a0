"""Unit and property tests for sim.messaging.accounts (no server needed)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.messaging.accounts import (
    GLOBAL_ACCOUNT,
    AccountConfigError,
    AccountMatch,
    AccountSpace,
    ServiceRoute,
)
from sim.messaging.subjects import InvalidSubject, is_valid_subject, pattern_matches


def receivers(m: AccountMatch) -> set[tuple[str, int, str, str]]:
    return {(d.account, d.sub.sid, d.subject, d.via) for d in m.plain}


def imp_stream(account: str, subject: str, **extra: Any) -> dict[str, Any]:
    return {"stream": {"account": account, "subject": subject}, **extra}


def imp_service(account: str, subject: str, **extra: Any) -> dict[str, Any]:
    return {"service": {"account": account, "subject": subject}, **extra}


ORDERS = {
    "CREATE": {
        "users": [{"user": "c", "password": "x"}],
        "exports": [{"stream": "ORDERS.>"}, {"service": "orders.dispatch"}],
    },
    "AUDIT": {"imports": [imp_stream("CREATE", "ORDERS.>")]},
    "ARCHIVE": {"imports": [imp_stream("CREATE", "ORDERS.>", prefix="arch")]},
    "APP": {"imports": [imp_service("CREATE", "orders.dispatch", to="dispatch")]},
    "OTHER": None,
}


@pytest.fixture
def space() -> AccountSpace:
    return AccountSpace.from_config(ORDERS)


# ----------------------------------------------------------------------------- streams


def test_accounts_listed_with_global(space: AccountSpace) -> None:
    assert space.accounts == (GLOBAL_ACCOUNT, "CREATE", "AUDIT", "ARCHIVE", "APP", "OTHER")


def test_stream_import_without_prefix(space: AccountSpace) -> None:
    h = space.subscribe("AUDIT", "ORDERS.>")
    local = space.subscribe("CREATE", "ORDERS.created")
    m = space.match("CREATE", "ORDERS.created")
    assert receivers(m) == {
        ("AUDIT", h.sid, "ORDERS.created", "stream"),
        ("CREATE", local.sid, "ORDERS.created", "local"),
    }
    assert space.account_of(h) == "AUDIT" and space.account_of(local) == "CREATE"
    assert not space.match("CREATE", "ORDERSX.created")


def test_stream_is_one_way(space: AccountSpace) -> None:
    space.subscribe("CREATE", "ORDERS.>")
    space.subscribe("ARCHIVE", ">")
    assert not space.match("AUDIT", "ORDERS.created")  # AUDIT has no subscribers itself


def test_stream_import_with_prefix(space: AccountSpace) -> None:
    wide = space.subscribe("ARCHIVE", "arch.>")
    exact = space.subscribe("ARCHIVE", "arch.ORDERS.created")
    unprefixed = space.subscribe("ARCHIVE", "ORDERS.created")
    m = space.match("CREATE", "ORDERS.created")
    assert receivers(m) == {
        ("ARCHIVE", wide.sid, "arch.ORDERS.created", "stream"),
        ("ARCHIVE", exact.sid, "arch.ORDERS.created", "stream"),
    }
    assert unprefixed.sid not in {d.sub.sid for d in m.plain}
    # a publish inside ARCHIVE on the prefixed subject is plain local traffic
    assert receivers(space.match("ARCHIVE", "arch.ORDERS.created")) == {
        ("ARCHIVE", wide.sid, "arch.ORDERS.created", "local"),
        ("ARCHIVE", exact.sid, "arch.ORDERS.created", "local"),
    }


@pytest.mark.parametrize("prefix", ["p", "p."])
def test_prefix_with_or_without_trailing_dot(prefix: str) -> None:
    s = AccountSpace.from_config(
        {
            "A": {"exports": [{"stream": "x.*"}]},
            "B": {"imports": [imp_stream("A", "x.*", prefix=prefix)]},
        }
    )
    h = s.subscribe("B", "p.x.*")
    assert receivers(s.match("A", "x.1")) == {("B", h.sid, "p.x.1", "stream")}


@pytest.mark.parametrize(
    ("imported", "to", "sub", "published", "delivered"),
    [
        ("ORDERS.*", "o.*", "o.*", "ORDERS.new", "o.new"),
        ("ORDERS.*", "o.*", "o.new", "ORDERS.new", "o.new"),
        ("ORDERS.*.*", "o.$2.$1", "o.b.a", "ORDERS.a.b", "o.b.a"),
        ("ORDERS.*.*", "o.$2.$1", "o.*.a", "ORDERS.a.b", "o.b.a"),
        ("ORDERS.>", "o.>", "*.x.>", "ORDERS.x.y", "o.x.y"),
        ("ORDERS.new", "fresh", "fresh", "ORDERS.new", "fresh"),
        ("ORDERS.*", "ORDERS.*", "ORDERS.new", "ORDERS.new", "ORDERS.new"),
    ],
)
def test_stream_import_to_mapping(
    imported: str, to: str, sub: str, published: str, delivered: str
) -> None:
    s = AccountSpace.from_config(
        {
            "A": {"exports": [{"stream": "ORDERS.>"}]},
            "B": {"imports": [imp_stream("A", imported, to=to)]},
        }
    )
    h = s.subscribe("B", sub)
    assert receivers(s.match("A", published)) == {("B", h.sid, delivered, "stream")}


def test_streams_cross_one_hop_only() -> None:
    s = AccountSpace.from_config(
        {
            "A": {"exports": [{"stream": "ev.>"}]},
            "B": {"imports": [imp_stream("A", "ev.>")], "exports": [{"stream": "ev.>"}]},
            "C": {"imports": [imp_stream("B", "ev.>")]},
        }
    )
    b, c = s.subscribe("B", "ev.>"), s.subscribe("C", "ev.>")
    assert receivers(s.match("A", "ev.1")) == {("B", b.sid, "ev.1", "stream")}
    assert receivers(s.match("B", "ev.1")) == {
        ("B", b.sid, "ev.1", "local"),
        ("C", c.sid, "ev.1", "stream"),
    }


def test_overlapping_imports_give_one_copy_each() -> None:
    s = AccountSpace.from_config(
        {
            "A": {"exports": [{"stream": "ORDERS.>"}]},
            "B": {"imports": [imp_stream("A", "ORDERS.>"), imp_stream("A", "ORDERS.*", to="o.*")]},
        }
    )
    h = s.subscribe("B", ">")
    got = sorted((d.sub.sid, d.subject) for d in s.match("A", "ORDERS.x").plain)
    assert got == [(h.sid, "ORDERS.x"), (h.sid, "o.x")]


def test_isolation_without_agreement(space: AccountSpace) -> None:
    other = space.subscribe("OTHER", ">")
    app = space.subscribe("APP", ">")
    assert other.sid not in {d.sub.sid for d in space.match("CREATE", "ORDERS.x").plain}
    assert app.sid not in {d.sub.sid for d in space.match("CREATE", "ORDERS.x").plain}
    mine = space.subscribe("CREATE", ">")
    assert receivers(space.match("OTHER", "ORDERS.x")) == {
        ("OTHER", other.sid, "ORDERS.x", "local")
    }
    assert mine.sid not in {d.sub.sid for d in space.match("AUDIT", "ORDERS.x").plain}


def test_export_allow_list() -> None:
    cfg = {
        "A": {"exports": [{"stream": "s.>", "accounts": ["B"]}]},
        "B": {"imports": [imp_stream("A", "s.>")]},
        "C": {"imports": [imp_stream("A", "s.>")]},
    }
    with pytest.raises(AccountConfigError) as err:
        AccountSpace.from_config(cfg)
    assert err.value.path == ("accounts", "C", "imports", 0)
    del cfg["C"]
    s = AccountSpace.from_config(cfg)
    h = s.subscribe("B", "s.x")
    assert receivers(s.match("A", "s.x")) == {("B", h.sid, "s.x", "stream")}


# ----------------------------------------------------------------------------- queue groups


def test_queue_groups_per_account_and_merged_on_streams(space: AccountSpace) -> None:
    a = space.subscribe("CREATE", "ORDERS.x", queue="q")
    b = space.subscribe("AUDIT", "ORDERS.x", queue="q")
    o = space.subscribe("OTHER", "ORDERS.x", queue="q")
    m = space.match("CREATE", "ORDERS.x")
    # nats-server: the importer's shadow joins the exporter's same-named group
    assert list(m.queues) == [("CREATE", "q")]
    assert [d.sub for d in m.queues[("CREATE", "q")]] == [a, b]
    assert [d.sub for d in space.match("OTHER", "ORDERS.x").queues[("OTHER", "q")]] == [o]
    assert [d.sub for d in space.match("AUDIT", "ORDERS.x").queues[("AUDIT", "q")]] == [b]


def test_service_forwarding_selects_groups_per_account(space: AccountSpace) -> None:
    responder = space.subscribe("CREATE", "orders.dispatch", queue="q")
    local = space.subscribe("APP", "dispatch", queue="q")
    m = space.match("APP", "dispatch")
    assert list(m.queues) == [("APP", "q"), ("CREATE", "q")]
    assert m.queues[("APP", "q")][0].sub == local
    d = m.queues[("CREATE", "q")][0]
    assert (d.account, d.sub, d.subject, d.via) == (
        "CREATE",
        responder,
        "orders.dispatch",
        "service",
    )


# ----------------------------------------------------------------------------- services


def test_service_import_and_route_request(space: AccountSpace) -> None:
    responder = space.subscribe("CREATE", "orders.dispatch")
    assert receivers(space.match("APP", "dispatch")) == {
        ("CREATE", responder.sid, "orders.dispatch", "service")
    }
    assert space.route_request("APP", "dispatch") == ServiceRoute("CREATE", "orders.dispatch")
    assert space.route_request("APP", "orders.dispatch") is None
    assert space.route_request("OTHER", "dispatch") is None
    assert not space.match("CREATE", "dispatch")  # the import is one-way
    target_account, target_subject = space.route_request("APP", "dispatch") or ("", "")
    assert (target_account, target_subject) == ("CREATE", "orders.dispatch")


def test_service_wildcard_mapping_and_no_stream_reexport() -> None:
    s = AccountSpace.from_config(
        {
            "A": {"exports": [{"service": "svc.*.*"}, {"stream": "svc.>"}]},
            "B": {"imports": [imp_service("A", "svc.*.*", to="loc.$2.$1")]},
            "C": {"imports": [imp_stream("A", "svc.>")]},
        }
    )
    resp = s.subscribe("A", "svc.>")
    watcher = s.subscribe("C", "svc.>")
    assert s.route_request("B", "loc.1.2") == ("A", "svc.2.1")
    assert receivers(s.match("B", "loc.1.2")) == {("A", resp.sid, "svc.2.1", "service")}
    assert ("C", watcher.sid, "svc.2.1", "stream") in receivers(s.match("A", "svc.2.1"))


def test_chained_service_imports() -> None:
    s = AccountSpace.from_config(
        {
            "A": {"exports": [{"service": "asvc"}]},
            "B": {
                "imports": [imp_service("A", "asvc", to="bsvc")],
                "exports": [{"service": "bsvc"}],
            },
            "C": {"imports": [imp_service("B", "bsvc")]},
        }
    )
    resp = s.subscribe("A", "asvc")
    assert s.route_request("C", "bsvc") == ("A", "asvc")
    assert receivers(s.match("C", "bsvc")) == {("A", resp.sid, "asvc", "service")}


@pytest.mark.parametrize(
    ("response", "kept"), [("Singleton", False), ("Stream", True), ("chunked", True)]
)
def test_reply_mapping(response: str, kept: bool) -> None:
    s = AccountSpace.from_config(
        {
            "A": {"exports": [{"service": "svc", "response": response}]},
            "B": {"imports": [imp_service("A", "svc")]},
        }
    )
    route = s.route_request("B", "svc")
    assert route is not None
    mapped = s.map_reply("B", "_INBOX.b.1", route)
    assert mapped.startswith("_R_.") and is_valid_subject(mapped)
    assert mapped != s.map_reply("B", "_INBOX.b.2", route)
    assert s.resolve_reply("A", mapped) == ("B", "_INBOX.b.1")
    assert (s.resolve_reply("A", mapped) is not None) is kept
    s.close_reply("A", mapped)
    assert s.resolve_reply("A", mapped) is None
    assert s.resolve_reply("B", mapped) is None


# ----------------------------------------------------------------------------- bookkeeping


def test_subscriptions_unsubscribe_and_cache(space: AccountSpace) -> None:
    assert not space.match("CREATE", "ORDERS.x")
    h = space.subscribe("AUDIT", "ORDERS.*", owner="me")
    assert h.owner == "me"
    assert len(space.match("CREATE", "ORDERS.x").plain) == 1  # cache invalidated
    assert space.subscriptions("AUDIT") == (h,)
    assert space.subscriptions("CREATE") == ()  # the shadow is not listed
    assert len(space) == 1
    assert space.unsubscribe(h)
    assert not space.unsubscribe(h)
    assert not space.match("CREATE", "ORDERS.x")
    assert len(space) == 0


def test_invalid_subjects_propagate(space: AccountSpace) -> None:
    with pytest.raises(InvalidSubject):
        space.subscribe("AUDIT", "ORDERS..x")
    with pytest.raises(InvalidSubject):
        space.match("CREATE", "ORDERS.*")
    assert len(space) == 0


# ----------------------------------------------------------------------------- configuration errors

BASE: dict[str, Any] = {
    "A": {"exports": [{"stream": "s.*"}, {"service": "svc.>", "accounts": ["B"]}]}
}


@pytest.mark.parametrize(
    ("account", "entry", "needle"),
    [
        ("B", {"imports": [imp_stream("A", "t.*")]}, "not authorized"),
        ("B", {"imports": [imp_stream("A", "s.>")]}, "not authorized"),  # wider than export
        ("B", {"imports": [imp_stream("A", "svc.x")]}, "not authorized"),  # kind mismatch
        ("C", {"imports": [imp_service("A", "svc.x")]}, "allows account 'C'"),
        ("B", {"imports": [imp_stream("Z", "s.*")]}, "'Z' account not defined"),
        ("A", {"imports": [imp_stream("A", "s.*", prefix="me")]}, "imports from itself"),
        ("B", {"imports": [imp_stream("A", "s.*", prefix="p.*")]}, "wildcard"),
        ("B", {"imports": [imp_stream("A", "s.*", prefix="p", to="q.*")]}, "both"),
        ("B", {"imports": [imp_stream("A", "s.*", to="q")]}, "wildcard"),
        ("B", {"imports": [imp_stream("A", "s..x")]}, "invalid"),
        ("B", {"imports": [{"stream": {"account": "A"}}]}, "subject"),
        ("B", {"imports": [{"prefix": "x"}]}, "exactly one"),
        ("B", {"imports": [imp_stream("A", "s.*", bogus=1)]}, "bogus"),
        ("B", {"imports": [imp_stream("A", "s.*", prefix=7)]}, "strings"),
        ("B", {"imports": [{"stream": {"account": ["A"], "subject": "s.*"}}]}, "account name"),
        (
            "B",
            {"imports": [imp_stream("A", "s.*", prefix="p"), imp_stream("A", "s.*")]},
            "duplicate",
        ),
    ],
)
def test_import_errors_name_account_and_index(
    account: str, entry: dict[str, Any], needle: str
) -> None:
    cfg = {"B": {}, "C": {}, **BASE}
    cfg[account] = {**cfg.get(account, {}), **entry}
    with pytest.raises(AccountConfigError) as err:
        AccountSpace.from_config(cfg)
    n = len(entry["imports"]) - 1
    assert err.value.path == ("accounts", account, "imports", n)
    assert needle in str(err.value)
    assert f"accounts.{account}.imports.{n}" in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("cfg", "path"),
    [
        ({"$G": {}}, ("accounts", "$G")),
        ({"A": {"mappings": {"a": "b"}}}, ("accounts", "A")),
        ({"A": {"colour": "red"}}, ("accounts", "A")),
        ({"A": {"exports": [{"stream": "s", "accounts": ["Z"]}]}}, ("accounts", "A", "exports", 0)),
        (
            {"A": {"exports": [{"stream": "s", "response": "Stream"}]}},
            ("accounts", "A", "exports", 0),
        ),
        (
            {"A": {"exports": [{"service": "s", "response": "Sometimes"}]}},
            ("accounts", "A", "exports", 0),
        ),
        ({"A": {"exports": [{"stream": "s", "service": "t"}]}}, ("accounts", "A", "exports", 0)),
        ({"A": {"exports": [{"stream": "a..b"}]}}, ("accounts", "A", "exports", 0)),
        ({"A": {"exports": "s"}}, ("accounts", "A", "exports")),
        ({"A": ["s"]}, ("accounts", "A")),
    ],
)
def test_other_config_errors(cfg: dict[str, Any], path: tuple[Any, ...]) -> None:
    with pytest.raises(AccountConfigError) as err:
        AccountSpace.from_config(cfg)
    assert err.value.path == path


def test_cycles_are_refused() -> None:
    cfg = {
        "A": {"exports": [{"service": "ping"}], "imports": [imp_service("B", "ping")]},
        "B": {"exports": [{"service": "ping"}], "imports": [imp_service("A", "ping")]},
    }
    with pytest.raises(AccountConfigError, match="cycle") as err:
        AccountSpace.from_config(cfg)
    assert err.value.path == ("accounts", "B", "imports", 0)


def test_empty_allow_list_is_public_and_users_ignored() -> None:
    s = AccountSpace.from_config(
        {
            "A": {"users": [{"user": "a"}], "exports": [{"stream": "s", "accounts": []}]},
            "B": {"imports": [imp_stream("A", "s")], "users": "whatever"},
        }
    )
    h = s.subscribe("B", "s")
    assert receivers(s.match("A", "s")) == {("B", h.sid, "s", "stream")}


def test_self_import_allowed_on_request() -> None:
    cfg = {"A": {"exports": [{"stream": "s.>"}], "imports": [imp_stream("A", "s.>", prefix="me")]}}
    s = AccountSpace.from_config(cfg, allow_self_import=True)
    h = s.subscribe("A", "me.>")
    assert receivers(s.match("A", "s.1")) == {("A", h.sid, "me.s.1", "stream")}
    assert s.subscriptions("A") == (h,)


# ----------------------------------------------------------------------------- properties

tokens = st.sampled_from(["p", "ORDERS", "x", "y", "*", ">"])
sub_patterns = st.lists(tokens, min_size=1, max_size=5).map(".".join).filter(is_valid_subject)
literal_tail = st.lists(st.sampled_from(["x", "y", "ORDERS", "p"]), min_size=0, max_size=3)

IMPORT_SHAPES = {
    "prefix": (imp_stream("A", "ORDERS.>", prefix="p"), lambda s: f"p.{s}", 1),
    "to-swap": (imp_stream("A", "ORDERS.*.*", to="p.$2.$1"), None, 2),
    "plain": (imp_stream("A", "ORDERS.*"), lambda s: s, 1),
}


def swap(subject: str) -> str:
    _, a, b = subject.split(".")
    return f"p.{b}.{a}"


@pytest.mark.parametrize("shape", list(IMPORT_SHAPES))
@given(patterns=st.lists(sub_patterns, min_size=1, max_size=8), tail=literal_tail)
@settings(max_examples=80, deadline=None)
def test_shadow_subscriptions_deliver_exactly_the_matching_handles(
    shape: str, patterns: list[str], tail: list[str]
) -> None:
    """For one import, B's handle receives A's publish S iff its pattern matches map(S)."""
    entry, mapping, _ = IMPORT_SHAPES[shape]
    s = AccountSpace.from_config(
        {"A": {"exports": [{"stream": "ORDERS.>"}]}, "B": {"imports": [entry]}}
    )
    handles = [s.subscribe("B", p) for p in patterns]
    subject = ".".join(["ORDERS", *tail]) if tail else "ORDERS"
    imported = s.imports("B")[0].subject
    if pattern_matches(imported, subject):
        mapped = mapping(subject) if mapping else swap(subject)
        expected = {
            ("B", h.sid, mapped, "stream") for h in handles if pattern_matches(h.subject, mapped)
        }
    else:
        expected = set()
    m = s.match("A", subject)
    assert receivers(m) == expected
    assert len(m.plain) == len(expected)
