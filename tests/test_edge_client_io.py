"""The edge clients' own reads and writes (``sim.core.io``): a request's latency includes
the client's wait to wake for the reply, on both architectures alike; the send does not wait
(the client's own timer woke it to send, before the request's clock starts)."""

from __future__ import annotations

import pytest

import sim
from tests.helpers import ZERO_OVERHEAD, requests_of, scenario

US = 1e-6
TIMES = [0.1, 0.2, 0.35]  # spaced: each request alone in the system


def _scenario(client_io: str) -> sim.Scenario:
    text = f"""
name: edge-io
run: {{duration: 1, warmup: 0, seed: 1}}
services:
  svc:
    instances: 1
    cores: 1
    operations:
      op: {{demand: {{dist: constant, value: 1ms}}, request_bytes: 0, response_bytes: 0}}
workload:
  arrivals: {{kind: replay, times: {TIMES}}}
  clients: 1
  flows: [{{name: f, service: svc, operation: op}}]
{ZERO_OVERHEAD}
"""
    # the same I/O for the HTTP stack and the NATS client library: only a 20 µs wait to
    # wake after a brief sleep, 50 µs after a long one (from 5 ms), and 3 µs per wake-up
    text = text.replace("stack: {io: null}", f"stack: {{io: {client_io}}}")
    return scenario(text.replace("client: {io: null}", f"client: {{io: {client_io}}}"))


IO = (
    "{idle_latency: 20us, cold_latency: 50us, cold_latency_after: 5ms, "
    "cold_latency_full_after: 5ms, wakeup: 3us, cold_wakeup: 0, deep_wakeup: 0, per_message: 0, "
    "per_byte: 0}"
)


@pytest.mark.parametrize("arch", ["http", "messaging"])
def test_the_client_waits_to_wake_for_its_reply_not_to_send(arch: str) -> None:
    res = sim.simulate(_scenario(IO), arch)
    req = requests_of(res).sort_values("start")
    # the service, asleep 100 ms and more: 50 µs to wake, 3 µs to read, 1 ms of work, 3 µs
    # to write (awake: no wait); the client, awake at its send (3 µs to write, no wait),
    # asleep 1.056 ms since: a brief sleep, 20 µs to wake, 3 µs to read
    assert req["latency"].to_numpy() == pytest.approx([(3 + 50 + 3 + 1000 + 3 + 20 + 3) * US] * 3)
    comp = res.components.set_index("kind")
    assert comp.loc["client", "io_wakeups"] == 6  # a write and a read per request
    assert comp.loc["client", "cpu_seconds"] == pytest.approx(6 * 3 * US)


def test_without_client_io_the_edge_moves_messages_for_free() -> None:
    res = sim.simulate(_scenario("null"), "messaging")
    assert requests_of(res)["latency"].to_numpy() == pytest.approx([1e-3] * 3)
