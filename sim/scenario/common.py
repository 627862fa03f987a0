"""Settings both architectures share: TLS costs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from sim.scenario.base import Strict, cited
from sim.scenario.units import Duration, Size


class Tls(Strict):
    """TLS on a connection: round trips by version, CPU on both ends, memory per side."""

    version: Literal["none", "1.2", "1.3"] = cited("1.3", "RFC 8446 (TLS 1.3: +1 RTT)")
    """TLS version on the connection: 'none' (plain TCP), '1.2' (2 extra round trips) or '1.3' (1 extra round trip)."""
    mutual: bool = cited(True, "Istio mTLS / NATS TLS with verify: both sides authenticate")
    """Both sides present and verify a certificate (mTLS); false: only the server does."""
    server_cpu: Duration = cited(
        0.12e-3, "measured: OpenSSL 3.0 speed, full handshake ECDSA P-256, one core", ge=0
    )
    """CPU seconds the server spends on one full handshake."""
    client_cpu: Duration = cited(0.085e-3, "measured: one P-256 certificate verify", ge=0)
    """CPU seconds the client spends on one full handshake (verifying the server's certificate)."""
    mutual_cpu: Duration = cited(
        0.085e-3, "measured: extra certificate verify for mTLS (P-256)", ge=0
    )
    """Extra CPU seconds on each side for the client certificate when the TLS is mutual."""
    memory_per_connection: Size = cited(
        10 * 1024, "imperialviolet.org 'Overclocking SSL': <10 KB per TLS connection", ge=0
    )
    """Bytes of TLS state each side keeps per open connection."""


# Figures of the I/O cost model (sim.core.io), measured on one 2-core x86-64 VM (AMD EPYC,
# Linux, loopback) with a real nats-server 2.15.1 and haproxy 2.6, CPU read from
# /proc/PID/stat, and OpenSSL 3.0 `speed`; `sim calibrate` measures them on the user's machine
# and writes a calibration profile (sim/calibration/). Every default's source is listed in
# scenarios/SOURCES.md (generated from these models).
_GO_SOURCE = (
    "measured: sim calibrate (sim/calibration/measured.yaml) on a 2-vCPU VM, nats-server "
    "2.15.1, 2026-12-07: request/reply to a 2-member queue group and 1:3 fan-out, 128 B and "
    "16 KiB bodies, plain and TLS, 100–2,000 req/s (24 cases, 104–495 µs CPU per request), "
    "non-negative least squares once deep_wakeup, measured on the server itself, was taken off, "
    "R² 0.95: {what}. sim validate --real with these figures kept 18 of 18 broker CPU rows "
    "within ±30 % in both runs since (0.76–1.25×, runs 28–29 of reports/validation-real/"
    "runs.md), as did the fit of the day before, without deep_wakeup (10 µs per wake-up, "
    "194 µs cold, R² 0.93); an earlier hand fit (3 µs per wake-up, 200 µs cold) kept 5–16 of "
    "18 in six runs"
)


# The wait of a wake-up from idle (sim.core.io), the same for every process on a machine.
COLD_LATENCY = 46e-6
COLD_LATENCY_SOURCE = (
    "measured: 2-vCPU KVM guest (cpuidle haltpoll), one-byte loopback round trip between two "
    "processes 19 µs when both woke within the last 0.2 ms, 112 µs after 20 ms asleep: "
    "≈46 µs for each of its two wake-ups (sim calibrate measures it on the user's machine); "
    "on bare metal it is the idle state's exit latency (Linux intel_idle, Skylake-SP: C1E "
    "10 µs, C6 133 µs)"
)


# The CPU a wake-up costs more the deeper the sleep before it (sim.core.io Io.depth).
DEEP_WAKEUP_SOURCE = (
    "measured: 2-vCPU KVM guest (cpuidle haltpoll), the server answering one round trip at a "
    "time on one kept loopback connection, its CPU per round trip 0.5 ms apart against 10 ms "
    "apart (sim/real/measure.py own_waits; sim calibrate measures it on the user's machine): "
    "{who}. The CPU grows with the time asleep as the wait to wake does (at 0.2, 0.5, 1, 2, 5, "
    "10, 20 ms apart: nats-server 82, 90, 103, 132, 181, 203, 206 µs per PING; haproxy 59, "
    "52, 71, 77, 92, 121, 134 µs per proxied request). On bare metal a core's deepest idle "
    "state costs less to leave (not measured here)"
)


# How that wait grows with the time asleep (sim.core.io Io.waking), the machine's too.
WAKE_RAMP_SOURCE = (
    "measured: 2-vCPU KVM guest (cpuidle haltpoll), one-byte loopback round trip between two "
    "processes against the time between round trips, medians of 5 interleaved runs of 120 "
    "(sim/real/measure.py loopback): 52 µs 0.5 ms apart, 55 at 1 ms, 68–71 at 1.5–2 ms, 74 "
    "at 3 ms, 103 at 5 ms, 135 at 7 ms, 157 at 10 ms, 173 at 20 ms: half the excess over "
    "0.5 ms apart per wake-up, the straight line closest to it in least squares (sim/real/"
    "measure.py fit_ramp) runs from none at 0.75 ms asleep to the whole wait at 9 ms (a round "
    "of sim validate --real the same day fitted 0.5 and 7.25 ms; earlier runs: 19–28 µs up to "
    "1 ms apart, 36–52 µs at 2 ms, ≈110 µs at 10 ms); sim calibrate fits both ends on the "
    "user's machine"
)


# What forwarding a message adds on its path beyond the model's hop, waits and CPU
# (sim.core.io Channel: a write's wake-up), the machine's and the server's.
HANDOFF_SOURCE = (
    "assumption: none on bare metal, where the hand-off from the reading goroutine or thread "
    "to the writer of another connection is a goroutine switch or a callback on the same "
    "core, a few µs inside per_message (nats-server server/client.go: readLoop ends with "
    "flushClients(0), which signals each receiving connection's writeLoop through its "
    "sync.Cond; haproxy forwards within one event-loop pass). Not so on a VM: measured on a "
    "2-vCPU KVM guest, one message at a time 0.5 ms apart from a Python process to another "
    "through the server against directly (sim/real/transit.py), less what the model "
    "already charges on that path (the extra hop, the server's wait to wake, its read and "
    "write CPU and, on a proxy, its L7 work), a message through nats-server took {broker}, "
    "through haproxy {proxy}; sim calibrate and sim validate --real measure it on your machine"
)


class IoCost(Strict):
    """What moving messages costs a component's cores (sim.core.io): per wake-up (one read or
    write system call batch with its scheduling), extra for a wake-up after the whole process
    slept, per message, per byte, and on TLS links per record and per byte."""

    wakeup: Duration = cited(
        5.5e-6,
        _GO_SOURCE.format(what="≈5.5 µs per read or write batch (5.52 fitted)"),
        description="CPU seconds per wake-up: one read or write system call batch",
        ge=0,
    )
    cold_wakeup: Duration = cited(
        214e-6,
        _GO_SOURCE.format(
            what="≈214 µs extra when the process had slept ≥ warm_window (213.6 fitted; the "
            "cost per request falls with the rate as fewer wake-ups find the server asleep)"
        ),
        description="extra CPU seconds for a wake-up after every core of the process was idle "
        "for warm_window (threads woken from epoll/futex sleep, cold caches, the runtime "
        "spinning for work): it keeps a core busy after the wake-up but delays no message "
        "(measured: the same server answers a loopback round trip in 31–50 µs); the wait "
        "for the core itself is cold_latency",
        ge=0,
    )
    deep_wakeup: Duration = cited(
        74e-6,
        DEEP_WAKEUP_SOURCE.format(
            who="nats-server 2.15.1 spent 95 µs of CPU per PING answered 0.5 ms apart and "
            "169 µs 10 ms apart: 74 µs (sim calibrate, 2026-12-07, sim/calibration/"
            "measured.yaml; other runs that day 81–113 µs, in faster phases of the VM)"
        ),
        description="further CPU seconds for a wake-up after a deep sleep: none after "
        "cold_latency_after of idle, all of it from cold_latency_full_after, a straight line "
        "between (the ramp the wait to wake follows): caches and TLBs refilled after the core "
        "sat in a deep idle state. Like cold_wakeup it keeps a core busy after the wake-up "
        "but delays no message",
        ge=0,
    )
    cold_latency: Duration = cited(
        COLD_LATENCY,
        COLD_LATENCY_SOURCE,
        description="seconds a wake-up after every core of the process was idle for "
        "cold_latency_full_after or more waits before its first read (the core leaving its "
        "idle state; on a VM the host running the halted vCPU again; a shorter sleep waits "
        "less, see cold_latency_after): on the message's path, no CPU",
        ge=0,
    )
    cold_latency_after: Duration = cited(
        0.75e-3,
        WAKE_RAMP_SOURCE,
        description="idle time of every core after which a wake-up waits longer than "
        "idle_latency: the wait grows in a straight line from idle_latency at this idle time "
        "to cold_latency at cold_latency_full_after (the machine's idle states; warm_window "
        "is the process's CPU threshold)",
        ge=0,
    )
    cold_latency_full_after: Duration = cited(
        9e-3,
        WAKE_RAMP_SOURCE,
        description="idle time of every core from which a wake-up waits the whole "
        "cold_latency (at or below cold_latency_after: the wait is a step there)",
        ge=0,
    )
    idle_latency: Duration = cited(
        0.0,
        "assumption: a core idle for less than cold_latency_after is in a shallow idle state "
        "and wakes in ≤ 2 µs on bare metal (Linux intel_idle, Skylake-SP: POLL 0, C1 2 µs exit "
        "latency), negligible against a loopback hop. Not so on a VM without guest halt "
        "polling: measured on a 2-vCPU KVM guest (cpuidle haltpoll, guest_halt_poll_ns 0), a "
        "round trip between two processes pinned to different vCPUs took 57–80 µs at every "
        "spacing from 20 µs to 1 ms, against 24 µs when the scheduler kept them on one vCPU: "
        "17–27 µs per wake-up onto a halted vCPU; sim calibrate and sim validate --real "
        "measure it on your machine",
        description="seconds a wake-up waits before its first read when every core of the "
        "process is idle, for less than cold_latency_after (a core in a shallow idle state; on "
        "a VM the host waking a halted vCPU): on the message's path, no CPU",
        ge=0,
    )
    handoff_latency: Duration = cited(
        0.0,
        HANDOFF_SOURCE.format(
            broker="58–112 µs longer than directly (5–42 µs beyond what the model charges)",
            proxy="48–82 µs (0–18 µs beyond) (2026-12-07, rounds of sim validate --real, sim "
            "calibrate and probes between them, moving with the VM's phase; reports/"
            "validation-real/runs.md, runs 30–32)",
        ),
        description="seconds a message this component writes waits before the write's "
        "wake-up when that connection's writer is idle (the reading thread hands the "
        "message to the writer, and the reader of the far end wakes later behind it: on "
        "nats-server the reading goroutine signals the other connection's writeLoop, "
        "client.go flushClients → flushSignal); messages written meanwhile join the same "
        "write: on the message's path, no CPU",
        ge=0,
    )
    warm_window: Duration = cited(
        1e-3,
        _GO_SOURCE.format(
            what="a process idle ≥ 1 ms pays the cold wake-up (the best of 50 µs, 0.2, 1 and 5 ms)"
        ),
        description="idle time after which the next wake-up is cold",
        ge=0,
    )
    per_message: Duration = cited(
        7e-6,
        "measured: nats-server 2.15.1 with saturated raw-protocol clients, 14–18 µs per "
        "message through the server (read + write, wake-ups amortised) ⇒ ≈7 µs per message "
        "read or written",
        description="CPU seconds per message read (parse, match, route) or written (frame)",
        ge=0,
    )
    per_byte: Duration = cited(
        0.7e-9,
        _GO_SOURCE.format(
            what="≈0.7 ns per byte read or written (0.699 fitted, from the 16 KiB cases)"
        ),
        description="CPU seconds per byte read or written",
        ge=0,
    )
    tls_per_record: Duration = cited(
        6.6e-6,
        _GO_SOURCE.format(what="≈6.6 µs per TLS record (6.63 fitted, from the TLS cases)"),
        description="extra CPU seconds per message on a TLS link (record framing, AEAD setup)",
        ge=0,
    )
    tls_per_byte: Duration = cited(
        1.4e-9,
        _GO_SOURCE.format(
            what="≈1.4 ns per TLS byte (1.40 fitted, from the 16 KiB TLS cases; AES-128-GCM "
            "alone is 0.85 ns: OpenSSL 3.0.19 `speed -evp aes-128-gcm`, 1 KiB records)"
        ),
        description="extra CPU seconds per byte on a TLS link (AES-128-GCM)",
        ge=0,
    )


_HAPROXY_SOURCE = (
    "measured: sim calibrate (sim/calibration/haproxy.yaml) on a 2-vCPU VM, haproxy 2.6.12 as a "
    "gateway, 2026-12-07: HTTP/1.1 keep-alive, 128 B and 16 KiB bodies, 100–2,000 req/s "
    "(9 cases, 68–174 µs CPU per request, 4 reads or writes each), non-negative least squares "
    "once deep_wakeup, measured on haproxy itself, was taken off, R² 0.90 (0.69 without it, "
    "the day before): {what}. sim validate --real with haproxy's fit kept 6 of 6 proxy CPU rows "
    "within ±30 % in both runs since (0.80–1.07×, runs 28–29 of reports/validation-real/"
    "runs.md), where every earlier run had 100 req/s at 0.54–0.74×"
)

# An event-driven C/C++ proxy's I/O (haproxy measured; Envoy and ztunnel assumed alike)
PROXY_IO = IoCost(
    wakeup=2e-6,
    cold_wakeup=22e-6,
    deep_wakeup=62e-6,
    warm_window=50e-6,
    per_message=2.5e-6,
    per_byte=0.45e-9,
    tls_per_record=7e-6,
    tls_per_byte=0.85e-9,
)
PROXY_IO_SOURCE = _HAPROXY_SOURCE.format(
    what="≈22 µs extra for a wake-up after ≥ 50 µs asleep (22.1 fitted; warm_window the best of "
    "50 µs, 0.2, 1 and 5 ms), 62 µs more after a deep sleep (haproxy answering a listener of "
    "its own one request at a time: 40 µs of CPU per request 0.5 ms apart, 103 µs 10 ms apart), "
    "0.45 ns per byte (0.446 fitted, from the 16 KiB cases); 2 µs per wake-up and 2.5 µs per "
    "message are not identifiable from those cases (every message its own wake-up) and are "
    "kept from the first fit (haproxy 2.6, 106 / 84 / 62 µs per proxied request at 100 / 400 / "
    "800 req/s); haproxy's own L7 work, 19 µs per request fitted, is haproxy.yaml's "
    "cpu_per_request, not I/O. Envoy and ztunnel are assumed to pay the same for I/O, their L7 "
    "work is cpu_per_request. TLS, not measured on a proxy: 7 µs per record (assumption: the "
    "first estimate from nats-server, 290 → 370–390 µs per order with TLS at 200 orders/s, kept "
    "for a C/C++ proxy, whose I/O costs less than Go's) and 0.85 ns per byte (OpenSSL 3.0.19 "
    "`speed -evp aes-128-gcm`, 1 KiB records, 1.17 GB/s on one core)"
)


def _onto_proxy_io(v: Any) -> Any:
    """A proxy's partial ``io`` mapping (a scenario's, or a calibration profile's few fitted
    values) fills in from :data:`PROXY_IO`, not from ``IoCost``'s own (a Go server's)."""
    if isinstance(v, dict):
        return {**PROXY_IO.model_dump(), **v}
    return v


ProxyIoCost = Annotated[IoCost | None, BeforeValidator(_onto_proxy_io)]
"""The ``io`` of an event-driven C/C++ proxy (gateway, sidecar, ztunnel, edge bridge)."""
