"""How long a message takes through a real server, against straight from one process to
another: what forwarding adds on the message's path (``IoCost.handoff_latency``).

One message at a time, :data:`~sim.real.measure.WARM_GAP` apart, from a Python process on
its own timer (waiting in ``select`` until the send is due, as the load processes do) to
another Python process asleep in ``recv`` (as the responders are), every process stamping
one monotonic clock: the sender just before ``sendall``, the receiver just after ``recv``.

* **through**: nats-server (``PUB`` to a plain subscriber) or the proxy (an HTTP/1.1
  keep-alive request to a backend that answers each);
* **direct**: the same two kinds of process on one loopback connection, no server between.

Both one-way times include the two Python ends' CPU and the receiver's wait to wake, alike;
their difference is the server's share: its wait to wake, its read, routing and write, the
hand-off between its reading and writing sides, and the extra loopback hop. The two run in
:data:`~sim.real.measure.BLOCKS` blocks taking turns, so a phase of the machine moves both
alike. Measured on this project's VM (2 vCPUs), 0.5 ms apart: through nats-server 76–139 µs,
through haproxy 70–122 µs, directly 21–42 µs.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import selectors
import socket
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.real.cases import PAYLOAD
from sim.real.servers import ServerError

HTTP_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % PAYLOAD + b"r" * PAYLOAD
TIMEOUT = 5.0  # s: the longest any end waits for the next message (bounded, as every wait)


@dataclass(frozen=True)
class Transit:
    """Median one-way times, seconds."""

    through: float  # from one Python process to another through the server
    direct: float  # the same, straight from one to the other

    @property
    def extra(self) -> float:
        """What the server adds on the message's path, seconds (never below 0)."""
        return max(0.0, self.through - self.direct)


def _stamp_reads(
    sock: socket.socket, marker: bytes, n: int, answer: bytes, out: Any, ready: Any
) -> None:
    """A receiver (child process): read ``sock`` — a connection, or a listener whose
    connections it accepts — until ``n`` messages (counted by ``marker``) arrived, stamping
    each with the time of the read it came in; write ``answer`` back per message (an HTTP
    backend's response); put the stamps on ``out``."""
    sel = selectors.DefaultSelector()
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    sel.register(sock, selectors.EVENT_READ)
    ready.set()
    stamps: list[float] = []
    tails: dict[socket.socket, bytes] = {}
    keep = len(marker) - 1  # a marker split over two reads is counted in the second
    while len(stamps) < n:
        events = sel.select(TIMEOUT)
        if not events:
            break
        for key, _ in events:
            s: socket.socket = key.fileobj  # type: ignore[assignment]
            if listening and s is sock:
                conn, _ = sock.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(conn, selectors.EVENT_READ)
                continue
            data = s.recv(65536)
            t = time.perf_counter()
            if not data:
                sel.unregister(s)
                s.close()
                continue
            seen = tails.get(s, b"") + data
            got = seen.count(marker)
            tails[s] = seen[-keep:] if keep else b""
            stamps += [t] * got
            if answer and got:
                s.sendall(answer * got)
    out.put(stamps[:n])


def _receiver(sock: socket.socket, marker: bytes, n: int, answer: bytes = b"") -> tuple[Any, Any]:
    """Start :func:`_stamp_reads` on ``sock`` in a child process; returns (process, queue)."""
    ctx = mp.get_context("fork")
    out, ready = ctx.Queue(), ctx.Event()
    child = ctx.Process(
        target=_stamp_reads, args=(sock, marker, n, answer, out, ready), daemon=True
    )
    child.start()
    if not ready.wait(TIMEOUT):
        child.kill()
        raise ServerError("a transit receiver did not start")
    return child, out


class Sender:
    """A process's end of a connection that sends on its own timer."""

    def __init__(self, sock: socket.socket, message: bytes):
        self.sock, self.message = sock, message
        sock.setblocking(False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(sock, selectors.EVENT_READ)

    def send(self, n: int, gap: float) -> list[float]:
        """Send the message ``n`` times ``gap`` apart, waiting in ``select`` (reading and
        dropping whatever comes back meanwhile); the time just before each ``sendall``."""
        sock, sel = self.sock, self.sel
        times = []
        for _ in range(n):
            due = time.perf_counter() + gap
            while (left := due - time.perf_counter()) > 0:
                if sel.select(left):
                    with contextlib.suppress(BlockingIOError):
                        sock.recv(65536)
            t = time.perf_counter()
            sock.setblocking(True)
            sock.sendall(self.message)
            sock.setblocking(False)
            times.append(t)
        return times

    def close(self) -> None:
        self.sel.close()
        self.sock.close()


def transit(
    sender: Sender,
    receiver: tuple[Any, Any],
    samples: int,
    gap: float,
    warm_up: int,
    blocks: int,
) -> Transit:
    """One message at a time through the server (``sender`` to ``receiver``, started for
    ``warm_up + samples`` messages) and directly, in ``blocks`` blocks taking turns, after
    ``warm_up`` untimed messages each. Closes the sender and waits for the receivers."""
    from sim.real.measure import _pair

    n = warm_up + samples
    a, b = _pair()
    try:
        direct_rx = _receiver(b, b"M", n)
    finally:
        b.close()
    probes = {
        "through": (sender, receiver),
        "direct": (Sender(a, b"M" + b"x" * (PAYLOAD - 1)), direct_rx),
    }
    sent: dict[str, list[float]] = {"through": [], "direct": []}
    try:
        for k in range(blocks):
            for name, (send, _) in probes.items():
                m = samples // blocks + (k < samples % blocks) + (warm_up if k == 0 else 0)
                sent[name] += send.send(m, gap)
        medians = {}
        for name, (_, (_, out)) in probes.items():
            try:
                got = out.get(timeout=TIMEOUT * 2)
            except queue.Empty:
                raise ServerError(f"a transit receiver ({name}) gave no stamps") from None
            if len(got) < n:
                raise ServerError(f"a transit probe lost messages ({len(got)} of {n} read)")
            medians[name] = float(np.median(np.array(got[warm_up:]) - sent[name][warm_up:]))
    except OSError as e:
        raise ServerError(f"a transit probe broke: {e}") from e
    finally:
        for send, (child, _) in probes.values():
            send.close()
            child.join(TIMEOUT)
            if child.is_alive():
                child.kill()
    return Transit(medians["through"], medians["direct"])


def broker_receiver(port: int, n: int) -> tuple[Any, Any]:
    """A plain subscriber to nats-server on ``port`` (subject ``transit``), subscribed before
    this returns; returns (process, queue of its stamps)."""
    sock = _nats(port, b"SUB transit 1\r\n")
    try:
        return _receiver(sock, b"MSG ", n)
    finally:
        sock.close()


def broker_sender(port: int) -> Sender:
    """A publisher to nats-server on ``port`` (``PAYLOAD``-byte messages)."""
    return Sender(_nats(port, b""), b"PUB transit %d\r\n" % PAYLOAD + b"x" * PAYLOAD + b"\r\n")


def _nats(port: int, then: bytes) -> socket.socket:
    """A raw-protocol connection to nats-server: ``CONNECT``, ``then``, and a ``PING`` whose
    ``PONG`` says the server has taken both."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    got = b""
    sock.sendall(b'CONNECT {"verbose":false}\r\n' + then + b"PING\r\n")
    while b"PONG" not in got:
        data = sock.recv(65536)
        if not data:
            raise ServerError(f"nats-server on 127.0.0.1:{port} closed a transit connection")
        got += data
    return sock


def proxy_receiver(backend: int, n: int) -> tuple[Any, Any]:
    """An HTTP backend on ``backend`` answering each request; returns (process, queue)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", backend))
        sock.listen(16)
        return _receiver(sock, b"POST ", n, HTTP_ANSWER)
    finally:
        sock.close()


def proxy_sender(port: int) -> Sender:
    """A keep-alive HTTP/1.1 client of the proxy on ``port`` (``PAYLOAD``-byte bodies)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = b"POST / HTTP/1.1\r\nHost: transit\r\nContent-Length: %d\r\n\r\n" % PAYLOAD
    return Sender(sock, head + b"x" * PAYLOAD)
