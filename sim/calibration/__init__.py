"""Calibration profiles shipped with the simulator (``default.yaml``: the figures the
scenario models' defaults carry, with the machine and versions they were measured on)."""

from pathlib import Path

DEFAULT_PROFILE = Path(__file__).with_name("default.yaml")
