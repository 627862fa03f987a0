"""Calibration profiles shipped with the package: ``default.yaml``, written by ``sim calibrate``
(:mod:`sim.real.calibrate`) on the machine its header names."""
