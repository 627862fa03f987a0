"""A tiny real three-service application, instrumented with the OpenTelemetry SDK.

``frontend`` (GET /order) calls ``orders`` (POST /create), which calls ``payments`` (POST
/charge) for about half the orders and publishes ``orders.created`` to an in-process queue
that ``payments`` consumes. Each service is a ``ThreadingHTTPServer`` on 127.0.0.1 (an
ephemeral port, loopback only) with its own ``TracerProvider`` and ``service.name``; the
W3C trace context travels in the HTTP headers and in the queued message, so one order is one
trace with SERVER, CLIENT, PRODUCER and CONSUMER spans. Work is ``time.sleep`` of an
exponential time from a seeded generator. Everything is bounded: a fixed number of orders,
2 s timeouts on every socket, servers shut down in ``finally``.

The finished spans are encoded with the official OTLP encoder
(``opentelemetry-exporter-otlp-proto-common``) and written as OTLP JSON with protobuf's
``json_format`` — the same ``TracesData`` a Collector file exporter writes (ids in base64, the
generic protobuf JSON mapping, which the importer also reads).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import json_format
from opentelemetry import propagate
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

TIMEOUT = 2.0
MEANS = {"frontend": 1e-3, "orders": 3e-3, "payments": 2e-3, "ledger": 1e-3}  # sleep means


@dataclass
class Record:
    """What the application itself knows, to compare with what the importer finds."""

    starts: list[float] = field(default_factory=list)  # frontend handler start times
    charged: int = 0
    orders: int = 0
    sleeps: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in MEANS})


def run_app(out: Path, n: int = 120, rate: float = 60.0, seed: int = 7) -> Record:
    """Serve n orders at Poisson arrivals of the given rate; write their spans to out."""
    exporter = InMemorySpanExporter()
    tracers = {}
    for svc in ("frontend", "orders", "payments"):
        tp = TracerProvider(
            resource=Resource.create({"service.name": svc, "service.instance.id": f"{svc}-0"})
        )
        tp.add_span_processor(SimpleSpanProcessor(exporter))
        tracers[svc] = tp.get_tracer("otel-app")
    rng = np.random.default_rng(seed)
    lock = threading.Lock()
    rec = Record()
    events: queue.Queue[dict[str, str] | None] = queue.Queue()

    def work(svc: str) -> None:
        with lock:
            s = float(rng.exponential(MEANS[svc]))
            rec.sleeps[svc].append(s)
        time.sleep(s)

    def call(svc: str, url: str) -> None:
        headers: dict[str, str] = {}
        with tracers[svc].start_as_current_span(
            f"POST {url.rsplit('/', 1)[-1]}", kind=SpanKind.CLIENT
        ):
            propagate.inject(headers)
            req = urllib.request.Request(url, data=b"{}", headers=headers, method="POST")
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                resp.read()

    ports: dict[str, int] = {}

    def handler(svc: str) -> type[BaseHTTPRequestHandler]:
        class H(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                ctx = propagate.extract({k.lower(): v for k, v in self.headers.items()})
                name = self.path.strip("/")
                with tracers[svc].start_as_current_span(
                    name, context=ctx, kind=SpanKind.SERVER
                ) as span:
                    span.set_attribute(
                        "http.request.body.size", int(self.headers.get("Content-Length", 0))
                    )
                    if svc == "frontend":
                        with lock:
                            rec.starts.append(time.time())
                            rec.orders += 1
                    self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    work(svc)
                    if svc == "frontend":
                        call(svc, f"http://127.0.0.1:{ports['orders']}/create")
                    elif svc == "orders":
                        with lock:
                            charge = bool(rng.random() < 0.5)
                            rec.charged += charge
                        if charge:
                            call(svc, f"http://127.0.0.1:{ports['payments']}/charge")
                        with tracers[svc].start_as_current_span(
                            "orders.created publish", kind=SpanKind.PRODUCER
                        ) as p:
                            p.set_attribute("messaging.destination.name", "orders.created")
                            p.set_attribute("messaging.message.body.size", 200)
                            msg: dict[str, str] = {}
                            propagate.inject(msg)
                            events.put(msg)
                    body = b'{"ok": true}'
                    span.set_attribute("http.response.body.size", len(body))
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            do_GET = do_POST = _serve

        return H

    def consume() -> None:  # payments' event handler: one CONSUMER span per event
        while (msg := events.get(timeout=10 * TIMEOUT)) is not None:
            ctx = propagate.extract(msg)
            with tracers["payments"].start_as_current_span(
                "ledger", context=ctx, kind=SpanKind.CONSUMER
            ) as c:
                c.set_attribute("messaging.destination.name", "orders.created")
                work("ledger")

    servers = []
    try:
        for svc in ("payments", "orders", "frontend"):
            srv = ThreadingHTTPServer(("127.0.0.1", 0), handler(svc))
            srv.timeout = TIMEOUT
            ports[svc] = srv.server_address[1]
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            servers.append(srv)
        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        clients = []
        gaps = rng.exponential(1 / rate, n)

        def order() -> None:
            url = f"http://127.0.0.1:{ports['frontend']}/order"
            with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
                resp.read()

        for gap in gaps:
            time.sleep(float(gap))
            t = threading.Thread(target=order, daemon=True)
            t.start()
            clients.append(t)
        for t in clients:
            t.join(timeout=5 * TIMEOUT)
        events.put(None)
        consumer.join(timeout=5 * TIMEOUT)
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()
    request = encode_spans(exporter.get_finished_spans())
    out.write_text(json.dumps(json_format.MessageToDict(request)), encoding="utf-8")
    return rec
