"""Load for real servers: raw-protocol clients over sockets, open-loop Poisson arrivals.

The load generator must not be the bottleneck, and it must offer load the way the simulator
does: arrivals are an open-loop Poisson process (exponential gaps drawn up front from a
seeded ``numpy`` generator, so a late reply never delays the next request), split over
several processes (``multiprocessing``), each with its own connection(s). A request's
latency runs from the moment it is *sent* to its reply. Not from its scheduled arrival: the
generator sleeps in ``epoll_wait``, whose timeout has millisecond resolution, so requests
leave up to 1 ms after their scheduled times (a median 0.5–1 ms late at 100–2,000 req/s on a
2-vCPU VM) — lateness of the generator's timer, not time spent in the system under test
(the simulator's clients send at the arrival instant). The lateness is recorded beside.
An HTTP request that finds every connection of its process busy is sent when one frees, so
there too the latency is the system's, from the wire.

Protocols, written by hand over sockets so no client library's cost is in the way:

* NATS (nats-server ``server/parser.go``): ``CONNECT``, ``SUB subject [queue] sid``,
  ``PUB subject [reply] size``, ``MSG subject sid [reply] size``, ``PING``/``PONG``;
  requests use one ``_INBOX.<id>.*`` subscription per connection and a token per request.
  TLS: the server's ``INFO`` comes in clear, then the client upgrades (nats-server
  ``client.go``, TLS upgrade after INFO).
* HTTP/1.1 keep-alive (RFC 9112): one request in flight per connection, ``Content-Length``
  bodies; a generator process keeps a fixed set of connections and queues arrivals that
  find them all busy.

Roles (each a process): :func:`responder` (queue-group member; may also publish an event per
request), :func:`sink` (plain subscriber that counts deliveries), :func:`http_backend`
(keep-alive HTTP server), :func:`nats_requester` and :func:`http_requester` (the load).
Every loop is bounded: by the arrival schedule plus a drain timeout, or by a stop event.
"""

from __future__ import annotations

import json
import selectors
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HOST = "127.0.0.1"
DRAIN = 2.0  # seconds to wait for the last replies after the last arrival
CRLF = b"\r\n"


def arrivals(rate: float, duration: float, seed: int) -> np.ndarray:
    """Poisson arrival times in [0, duration) (exponential gaps of mean 1/rate)."""
    rng = np.random.default_rng(seed)
    n = int(rate * duration * 1.5 + 50)
    times = np.cumsum(rng.exponential(1.0 / rate, n))
    while times[-1] < duration:  # vanishingly rare: extend
        more = times[-1] + np.cumsum(rng.exponential(1.0 / rate, n))
        times = np.concatenate([times, more])
    result: np.ndarray = times[times < duration]
    return result


@dataclass(frozen=True)
class Result:
    """What one load process saw: latencies (s) of completed requests, counts."""

    latencies: list[float]  # seconds, from the request's send to its reply
    sent: int
    received: int  # replies, or deliveries for a sink
    bytes_out: int
    bytes_in: int
    lateness: list[float] = field(default_factory=list)  # send − scheduled arrival (s)
    # when each request was sent: time.perf_counter() (CLOCK_MONOTONIC, the same clock in
    # every process of the machine), so the simulator can be given the arrivals as they were
    sends: list[float] = field(default_factory=list)


# ---------------------------------------------------------------- NATS wire


class NatsConn:
    """One raw NATS connection: a socket, a receive buffer and a frame parser."""

    def __init__(self, port: int, name: str, tls: bool = False) -> None:
        sock = socket.create_connection((HOST, port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.sock: socket.socket = sock
        info = self._line_blocking()
        if not info.startswith(b"INFO "):
            raise ConnectionError(f"expected INFO, got {info[:80]!r}")
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # a self-signed certificate on loopback
            self.sock = ctx.wrap_socket(sock)
        opts = {
            "verbose": False,
            "pedantic": False,
            "name": name,
            "lang": "python-raw",
            "version": "0",
            "protocol": 1,
            "headers": True,
            "no_responders": True,
        }
        self.sock.sendall(f"CONNECT {json.dumps(opts)}\r\nPING\r\n".encode())
        while True:  # wait for the PONG: the server has processed CONNECT
            line = self._line_blocking()
            if line == b"PONG":
                break
            if line.startswith(b"-ERR"):
                raise ConnectionError(line.decode(errors="replace"))

    def _line_blocking(self) -> bytes:
        while CRLF not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("nats-server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(CRLF, 1)
        return line

    def sync(self) -> None:
        """PING and wait for PONG (every earlier command is processed)."""
        self.sock.settimeout(10)
        self.sock.sendall(b"PING\r\n")
        while self._line_blocking() != b"PONG":
            pass

    def frames(self, data: bytes) -> list[tuple[bytes, bytes | None, bytes]]:
        """Add received bytes; return complete MSG frames (subject, reply, payload); answer PINGs."""
        self.buf += data
        out: list[tuple[bytes, bytes | None, bytes]] = []
        while True:
            end = self.buf.find(CRLF)
            if end < 0:
                return out
            line = self.buf[:end]
            if line.startswith(b"MSG "):
                parts = line.split()
                size = int(parts[-1])
                if len(self.buf) < end + 2 + size + 2:
                    return out
                payload = self.buf[end + 2 : end + 2 + size]
                self.buf = self.buf[end + 4 + size :]
                reply = parts[3] if len(parts) == 5 else None
                out.append((parts[1], reply, payload))
                continue
            self.buf = self.buf[end + 2 :]
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise ConnectionError(line.decode(errors="replace"))


def pub(subject: bytes, payload: bytes, reply: bytes | None = None) -> bytes:
    """One PUB command."""
    r = b" " + reply if reply else b""
    return b"PUB " + subject + r + b" " + str(len(payload)).encode() + CRLF + payload + CRLF


def _received(conn: NatsConn, stop: Any) -> Iterator[bytes]:
    """What arrives on ``conn`` until ``stop`` is set (polled every 0.2 s) or the server
    closes the connection."""
    conn.sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data = conn.sock.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            continue
        if not data:
            return
        yield data


def responder(
    port: int,
    subject: str,
    queue: str,
    reply_bytes: int,
    event: str | None,
    event_bytes: int,
    tls: bool,
    ready: Any,
    stop: Any,
    out: Any,
) -> None:
    """A queue-group member: reply to each request (after publishing ``event``, if given)."""
    conn = NatsConn(port, f"responder-{queue}", tls)
    conn.sock.sendall(f"SUB {subject} {queue} 1\r\n".encode())
    conn.sync()
    ready.set()
    body, ev_body = b"r" * reply_bytes, b"e" * event_bytes
    ev = event.encode() if event else None
    handled = 0
    for data in _received(conn, stop):
        batch = []
        for _subject, reply, _payload in conn.frames(data):
            if ev is not None:
                batch.append(pub(ev, ev_body))
            if reply:
                batch.append(pub(reply, body))
            handled += 1
        if batch:
            conn.sock.sendall(b"".join(batch))
    out.put(("responder", handled))
    conn.sock.close()


def sink(port: int, subject: str, tls: bool, ready: Any, stop: Any, out: Any) -> None:
    """A plain subscriber that counts what it receives."""
    conn = NatsConn(port, "sink", tls)
    conn.sock.sendall(f"SUB {subject} 1\r\n".encode())
    conn.sync()
    ready.set()
    got = sum(len(conn.frames(data)) for data in _received(conn, stop))
    out.put(("sink", got))
    conn.sock.close()


def nats_requester(
    port: int,
    subject: str,
    rate: float,
    duration: float,
    seed: int,
    request_bytes: int,
    tls: bool,
    ident: int,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """Open-loop Poisson requests on one connection; put a :class:`Result` on ``out``."""
    conn = NatsConn(port, f"requester-{ident}", tls)
    inbox = f"_INBOX.r{ident}".encode()
    conn.sock.sendall(b"SUB " + inbox + b".* 1\r\n")
    conn.sync()
    conn.sock.setblocking(False)
    times = arrivals(rate, duration, seed)
    subj, body = subject.encode(), b"q" * request_bytes
    pending: dict[bytes, float] = {}
    latencies: list[float] = []
    lateness: list[float] = []
    sends: list[float] = []
    sel = selectors.DefaultSelector()
    sel.register(conn.sock, selectors.EVENT_READ)
    ready.set()
    if not go.wait(30):
        return
    t0 = time.perf_counter()
    i, n, sent, bytes_out, bytes_in = 0, len(times), 0, 0, 0
    end = t0 + duration + DRAIN
    while (i < n or pending) and time.perf_counter() < end:
        now = time.perf_counter() - t0
        if i < n and times[i] <= now:
            batch = []
            while i < n and times[i] <= now:
                token = str(i).encode()
                pending[token] = now
                lateness.append(now - float(times[i]))
                sends.append(t0 + now)
                batch.append(pub(subj, body, inbox + b"." + token))
                i += 1
            data = b"".join(batch)
            conn.sock.setblocking(True)
            conn.sock.sendall(data)
            conn.sock.setblocking(False)
            sent += len(batch)
            bytes_out += len(data)
            continue
        wait = (times[i] - now) if i < n else 0.05
        for _key, _ev in sel.select(timeout=max(0.0, wait)):
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError):
                continue
            if not data:
                raise ConnectionError("nats-server closed the connection")
            bytes_in += len(data)
            got = time.perf_counter() - t0
            for subject_b, _reply, _payload in conn.frames(data):
                started = pending.pop(subject_b.rsplit(b".", 1)[-1], None)
                if started is not None:
                    latencies.append(got - started)
    result = Result(latencies, sent, len(latencies), bytes_out, bytes_in, lateness, sends)
    out.put(("requester", result))
    conn.sock.close()


# ---------------------------------------------------------------- HTTP/1.1


def _http_messages(buf: bytearray) -> tuple[int, int]:
    """(complete messages at the front of ``buf``, bytes they take) for Content-Length framing."""
    count, pos = 0, 0
    while True:
        head_end = buf.find(b"\r\n\r\n", pos)
        if head_end < 0:
            return count, pos
        length = 0
        for line in bytes(buf[pos:head_end]).split(CRLF)[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(buf) < head_end + 4 + length:
            return count, pos
        pos = head_end + 4 + length
        count += 1


def http_backend(port_out: Any, response_bytes: int, ready: Any, stop: Any, out: Any) -> None:
    """A keep-alive HTTP/1.1 server answering every request with ``response_bytes`` of body."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((HOST, 0))
    lsock.listen(512)
    lsock.setblocking(False)
    port_out.put(lsock.getsockname()[1])
    body = b"b" * response_bytes
    response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    buffers: dict[socket.socket, bytearray] = {}
    ready.set()
    handled = 0
    while not stop.is_set():
        for key, _ev in sel.select(timeout=0.2):
            if key.data is None:
                try:
                    c, _addr = lsock.accept()
                except BlockingIOError:
                    continue
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.setblocking(False)
                buffers[c] = bytearray()
                sel.register(c, selectors.EVENT_READ, "conn")
                continue
            c = key.fileobj  # type: ignore[assignment]
            try:
                data = c.recv(65536)
            except (BlockingIOError, ConnectionResetError):
                data = b""
            if not data:
                sel.unregister(c)
                buffers.pop(c, None)
                c.close()
                continue
            buf = buffers[c]
            buf += data
            count, used = _http_messages(buf)
            if count:
                del buf[:used]
                c.setblocking(True)
                c.sendall(response * count)
                c.setblocking(False)
                handled += count
    out.put(("backend", handled))


def http_requester(
    port: int,
    rate: float,
    duration: float,
    seed: int,
    request_bytes: int,
    connections: int,
    ident: int,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """Open-loop Poisson HTTP/1.1 requests over ``connections`` keep-alive connections."""
    socks = []
    for _ in range(connections):
        s = socket.create_connection((HOST, port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks.append(s)
    body = b"q" * request_bytes
    request = b"POST /r HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    times = arrivals(rate, duration, seed)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    idle = list(socks)
    inflight: dict[socket.socket, float] = {}
    buffers = {s: bytearray() for s in socks}
    latencies: list[float] = []
    lateness: list[float] = []
    sends: list[float] = []
    ready.set()
    if not go.wait(30):
        return
    t0 = time.perf_counter()
    i, n, sent, bytes_out, bytes_in = 0, len(times), 0, 0, 0
    end = t0 + duration + DRAIN
    while (i < n or inflight) and time.perf_counter() < end:
        now = time.perf_counter() - t0
        while i < n and times[i] <= now and idle:
            s = idle.pop()
            sent_at = time.perf_counter() - t0
            lateness.append(sent_at - float(times[i]))
            sends.append(t0 + sent_at)
            s.setblocking(True)
            s.sendall(request)
            s.setblocking(False)
            inflight[s] = sent_at
            sent += 1
            bytes_out += len(request)
            i += 1
        wait = 0.05 if i >= n or not idle else max(0.0, times[i] - now)
        for key, _ev in sel.select(timeout=wait):
            s = key.fileobj  # type: ignore[assignment]
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                raise ConnectionError("the proxy closed a keep-alive connection")
            bytes_in += len(data)
            buffers[s] += data
            count, used = _http_messages(buffers[s])
            if count and s in inflight:
                del buffers[s][:used]
                latencies.append(time.perf_counter() - t0 - inflight.pop(s))
                idle.append(s)
    result = Result(latencies, sent, len(latencies), bytes_out, bytes_in, lateness, sends)
    out.put(("requester", result))
    for s in socks:
        s.close()
