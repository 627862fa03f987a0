"""Unit and property tests for sim.messaging.subjects (no server needed)."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.messaging.subjects import (
    EMPTY_MATCH,
    InvalidSubject,
    SubjectIndex,
    SubjectTransform,
    Subscription,
    is_valid_publish_subject,
    is_valid_subject,
    pattern_matches,
    subject_is_subset,
    subjects_collide,
)

# ----------------------------------------------------------------------------- reference model


def ref_matches(pattern: str, subject: str) -> bool:
    """Independent reference: translate the pattern to a regular expression."""
    parts = []
    for tok in pattern.split("."):
        if tok == "*":
            parts.append(r"[^.]+")
        elif tok == ">":
            parts.append(r"[^.]+(?:\.[^.]+)*")
        else:
            parts.append(re.escape(tok))
    return re.fullmatch(r"\.".join(parts), subject) is not None


def sids(subs: tuple[Subscription, ...]) -> list[int]:
    return [s.sid for s in subs]


# ----------------------------------------------------------------------------- semantics

SEMANTICS = [
    ("foo", "foo", True),
    ("foo", "Foo", False),
    ("foo", "foo.bar", False),
    ("foo.*", "foo.bar", True),
    ("foo.*", "foo", False),
    ("foo.*", "foo.bar.baz", False),
    ("*", "foo", True),
    ("*", "foo.bar", False),
    ("*.bar", "foo.bar", True),
    ("*.*", "a.b", True),
    ("*.*", "a", False),
    ("foo.>", "foo.bar", True),
    ("foo.>", "foo.bar.baz", True),
    ("foo.>", "foo", False),
    (">", "foo", True),
    (">", "foo.bar.baz", True),
    ("*.>", "foo", False),
    ("*.>", "foo.bar", True),
    ("a.*b", "a.xb", False),
    ("a.*b", "a.*b", True),
    ("a.b>", "a.b>", True),
    ("a.b>", "a.bc", False),
    ("a.*.c", "a.b.c", True),
    ("a.*.c", "a.b.d", False),
    ("ORDERS.*", "orders.x", False),
    ("é.*", "é.ü", True),
]


@pytest.mark.parametrize(("pattern", "subject", "expected"), SEMANTICS)
def test_wildcard_semantics(pattern: str, subject: str, expected: bool) -> None:
    index = SubjectIndex()
    h = index.subscribe(pattern)
    assert (h in index.match(subject).plain) is expected
    assert pattern_matches(pattern, subject) is expected
    assert ref_matches(pattern, subject) is expected


INVALID_SUBSCRIBE = [
    "",
    ".",
    "foo.",
    ".foo",
    "foo..bar",
    "foo.>.bar",
    ">.foo",
    ">.>",
    "foo bar",
    "foo\tbar",
    "foo\nbar",
    "foo\rbar",
    "foo\fbar",
    " foo",
]


@pytest.mark.parametrize("subject", INVALID_SUBSCRIBE)
def test_subscribe_refuses_invalid_subjects(subject: str) -> None:
    index = SubjectIndex()
    with pytest.raises(InvalidSubject):
        index.subscribe(subject)
    assert len(index) == 0
    assert not is_valid_subject(subject)


@pytest.mark.parametrize("subject", [">", "*", "*.>", "a.*b", "a.b>", "*.*.*", "a-b_c.D", "é"])
def test_subscribe_accepts_unusual_valid_subjects(subject: str) -> None:
    index = SubjectIndex()
    h = index.subscribe(subject)
    assert h.subject == subject
    assert is_valid_subject(subject)


@pytest.mark.parametrize("queue", ["", "a b", "a\tb", "q\n", "_sys_"])
def test_subscribe_refuses_invalid_queue_names(queue: str) -> None:
    with pytest.raises(InvalidSubject):
        SubjectIndex().subscribe("foo", queue=queue)


@pytest.mark.parametrize("queue", ["q", "q.*", ">", "a.b", "_SYS_", "_sys"])
def test_subscribe_accepts_queue_names_the_server_accepts(queue: str) -> None:
    assert SubjectIndex().subscribe("foo", queue=queue).queue == queue


@pytest.mark.parametrize(
    "subject", ["", "foo.*", "foo.>", "*", ">", "a..b", ".a", "a.", "a b", "a\tb", "a.*.b"]
)
def test_match_refuses_invalid_publish_subjects(subject: str) -> None:
    index = SubjectIndex()
    index.subscribe(">")
    with pytest.raises(InvalidSubject):
        index.match(subject)
    assert not is_valid_publish_subject(subject)


def test_invalid_subject_is_a_value_error() -> None:
    assert issubclass(InvalidSubject, ValueError)


# ----------------------------------------------------------------------------- handles and ordering


def test_subscription_handle_dataclass() -> None:
    a = Subscription(1, "foo", None, owner="x")
    b = Subscription(1, "foo", None, owner="y")
    assert a == b and hash(a) == hash(b)  # owner is not compared or hashed
    assert a != Subscription(2, "foo", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.sid = 3  # type: ignore[misc]
    assert not hasattr(a, "__dict__")  # slots


def test_sids_are_unique_and_increasing_and_owner_is_carried() -> None:
    index = SubjectIndex()
    owner = object()
    handles = [index.subscribe(s, owner=owner) for s in ["a", "b.*", ">", "a"]]
    assert sids(tuple(handles)) == sorted(set(sids(tuple(handles))))
    assert all(h.owner is owner for h in handles)
    assert index.subscribe("c").owner is None


def test_plain_results_ordered_by_sid_across_trie_branches() -> None:
    index = SubjectIndex()
    order = ["a.>", "a.b.c", "*.b.*", ">", "a.*.c", "*.*.*", "a.b.>"]
    handles = [index.subscribe(p) for p in order]
    m = index.match("a.b.c")
    assert m.plain == tuple(handles)
    assert m.queues == {}


def test_queue_groups_sorted_by_name_members_by_sid() -> None:
    index = SubjectIndex()
    z1 = index.subscribe("x.*", queue="zeta")
    a1 = index.subscribe(">", queue="alpha")
    p = index.subscribe("x.y")
    z2 = index.subscribe("x.y", queue="zeta")
    a2 = index.subscribe("x.>", queue="alpha")
    m = index.match("x.y")
    assert list(m.queues) == ["alpha", "zeta"]
    assert m.queues["alpha"] == (a1, a2)
    assert m.queues["zeta"] == (z1, z2)
    assert m.plain == (p,)


def test_duplicate_subscriptions_each_get_a_copy() -> None:
    index = SubjectIndex()
    h1, h2 = index.subscribe("foo.*"), index.subscribe("foo.*")
    assert h1 != h2
    assert index.match("foo.bar").plain == (h1, h2)
    assert index.unsubscribe(h1)
    assert index.match("foo.bar").plain == (h2,)


def test_unsubscribe_and_len_and_subscriptions() -> None:
    index = SubjectIndex()
    hs = [index.subscribe(p, queue=q) for p, q in [("a", None), ("a.*", "q"), (">", None)]]
    assert len(index) == 3 and index.subscriptions() == tuple(hs)
    assert index.unsubscribe(hs[1])
    assert not index.unsubscribe(hs[1])  # already gone
    assert not index.unsubscribe(Subscription(999, "a", None))
    assert len(index) == 2 and hs[1] not in index and hs[0] in index
    assert index.match("a.b").queues == {}
    for h in (hs[0], hs[2]):
        index.unsubscribe(h)
    assert len(index) == 0
    assert not index.match("a")
    assert index._root.is_empty()  # pruned


def test_unsubscribe_does_not_prune_shared_prefix() -> None:
    index = SubjectIndex()
    deep = index.subscribe("a.b.c")
    shallow = index.subscribe("a.b")
    index.unsubscribe(deep)
    assert index.match("a.b").plain == (shallow,)
    index.unsubscribe(shallow)
    deep2 = index.subscribe("a.b.c")
    assert index.match("a.b.c").plain == (deep2,)


def test_empty_match() -> None:
    index = SubjectIndex()
    m = index.match("nothing.here")
    assert m == EMPTY_MATCH and not m and m.plain == () and m.queues == {}


# ----------------------------------------------------------------------------- cache


def test_cache_hits_return_the_same_object() -> None:
    index = SubjectIndex()
    index.subscribe("a.*")
    assert index.match("a.b") is index.match("a.b")


def test_cache_invalidated_by_subscribe_and_unsubscribe() -> None:
    index = SubjectIndex()
    h1 = index.subscribe("a.*")
    assert index.match("a.b").plain == (h1,)
    h2 = index.subscribe(">")
    assert index.match("a.b").plain == (h1, h2)
    h3 = index.subscribe("a.b", queue="q")
    assert index.match("a.b").queues == {"q": (h3,)}
    index.unsubscribe(h1)
    assert index.match("a.b").plain == (h2,)
    index.unsubscribe(h3)
    assert index.match("a.b").queues == {}


def test_literal_subscribe_keeps_unrelated_cache_entries() -> None:
    index = SubjectIndex()
    index.subscribe("x.*")
    cached = index.match("x.y")
    index.subscribe("other")
    assert index.match("x.y") is cached
    index.subscribe("x.y")
    assert index.match("x.y") is not cached and len(index.match("x.y").plain) == 2


def test_cache_size_bound_keeps_results_correct() -> None:
    index = SubjectIndex(cache_size=2)
    h = index.subscribe("s.*")
    for i in range(10):
        assert index.match(f"s.{i}").plain == (h,)
    assert len(index._cache) <= 2


def test_invalid_subjects_are_never_cached() -> None:
    index = SubjectIndex()
    for _ in range(2):
        with pytest.raises(InvalidSubject):
            index.match("a.*")


def test_shared_sid_counter() -> None:
    counter = itertools.count(100)
    a, b = SubjectIndex(sids=counter), SubjectIndex(sids=counter)
    assert [a.subscribe("x").sid, b.subscribe("x").sid, a.subscribe("y").sid] == [100, 101, 102]


# ----------------------------------------------------------------------------- helpers


def test_subset_and_collide_examples() -> None:
    assert subject_is_subset("a.*", "a.>")
    assert subject_is_subset("a.b", "a.*")
    assert subject_is_subset(">", ">")
    assert not subject_is_subset("a.>", "a.*")
    assert not subject_is_subset("a", "a.>")
    assert not subject_is_subset("a.*", "a.b")
    assert subjects_collide("a.*", "*.b")
    assert subjects_collide("a.>", "*.b.c")
    assert not subjects_collide("a.>", "a")
    assert not subjects_collide("a.*", "a.b.c")


def test_transform_build_apply_reverse() -> None:
    tr = SubjectTransform.build("ORDERS.*.*", "o.*.x.*")
    assert tr.apply("ORDERS.1.2") == "o.1.x.2"
    assert tr.reverse().apply("o.1.x.2") == "ORDERS.1.2"
    swapped = SubjectTransform.build("a.*.*", "b.$2.$1")
    assert swapped.apply("a.1.2") == "b.2.1"
    assert swapped.reverse().apply("b.2.1") == "a.1.2"
    assert swapped.dest_pattern == "b.*.*"
    tail = SubjectTransform.build("ORDERS.>", "p.ORDERS.>")
    assert tail.apply("ORDERS.a.b") == "p.ORDERS.a.b"
    assert tail.reverse().apply("p.ORDERS.a.b") == "ORDERS.a.b"
    for src, dest in [("a.*", "b"), ("a.>", "b.*"), ("a.*", "b.>"), ("a.*", "b.{{wildcard(1)}}")]:
        with pytest.raises(ValueError):
            SubjectTransform.build(src, dest)


# ----------------------------------------------------------------------------- properties

TOKENS = ["a", "b", "c", "a*", "*b"]
pattern_tokens = st.sampled_from([*TOKENS, "*", ">"])
patterns = st.lists(pattern_tokens, min_size=1, max_size=4).map(".".join).filter(is_valid_subject)
subjects = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=5).map(".".join)
queues = st.sampled_from([None, None, "q1", "q2"])
# Enumeration for the subset/collide properties: the patterns' literal tokens plus a fresh one,
# one token longer than the longest pattern.
small_patterns = (
    st.lists(st.sampled_from(["a", "b", "a*", "*", ">"]), min_size=1, max_size=3)
    .map(".".join)
    .filter(is_valid_subject)
)
ALL_SUBJECTS = [
    ".".join(t) for n in range(1, 5) for t in itertools.product(["a", "b", "a*", "z"], repeat=n)
]


@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("sub"), patterns, queues),
            st.tuples(st.just("unsub"), st.integers(0, 50), st.none()),
            st.tuples(st.just("match"), subjects, st.none()),
        ),
        max_size=60,
    )
)
@settings(max_examples=300, deadline=None)
def test_index_agrees_with_reference(ops: list[tuple[str, object, object]]) -> None:
    index = SubjectIndex()
    live: list[Subscription] = []
    for op, arg, q in ops:
        if op == "sub":
            assert isinstance(arg, str)
            live.append(index.subscribe(arg, queue=q if isinstance(q, str) else None))
        elif op == "unsub" and live:
            assert isinstance(arg, int)
            assert index.unsubscribe(live.pop(arg % len(live)))
        elif op == "match":
            assert isinstance(arg, str)
            expected = sorted((s for s in live if ref_matches(s.subject, arg)), key=lambda s: s.sid)
            m = index.match(arg)
            assert m.plain == tuple(s for s in expected if s.queue is None)
            groups = sorted({s.queue for s in expected if s.queue is not None})
            assert list(m.queues) == groups
            for g in groups:
                assert m.queues[g] == tuple(s for s in expected if s.queue == g)
    assert len(index) == len(live)


@given(st.text(alphabet="ab.*> \t", max_size=8))
def test_validity_predicates(text: str) -> None:
    tokens = text.split(".")
    valid = (
        bool(text)
        and not any(c in text for c in " \t")
        and "" not in tokens
        and ">" not in tokens[:-1]
    )
    assert is_valid_subject(text) is valid
    literal = valid and "*" not in tokens and ">" not in tokens
    assert is_valid_publish_subject(text) is literal


@given(small_patterns, small_patterns)
def test_subset_and_collide_agree_with_enumeration(a: str, b: str) -> None:
    in_a = {s for s in ALL_SUBJECTS if ref_matches(a, s)}
    in_b = {s for s in ALL_SUBJECTS if ref_matches(b, s)}
    assert subject_is_subset(a, b) is in_a.issubset(in_b)
    assert subjects_collide(a, b) is bool(in_a & in_b)


@given(patterns, subjects)
def test_pattern_matches_agrees_with_reference(pattern: str, subject: str) -> None:
    assert pattern_matches(pattern, subject) is ref_matches(pattern, subject)
