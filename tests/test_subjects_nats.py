"""Differential tests: SubjectIndex against a real nats-server (raw protocol).

The raw text protocol (``CONNECT {"verbose":true,"pedantic":true}``) is used so that the
server, not a client library, judges every subject.  Random data comes from seeded
``random.Random`` instances, so failures are reproducible.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable

import pytest
from scipy.stats import chisquare

from sim.messaging.subjects import InvalidSubject, SubjectIndex, Subscription
from tests.natsserver import NatsServer, RawClient, wait_until

pytestmark = pytest.mark.nats

LITERALS = ["a", "b", "c", "a*", "b>"]
QUEUES = [None, None, None, "q1", "q2", "_sys_"]


def random_pattern(rng: random.Random) -> str:
    """Mostly valid patterns; some with empty tokens or a misplaced '>'."""
    n = rng.randint(1, 4)
    toks = [rng.choice([*LITERALS, "*", "*", ">"]) for _ in range(n)]
    if rng.random() < 0.1:
        toks.insert(rng.randint(0, n), "")
    return ".".join(toks)


def random_subject(rng: random.Random) -> str:
    return ".".join(rng.choice(LITERALS) for _ in range(rng.randint(1, 5)))


def expect_one_per_group(
    got: Counter[int], m_plain: list[int], groups: dict[str, list[int]]
) -> None:
    rest = got.copy()
    for sid in m_plain:
        assert rest[sid] == 1, f"plain sid {sid} delivered {rest[sid]} times"
        del rest[sid]
    for name, members in groups.items():
        hits = sum(rest.pop(sid, 0) for sid in members)
        assert hits == 1, f"queue group {name}: {hits} deliveries"
    assert not rest, f"unexpected deliveries {dict(rest)}"


# ----------------------------------------------------------------------------- (a) validity


@pytest.mark.parametrize("seed", [1, 2])
def test_sub_accepted_exactly_where_index_accepts(
    nats_server: Callable[..., NatsServer], seed: int
) -> None:
    rng = random.Random(seed)
    srv = nats_server()
    client = RawClient(srv.port)
    index = SubjectIndex()
    expected: list[bool] = []
    cases = [(random_pattern(rng), rng.choice(QUEUES)) for _ in range(400)]
    cases += [(p, None) for p in ["foo.", ".foo", "a..b", ">.a", ">.>", "*.>", "a.*b", ">"]]
    for sid, (pattern, queue) in enumerate(cases):
        try:
            index.subscribe(pattern, queue)
            expected.append(True)
        except InvalidSubject:
            expected.append(False)
        client.sub(pattern, sid, queue)
    frames = client.sync()
    assert [f.kind == "+OK" for f in frames] == expected
    errors = {f.error.split(" ")[0] for f in frames if f.kind == "-ERR"}
    assert errors <= {"Invalid", "Permissions"}
    assert False in expected and True in expected


def test_pub_refused_exactly_where_match_raises(nats_server: Callable[..., NatsServer]) -> None:
    rng = random.Random(3)
    srv = nats_server()
    client = RawClient(srv.port)
    index = SubjectIndex()
    subjects = [random_pattern(rng) for _ in range(200)] + ["a.*", "a.>", "*", ">", "a..b", "a."]
    expected = []
    for subject in subjects:
        try:
            index.match(subject)
            expected.append(True)
        except InvalidSubject:
            expected.append(False)
        client.pub(subject, b"x")
        frames = client.sync()
        # verbose: a valid PUB gets +OK; a refused one gets -ERR 'Invalid Publish Subject'
        assert ("-ERR" not in [f.kind for f in frames]) is expected[-1], subject
        if not expected[-1]:
            assert frames[0].error == "Invalid Publish Subject"
    assert False in expected and True in expected


def test_form_feed_is_accepted_by_raw_sub_but_not_by_index(
    nats_server: Callable[..., NatsServer],
) -> None:
    """Documented divergence: the wire SUB path does not check for '\\f' (IsValidSubject does)."""
    client = RawClient(nats_server().port)
    client.sub("a\fb", 1)
    assert [f.kind for f in client.sync()] == ["+OK"]
    with pytest.raises(InvalidSubject):
        SubjectIndex().subscribe("a\fb")


# ----------------------------------------------------------------------------- (b) deliveries


def subscribe_randomly(
    rng: random.Random, clients: list[RawClient], n: int, queues: list[str | None]
) -> tuple[SubjectIndex, dict[int, Subscription]]:
    index = SubjectIndex()
    by_sid: dict[int, Subscription] = {}
    while len(by_sid) < n:
        pattern, queue = random_pattern(rng), rng.choice(queues)
        try:
            h = index.subscribe(pattern, queue)
        except InvalidSubject:
            continue
        by_sid[h.sid] = h
        rng.choice(clients).sub(pattern, h.sid, queue)
    for c in clients:
        assert all(f.kind != "-ERR" for f in c.sync())
    return index, by_sid


def data_frames(clients: list[RawClient]) -> list[tuple[int, int]]:
    """(message id, sid) of the numbered test messages, skipping barrier and work traffic."""
    return [
        (int(f.payload), int(f.sid))
        for c in clients
        for f in c.messages()
        if f.payload.isdigit() and not f.subject.startswith(("_barrier", "work"))
    ]


def check_deliveries(
    index: SubjectIndex, subjects: list[str], frames: list[tuple[int, int]]
) -> None:
    got: dict[int, Counter[int]] = {i: Counter() for i in range(len(subjects))}
    for msg_id, sid in frames:
        got[msg_id][sid] += 1
    for i, subject in enumerate(subjects):
        m = index.match(subject)
        groups = {q: [h.sid for h in hs] for q, hs in m.queues.items()}
        expect_one_per_group(got[i], [h.sid for h in m.plain], groups)


@pytest.mark.parametrize("seed", [10, 11])
def test_deliveries_match_index(nats_server: Callable[..., NatsServer], seed: int) -> None:
    rng = random.Random(seed)
    srv = nats_server()
    subs = [RawClient(srv.port, verbose=False) for _ in range(4)]
    pub = RawClient(srv.port, verbose=False)
    index, _ = subscribe_randomly(rng, subs, 120, [None, None, "q1", "q2", "q3"])
    subjects = [random_subject(rng) for _ in range(300)]
    for i, subject in enumerate(subjects):
        pub.pub(subject, str(i).encode())
    assert pub.sync() == []
    frames = data_frames(subs)
    check_deliveries(index, subjects, frames)
    assert sum(1 for _ in frames) > 300  # the alphabet is small enough for many matches


# ----------------------------------------------------------------------------- (c) uniformity


def test_queue_member_choice_is_uniform(nats_server: Callable[..., NatsServer]) -> None:
    srv = nats_server()
    members = [RawClient(srv.port, verbose=False) for _ in range(4)]
    for i, c in enumerate(members):
        c.sub("work.*", i, "workers")
        c.sync()
    pub = RawClient(srv.port, verbose=False)
    n = 4000
    for i in range(n):
        pub.pub(f"work.{i % 7}", b"")
    pub.sync()
    counts = [len(c.messages()) for c in members]
    assert sum(counts) == n
    assert chisquare(counts).pvalue > 0.01, counts


# ----------------------------------------------------------------------------- (d) cluster


def barrier(ctl: list[RawClient]) -> None:
    """Wait until every server has seen every other server's interest so far.

    Client i subscribes to ``_barrier.i``; a message published on server j after j processed
    its subscriptions travels behind j's interest updates on the same route connection, so
    once it arrives on server i, server i knows j's subscriptions.
    """
    for i, c in enumerate(ctl):
        c.sub(f"_barrier.{i}", "b")
        c.sync()
    for i, target in enumerate(ctl):
        for j, source in enumerate(ctl):
            if i == j:
                continue

            def arrived(source: RawClient = source, target: RawClient = target, i: int = i) -> bool:
                source.pub(f"_barrier.{i}", b"")
                source.sync()
                return bool(target.messages(wait=0.02))

            wait_until(arrived, timeout=10, what=f"interest from server {j} on server {i}")
            time.sleep(0.05)
            target.messages()


def test_cluster_deliveries_and_uniform_queue_choice(
    nats_cluster: Callable[..., list[NatsServer]],
) -> None:
    rng = random.Random(20)
    servers = nats_cluster(3)
    subs = [RawClient(s.port, verbose=False) for s in servers for _ in range(2)]
    index, _ = subscribe_randomly(rng, subs, 60, [None, None, "q1", "q2"])
    # a 4-member group spread 2/1/1 over the servers
    workers = [RawClient(servers[k].port, verbose=False) for k in (0, 0, 1, 2)]
    for i, c in enumerate(workers):
        c.sub("work", 1000 + i, "workers")
        c.sync()
    ctl = [RawClient(s.port, verbose=False) for s in servers]
    barrier(ctl)
    data_frames(subs)  # drop barrier traffic seen by wide subscriptions

    subjects = [random_subject(rng) for _ in range(200)]
    pubs = [RawClient(s.port, verbose=False) for s in servers]
    for i, subject in enumerate(subjects):
        pubs[i % 3].pub(subject, str(i).encode())
    for p in pubs:
        p.sync()
    expected_total = sum(len(index.match(s).plain) + len(index.match(s).queues) for s in subjects)
    frames: list[tuple[int, int]] = []

    def all_arrived() -> bool:
        frames.extend(data_frames(subs))
        return len(frames) >= expected_total

    wait_until(all_arrived, timeout=10, what="routed deliveries")
    time.sleep(0.1)
    frames.extend(data_frames(subs))
    check_deliveries(index, subjects, frames)

    n = 3000
    for _ in range(n):
        pubs[1].pub("work", b"")  # server 1 holds one local member and routes to the others
    pubs[1].sync()
    counts = [0] * 4

    def all_work() -> bool:
        for k, c in enumerate(workers):
            counts[k] += len(c.messages())
        return sum(counts) >= n

    wait_until(all_work, timeout=10, what="queue deliveries")
    assert sum(counts) == n
    assert chisquare(counts).pvalue > 0.01, counts


# ----------------------------------------------------------------------------- (e) no responders


def test_no_responders_status_503(nats_server: Callable[..., NatsServer]) -> None:
    import nats
    from nats.errors import NoRespondersError

    srv = nats_server()

    async def scenario() -> None:
        nc = await nats.connect(srv.url)
        try:
            # the server's 503 status, not the client's 5 s timeout (that would raise
            # TimeoutError): no responders is answered at once
            with pytest.raises(NoRespondersError):
                await nc.request("nobody.home", b"ping", timeout=5)
        finally:
            await nc.close()

    asyncio.run(scenario())

    raw = RawClient(srv.port, verbose=False)
    raw.sub("_INBOX.raw.*", 1)
    raw.hpub("nobody.home", b"NATS/1.0\r\n\r\n", b"ping", reply="_INBOX.raw.1")
    (msg,) = raw.messages(wait=0.05)
    assert msg.kind == "HMSG" and msg.subject == "_INBOX.raw.1"
    assert msg.headers.startswith(b"NATS/1.0 503")
    assert SubjectIndex().match("nobody.home").plain == ()
