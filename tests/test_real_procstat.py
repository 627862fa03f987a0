"""Reading CPU, RSS and connections from /proc (sim.real.procstat), on fixtures and live."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from sim.real import procstat

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux /proc")


def fake_proc(tmp_path: Path, comm: str = "nats-server") -> Path:
    pid = tmp_path / "42"
    pid.mkdir()
    # fields after comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime ...
    (pid / "stat").write_text(f"42 ({comm}) S 1 42 42 0 -1 4194560 10 0 0 0 250 130 0 0 20 0\n")
    (pid / "status").write_text("Name:\tx\nVmPeak:\t 9999 kB\nVmRSS:\t   14848 kB\n")
    (tmp_path / "loadavg").write_text("0.52 0.40 0.30 1/100 42\n")
    (tmp_path / "stat").write_text("cpu  100 5 50 1000 20 3 2 7 0 0\ncpu0 1 2 3 4\n")
    return tmp_path


def test_cpu_ticks_sum_utime_and_stime(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path)
    assert procstat.cpu_ticks(42, proc) == 380
    assert procstat.cpu_seconds(42, proc) == pytest.approx(380 / procstat.TICK)


def test_comm_with_spaces_and_parentheses(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, comm="a) b (c")
    assert procstat.cpu_ticks(42, proc) == 380


def test_rss_from_status(tmp_path: Path) -> None:
    assert procstat.rss_bytes(42, fake_proc(tmp_path)) == 14848 * 1024


def test_machine_sample(tmp_path: Path) -> None:
    m = procstat.machine(fake_proc(tmp_path))
    assert m.busy == 100 + 5 + 50 + 3 + 2 + 7
    assert m.total == m.busy + 1000 + 20
    assert m.steal == 7
    assert m.loadavg == pytest.approx(0.52)


def test_window_other_load() -> None:
    a = procstat.MachineSample(busy=0, total=0, steal=0, loadavg=0.1)
    b = procstat.MachineSample(busy=int(3 * procstat.TICK), total=0, steal=0, loadavg=0.2)
    w = procstat.window(a, b, seconds=2.0)
    assert w.machine_busy == pytest.approx(3.0)
    assert w.other(1.0) == pytest.approx(1.0)  # (3 - 1) core-seconds over 2 s


def test_live_process_cpu_grows_and_connections_are_counted() -> None:
    pid = os.getpid()
    before = procstat.cpu_ticks(pid)
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:  # burn 100 ms of CPU
        pass
    assert procstat.cpu_ticks(pid) > before
    assert procstat.rss_bytes(pid) > 1 << 20
    base = procstat.connections(pid)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname()) as client:
            accepted, _ = server.accept()
            with accepted:
                # both ends of the loopback connection belong to this process
                assert procstat.connections(pid) == base + 2
            del client


def test_cpu_seconds_of_a_live_process_reads_its_cpu_clock_to_the_microsecond() -> None:
    import subprocess
    import sys

    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.0123: pass\n"
    spin += "print(time.process_time(), flush=True)\ninput()\n"
    p = subprocess.Popen(
        [sys.executable, "-c", spin], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        own = float(p.stdout.readline())  # type: ignore[union-attr]
        seen = procstat.cpu_seconds(p.pid)
        # what the process says it used, and a little more (the print); not whole 10 ms ticks
        assert own <= seen < own + 0.005
        assert seen != round(seen, 2)
    finally:
        p.communicate("\n")
