"""The control plane (istiod-like): xDS streams, debounced pushes, cost per proxy.

Every xDS client (sidecar, gateway replica, ztunnel, or a proxyless caller) holds one
long-lived mTLS gRPC stream to the control plane, which keeps ``memory_per_proxy`` for it
(derived from Istio's 1.5 GB for 2,000 sidecars). The control plane watches the catalog.

**Debounce** (Istio ``PILOT_DEBOUNCE_AFTER`` = 100 ms, ``PILOT_DEBOUNCE_MAX`` = 10 s; the
EDS path is debounced too, istio/istio#14349): the first change starts a timer of
``debounce_after``; when it fires, the push starts if the last change is at least
``debounce_after`` old or the first is ``debounce_max`` old, else the timer is re-armed for
the rest of the quiet time. One push is in flight at a time; changes that arrive during a
push are merged into the next one (Istio's ``free`` flag).

**Push**: for every connected client whose scope contains a changed service, one job of
``cpu_per_push`` on the control plane's cores (FIFO: with one core the k-th client is
served after k × cpu_per_push — propagation grows with mesh size), then the update travels
(``push_bytes_per_cluster`` + ``push_bytes_per_endpoint`` per endpoint of each changed
cluster, envoyproxy/envoy PR #15231) and the client spends ``config_cpu`` applying it
before its view switches. The log gets ``(t, "push", "istiod", n_clients)``.

With ``replicas`` > 1 (``istiod-0``, ``istiod-1``, …) every replica watches the catalog and
debounces on its own, and the proxies' streams are spread over them round robin in the order
they connect; each replica pushes to its own proxies.
"""

from __future__ import annotations

from typing import Any

from sim.core.component import Component
from sim.core.connections import close_accounting, open_accounting, tls_active
from sim.core.network import Network, Place
from sim.http.discovery import LogRow, Snapshot, View
from sim.scenario.common import Tls
from sim.scenario.http import ControlPlane as ControlPlaneConfig

EPS = 1e-12


class XdsClient:
    """One connected proxy (or proxyless caller): its view and what applying costs it."""

    __slots__ = ("config_cpu", "view")

    def __init__(self, view: View, config_cpu: float):
        self.view = view
        self.config_cpu = config_cpu


class ControlPlane(Component):
    """istiod: memory per connected proxy, debounced pushes, CPU per proxy pushed to."""

    def __init__(
        self,
        env: Any,
        net: Network,
        place: Place,
        cfg: ControlPlaneConfig,
        log: list[LogRow],
        name: str = "istiod",
    ):
        super().__init__(env, "control-plane", name, place, cores=cfg.cores, memory=cfg.memory)
        self.net = net
        self.cfg = cfg
        self.log = log
        self.clients: list[XdsClient] = []
        self.latest: Snapshot | None = None
        self.pending: set[str] = set()
        self.first_change = 0.0
        self.last_change = 0.0
        self.timer = False
        self.busy = False
        self.due = False  # debounce finished while a push was in flight
        self.pushes = 0
        self.proxy_pushes = 0

    def connect(self, client: XdsClient, tls: Tls) -> None:
        """A proxy opens its xDS stream (one long-lived mTLS connection)."""
        owner = client.view.owner
        self.clients.append(client)
        self.memory.add(self.cfg.memory_per_proxy)
        book_connection(owner, self, tls)

    def disconnect(self, client: XdsClient, tls: Tls) -> None:
        """A proxy has gone (its instance stopped)."""
        if client in self.clients:
            self.clients.remove(client)
            self.memory.remove(self.cfg.memory_per_proxy)
            unbook_connection(client.view.owner, self, tls)

    # ------------------------------------------------------------------ debounce
    def receive(self, snapshot: Snapshot, changed: frozenset[str]) -> None:
        """A catalog change: merge it and (re)start the debounce."""
        now = self.env.now
        self.latest = snapshot
        if not self.pending and not self.timer:
            self.first_change = now
        self.pending |= changed
        self.last_change = now
        if not self.timer:
            self._arm(self.cfg.debounce_after)

    def _arm(self, delay: float) -> None:
        self.timer = True
        t = self.env.timeout(delay)
        t.callbacks.append(self._tick)

    def _tick(self, _e: Any) -> None:
        self.timer = False
        now = self.env.now
        quiet = now - self.last_change
        since = now - self.first_change
        c = self.cfg
        if quiet + EPS >= c.debounce_after or since + EPS >= c.debounce_max:
            if self.busy:
                self.due = True
            else:
                self._push()
        else:
            self._arm(min(c.debounce_after - quiet, c.debounce_max - since))

    # ------------------------------------------------------------------ push
    def _push(self) -> None:
        snap = self.latest
        assert snap is not None
        changed = frozenset(self.pending)
        self.pending.clear()
        self.due = False
        c = self.cfg
        nbytes = sum(
            c.push_bytes_per_cluster + c.push_bytes_per_endpoint * len(snap.get(s, ()))
            for s in changed
        )
        targets = [x for x in self.clients if x.view.wants(changed)]
        self.pushes += 1
        self.log.append((self.env.now, "push", self.name, str(len(targets))))
        if not targets:
            return
        self.busy = True
        left = [len(targets)]

        def one_done() -> None:
            left[0] -= 1
            if left[0] == 0:
                self.busy = False
                if self.due:
                    self._push()

        for x in targets:
            self._push_to(x, snap, changed, nbytes, one_done)

    def _push_to(
        self, x: XdsClient, snap: Snapshot, changed: frozenset[str], nbytes: float, done: Any
    ) -> None:
        env = self.env
        owner = x.view.owner
        self.handled += 1
        self.proxy_pushes += 1
        self.bytes_out += nbytes
        delay = self.net.one_way(self.place, owner.place, nbytes)

        def arrive(_e: Any) -> None:
            w = x.config_cpu
            if w > 0 and owner.cpu is not None:
                owner.cpu.execute(w).callbacks.append(
                    lambda _a: x.view.apply(snap, changed, env.now)
                )
            else:
                x.view.apply(snap, changed, env.now)

        def sent(_e: Any) -> None:
            done()
            env.timeout(delay).callbacks.append(arrive)

        w = self.cfg.cpu_per_push
        if w > 0 and self.cpu is not None:
            self.cpu.execute(w).callbacks.append(sent)
        else:
            sent(None)


def book_connection(a: Component, b: Component, tls: Tls) -> None:
    """Book a long-lived connection opened at start (counts, handshakes, memory)."""
    open_accounting(a, b, tls)
    for c in (a, b):
        c.handshakes_tcp += 1
        if tls_active(tls):
            c.handshakes_tls += 1
            if tls.mutual:
                c.handshakes_mtls += 1


def unbook_connection(a: Component, b: Component, tls: Tls) -> None:
    """Book the close of a long-lived connection."""
    close_accounting(a, b, tls)
