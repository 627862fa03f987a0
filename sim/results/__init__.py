"""Results as tidy pandas frames: requests, components, timeseries, summary."""

from sim.results.frames import RunResult, frames_from_raw
from sim.results.summary import Comparison, compare_summaries, summarize

__all__ = ["Comparison", "RunResult", "compare_summaries", "frames_from_raw", "summarize"]
