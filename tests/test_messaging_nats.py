"""Differential tests: the simulated cluster routes as a real 3-server nats-server cluster.

The real cluster is started from configuration rendered by :func:`sim.messaging.conf.server_conf`
for the same messaging settings the simulated one uses (pool of 3 routes, limits). Clients
on every server subscribe to random patterns, some in queue groups; random subjects are
published from every server. For each message, the plain subscriptions that get it must be
exactly the same, and each matching queue group must be served exactly once, in both. The
no-responders answer (503 at once) must come in exactly the same situations, including a
responder on another server and after it unsubscribed. Random data come from seeded
``random.Random`` instances, so a failure is reproducible.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.messaging.conf import server_conf
from sim.messaging.message import Interest, Msg
from sim.messaging.permissions import parse as parse_permissions
from sim.messaging.sandbox import Sandbox
from sim.scenario.messaging import MessagingSettings
from tests.natsserver import HOST, NatsServer, RawClient, free_port, wait_until

pytestmark = pytest.mark.nats

SETTINGS = {"broker": {"servers": 3}, "tls": {"version": "none"}}
TOKENS = ["a", "b", "c"]
QUEUES = [None, None, "q1", "q2"]


@pytest.fixture
def cluster3(nats_server_bin: Path, tmp_path: Path) -> Iterator[list[NatsServer]]:
    """Three real servers configured like the simulated cluster, fully meshed."""
    cfg = MessagingSettings.model_validate(SETTINGS)
    ports = [free_port() for _ in range(3)]
    servers: list[NatsServer] = []
    try:
        for i in range(3):
            routes = [f"nats-route://{HOST}:{p}" for j, p in enumerate(ports) if j != i]
            conf = server_conf(cfg, "C1", f"{HOST}:{ports[i]}", routes)
            servers.append(NatsServer(nats_server_bin, tmp_path, f"nats-{i}", conf).start())

        def meshed() -> bool:
            for s in servers:
                routes = s.monitor("routez").get("routes") or []
                assert isinstance(routes, list)
                if len({r.get("remote_name") for r in routes}) < 2:
                    return False
            return True

        wait_until(meshed, what="full route mesh")
        yield servers
    finally:
        for s in servers:
            s.stop()


def test_rendered_config_has_the_simulated_pool(cluster3: list[NatsServer]) -> None:
    routes = cluster3[0].monitor("routez").get("routes") or []
    assert isinstance(routes, list)
    # a pool of 3 connections to each of 2 peers (const.go), plus one pinned to $SYS each
    assert len(routes) == 2 * (3 + 1)
    box = Sandbox(SETTINGS)
    assert box.servers[0].conns_open.value == 2 * (3 + 1)


def barrier(ctl: list[RawClient]) -> None:
    """Wait until every server has seen the interest every other server had so far: a message
    published on j after j processed its SUBs travels behind them on the same route."""
    for i, c in enumerate(ctl):
        c.sub(f"_barrier.{i}", "b")
        c.sync()
    for i, target in enumerate(ctl):
        for j, source in enumerate(ctl):
            if i != j:

                def arrived(s: RawClient = source, t: RawClient = target, k: int = i) -> bool:
                    s.pub(f"_barrier.{k}", b"")
                    s.sync()
                    return bool(t.messages(wait=0.02))

                wait_until(arrived, what=f"interest of server {j} on server {i}")
        time.sleep(0.05)
        target.messages()


def random_pattern(rng: random.Random) -> str:
    toks = [rng.choice([*TOKENS, "*"]) for _ in range(rng.randint(0, 2))]
    return ".".join([*toks, rng.choice([*TOKENS, "*", ">"])])


def signature(
    deliveries: list[tuple[str, int]], queue_of: dict[tuple[str, int], str | None]
) -> tuple[Counter[tuple[str, int]], Counter[str]]:
    """Plain deliveries exactly, and how many copies each queue group got."""
    plain: Counter[tuple[str, int]] = Counter()
    groups: Counter[str] = Counter()
    for key in deliveries:
        q = queue_of[key]
        if q is None:
            plain[key] += 1
        else:
            groups[q] += 1
    return plain, groups


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cluster_recipients_match_real_cluster(cluster3: list[NatsServer], seed: int) -> None:
    rng = random.Random(seed)
    names = [f"c{k}" for k in range(6)]  # two clients per server
    home = {n: k % 3 for k, n in enumerate(names)}
    subs: list[tuple[str, int, str, str | None]] = []
    for sid in range(1, 31):
        pattern = random_pattern(rng)
        subs.append((rng.choice(names), sid, pattern, rng.choice(QUEUES)))
    queue_of = {(n, sid): q for n, sid, _, q in subs}
    subjects = [".".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 3))) for _ in range(80)]

    # the real cluster
    real = {n: RawClient(cluster3[home[n]].port, verbose=False) for n in names}
    for n, sid, pattern, q in subs:
        real[n].sub(pattern, sid, q)
    for c in real.values():
        c.sync()
    barrier([real[n] for n in names[:3]])
    for c in real.values():
        c.messages()
    for k, subject in enumerate(subjects):
        pub = real[names[k % 3]]
        pub.pub(subject, str(k).encode())
    got: dict[int, list[tuple[str, int]]] = {k: [] for k in range(len(subjects))}
    for n in names[:3]:  # wait for the publishers' PONGs, keeping what they received
        for f in real[n].sync():
            if f.kind == "MSG" and f.payload.isdigit():
                got[int(f.payload)].append((n, int(f.sid)))
    expected = 0
    box = Sandbox(SETTINGS)
    sim = {n: box.client(n, server=home[n]) for n in names}
    for n, sid, pattern, q in subs:
        box.subscribe(sim[n], pattern, q, sid=sid)
    box.run(1.0)
    for k, subject in enumerate(subjects):
        box.publish(sim[names[k % 3]], subject, payload=k)
    box.run(2.0)
    want: dict[int, list[tuple[str, int]]] = {k: [] for k in range(len(subjects))}
    for _t, n, _subject, sid, _reply, payload in box.log:
        want[payload].append((n, sid))
        expected += 1

    def arrived() -> bool:
        for n, c in real.items():
            for f in c.messages():
                if f.payload.isdigit():
                    got[int(f.payload)].append((n, int(f.sid)))
        return sum(map(len, got.values())) >= expected

    wait_until(arrived, what="routed deliveries")
    time.sleep(0.1)
    arrived()
    assert expected > 50  # the random draw exercises routing
    for k, subject in enumerate(subjects):
        assert signature(got[k], queue_of) == signature(want[k], queue_of), (k, subject)


def test_no_responders_like_real_cluster(cluster3: list[NatsServer]) -> None:
    """503 at once with nobody anywhere; none with a responder on another server (queue or
    plain); 503 again once it unsubscribed and the cluster learnt it."""
    requester = RawClient(cluster3[0].port, verbose=False)
    requester.sub("_INBOX.r.*", "inbox")
    responder = RawClient(cluster3[2].port, verbose=False)
    observer = RawClient(cluster3[1].port, verbose=False)
    ctl = [RawClient(s.port, verbose=False) for s in cluster3]

    def real_request(k: int) -> str:
        requester.pub("svc.a", b"x", reply=f"_INBOX.r.{k}")
        for _ in range(50):
            for f in requester.messages(wait=0.02):
                if f.subject == f"_INBOX.r.{k}":
                    return "no_responders" if b" 503" in f.headers else "ok"
            for f in responder.messages() + observer.messages():
                if f.reply is not None:
                    responder.pub(f.reply, b"ok")
                    responder.sync()
        return "timeout"

    box = Sandbox(SETTINGS)
    r, q, o = box.client("r", server=0), box.client("q", server=2), box.client("o", server=1)
    box.run(0.5)
    clock = [0.5]

    def sim_request() -> str:
        clock[0] += 0.5  # the interest changes reach every server (the barrier, simulated)
        box.run(clock[0])
        p = box.request(r, "svc.a", timeout=1.0)
        clock[0] += 2.0
        box.run(clock[0])
        return str(p.value[0])

    steps = []
    steps.append((real_request(0), sim_request()))  # nobody
    responder.sub("svc.a", 1, "workers")
    responder.sync()
    barrier(ctl)
    qi = box.respond(q, "svc.a", "workers")
    steps.append((real_request(1), sim_request()))  # a queue member on another server
    responder.unsub(1)
    responder.sync()
    barrier(ctl)
    box.unsubscribe(q, qi)
    steps.append((real_request(2), sim_request()))  # gone again
    observer.sub("svc.a", 7)
    observer.sync()
    barrier(ctl)
    box.respond(o, "svc.a")
    steps.append((real_request(3), sim_request()))  # a plain subscriber on the third server
    assert [s[0] for s in steps] == ["no_responders", "ok", "no_responders", "ok"]
    assert [s[1] for s in steps] == [s[0] for s in steps]


def test_allow_responses_like_real_server(nats_server: Any) -> None:
    """A responder allowed to publish nothing but replies: its first reply reaches the
    requester, a second reply and any other publish are refused (-ERR), as in the sim."""
    perms = {"publish": {"allow": []}, "allow_responses": True}
    accounts = {
        "A": {
            "users": [
                {"user": "req", "password": "pw"},
                {"user": "resp", "password": "pw", "permissions": perms},
            ]
        }
    }
    cfg = MessagingSettings.model_validate({**SETTINGS, "broker": {}, "accounts": accounts})
    srv = nats_server(server_conf(cfg, "C1"))
    req = RawClient(srv.port, verbose=False, user="req", password="pw")
    resp = RawClient(srv.port, verbose=False, user="resp", password="pw")
    req.sub("_INBOX.r.*", 1)
    resp.sub("svc", 2, "q")
    req.sync()
    resp.sync()
    req.pub("svc", b"x", reply="_INBOX.r.0")
    req.sync()
    (request,) = resp.messages(wait=0.1)
    assert request.reply is not None
    resp.pub(request.reply, b"one")
    resp.pub(request.reply, b"two")
    resp.pub("elsewhere", b"three")
    errors = [f.error for f in resp.sync() if f.kind == "-ERR"]
    real = [f.payload for f in req.messages(wait=0.1)]
    assert real == [b"one"]
    assert len(errors) == 2 and all("Permissions Violation" in e for e in errors)

    box = Sandbox({**SETTINGS, "broker": {}, "accounts": accounts})
    r, s = box.client("r", account="A"), box.client("s", account="A")
    s.restrict(parse_permissions(perms))

    def answer(msg: Msg, interest: Interest) -> None:
        for text in ("one", "two"):
            out = Msg("A", msg.reply or "", None, 0.0, msg.tr, msg.start, text)
            out.sender = s
            s.publish(out)
        box.publish(s, "elsewhere")

    s.subscribe("svc", "q", "responder", handler=answer)
    box.run(1.0)
    p = box.request(r, "svc")
    box.run(2.0)
    assert [p.value[1].payload] == [b.decode() for b in real]
    tallies = box.servers[0].book.tallies
    assert tallies[("server", "nats-0", "permission_violations")].value == len(errors)


def test_a_server_whose_port_was_taken_meanwhile_starts_on_another(
    nats_server_bin: Path, tmp_path: Path
) -> None:
    """Parallel workers draw ports at random; one taken between the draw and nats-server's
    bind ("address already in use") is drawn again, not a failed test."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen(1)
        port = int(taken.getsockname()[1])
        srv = NatsServer(nats_server_bin, tmp_path, "moved", "", port=port)
        try:
            srv.start()
            assert srv.port != port
            assert "address already in use" not in srv.log()  # the log is the start that worked
            client = RawClient(srv.port)  # it answers CONNECT on the new port
            client.close()
        finally:
            srv.stop()
