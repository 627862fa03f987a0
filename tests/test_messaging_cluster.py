"""Clusters (routes) and superclusters (gateways): routing rules and their exact timings.

Deployments are tiny and deterministic: RTTs are round numbers, TLS off, broker CPU zero
unless a test needs it, so every time asserted is a sum of one-way delays.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from scipy.stats import chisquare

from sim.messaging.cluster import fnv1a
from sim.messaging.sandbox import Sandbox

OW = 0.001  # one way inside a region (zones alike)
REGION_RTT = 0.08
NET: dict[str, Any] = {
    "network": {
        "same_host_rtt": 0,
        "same_zone_rtt": 2 * OW,
        "cross_zone_rtt": 2 * OW,
        "bandwidth": 1e15,
    }
}
TWO_REGIONS: dict[str, Any] = {
    "regions": [{"name": "eu", "zones": ["a"]}, {"name": "us", "zones": ["a"]}],
    "network": {**NET["network"], "region_rtt": {"eu": {"us": REGION_RTT}}},
}
ZERO = {"io": None}


def cluster(n: int = 3, **extra: Any) -> Sandbox:
    return Sandbox({"broker": {"servers": n, **ZERO}, "tls": {"version": "none"}, **extra}, NET)


def test_queue_member_uniform_over_all_members_on_all_servers() -> None:
    """Members spread 2/1/1 over three servers; publishers on two servers. Each member gets
    a quarter of the messages (chi-square at 1 %), not a third per server."""
    b = cluster()
    members = [b.client(f"m{k}", server=s) for k, s in enumerate((0, 0, 1, 2))]
    for m in members:
        b.subscribe(m, "work", "workers")
    pubs = [b.client("p0", server=0), b.client("p1", server=1)]
    b.run(1.0)
    n = 4000
    for k in range(n):
        b.publish(pubs[k % 2], "work", payload=k)
    b.run(2.0)
    counts = Counter(who for _t, who, *_ in b.log)
    assert sum(counts.values()) == n
    assert chisquare([counts[f"m{k}"] for k in range(4)]).pvalue > 0.01


def test_one_hop_and_one_copy_per_interested_route() -> None:
    """Two subscribers on server 2 and one on server 1: a publish on server 0 crosses each
    interested route once, and nothing goes on from there."""
    b = cluster()
    s1, s2a, s2b = b.client("s1", server=1), b.client("s2a", server=2), b.client("s2b", server=2)
    for c in (s1, s2a, s2b):
        b.subscribe(c, "news.*")
    p = b.client("p", server=0)
    b.run(1.0)
    b.publish(p, "news.today")
    b.run(2.0)
    assert sorted(who for _t, who, *_ in b.log) == ["s1", "s2a", "s2b"]
    routes: Counter[str] = Counter()
    for s in b.servers:
        for (scope, name, metric), t in s.book.tallies.items():
            if scope == "route" and metric == "messages":
                routes[name.split("[")[0]] += int(t.value)
    assert routes == {"nats-0→nats-1": 1, "nats-0→nats-2": 1}
    idx = fnv1a("$G") % 3  # the account's pool connection (route.go computeRoutePoolIdx)
    assert ("route", f"nats-0→nats-1[{idx}]", "messages") in b.servers[0].book.tallies


def test_interest_reaches_a_peer_one_way_after_the_sub() -> None:
    """A subscriber connects to server 2 (registered at 3 ms: handshake RTT, then CONNECT);
    server 0 learns it one way (1 ms) later. Publishes from server 0 that reach it earlier
    are not delivered (no interest yet), later ones are."""
    b = cluster()
    p = b.client("p", server=0)
    b.run(1.0)
    s = b.client("s", server=2)
    b.subscribe(s, "x")
    known = 1.0 + 3 * OW + OW
    sent = [1.00005 + 0.0001 * k for k in range(80)]  # no ties with the RS+ arrival
    for t in sent:
        b.env.process(_at(b, t, lambda: b.publish(p, "x")))
    b.run(2.0)
    got = [t for t, *_ in b.log]
    assert got == pytest.approx([t + 3 * OW for t in sent if t + OW > known])
    assert len(got) < len(sent)


def _at(b: Sandbox, t: float, fn: Any) -> Any:
    yield b.env.timeout(t - b.env.now)
    fn()


@pytest.mark.parametrize("spread", ["random", "ordered", "round-robin"])
def test_clients_spread_over_servers_by_policy(spread: str) -> None:
    b = cluster(client={"spread": spread})
    from sim.core.component import Component
    from sim.core.network import Place

    place = Place("region-1", "a", "edge")
    pools = [b.fabric.pool_for(place) for _ in range(300)]
    first = Counter(p[0].name for p in pools)
    if spread == "ordered":
        assert first == {"nats-0": 300}
    elif spread == "round-robin":
        assert first == {"nats-0": 100, "nats-1": 100, "nats-2": 100}
    else:
        assert chisquare(list(first.values())).pvalue > 0.01 and len(first) == 3
    assert all(sorted(s.name for s in p) == ["nats-0", "nats-1", "nats-2"] for p in pools)
    assert Component  # (imported for the type of a client owner)


# ---------------------------------------------------------------- superclusters
def supercluster(**extra: Any) -> Sandbox:
    return Sandbox(
        {
            "clusters": [
                {"name": "eu", "region": "eu", "servers": 1},
                {"name": "us", "region": "us", "servers": 1},
            ],
            "broker": ZERO,
            "tls": {"version": "none"},
            **extra,
        },
        TWO_REGIONS,
    )


def test_gateway_queue_local_first_else_remote_with_gr_reply() -> None:
    """A queue request is served in the local cluster while it has a member; then it crosses
    the gateway (one way 40 ms) and the reply comes back with ``_GR_.<cluster>.<server>.``."""
    b = supercluster()
    eu = b.servers[0]
    r = b.client("r", server="nats-eu-0")
    local = b.client("local", server="nats-eu-0")
    remote = b.client("remote", server="nats-us-0")
    b.respond(local, "svc", "q")
    b.respond(remote, "svc", "q")
    b.run(1.0)  # interest crossed the gateway (40 ms) long ago
    first = b.request(r, "svc")
    b.run(1.5)
    assert first.value[0] == "ok" and b.log[-1][1] == "local"
    local.crash("closed")
    b.run(2.0)
    second = b.request(r, "svc")
    b.run(3.0)
    status, answer = second.value
    assert status == "ok" and b.log[-1][1] == "remote"
    assert b.log[-1][4] == f"_GR_.eu.{eu.name}.{r.inbox}1"  # the reply the responder saw
    # r → eu (1 ms), gateway (40 ms), us → remote (1 ms), and back the same way
    assert answer.tr.network == pytest.approx(4 * OW + REGION_RTT)


def test_plain_interest_reaches_every_interested_cluster() -> None:
    b = supercluster()
    p = b.client("p", server="nats-eu-0")
    a, c = b.client("a", server="nats-eu-0"), b.client("c", server="nats-us-0")
    b.subscribe(a, "ev.>")
    b.subscribe(c, "ev.>")
    b.run(1.0)
    b.publish(p, "ev.x")
    b.run(2.0)
    arrivals = {who: t for t, who, *_ in b.log}
    assert arrivals == {
        "a": pytest.approx(1.0 + 2 * OW),
        "c": pytest.approx(1.0 + 2 * OW + REGION_RTT / 2),
    }


def test_queue_goes_to_the_lowest_rtt_cluster() -> None:
    placement = {
        "regions": [{"name": r, "zones": ["a"]} for r in ("eu", "us", "ap")],
        "network": {
            **NET["network"],
            "region_rtt": {"eu": {"us": 0.08, "ap": 0.2}, "us": {"ap": 0.15}},
        },
    }
    b = Sandbox(
        {
            "clusters": [{"name": n, "region": n, "servers": 1} for n in ("eu", "us", "ap")],
            "broker": ZERO,
            "tls": {"version": "none"},
        },
        placement,
    )
    r = b.client("r", server="nats-eu-0")
    for name in ("us", "ap"):
        b.respond(b.client(name, server=f"nats-{name}-0"), "svc", "q")
    b.run(1.0)
    for _ in range(20):
        b.request(r, "svc")
    b.run(3.0)
    assert {who for _t, who, *_ in b.log} == {"us"}


def test_gateway_target_dies_redial_and_learn_interest_again() -> None:
    """us has two servers; eu's gateway goes to one of them (T), the responder sits on the
    other. T dies (closed) at t = 1: eu sees it one way later (40 ms), forgets us's interest
    (requests get 503 at once), dials the other server (one 80 ms RTT), which tells it the
    interest one way later. Requests that reached T before it died are served; those sent
    towards it after are lost (timeout)."""
    b = Sandbox(
        {
            "clusters": [
                {"name": "eu", "region": "eu", "servers": 1},
                {"name": "us", "region": "us", "servers": 2},
            ],
            "broker": ZERO,
            "tls": {"version": "none"},
        },
        TWO_REGIONS,
    )
    eu = b.fabric.servers["nats-eu-0"]
    target = b.fabric.gateways[(eu, "us")].dst
    assert target is not None
    other = next(s for s in b.fabric.clusters["us"] if s is not target)
    r = b.client("r", server=eu.name)
    b.respond(b.client("resp", server=other.name), "svc", "q")
    b.run(0.9)
    b.env.process(_at(b, 1.0, lambda: target.kill("closed")))
    sent = [0.9001 + 0.005 * k for k in range(80)]
    procs = []
    for t in sent:
        b.env.process(_at(b, t, lambda: procs.append(b.request(r, "svc", timeout=0.5))))
    b.run(3.0)
    seen, known = 1.0 + REGION_RTT / 2, 1.0 + REGION_RTT / 2 + REGION_RTT + REGION_RTT / 2
    wants = []
    for t, p in zip(sent, procs, strict=True):
        at_eu = t + OW
        if at_eu + REGION_RTT / 2 < 1.0:
            want = "ok"  # reached T while it lived
        elif at_eu < seen:
            want = "timeout"  # sent to a dead server
        elif at_eu < known:
            want = "no_responders"  # eu knows no interest in us until the redial
        else:
            want = "ok"
        assert p.value[0] == want, (t, p.value[0], want)
        wants.append(want)
    assert Counter(wants).keys() == {"ok", "timeout", "no_responders"}
    assert b.fabric.gateways[(eu, "us")].dst is other


def test_interest_change_costs_a_write_per_peer_and_a_parse_each() -> None:
    """One new plain subject on server 2: RS+ written twice there, read once on each peer (each
    its own wake-up, 1 ms here);
    a second subscriber on the same subject is no news (plain interest only 0 → 1), a queue
    subscriber always is (its weight changes)."""
    b = Sandbox(
        {
            "broker": {
                "servers": 3,
                "io": {
                    "wakeup": 1e-3,
                    "per_message": 0,
                    "cold_wakeup": 0,
                    "deep_wakeup": 0,
                    "per_byte": 0,
                },
                "first_ping": 100,  # no client ping in the window
            },
            "tls": {"version": "none"},
        },
        NET,
    )
    c = b.client("c", server=2)
    b.run(1.5)  # after the routes' first pings (1 s + up to 20 %); the next come at 31 s
    before = {s.name: s.cpu.busy.area() for s in b.servers if s.cpu is not None}
    b.subscribe(c, "news")
    b.subscribe(c, "news")
    b.subscribe(c, "jobs", "workers")
    b.run(2.5)
    spent = {s.name: s.cpu.busy.area() - before[s.name] for s in b.servers if s.cpu is not None}
    assert spent["nats-2"] == pytest.approx(2 * 2 * 1e-3)  # two RS+ written to two peers
    assert spent["nats-0"] == pytest.approx(2 * 1e-3)  # read both
    assert spent["nats-1"] == pytest.approx(2 * 1e-3)
    mirrors = {s.name: len(s.mirrors) for s in b.servers}
    assert mirrors == {"nats-0": 3, "nats-1": 3, "nats-2": 0}  # inbox, news, jobs of c
