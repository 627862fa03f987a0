"""Multi-tenant NATS accounts (stream/service exports and imports) as pure data.

``AccountSpace.from_config`` takes the ``accounts`` block of a nats-server.conf parsed to a dict
(``users`` and other auth/limit keys are ignored) and routes messages between accounts the way
nats-server v2.15 does (differential tests in ``tests/test_accounts_nats.py``).

Routing model (mirrors the server's own structures)
* Each account has its own :class:`SubjectIndex`; all share one sid counter, so sids are unique
  across the space.  ``$G`` (the global account) always exists, without imports or exports.
* Stream import (exporter A -> importer B, subject F mapped to T by ``prefix`` or ``to``): when
  B subscribes to S overlapping T, a *shadow* subscription with the same queue name goes into
  A's index on the matching part of F (``client.go`` addShadowSubscriptions); a message
  published in A that hits it is delivered to B's handle with its subject mapped F -> T.  As on
  the real server: a stream crosses one hop only, B's handle gets one copy per overlapping
  import, and a queue group of B competes with the same-named groups of A (and of other
  importers) for messages published in A.  ``prefix: p`` maps S to ``p.S``; ``to`` is a
  reversible wildcard mapping (:class:`SubjectTransform`).
* Service import (``service: {account: A, subject: E}, to: L``, L defaults to E): a publish in
  B on L is forwarded into A on E, where A's subscribers get it (B's own subscribers on L still
  get their copy).  Service-forwarded messages never enter stream shadows
  (``pmrMsgImportedFromService``); chained service imports are followed, each export once.
* Agreement: an import needs an export of the other account covering it (the exact subject
  first, else the first covering export in config order - the server takes an arbitrary one)
  whose ``accounts`` allow-list (absent or ``[]`` = public, as nats-server parses it) names
  the importer.  Violations, unknown accounts, self-imports, duplicate imports and import
  cycles raise :class:`AccountConfigError` with ``path`` like ``("accounts", "B", "imports",
  0)``.  NOTE: nats-server *accepts* a self-import and routes it; ``allow_self_import=True``
  models that.

Match results: ``match(account, subject)`` returns :class:`AccountMatch`, cached until the
next (un)subscribe (not for a subject matched by its prefix, such as a reply subject: those
are seen once).  ``plain`` holds one :class:`Delivery` per copy - receiving account, the
handle ``subscribe`` returned, the subject the receiver sees, ``via`` = "local" | "stream" |
"service" - the publishing account's index entries by sid first, then service-forwarded ones.
``queues`` maps ``(account whose subject space selected the group, group name)`` to member
deliveries, of which the caller picks exactly one (nats-server: uniformly at random).

Request/reply: nats-server rewrites the reply of a forwarded request to ``_R_.<prefix>.<rand>``
in the exporter and keeps a response import mapping it back.  Here ``route_request(B, L)``
gives ``ServiceRoute(account=A, subject=E)``; ``map_reply(B, reply, route)`` gives the ``_R_.``
subject for A's responders; ``resolve_reply(A, subject)`` gives back ``(B, reply)``, dropping a
``Singleton`` entry at its first response and ``Stream``/``Chunked`` ones at ``close_reply``.

Sources read (nats-server main, 2.15.0-dev): ``server/opts.go`` (parseAccounts,
parseExportStreamOrService, parseImportStreamOrService), ``server/accounts.go``
(addStreamImportWithClaim, addMappedStreamImportWithClaim, addServiceImport,
checkStream/ServiceExportApproved, checkAuth, stream/service cycle checks, newServiceReply,
addRespServiceImport), ``server/client.go`` (addShadowSubscriptions, addShadowSub,
processMsgResults, processServiceImport), ``server/subject_transform.go``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from sim.messaging.subjects import (
    FWC,
    PWC,
    SEP,
    Match,
    SubjectIndex,
    SubjectTransform,
    Subscription,
    is_literal,
    is_valid_subject,
    subject_is_subset,
    subjects_collide,
)

GLOBAL_ACCOUNT = "$G"
ResponseType = Literal["Singleton", "Stream", "Chunked"]
ConfigPath = tuple[str | int, ...]
_RESPONSES: dict[str, ResponseType] = {
    **dict.fromkeys(("single", "singleton"), "Singleton"),
    **dict.fromkeys(("chunk", "chunked"), "Chunked"),
    "stream": "Stream",
}
_ACCOUNT_KEYS = {"exports", "imports", "users", "nkey", "jetstream", "limits"}
_ACCOUNT_KEYS |= {"default_permissions", "msg_trace", "trace_dest"}
_EXPORT_KEYS = {"stream", "service", "accounts", "response", "response_type", "latency"}
_EXPORT_KEYS |= {"threshold", "response_threshold", "response_max_time", "response_time"}
_EXPORT_KEYS |= {"allow_trace"}
_IMPORT_KEYS = {"stream", "service", "prefix", "to", "share", "allow_trace"}


class AccountConfigError(ValueError):
    """Invalid accounts configuration; ``path`` locates the offending entry."""

    def __init__(self, message: str, path: ConfigPath = ()) -> None:
        where = ".".join(str(p) for p in path)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path


@dataclass(frozen=True, slots=True)
class Import:
    """One stream or service import.  ``subject`` is in the exporter's space, ``local`` in the
    importer's; ``transform`` maps in the direction messages flow (stream: exporter to
    importer, service: importer to exporter)."""

    kind: Literal["stream", "service"]
    importer: str
    exporter: str
    subject: str
    local: str
    transform: SubjectTransform | None
    use_pub: bool
    response: ResponseType
    index: int

    def flow(self, subject: str) -> str:
        """The subject a message published on ``subject`` carries across this import."""
        if self.transform is not None:
            return self.transform.apply(subject)
        if self.use_pub:
            return subject
        return self.local if self.kind == "stream" else self.subject


@dataclass(frozen=True, slots=True)
class _Export:
    subject: str
    accounts: frozenset[str] | None  # None: public
    response: ResponseType


@dataclass(frozen=True, slots=True)
class _Shadow:
    account: str
    handle: Subscription
    imp: Import


class Delivery(NamedTuple):
    account: str
    sub: Subscription
    subject: str
    via: Literal["local", "stream", "service"]


@dataclass(frozen=True, slots=True)
class AccountMatch:
    plain: tuple[Delivery, ...]
    queues: dict[tuple[str, str], tuple[Delivery, ...]]
    # what a router derived from this match (:mod:`sim.messaging.routing`), kept with it: a
    # match is replaced, never changed, when the subject space changes, and so is this.
    # None: a match made for one subject seen once (not cached), nothing to keep.
    derived: dict[Any, Any] | None = field(default_factory=dict, compare=False, repr=False)

    def __bool__(self) -> bool:
        return bool(self.plain or self.queues)


class ServiceRoute(NamedTuple):
    account: str
    subject: str


@dataclass
class _Account:
    index: SubjectIndex
    services: SubjectIndex  # one internal subscription per service import (owner: Import)
    exports: dict[str, list[_Export]] = field(default_factory=lambda: {"stream": [], "service": []})
    imports: list[Import] = field(default_factory=list)


def _find_export(exports: list[_Export], subject: str) -> _Export | None:
    exact = [e for e in exports if e.subject == subject]
    return next(iter(exact or [e for e in exports if subject_is_subset(subject, e.subject)]), None)


def _spec(value: object, allowed: set[str], path: ConfigPath, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise AccountConfigError(f"expected a map for {what}, got {type(value).__name__}", path)
    spec = {str(k).lower(): v for k, v in value.items()}
    if unknown := sorted(set(spec) - allowed):
        raise AccountConfigError(f"unsupported {what} field(s) {unknown}", path)
    return spec


def _as_list(value: object, path: ConfigPath) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise AccountConfigError(f"expected a list, got {type(value).__name__}", path)
    return list(value)


class AccountSpace:
    """All accounts of one server or cluster (accounts are cluster-wide)."""

    def __init__(self, names: list[str] | tuple[str, ...] = ()) -> None:
        sids = itertools.count(1)
        self._accounts = {
            n: _Account(SubjectIndex(sids=sids), SubjectIndex(sids=sids))
            for n in [GLOBAL_ACCOUNT, *names]
        }
        self._home: dict[int, str] = {}
        self._shadows: dict[int, list[tuple[SubjectIndex, Subscription]]] = {}
        self._cache: dict[tuple[str, str], AccountMatch] = {}
        # index matches (by id) of subjects seen once, matched by their prefix, that hold
        # only plain subscriptions of their account itself (no stream shadows, no queue
        # groups) in an account without service imports: an index hands out the same object
        # for the next reply subject with that prefix until it changes (then it makes a new
        # one), and a match is immutable, so finding it here (kept alive, so its id is its
        # own) means its deliveries need nothing more than their subject
        self._local_only: dict[int, Match] = {}
        self._replies: dict[tuple[str, str], tuple[str, str, ResponseType]] = {}
        self._reply_seq = itertools.count(1)

    # ------------------------------------------------------------------ configuration
    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, allow_self_import: bool = False
    ) -> AccountSpace:
        if not isinstance(config, Mapping):
            raise AccountConfigError("accounts must be a map", ("accounts",))
        space = cls([str(n) for n in config])
        imports: list[tuple[str, int, object]] = []
        for name, body in config.items():
            path: ConfigPath = ("accounts", name)
            if name == GLOBAL_ACCOUNT:
                raise AccountConfigError(f"{name!r} is a reserved account", path)
            if any(str(k).lower() in ("mappings", "maps") for k in body or {}):
                raise AccountConfigError("subject mappings are not modelled", path)
            spec = _spec(body or {}, _ACCOUNT_KEYS, path, "account")
            for i, item in enumerate(_as_list(spec.get("exports", []), (*path, "exports"))):
                space._add_export(name, item, (*path, "exports", i))
            items = _as_list(spec.get("imports", []), (*path, "imports"))
            imports += [(name, i, item) for i, item in enumerate(items)]
        for name, i, item in imports:
            path = ("accounts", name, "imports", i)
            try:
                space._add_import(name, i, item, allow_self_import, path)
            except AccountConfigError:
                raise
            except ValueError as err:  # transform and subject problems
                raise AccountConfigError(str(err), path) from err
        return space

    def _add_export(self, name: str, item: object, path: ConfigPath) -> None:
        spec = _spec(item, _EXPORT_KEYS, path, "export")
        if ("stream" in spec) == ("service" in spec):
            raise AccountConfigError("an export needs exactly one of 'stream' or 'service'", path)
        kind = "stream" if "stream" in spec else "service"
        subject = spec[kind]
        if not is_valid_subject(subject):
            raise AccountConfigError(f"invalid {kind} export subject {subject!r}", path)
        if kind == "stream" and set(spec) - {"stream", "accounts"}:
            raise AccountConfigError("service directives on a stream export", path)
        # opts.go builds the allow-list by appending: an empty list stays nil, i.e. public
        accounts = frozenset(_as_list(spec.get("accounts", []), (*path, "accounts"))) or None
        if missing := sorted((accounts or set()) - self._accounts.keys()):
            raise AccountConfigError(f"{missing[0]!r} account not defined for export", path)
        rt = str(spec.get("response", spec.get("response_type", "singleton"))).lower()
        if rt not in _RESPONSES:
            raise AccountConfigError(f"unknown response type {rt!r}", path)
        self._accounts[name].exports[kind].append(_Export(subject, accounts, _RESPONSES[rt]))

    def _add_import(
        self, name: str, i: int, item: object, allow_self: bool, path: ConfigPath
    ) -> None:
        spec = _spec(item, _IMPORT_KEYS, path, "import")
        if ("stream" in spec) == ("service" in spec):
            raise AccountConfigError("an import needs exactly one of 'stream' or 'service'", path)
        kind: Literal["stream", "service"] = "stream" if "stream" in spec else "service"
        ref = _spec(spec[kind], {"account", "subject"}, (*path, kind), kind)
        exporter, subject = ref.get("account"), ref.get("subject")
        if not isinstance(exporter, str) or not exporter or not subject:
            raise AccountConfigError("expect an account name and a subject", path)
        if exporter not in self._accounts or exporter == GLOBAL_ACCOUNT:
            raise AccountConfigError(f"{exporter!r} account not defined for {kind} import", path)
        if exporter == name and not allow_self:
            raise AccountConfigError(f"account {name!r} imports from itself", path)
        if not is_valid_subject(subject):
            raise AccountConfigError(f"invalid import subject {subject!r}", path)
        exp = _find_export(self._accounts[exporter].exports[kind], subject)
        if exp is None or (exp.accounts is not None and name not in exp.accounts):
            raise AccountConfigError(
                f"{kind} import not authorized: no {kind} export of {subject!r} in account "
                f"{exporter!r} allows account {name!r}",
                path,
            )
        if any(not isinstance(spec.get(k, ""), str) for k in ("prefix", "to")):
            raise AccountConfigError("'prefix' and 'to' must be strings", path)
        imp = (self._stream_import if kind == "stream" else self._service_import)(
            name, exporter, subject, spec, exp.response, i
        )
        acc = self._accounts[name]
        for other in acc.imports:
            if (other.kind, other.exporter) == (kind, exporter) and (
                other.subject == subject if kind == "stream" else other.local == imp.local
            ):
                raise AccountConfigError(f"duplicate {kind} import of {subject!r}", path)
        probes = (imp.local, subject) if kind == "stream" else (imp.local,)
        if any(self._cycle(kind, exporter, p, {name}) for p in probes):
            raise AccountConfigError(f"{kind} import of {subject!r} forms a cycle", path)
        acc.imports.append(imp)
        if kind == "service":
            acc.services.subscribe(imp.local, owner=imp)

    @staticmethod
    def _stream_import(
        name: str, exporter: str, subject: str, spec: dict[str, Any], rt: ResponseType, i: int
    ) -> Import:
        prefix, to = spec.get("prefix"), spec.get("to")
        if prefix and to:
            raise ValueError("a stream import can not have both 'prefix' and 'to'")
        if prefix:
            if not is_literal(prefix):
                raise ValueError(f"prefix {prefix!r} can not contain wildcard tokens")
            to = f"{prefix}{subject}" if prefix.endswith(SEP) else f"{prefix}{SEP}{subject}"
        to = to or subject
        transform = None
        if not is_literal(subject) and to != subject:
            transform = SubjectTransform.build(subject, to)
            to = transform.dest_pattern
        elif is_literal(subject) and not is_literal(to):
            raise ValueError(f"'to' {to!r} has wildcards but the import subject is literal")
        if not is_valid_subject(to):
            raise ValueError(f"invalid mapped subject {to!r}")
        use_pub = not is_literal(subject) and transform is None
        return Import("stream", name, exporter, subject, to, transform, use_pub, rt, i)

    @staticmethod
    def _service_import(
        name: str, exporter: str, subject: str, spec: dict[str, Any], rt: ResponseType, i: int
    ) -> Import:
        local = spec.get("to") or subject
        transform = None
        if not is_literal(subject) and local != subject:
            transform = SubjectTransform.build(subject, local).reverse()
            local = SEP.join(transform.src)
        if not is_valid_subject(local):
            raise ValueError(f"invalid local subject {local!r}")
        use_pub = not is_literal(subject) and transform is None
        return Import("service", name, exporter, subject, local, transform, use_pub, rt, i)

    def _cycle(self, kind: str, account: str, subject: str, visited: set[str]) -> bool:
        """accounts.go checkStreamImportsForCycles / checkServiceImportsForCycles."""
        acc = self._accounts[account]
        if kind == "stream" and not any(
            subject_is_subset(subject, e.subject) for e in acc.exports["stream"]
        ):
            return False
        for imp in acc.imports:
            other = imp.local if kind == "stream" else imp.subject
            if imp.kind != kind or not subjects_collide(subject, other):
                continue
            if imp.exporter in visited:
                return True
            nxt = imp.local if subject_is_subset(imp.local, subject) else subject
            if self._cycle(kind, imp.exporter, nxt, visited | {account}):
                return True
        return False

    # ------------------------------------------------------------------ subscriptions
    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(self._accounts)

    def __len__(self) -> int:
        return len(self._home)

    def account_of(self, sub: Subscription) -> str:
        return self._home[sub.sid]

    def imports(self, account: str) -> tuple[Import, ...]:
        return tuple(self._accounts[account].imports)

    def subscriptions(self, account: str) -> tuple[Subscription, ...]:
        """Subscriptions made in ``account`` (not shadows that importers placed there)."""
        subs = self._accounts[account].index.subscriptions()
        return tuple(s for s in subs if not isinstance(s.owner, _Shadow))

    def subscribe(
        self, account: str, subject: str, queue: str | None = None, owner: object = None
    ) -> Subscription:
        acc = self._accounts[account]
        handle = acc.index.subscribe(subject, queue, owner)
        self._home[handle.sid] = account
        shadows = self._shadows[handle.sid] = []
        for imp in acc.imports:
            shadow_subject = _shadow_subject(imp, subject) if imp.kind == "stream" else None
            if shadow_subject is not None:
                index = self._accounts[imp.exporter].index
                shadow = index.subscribe(shadow_subject, queue, _Shadow(account, handle, imp))
                shadows.append((index, shadow))
        self._cache.clear()
        return handle

    def unsubscribe(self, sub: Subscription) -> bool:
        account = self._home.get(sub.sid)
        if account is None or not self._accounts[account].index.unsubscribe(sub):
            return False
        del self._home[sub.sid]
        for index, shadow in self._shadows.pop(sub.sid):
            index.unsubscribe(shadow)
        self._cache.clear()
        return True

    # ------------------------------------------------------------------ matching
    def match(self, account: str, subject: str) -> AccountMatch:
        """Deliveries for a publish in ``account``; raises InvalidSubject like SubjectIndex."""
        hit = self._cache.get((account, subject))
        if hit is not None:
            return hit
        acc = self._accounts[account]
        m = acc.index.match(subject)  # checks the subject; a reply's is matched by prefix
        if self._local_only.get(id(m)) is m:
            # the index's match of a subject seen once, known to hold plain subscriptions of
            # this account only: their deliveries, as _collect would make them
            via: Literal["local"] = "local"
            return AccountMatch(
                tuple([Delivery(account, h, subject, via) for h in m.plain]), {}, None
            )
        plain: list[Delivery] = []
        queues: dict[tuple[str, str], tuple[Delivery, ...]] = {}
        self._collect(account, subject, False, set(), plain, queues)
        if not len(acc.services) and acc.index.transient(subject):
            # a subject like a reply's ``_INBOX.<nuid>.<n>``, seen once: not worth a cache
            # entry (the index keeps what it matched by prefix); if its match holds plain
            # subscriptions of this account only, the next subject with the same prefix
            # gets its deliveries straight from it
            if m.plain and not m.queues and not any(isinstance(h.owner, _Shadow) for h in m.plain):
                if len(self._local_only) >= 65536:
                    self._local_only.clear()
                self._local_only[id(m)] = m
            return AccountMatch(tuple(plain), dict(sorted(queues.items())), None)
        result = AccountMatch(tuple(plain), dict(sorted(queues.items())))
        if len(self._cache) >= 65536:
            self._cache.clear()
        self._cache[(account, subject)] = result
        return result

    def _collect(
        self,
        account: str,
        subject: str,
        via_service: bool,
        seen: set[tuple[str, str]],
        plain: list[Delivery],
        queues: dict[tuple[str, str], tuple[Delivery, ...]],
    ) -> None:
        acc = self._accounts[account]
        m = acc.index.match(subject)
        via: Literal["local", "service"] = "service" if via_service else "local"
        for h in m.plain:
            if not isinstance(h.owner, _Shadow):  # _deliver, inlined for the common case
                plain.append(Delivery(account, h, subject, via))
            elif d := _deliver(account, h, subject, via_service):
                plain.append(d)
        for q, members in m.queues.items():
            ds = tuple(d for h in members if (d := _deliver(account, h, subject, via_service)))
            if ds:
                queues[(account, q)] = ds
        if not len(acc.services):  # no service imports (the subject was checked just above)
            return
        for h in acc.services.match(subject).plain:
            imp = h.owner
            assert isinstance(imp, Import)
            if (imp.exporter, imp.subject) not in seen:
                seen.add((imp.exporter, imp.subject))
                self._collect(imp.exporter, imp.flow(subject), True, seen, plain, queues)

    # ------------------------------------------------------------------ request/reply
    def route_request(self, account: str, subject: str) -> ServiceRoute | None:
        """Where a request published in ``account`` on ``subject`` is served: the first service
        import (config order) matching it, chains followed; None without a service import."""
        route, seen = None, set()
        while hits := self._accounts[account].services.match(subject).plain:
            imp = hits[0].owner
            assert isinstance(imp, Import)
            if (imp.exporter, imp.subject) in seen:
                break
            seen.add((imp.exporter, imp.subject))
            account, subject = imp.exporter, imp.flow(subject)
            route = ServiceRoute(account, subject)
        return route

    def service_response(self, route: ServiceRoute) -> ResponseType:
        """Declared response type of the export serving ``route`` (Singleton by default)."""
        exp = _find_export(self._accounts[route.account].exports["service"], route.subject)
        return exp.response if exp is not None else "Singleton"

    def map_reply(self, requester: str, reply: str, route: ServiceRoute) -> str:
        """Reply subject (``_R_.<account no>.<n>``) to hand to the exporter's responders."""
        mapped = f"_R_.{list(self._accounts).index(route.account)}.{next(self._reply_seq)}"
        self._replies[(route.account, mapped)] = (requester, reply, self.service_response(route))
        return mapped

    def resolve_reply(self, account: str, subject: str) -> tuple[str, str] | None:
        """``(requester account, original reply)`` for a response published in ``account``."""
        entry = self._replies.get((account, subject))
        if entry is not None and entry[2] == "Singleton":
            del self._replies[(account, subject)]
        return None if entry is None else (entry[0], entry[1])

    def close_reply(self, account: str, subject: str) -> None:
        self._replies.pop((account, subject), None)


def _deliver(account: str, h: Subscription, subject: str, via_service: bool) -> Delivery | None:
    if not isinstance(h.owner, _Shadow):
        return Delivery(account, h, subject, "service" if via_service else "local")
    if via_service:  # a service-imported message is never re-exported to a stream
        return None
    return Delivery(h.owner.account, h.owner.handle, h.owner.imp.flow(subject), "stream")


def _shadow_subject(imp: Import, subject: str) -> str | None:
    """Subject of the shadow subscription in the exporter (client.go addShadowSubscriptions)."""
    if subject == imp.local:
        return imp.subject
    reverse = imp.transform.reverse() if imp.transform is not None else None
    if subject_is_subset(subject, imp.local):
        if reverse is not None:
            return reverse.apply(subject)
        return subject if imp.use_pub else imp.subject
    if is_literal(subject):
        return None
    if subject_is_subset(imp.local, subject):
        return imp.subject
    toks, itoks = subject.split(SEP), imp.local.split(SEP)
    for i in range(min(len(toks), len(itoks))):
        if toks[i] == PWC and itoks[i] != FWC:
            toks[i] = itoks[i]
    if toks[-1] == FWC and len(itoks) >= len(toks):
        toks[-1:] = itoks[len(toks) - 1 :]
    overlap = SEP.join(toks)
    if not subject_is_subset(overlap, imp.local):
        return None
    return reverse.apply(overlap) if reverse is not None else overlap
