"""Calibration profiles shipped with the simulator (``default.yaml``: the figures the
scenario models' defaults carry, with the machine and versions they were measured on;
``haproxy.yaml``: haproxy's own figures as the gateway, measured by ``sim calibrate``, so
``sim validate --real`` checks the proxy model against the proxy that runs here)."""

from pathlib import Path

DEFAULT_PROFILE = Path(__file__).with_name("default.yaml")
PROXY_PROFILES = {"haproxy": DEFAULT_PROFILE.with_name("haproxy.yaml")}
