"""Where one logical request's time goes.

A :class:`Trace` travels with a request along its synchronous path. Every wait on the path
is added to exactly one bucket, so the buckets sum to the latency (a tested invariant):
``network`` (propagation and transmission), ``queueing`` (waiting for a core or a pooled
connection), ``cpu`` (application work), ``infra`` (moving messages: gateway, proxy and
broker processing, and each end's own reads and writes with their waits to wake)
and ``handshake`` (TCP/TLS round trips and handshake CPU). Optional ``hops`` record a
per-hop timeline for sequence diagrams.
"""

from __future__ import annotations

BUCKETS = ("network", "queueing", "cpu", "infra", "handshake")


class Trace:
    __slots__ = ("cpu", "flow", "handshake", "hops", "id", "infra", "network", "queueing", "start")

    def __init__(self, rid: int, flow: str, start: float, record_hops: bool = False):
        self.id = rid
        self.flow = flow
        self.start = start
        self.network = 0.0
        self.queueing = 0.0
        self.cpu = 0.0
        self.infra = 0.0
        self.handshake = 0.0
        self.hops: list[tuple[float, str, str, str]] | None = [] if record_hops else None

    def fork(self, keep_hops: bool = True) -> Trace:
        """A copy with the same buckets (and, if asked, the same hop list): one branch of a
        request that books its own time from here on (a message copy, a timed attempt)."""
        t = Trace(self.id, self.flow, self.start)
        t.network = self.network
        t.queueing = self.queueing
        t.cpu = self.cpu
        t.infra = self.infra
        t.handshake = self.handshake
        if keep_hops:
            t.hops = self.hops
        return t

    def hop(self, t: float, frm: str, to: str, what: str) -> None:
        """Record a message from one component to another (only when hops are traced)."""
        if self.hops is not None:
            self.hops.append((t, frm, to, what))
