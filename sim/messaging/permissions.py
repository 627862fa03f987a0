"""User permissions of nats-server.conf: publish, subscribe and ``allow_responses``.

A user entry of the ``accounts`` block may carry ``permissions`` as in nats-server.conf
(``opts.go`` parseUserPermissions): ``publish`` / ``subscribe`` as a subject, a list of
subjects (allow) or a map with ``allow`` and ``deny`` lists, and ``allow_responses`` (``true``,
or a map with ``max`` and ``expires``). The server enforces them (``client.go``):

* a PUB to a subject not allowed is refused with ``-ERR 'Permissions Violation for Publish'``
  and dropped (the connection stays; a request then waits for its timeout, nobody answers
  503); a SUB not allowed is refused and creates no interest (pubAllowedFullCheck,
  canSubscribe). A subscription pattern is allowed when an allow pattern matches it token
  by token, wildcards read literally (the server matches it against a sublist of the allow
  list); deny overrides allow;
* ``allow_responses`` lets the user publish to the reply subject of each message it was
  delivered, at most ``max`` times (default 1) within ``expires`` (default 2 min,
  ``const.go`` DEFAULT_ALLOW_RESPONSE_MAX_MSGS / _EXPIRATION); and when the user has no
  publish allow list, setting it turns the blanket allow off: only replies may be published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.messaging.subjects import is_valid_subject, pattern_matches
from sim.scenario.units import parse_duration

DEFAULT_RESPONSE_MAX = 1  # nats-server const.go DEFAULT_ALLOW_RESPONSE_MAX_MSGS
DEFAULT_RESPONSE_EXPIRES = 120.0  # nats-server const.go DEFAULT_ALLOW_RESPONSE_EXPIRATION


class PermissionsError(ValueError):
    """A permissions entry nats-server would refuse; ``path`` is relative to the user."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()):
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class Rule:
    """Allow and deny lists of one direction (None: no list)."""

    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] | None = None

    def permits(self, subject: str) -> bool:
        if self.allow is not None and not any(pattern_matches(p, subject) for p in self.allow):
            return False
        return self.deny is None or not any(pattern_matches(p, subject) for p in self.deny)


@dataclass(frozen=True, slots=True)
class Permissions:
    publish: Rule
    subscribe: Rule
    responses: tuple[int, float] | None  # (max messages, expires in seconds)


def _subjects(value: Any, path: tuple[str | int, ...]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise PermissionsError("expected a subject or a list of subjects", path)
    for s in items:
        if not is_valid_subject(s.split(" ")[0]):
            raise PermissionsError(f"invalid subject {s!r}", path)
    return tuple(s.split(" ")[0] for s in items)


def _rule(value: Any, path: tuple[str | int, ...]) -> Rule:
    if isinstance(value, Mapping):
        unknown = set(value) - {"allow", "deny"}
        if unknown:
            raise PermissionsError(f"unknown field(s) {sorted(unknown)}", path)
        allow = _subjects(value["allow"], (*path, "allow")) if "allow" in value else None
        deny = _subjects(value["deny"], (*path, "deny")) if "deny" in value else None
        return Rule(allow, deny)
    return Rule(_subjects(value, path))


def parse(value: Any) -> Permissions | None:
    """A user's ``permissions`` entry (None when it has none)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise PermissionsError("permissions must be a map")
    pub, sub = Rule(), Rule()
    responses: tuple[int, float] | None = None
    for key, v in value.items():
        k = str(key).lower()
        if k in ("pub", "publish", "import"):
            pub = _rule(v, (key,))
        elif k in ("sub", "subscribe", "export"):
            sub = _rule(v, (key,))
        elif k in ("allow_responses", "publish_allow_responses"):
            responses = _responses(v, (key,))
        else:
            raise PermissionsError(f"unknown field {key!r} parsing permissions", (key,))
    if responses is not None and pub.allow is None:
        pub = Rule((), pub.deny)  # opts.go: "We turn off the blanket allow statement."
    return Permissions(pub, sub, responses)


def _responses(v: Any, path: tuple[str | int, ...]) -> tuple[int, float] | None:
    if isinstance(v, bool):
        return (DEFAULT_RESPONSE_MAX, DEFAULT_RESPONSE_EXPIRES) if v else None
    if not isinstance(v, Mapping):
        raise PermissionsError("expected a boolean or a map", path)
    n, ttl = DEFAULT_RESPONSE_MAX, DEFAULT_RESPONSE_EXPIRES
    for key, x in v.items():
        k = str(key).lower()
        if k in ("max", "max_msgs", "max_messages", "max_responses"):
            n = int(x) or DEFAULT_RESPONSE_MAX  # 0 means the default, < 0 unlimited
        elif k in ("expires", "expiration", "ttl"):
            ttl = parse_duration(x) or DEFAULT_RESPONSE_EXPIRES
        else:
            raise PermissionsError(f"unknown field {key!r} parsing permissions", (*path, key))
    return (n, ttl)


def of_users(accounts: Mapping[str, Any]) -> dict[str, Permissions]:
    """Permissions of each user that has some, by user name."""
    out: dict[str, Permissions] = {}
    for body in accounts.values():
        for u in (body or {}).get("users", []) or []:
            if isinstance(u, Mapping) and "user" in u:
                p = parse(u.get("permissions"))
                if p is not None:
                    out[str(u["user"])] = p
    return out


class Replies:
    """The reply subjects a connection may still answer (``c.replies``, responseAllowed)."""

    __slots__ = ("expires", "limit", "seen")

    def __init__(self, limit: int, expires: float):
        self.limit, self.expires = limit, expires
        self.seen: dict[str, list[float]] = {}  # reply → [delivered at, responses]

    def delivered(self, reply: str, now: float) -> None:
        self.seen[reply] = [now, 0.0]

    def allow(self, reply: str, now: float) -> bool:
        entry = self.seen.get(reply)
        if entry is None:
            return False
        entry[1] += 1
        if (self.limit > 0 and entry[1] > self.limit) or (
            self.expires > 0 and now - entry[0] > self.expires
        ):
            del self.seen[reply]
            return False
        return True
