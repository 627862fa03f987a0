"""The broker's per-message caches give what recomputing from scratch gives.

* Routing plans (:func:`sim.messaging.routing.plan`) keep what is fixed per match with the
  match; interest that changes mid-run (SUB/UNSUB, queue members coming and going, route and
  gateway interest, a server killed and restarted, a gateway down) must be seen at once. The
  reference below is the plan as it was computed before the cache, message by message.
* Subject matches of subjects seen once (reply subjects) are kept by prefix
  (:class:`sim.messaging.subjects.SubjectIndex`); literal and wildcard subscriptions must
  invalidate exactly what they change.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.core.trace import Trace
from sim.messaging.accounts import AccountSpace, Delivery
from sim.messaging.broker import BrokerServer
from sim.messaging.message import Interest, Msg, RemoteInterest
from sim.messaging.recovery import restart
from sim.messaging.routing import _key, _local_ok, plan
from sim.messaging.sandbox import Sandbox
from sim.messaging.subjects import SubjectIndex, Subscription, pattern_matches

NET: dict[str, Any] = {
    "regions": [{"name": "eu", "zones": ["a"]}, {"name": "us", "zones": ["a"]}],
    "network": {
        "same_host_rtt": 0,
        "same_zone_rtt": 0.002,
        "cross_zone_rtt": 0.002,
        "region_rtt": {"eu": {"us": 0.08}},
        "bandwidth": 1e15,
    },
}
SUBJECTS = ["work", "work.a", "ev.x", "ev.y", "_INBOX.r.7"]
PATTERNS = ["work", "work.*", "ev.>", "ev.x", "_INBOX.r.*"]


def reference_plan(server: BrokerServer, msg: Msg, frm: str) -> Any:
    """The plan recomputed from the match for every message (the code before the cache)."""
    m = server.space.match(msg.account, msg.subject)
    local: list[Delivery] = []
    routes: dict[Any, list[Any]] = {}
    gws: dict[Any, list[Any]] = {}
    for d in m.plain:
        o = d.sub.owner
        if isinstance(o, Interest):
            if _local_ok(d, msg, frm):
                local.append(d)
        elif isinstance(o, RemoteInterest) and (
            frm == "client" or (frm == "gateway" and not o.gateway)
        ):
            if o.gateway:
                if server.fabric.gateway_up(server, o.origin.cluster):
                    gws.setdefault((o.origin.cluster, _key(msg, d)), [])
            else:
                routes.setdefault((o.origin, _key(msg, d)), [])
    for qk, members in m.queues.items():
        if frm != "client" and qk not in msg.queues:
            continue
        near: list[tuple[Delivery, int]] = []
        peers: list[tuple[Delivery, int]] = []
        far: dict[str, Delivery] = {}
        for d in members:
            o = d.sub.owner
            if isinstance(o, Interest):
                if _local_ok(d, msg, frm):
                    near.append((d, 1))
            elif isinstance(o, RemoteInterest):
                if o.gateway:
                    far.setdefault(o.origin.cluster, d)
                elif o.weight > 0:
                    peers.append((d, o.weight))
        if frm == "route":
            chosen = _choose_ref(server, near) or _choose_ref(server, peers)
        else:
            chosen = _choose_ref(server, near + peers)
        if chosen is not None:
            o = chosen.sub.owner
            if isinstance(o, Interest):
                local.append(chosen)
            elif isinstance(o, RemoteInterest):
                routes.setdefault((o.origin, _key(msg, chosen)), []).append(qk)
            continue
        far = {c: d for c, d in far.items() if server.fabric.gateway_up(server, c)}
        if frm == "client" and far:
            best = min(far, key=lambda c: (server.fabric.gateway_rtt(server, c), c))
            gws.setdefault((best, _key(msg, far[best])), []).append(qk)
    return local, routes, gws


def _choose_ref(server: BrokerServer, cands: list[tuple[Delivery, int]]) -> Delivery | None:
    if not cands:
        return None
    if len(cands) == 1:
        return cands[0][0]
    total = sum(w for _, w in cands)
    r = server.pick() * total
    for d, w in cands:
        r -= w
        if r < 0:
            return d
    return cands[-1][0]


def _compare_all(box: Sandbox, rng: random.Random) -> tuple[int, int]:
    """Cached plan == reference for every live server, subject and origin; (hits, checks)."""
    hits = checks = 0
    for server in box.servers:
        if not server.alive:
            continue
        for subject in SUBJECTS:
            for frm in ("client", "route", "gateway"):
                queues = (("$G", "q"),) if rng.random() < 0.5 else ()
                msg = Msg("$G", subject, "_INBOX.r.1", 0.0, Trace(-1, "t", 0.0), 0.0)
                msg.queues = queues
                u = rng.random()
                server.pick = lambda u=u: u  # type: ignore[method-assign]  # same draw for both
                m = server.space.match("$G", subject)
                key = (frm, False, queues if frm != "client" else ())
                hits += m.derived is not None and key in m.derived
                got = plan(server, msg, frm)
                assert got == reference_plan(server, msg, frm), (server.name, subject, frm)
                checks += 1
    return hits, checks


def test_plan_cache_follows_interest_changes_mid_run() -> None:
    """A supercluster (two servers in eu, one in us) where clients come and go, subscribe
    plain and in a queue group, unsubscribe, and a server dies and restarts: after every
    change has propagated (and also while RS+/RS- are still on their way) the cached plan of
    every server equals the plan recomputed from scratch, for clients', routes' and
    gateways' messages; and the cache is used (most checks are hits)."""
    box = Sandbox(
        {
            "clusters": [
                {"name": "eu", "region": "eu", "servers": 2},
                {"name": "us", "region": "us", "servers": 1},
            ],
            "broker": {"io": None},
            "tls": {"version": "none"},
        },
        NET,
    )
    rng = random.Random(7)
    names = [s.name for s in box.servers]
    conns = [box.client(f"c{k}", server=names[k % 3]) for k in range(6)]
    live: list[tuple[Any, Interest]] = []
    t = 0.5
    box.run(t)
    hits = checks = 0
    for _ in range(60):
        op = rng.random()
        conn = rng.choice(conns)
        if op < 0.45 or not live:
            queue = "q" if rng.random() < 0.5 else None
            live.append((conn, box.subscribe(conn, rng.choice(PATTERNS), queue)))
        elif op < 0.85:
            c, interest = live.pop(rng.randrange(len(live)))
            box.unsubscribe(c, interest)
        else:  # a server (its routes and gateways with it) dies, or a dead one restarts
            server = box.fabric.servers[rng.choice(names[1:])]
            if server.alive:
                server.kill()
            else:
                restart(box.fabric, server)
        # check while interest is still travelling, then once it has arrived
        for dt in (0.0005, rng.choice([0.01, 0.2, 3.0])):
            t += dt
            box.run(t)
            h, c = _compare_all(box, rng)
            hits, checks = hits + h, checks + c
    assert checks > 1000 and hits > checks // 10


def test_plan_cache_sees_queue_weight_changes_without_a_new_match() -> None:
    """A second queue member on a server that already has one changes only the mirror's
    weight on its peers (no new subscription there): the pick must use the new weight."""
    box = Sandbox(
        {"broker": {"servers": 2, "io": None}},
        {"network": NET["network"]},
    )
    a, b = box.servers
    m1, m2 = box.client("m1", server=b.name), box.client("m2", server=b.name)
    local = box.client("l", server=a.name)
    box.subscribe(local, "work", "q")
    box.subscribe(m1, "work", "q")
    box.run(1.0)
    msg = Msg("$G", "work", None, 0.0, Trace(-1, "t", 0.0), 0.0)
    a.pick = lambda: 0.6  # type: ignore[method-assign]  # [local 1, remote 1]: the remote one
    first = plan(a, msg, "client")
    match = a.space.match("$G", "work")
    assert [d.sub.owner for d in first[0]] == [] and len(first[1]) == 1
    box.subscribe(m2, "work", "q")
    box.run(2.0)
    assert a.space.match("$G", "work") is match  # the mirror's weight changed, not the space
    a.pick = lambda: 0.4  # type: ignore[method-assign]  # [local 1, remote 2]: remote now
    assert plan(a, msg, "client") == reference_plan(a, msg, "client")
    assert len(plan(a, msg, "client")[1]) == 1


def test_plan_with_nothing_to_choose_draws_nothing_and_is_a_fresh_list() -> None:
    """One local queue member and a plain subscriber: the plan is fixed with the skeleton
    (no draw, no walk); each message gets its own list. A second member means a choice:
    the pick is drawn again, as before the cache."""
    box = Sandbox({"broker": {"io": None}}, {"network": NET["network"]})
    (server,) = box.servers
    c1, c2, c3 = box.client("c1"), box.client("c2"), box.client("c3")
    box.subscribe(c1, "work", "q")
    box.subscribe(c2, "work")
    box.run(1.0)
    msg = Msg("$G", "work", None, 0.0, Trace(-1, "t", 0.0), 0.0)
    draws: list[float] = []
    server.pick = lambda: draws.append(0.7) or 0.7  # type: ignore[method-assign]
    first = plan(server, msg, "client")
    assert first == reference_plan(server, msg, "client") and len(first[0]) == 2
    first[0].clear()
    assert len(plan(server, msg, "client")[0]) == 2 and draws == []
    box.subscribe(c3, "work", "q")
    box.run(2.0)
    assert plan(server, msg, "client") == reference_plan(server, msg, "client")
    assert len(draws) == 2  # one per plan: the group has two members now


# ------------------------------------------------------------------ subjects seen once
TOKENS = ["a", "b", "1", "2", "3", "x1"]
pattern = st.lists(st.sampled_from([*TOKENS, "*", ">"]), min_size=1, max_size=3).map(".".join)
subject = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=3).map(".".join)


@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("sub"), pattern),
            st.tuples(st.just("unsub"), st.integers(0, 20)),
            st.tuples(st.just("match"), subject),
            st.tuples(st.just("reply"), st.integers(0, 10_000)),
        ),
        max_size=50,
    )
)
@settings(max_examples=300, deadline=None)
def test_matches_kept_by_prefix_agree_with_the_patterns(ops: list[tuple[str, Any]]) -> None:
    """Subscriptions with literal numeric tokens and wildcards, and subjects whose last
    token is new (``a.<n>``) or also a subscription's literal token: every match equals the
    subscriptions whose pattern matches, whatever was cached before."""
    index = SubjectIndex()
    live: list[Subscription] = []
    for op, arg in ops:
        if op == "sub":
            if ">" in arg.split(".")[:-1]:
                continue
            live.append(index.subscribe(arg))
        elif op == "unsub" and live:
            assert index.unsubscribe(live.pop(arg % len(live)))
        elif op in ("match", "reply"):
            subj = arg if op == "match" else f"a.{arg}"
            expected = tuple(
                sorted((s for s in live if pattern_matches(s.subject, subj)), key=lambda s: s.sid)
            )
            assert index.match(subj).plain == expected, subj


def test_reply_subjects_are_not_cached_one_by_one() -> None:
    """Ten thousand replies on one inbox: one entry kept (by prefix), none per subject."""
    index = SubjectIndex()
    h = index.subscribe("_INBOX.abc.*")
    index.subscribe("svc.op.1")  # a literal "1" elsewhere: "_INBOX.abc.1" is matched in full
    for n in range(10_000):
        assert index.match(f"_INBOX.abc.{n}").plain == (h,)
    assert len(index._cache) <= 1 and len(index._tails) == 1


def test_reply_subjects_get_their_deliveries_from_the_index_match_as_before() -> None:
    """A subject seen once whose index match holds only plain subscriptions of its account
    gets its deliveries straight from that match; every change of the index (another plain
    subscriber, a queue group, a stream import's shadow, an unsubscribe) is seen at once:
    the match always equals the one made from scratch (``_collect``)."""
    space = AccountSpace.from_config(
        {
            "A": {"exports": [{"stream": "rep.>"}]},
            "B": {"imports": [{"stream": {"account": "A", "subject": "rep.>"}}]},
        }
    )
    n = iter(range(10**6))

    def check(account: str, prefix: str) -> None:
        for _ in range(3):
            subject = f"{prefix}.{next(n)}"
            got = space.match(account, subject)
            space._local_only.clear()  # the match made from scratch
            want = space.match(account, subject)
            assert got == want and got.derived is None and want.derived is None
            assert all(d.subject == subject for d in got.plain)

    first = space.subscribe("A", "rep.r.*")
    check("A", "rep.r")
    check("A", "rep.r")  # now from the kept match
    assert space._local_only
    second = space.subscribe("A", "rep.>")
    check("A", "rep.r")
    group = space.subscribe("A", "rep.r.*", "q")
    check("A", "rep.r")
    space.unsubscribe(group)
    check("A", "rep.r")
    shadow = space.subscribe("B", "rep.r.*")  # a shadow in A's index: a stream delivery
    check("A", "rep.r")
    assert any(d.via == "stream" for d in space.match("A", "rep.r.99999").plain)
    for sub in (shadow, second, first):
        space.unsubscribe(sub)
        check("A", "rep.r")
    assert not space.match("A", "rep.r.123456")
