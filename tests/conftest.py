"""Shared pytest configuration.

Hypothesis draws a fixed sequence of examples in CI (``derandomize``) so that a run is
reproducible from its commit; locally it explores new examples on every run.
"""

import os

from hypothesis import settings

pytest_plugins = ["tests.natsserver"]

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
