"""What a running process costs, read from ``/proc`` (Linux only).

* CPU: the process's CPU-time clock (``clock_gettime`` on the clock id of a PID,
  ``MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)`` = ``(~pid << 3) | 2``, clock_getcpuclockid(3)):
  nanoseconds the scheduler ran the whole process (all threads, live and exited). Where that
  clock cannot be read (another kernel, a process already gone, a fake ``/proc`` in tests),
  fields 14 and 15 of ``/proc/PID/stat`` (``utime``, ``stime``) in clock ticks
  (``os.sysconf("SC_CLK_TCK")``, 100 on Linux; proc(5)). Ticks are 10 ms: a peer that spent
  6 ms over a short run reads 0 or 1 tick, so the clock is used first. The second field of
  ``stat``, ``comm``, may contain spaces and parentheses, so the line is split after its
  *last* ``)``.
* Memory: ``VmRSS`` of ``/proc/PID/status`` (kB, resident set size).
* Connections: established TCP sockets of the process, the socket inodes under
  ``/proc/PID/fd`` joined with ``/proc/net/tcp`` and ``tcp6`` rows in state ``01``
  (ESTABLISHED; ``include/net/tcp_states.h``).
* The machine: ``/proc/loadavg`` and the ``cpu`` line of ``/proc/stat`` (user, nice, system,
  idle, iowait, irq, softirq, steal), so a measurement can say how busy the machine was and
  how much of it the measured processes were not.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICK = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
ESTABLISHED = "01"


def cpu_ticks(pid: int, proc: Path = PROC) -> int:
    """User + system CPU of a process so far, in clock ticks."""
    text = (proc / str(pid) / "stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state), so utime (field 14) is fields[11], stime fields[12]
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pid: int, proc: Path = PROC) -> float:
    """User + system CPU of a process so far, in seconds: its CPU-time clock (ns) when this
    is the real ``/proc``, else (or if that fails) its ticks."""
    if proc == PROC and hasattr(time, "clock_gettime"):
        with contextlib.suppress(OSError, OverflowError):
            return time.clock_gettime(_cpu_clock(pid))
    return cpu_ticks(pid, proc) / TICK


def _cpu_clock(pid: int) -> int:
    """The clock id of process ``pid``'s CPU time (Linux: ``CPUCLOCK_SCHED`` of the thread
    group, as glibc's ``clock_getcpuclockid`` computes it)."""
    return ((~pid) << 3) | 2


def rss_bytes(pid: int, proc: Path = PROC) -> int:
    """Resident set size of a process, in bytes (``VmRSS``)."""
    for line in (proc / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS in /proc/{pid}/status (a kernel thread or a zombie?)")


def socket_inodes(pid: int, proc: Path = PROC) -> set[int]:
    """Inodes of the sockets a process holds open."""
    inodes: set[int] = set()
    fd_dir = proc / str(pid) / "fd"
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def established_inodes(proc: Path = PROC) -> set[int]:
    """Inodes of every ESTABLISHED TCP socket on the machine (IPv4 and IPv6)."""
    found: set[int] = set()
    for name in ("tcp", "tcp6"):
        table = proc / "net" / name
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            cols = line.split()
            if len(cols) > 9 and cols[3] == ESTABLISHED:
                found.add(int(cols[9]))
    return found


def connections(pid: int, proc: Path = PROC) -> int:
    """Established TCP connections held by a process."""
    return len(socket_inodes(pid, proc) & established_inodes(proc))


@dataclass(frozen=True)
class MachineSample:
    """The machine's CPU counters (ticks) and load average at one instant."""

    busy: int  # every non-idle tick: user nice system irq softirq steal
    total: int
    steal: int
    loadavg: float  # 1-minute


def machine(proc: Path = PROC) -> MachineSample:
    """Read the ``cpu`` line of ``/proc/stat`` and the 1-minute load average."""
    first = (proc / "stat").read_text().splitlines()[0].split()
    ticks = [int(x) for x in first[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = ticks
    busy = user + nice + system + irq + softirq + steal
    load = float((proc / "loadavg").read_text().split()[0])
    return MachineSample(busy, busy + idle + iowait, steal, load)


@dataclass(frozen=True)
class Window:
    """CPU used during a measured window: by the machine, by steal, by named processes."""

    seconds: float
    cores: int
    machine_busy: float  # core-seconds, everything
    steal: float  # core-seconds taken by the hypervisor
    loadavg: float

    def other(self, measured: float) -> float:
        """Cores busy with work other than ``measured`` core-seconds (and steal), on average."""
        return max(0.0, self.machine_busy - measured) / self.seconds if self.seconds else 0.0


def window(before: MachineSample, after: MachineSample, seconds: float) -> Window:
    """The machine's use between two samples."""
    return Window(
        seconds=seconds,
        cores=os.cpu_count() or 1,
        machine_busy=(after.busy - before.busy) / TICK,
        steal=(after.steal - before.steal) / TICK,
        loadavg=after.loadavg,
    )
