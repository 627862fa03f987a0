"""From a real system to a scenario and back.

* :mod:`sim.interop.k8s` — Kubernetes manifests (and Istio, NATS server config) to a scenario;
* :mod:`sim.interop.traces` — OTLP JSON or Jaeger JSON traces to a scenario and a fit report;
* :mod:`sim.interop.fit` — per-operation self-time fitting (scipy.stats) with an empirical fallback;
* :mod:`sim.interop.otlp` — simulated requests as OTLP JSON spans (``sim run --traces otlp``);
* :mod:`sim.interop.emit` — a scenario as YAML with a comment on each value saying where it came from.
"""
