"""Messaging-side settings: broker servers, their costs and limits, client TLS and
timeouts. Every default names its source (CALIBRATION.md rows: nats bench, nats-server
const.go, measurements)."""

from __future__ import annotations

from pydantic import Field

from sim.scenario.base import Strict, cited
from sim.scenario.common import Tls
from sim.scenario.units import Duration, Size


class Broker(Strict):
    servers: int = Field(1, ge=1, le=1)  # clusters arrive with the messaging depth issue
    cores: int = cited(2, "assumption: a 2-vCPU broker node, like the sidecar's 2 workers", ge=1)
    cpu_per_message: Duration = cited(
        0.1e-6, "derived: nats bench 4.9 M msg/s 1→1 ⇒ ≈0.2 µs per message, half parse", ge=0
    )
    cpu_per_delivery: Duration = cited(
        0.1e-6, "derived: nats bench 4.9 M msg/s 1→1 ⇒ ≈0.2 µs per message, half write", ge=0
    )
    memory: Size = cited(11 * 2**20, "measured: nats-server 2.9 baseline RSS ≈11 MB", ge=0)
    memory_per_connection: Size = cited(
        20 * 1024, "measured: ≈20 KB RSS per idle client connection", ge=0
    )
    memory_per_subscription: Size = cited(
        1024, "nats docs: >1M subscriptions need >1 GB ⇒ ≈1 KB", ge=0
    )
    max_payload: Size = cited(2**20, "nats-server const.go MAX_PAYLOAD_SIZE 1 MiB", gt=0)


class MessagingSettings(Strict):
    broker: Broker = Field(default_factory=lambda: Broker())
    tls: Tls = Field(default_factory=lambda: Tls())
    request_timeout: Duration = cited(2.0, "assumption: nats CLI request timeout 2 s", gt=0)
