"""Simulation core: environment, random streams, distributions, network, CPU, connections,
memory and metrics. Knows nothing of HTTP, NATS or the order domain."""
