"""NATS subject matching as a pure data structure (no SimPy).

Semantics (checked against nats-server v2.15 and its source, see below)
-----------------------------------------------------------------------
* A subject is a non-empty string of tokens separated by ``.``.  No token is empty (so no
  leading, trailing or doubled dot) and no subject contains whitespace (space, tab, CR, LF,
  form feed).  Subjects are case-sensitive byte strings.
* ``*`` is a wildcard only as a *whole* token and matches exactly one token.  ``>`` is a
  wildcard only as the whole *last* token and matches one or more tokens, so ``foo.>`` does not
  match ``foo``.  ``a.*b`` and ``a.b>`` are literal tokens.
* Every matching plain subscription gets its own copy; subscribing twice to the same pattern
  gives two handles and two copies.  Every matching queue group gets one copy, for a single
  member chosen by the caller (nats-server picks uniformly at random).
* :meth:`SubjectIndex.subscribe` raises :class:`InvalidSubject` where nats-server answers a
  ``SUB`` with ``-ERR 'Invalid Subject'``: an empty token or a token after ``>``.  It also
  refuses whitespace (the protocol cannot carry space/tab/CR/LF inside a subject and
  ``IsValidSubject`` rejects form feed too - the raw ``SUB`` path does accept a form feed, the
  one deliberate difference), an empty queue name, a queue name with whitespace, and the
  reserved queue ``_sys_`` (the server answers that one with a permissions violation).
* :meth:`SubjectIndex.match` raises :class:`InvalidSubject` where a pedantic connection gets
  ``-ERR 'Invalid Publish Subject'``: empty tokens or any ``*``/``>`` token.  (The server still
  routes such a message after the error; a simulated publisher never should.)

Design
------
A token trie like nats-server's ``Sublist``: each level maps literal tokens to nodes and has
at most one ``*`` child and one ``>`` child; a node stores the subscriptions whose pattern ends
there.  ``match`` walks the trie (following the literal child and the ``*`` child at every
level and collecting ``>`` nodes) and freezes the result into tuples.  Results are cached per
subject, as nats-server does; the cache only ever holds valid literal subjects.  Subscribing or
unsubscribing a literal pattern evicts that one cache entry; a wildcard pattern clears the
cache.  A subject whose last token is no literal token of the trie (a reply subject
``_INBOX.<nuid>.<n>``, new every time) matches like any other such subject with the same
prefix, so its result is kept once per prefix instead (only wildcard patterns change those).
A cache hit is one dict lookup.  The :class:`Match` objects are shared with the cache:
callers must not mutate ``Match.queues``.

Sources read (nats-server ``main``, 2.15.0-dev): ``server/sublist.go`` (Insert, match,
matchLevel, IsValidSubject, IsValidLiteralSubject, subjectIsLiteral, isSubsetMatchTokenized,
SubjectsCollide), ``server/subject_transform.go``, ``server/client.go`` (parseSub, processSub, processPub, processHeaderPub,
processMsgResults: queue member chosen with ``fastrand`` uniformly), ``server/parser.go``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "EMPTY_MATCH",
    "InvalidSubject",
    "Match",
    "SubjectIndex",
    "SubjectTransform",
    "Subscription",
    "is_literal",
    "is_valid_publish_subject",
    "is_valid_subject",
    "pattern_matches",
    "subject_is_subset",
    "subjects_collide",
]

PWC = "*"
FWC = ">"
SEP = "."
SYS_QUEUE = "_sys_"
# nats-server reads a protocol line (PUB/SUB with its subject) into a buffer of
# max_control_line bytes, 4 KiB by default (server/const.go MAX_CONTROL_LINE_SIZE = 4096)
MAX_SUBJECT_BYTES = 4096
_WHITESPACE = frozenset(" \t\r\n\f")
_PLACEHOLDER = re.compile(r"^\$([1-9][0-9]*)$")


class InvalidSubject(ValueError):
    """A subject or queue name that nats-server would refuse."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """Handle of one subscription; ``owner`` is carried along but not compared or hashed."""

    sid: int
    subject: str
    queue: str | None
    owner: object = field(default=None, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Match:
    """Subscriptions matching one subject.

    ``plain`` is ordered by sid; ``queues`` maps each group name (in sorted order) to its members
    ordered by sid.  Shared with the match cache: treat as read-only.
    """

    plain: tuple[Subscription, ...]
    queues: dict[str, tuple[Subscription, ...]]

    def __bool__(self) -> bool:
        return bool(self.plain or self.queues)


EMPTY_MATCH = Match((), {})


def _check_tokens(subject: object) -> list[str]:
    if not isinstance(subject, str) or not subject:
        raise InvalidSubject(f"empty or non-string subject {subject!r}")
    if not _WHITESPACE.isdisjoint(subject):
        raise InvalidSubject(f"subject {subject!r} contains whitespace")
    tokens = subject.split(SEP)
    if "" in tokens:
        raise InvalidSubject(f"subject {subject!r} has an empty token")
    return tokens


def _valid_last(token: str) -> bool:
    """Is this the valid last token of a publish subject (non-empty, no wildcard, no space)?"""
    return bool(token) and token != PWC and token != FWC and _WHITESPACE.isdisjoint(token)


def is_valid_subject(subject: object) -> bool:
    """True when ``subject`` is a valid subscription pattern (wildcards allowed)."""
    try:
        tokens = _check_tokens(subject)
    except InvalidSubject:
        return False
    return FWC not in tokens[:-1]


def is_valid_publish_subject(subject: object) -> bool:
    """True when ``subject`` is a valid literal subject (no wildcard tokens)."""
    try:
        tokens = _check_tokens(subject)
    except InvalidSubject:
        return False
    return PWC not in tokens and FWC not in tokens


def is_literal(subject: str) -> bool:
    """True when no token of ``subject`` is a wildcard (validity not checked)."""
    tokens = subject.split(SEP)
    return PWC not in tokens and FWC not in tokens


def pattern_matches(pattern: str, subject: str) -> bool:
    """Does the (valid) ``pattern`` match the literal ``subject``?"""
    pt, st = pattern.split(SEP), subject.split(SEP)
    for i, tok in enumerate(pt):
        if tok == FWC:
            return len(st) > i
        if i >= len(st) or (tok != PWC and tok != st[i]):
            return False
    return len(pt) == len(st)


def subject_is_subset(narrow: str, wide: str) -> bool:
    """True when every subject matched by ``narrow`` is matched by ``wide``.

    Full-token version of nats-server ``isSubsetMatchTokenized`` (used to check that an import
    lies inside an export).
    """
    nt, wt = narrow.split(SEP), wide.split(SEP)
    for i, w in enumerate(wt):
        if w == FWC:
            return len(nt) > i
        if i >= len(nt):
            return False
        n = nt[i]
        if n == FWC or (n == PWC and w != PWC) or (w != PWC and n != w):
            return False
    return len(nt) == len(wt)


def subjects_collide(a: str, b: str) -> bool:
    """True when some literal subject is matched by both patterns (``SubjectsCollide``)."""
    at, bt = a.split(SEP), b.split(SEP)
    for i in range(max(len(at), len(bt))):
        x = at[i] if i < len(at) else None
        y = bt[i] if i < len(bt) else None
        if x == FWC or y == FWC:
            return x is not None and y is not None
        if x is None or y is None:
            return False
        if x != y and x != PWC and y != PWC:
            return False
    return True


@dataclass(frozen=True, slots=True)
class SubjectTransform:
    """Reversible wildcard mapping between two patterns, as used by imports
    (``subject_transform.go`` NewSubjectTransformStrict with ``transformTokenize``).

    The i-th ``*`` of ``dest`` (or a ``$i`` token) takes the value of the i-th ``*`` of ``src``;
    ``>`` must end both or neither; every source wildcard must be used exactly once.  ``dest``
    items are literal tokens or indexes of source wildcards.
    """

    src: tuple[str, ...]
    dest: tuple[str | int, ...]
    fwc: bool

    @classmethod
    def build(cls, src: str, dest: str) -> SubjectTransform:
        stoks, dtoks = src.split(SEP), dest.split(SEP)
        fwc = stoks[-1] == FWC
        if fwc != (dtoks[-1] == FWC):
            raise ValueError(f"'>' must end both {src!r} and {dest!r} or neither")
        out: list[str | int] = []
        seq = itertools.count()
        for tok in dtoks[:-1] if fwc else dtoks:
            if tok == PWC:
                out.append(next(seq))
            elif m := _PLACEHOLDER.match(tok):
                out.append(int(m.group(1)) - 1)
            elif tok.startswith("{{"):
                raise ValueError(f"mapping function {tok!r} is not supported here")
            else:
                out.append(tok)
        if sorted(t for t in out if isinstance(t, int)) != list(range(stoks.count(PWC))):
            raise ValueError(f"{dest!r} must use every wildcard of {src!r} exactly once")
        return cls(tuple(stoks), tuple(out), fwc)

    def apply(self, subject: str) -> str:
        """Map a subject (or a pattern, token by token) matched by ``src``."""
        toks = subject.split(SEP)
        values = [toks[i] for i, t in enumerate(self.src) if t == PWC]
        out = [values[d] if isinstance(d, int) else d for d in self.dest]
        if self.fwc:
            out.extend(toks[len(self.src) - 1 :])
        return SEP.join(out)

    @property
    def dest_pattern(self) -> str:
        toks = [PWC if isinstance(d, int) else d for d in self.dest]
        return SEP.join([*toks, FWC] if self.fwc else toks)

    def reverse(self) -> SubjectTransform:
        order = [d for d in self.dest if isinstance(d, int)]
        seq = itertools.count()
        rdest = [order.index(next(seq)) if t == PWC else t for t in self.src if t != FWC]
        return SubjectTransform(tuple(self.dest_pattern.split(SEP)), tuple(rdest), self.fwc)


class _Node:
    __slots__ = ("children", "fwc", "pwc", "subs")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.pwc: _Node | None = None
        self.fwc: _Node | None = None
        self.subs: dict[int, Subscription] = {}

    def child(self, token: str) -> _Node | None:
        if token == PWC:
            return self.pwc
        if token == FWC:
            return self.fwc
        return self.children.get(token)

    def is_empty(self) -> bool:
        return not (self.subs or self.children or self.pwc or self.fwc)


class SubjectIndex:
    """Subscriptions of one subject space (one account on one server)."""

    def __init__(self, *, cache_size: int = 65536, sids: Iterator[int] | None = None) -> None:
        self._root = _Node()
        self._subs: dict[int, Subscription] = {}
        self._cache: dict[str, Match] = {}
        self._cache_size = cache_size
        # How many nodes have each literal token as a child. A subject whose last token is
        # none of them matches as any other such subject with the same prefix would (the
        # walk reads that token only to look up a literal child), so its match is kept by
        # prefix in ``_tails`` (a reply subject ``_INBOX.<nuid>.<n>`` is new every time).
        self._literals: dict[str, int] = {}
        self._tails: dict[str, Match] = {}
        self._sids = sids if sids is not None else itertools.count(1)

    def __len__(self) -> int:
        return len(self._subs)

    def __contains__(self, sub: object) -> bool:
        return isinstance(sub, Subscription) and self._subs.get(sub.sid) == sub

    def subscriptions(self) -> tuple[Subscription, ...]:
        """All live subscriptions ordered by sid."""
        return tuple(self._subs[sid] for sid in sorted(self._subs))

    def subscribe(
        self, subject: str, queue: str | None = None, owner: object = None
    ) -> Subscription:
        """Add a subscription; raises :class:`InvalidSubject` where nats-server refuses ``SUB``."""
        tokens = _check_tokens(subject)
        if FWC in tokens[:-1]:
            raise InvalidSubject(f"subject {subject!r}: '>' must be the last token")
        if queue is not None:
            if not isinstance(queue, str) or not queue or not _WHITESPACE.isdisjoint(queue):
                raise InvalidSubject(f"invalid queue group name {queue!r}")
            if queue == SYS_QUEUE:
                raise InvalidSubject(f"queue group name {SYS_QUEUE!r} is reserved")
        node = self._root
        for tok in tokens:
            nxt = node.child(tok)
            if nxt is None:
                nxt = _Node()
                if tok == PWC:
                    node.pwc = nxt
                elif tok == FWC:
                    node.fwc = nxt
                else:
                    node.children[tok] = nxt
                    self._literals[tok] = self._literals.get(tok, 0) + 1
            node = nxt
        sub = Subscription(next(self._sids), subject, queue, owner)
        node.subs[sub.sid] = sub
        self._subs[sub.sid] = sub
        self._invalidate(subject, tokens)
        return sub

    def unsubscribe(self, sub: Subscription) -> bool:
        """Remove a subscription; returns False when it was not (or no longer) in the index."""
        if self._subs.get(sub.sid) != sub:
            return False
        del self._subs[sub.sid]
        tokens = sub.subject.split(SEP)
        path = [self._root]
        for tok in tokens:
            nxt = path[-1].child(tok)
            assert nxt is not None, "index corrupted"
            path.append(nxt)
        del path[-1].subs[sub.sid]
        for depth in range(len(tokens), 0, -1):  # prune empty nodes bottom-up
            node, parent, tok = path[depth], path[depth - 1], tokens[depth - 1]
            if not node.is_empty():
                break
            if tok == PWC:
                parent.pwc = None
            elif tok == FWC:
                parent.fwc = None
            else:
                del parent.children[tok]
                n = self._literals[tok] - 1
                if n:
                    self._literals[tok] = n
                else:
                    del self._literals[tok]
        self._invalidate(sub.subject, tokens)
        return True

    def match(self, subject: str) -> Match:
        """Subscriptions matching a literal subject; raises :class:`InvalidSubject` where a
        pedantic nats-server refuses the ``PUB``."""
        hit = self._cache.get(subject)
        if hit is not None:
            return hit
        prefix, last, tail = "", "", False
        if isinstance(subject, str):  # else _check_tokens says what is wrong with it
            prefix, _, last = subject.rpartition(SEP)
            tail = bool(prefix) and last not in self._literals
        if tail:
            hit = self._tails.get(prefix)
            # the prefix was checked when the entry was made; the last token is checked here
            if hit is not None and _valid_last(last):
                return hit
        tokens = _check_tokens(subject)
        if PWC in tokens or FWC in tokens:
            raise InvalidSubject(f"publish subject {subject!r} contains a wildcard token")
        found: list[Subscription] = []
        self._collect(self._root, tokens, 0, found)
        result = self._freeze(found)
        cache = self._tails if tail else self._cache
        if len(cache) >= self._cache_size:
            cache.clear()
        cache[prefix if tail else subject] = result
        return result

    def transient(self, subject: str) -> bool:
        """Is ``subject`` matched by its prefix (its last token names no node of the trie)?
        Such a subject (a reply's ``_INBOX.<nuid>.<n>``) is usually seen once."""
        prefix, _, last = subject.rpartition(SEP)
        return bool(prefix) and last not in self._literals

    def _collect(self, node: _Node, tokens: list[str], i: int, out: list[Subscription]) -> None:
        n = len(tokens)
        while True:
            if node.fwc is not None:
                out.extend(node.fwc.subs.values())
            if node.pwc is not None:
                if i + 1 == n:
                    out.extend(node.pwc.subs.values())
                else:
                    self._collect(node.pwc, tokens, i + 1, out)
            nxt = node.children.get(tokens[i])
            if nxt is None:
                return
            i += 1
            if i == n:
                out.extend(nxt.subs.values())
                return
            node = nxt

    @staticmethod
    def _freeze(found: list[Subscription]) -> Match:
        if not found:
            return EMPTY_MATCH
        found.sort(key=lambda s: s.sid)
        plain: list[Subscription] = []
        groups: dict[str, list[Subscription]] = {}
        for sub in found:
            if sub.queue is None:
                plain.append(sub)
            else:
                groups.setdefault(sub.queue, []).append(sub)
        return Match(tuple(plain), {q: tuple(groups[q]) for q in sorted(groups)})

    def _invalidate(self, subject: str, tokens: list[str]) -> None:
        # A literal pattern matches itself only, and its last token is a literal, so no
        # subject kept by prefix in ``_tails`` can be it: only wildcards change those.
        if PWC in tokens or FWC in tokens:
            self._cache.clear()
            self._tails.clear()
        else:
            self._cache.pop(subject, None)
