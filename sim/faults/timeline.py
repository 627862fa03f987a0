"""Performing a scenario's timeline, autoscalers and failover records during one run.

:func:`schedule` is called by the engine after the transport is built and before the
application starts; it returns ``None`` when the scenario has none of these (nothing is
added to the run). Otherwise a :class:`Faults` performs every timeline entry at its time
through the :class:`~sim.faults.fleet.Fleet` (so the same entry means the same thing to
both architectures, and what follows is each architecture's own model), runs the
autoscalers, wraps an HTTP transport with its failover records, and keeps:

* ``events``: one dict per action, autoscaling decision, DNS flip and first detection —
  ``{"t", "label", "architecture", "kind", …}`` — with the books at that instant
  (``generated``, ``completed``, ``ok``, ``failed``, ``in_flight``: requests in = ok +
  failed + in flight, nothing double counted by retries); the report draws them on its
  time plots;
* ``unanswered``: when the requests still waiting at the end of the run arrived (to within
  the sampling interval), so that a disturbance is not measured on survivors only;
* ``series``: cumulative counters every ``run.timeseries_interval`` — logical requests,
  attempts and retries at every requester, connections opened and TCP handshakes — from
  which :mod:`sim.faults.measures` computes retry amplification and churn around an event.

All go to the run's metadata (``events``, ``fault_series``, ``unanswered``) through
:meth:`Faults.results`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from sim.app.application import Application
from sim.core.distributions import Uniforms
from sim.core.network import Trouble
from sim.faults.autoscale import Autoscaler
from sim.faults.detection import counters, detections
from sim.faults.failover import FailoverRecord, FailoverTransport
from sim.faults.fleet import Fleet
from sim.scenario.model import Scenario
from sim.scenario.timeline import (
    Crash,
    Link,
    NodeLoss,
    RegionOutage,
    RollingUpgrade,
    Scale,
    Slow,
    StopInfra,
)

SERIES = ("t", "generated", "requests", "attempts", "retries", "connections", "handshakes")


def has_faults(sc: Scenario) -> bool:
    """Whether the scenario has a timeline, autoscalers or failover (a :class:`Faults` log)."""
    return bool(sc.timeline or sc.failover or any(s.autoscale for s in sc.services.values()))


def schedule(app: Application) -> Faults | None:
    """Set up the timeline, autoscalers and failover of the app's scenario (or None)."""
    if not has_faults(app.sc):
        return None
    return Faults(app)


class Faults:
    """Everything that happens to one run on purpose, and what it left in the books."""

    def __init__(self, app: Application):
        self.app = app
        self.env = app.env
        sc = app.sc
        self.events: list[dict[str, Any]] = []
        self.arch = str(app.transport.name)
        self.records: dict[str, FailoverRecord] = {}
        if sc.failover and app.transport.dns_failover:  # callers resolve services by name
            self.records = {
                f.service: FailoverRecord(self.env, f, app.transport, self.events)
                for f in sc.failover
            }
            app.transport = FailoverTransport(app.transport, self.records)
        self.fleet = Fleet(app)
        self.autoscalers = [
            Autoscaler(self.fleet, name, svc.autoscale, self.events)
            for name, svc in sc.services.items()
            if svc.autoscale is not None
        ]
        for a in self.autoscalers:
            self.env.process(a.run())
        self.series: dict[str, list[float]] = {k: [] for k in SERIES}
        self.env.process(self._sample(sc.run.timeseries_interval))
        self._loss = Uniforms(app.streams.get("network/loss"))
        for i, entry in enumerate(sc.timeline):
            self._at(entry.at, self._perform, entry, i)

    # ------------------------------------------------------------------ bookkeeping
    def _at(self, t: float, fn: Callable[..., Any], *args: Any) -> None:
        delay = max(0.0, t - self.env.now)
        self.env.timeout(delay).callbacks.append(lambda _e: fn(*args))

    def books(self) -> dict[str, int]:
        """Requests generated, completed (ok + failed), ok, failed and in flight right now."""
        rec = self.app.recorder
        completed, failed = rec.sink.completed, rec.sink.failed()
        return {
            "generated": rec.generated,
            "completed": completed,
            "ok": completed - failed,
            "failed": failed,
            "in_flight": rec.in_flight,
        }

    def event(self, label: str, kind: str = "action", **extra: Any) -> dict[str, Any]:
        """Log an event now, with the books."""
        e = {"t": self.env.now, "label": label, "architecture": self.arch, "kind": kind}
        e.update(extra)
        e.update(self.books())
        self.events.append(e)
        return e

    def _sample(self, interval: float) -> Generator[Any, Any, None]:
        while True:
            row = counters(self.app)
            row["generated"] = float(self.app.recorder.generated)
            for k in SERIES:
                self.series[k].append(self.env.now if k == "t" else row[k])
            yield self.env.timeout(interval)

    def results(self) -> dict[str, Any]:
        """Metadata of the run: events (detections added, in time order) and the series."""
        for e in self.events:
            e.setdefault("architecture", self.arch)
        found = detections(self.app, self.events)
        events = sorted(self.events + found, key=lambda e: (e["t"], e["kind"] != "action"))
        return {"events": events, "fault_series": self.series, "unanswered": self.unanswered()}

    def unanswered(self) -> list[float]:
        """Start times of the requests never answered by now, interpolated from the arrival
        counts sampled every interval (request ids are given in arrival order)."""
        rec = self.app.recorder
        missing = rec.sink.unanswered(rec.generated)
        if not len(missing):
            return []
        ts = [*self.series["t"], self.env.now]
        gen = [*self.series["generated"], float(rec.generated)]
        return [float(x) for x in np.interp(np.asarray(missing) + 0.5, gen, ts)]

    # ------------------------------------------------------------------ actions
    def _perform(self, entry: Any, index: int) -> None:
        handlers: dict[type, Callable[[Any, int], None]] = {
            Scale: self._scale,
            RollingUpgrade: self._rolling,
            Crash: self._crash,
            Slow: self._slow,
            NodeLoss: self._node_loss,
            StopInfra: self._stop,
            Link: self._link,
            RegionOutage: self._outage,
        }
        handlers[type(entry)](entry, index)

    def _scale(self, e: Scale, index: int) -> None:
        f = self.fleet
        current = f.count(e.service)
        stopped: list[str] = []
        if e.instances > current:
            for _ in range(e.instances - current):
                self.env.process(f.add(e.service))
        else:
            live = sorted(f.live(e.service), key=lambda i: i.index)
            for inst in live[len(live) - min(len(live), current - e.instances) :]:
                f.stop(inst, e.drain)
                stopped.append(inst.name)
        how = "" if e.drain or not stopped else ", no drain"
        self.event(
            f"scale {e.service} {current}→{e.instances}{how}",
            action="scale",
            entry=index,
            targets=stopped,
        )

    def _rolling(self, e: RollingUpgrade, index: int) -> None:
        old = sorted(self.fleet.live(e.service), key=lambda i: i.index)
        self.event(
            f"rolling upgrade {e.service}",
            action="rolling_upgrade",
            entry=index,
            targets=[i.name for i in old],
        )

        def roll() -> Generator[Any, Any, None]:
            for k, inst in enumerate(old):
                yield from self.fleet.add(e.service)  # maxSurge 1: the new one first
                self.fleet.stop(inst, e.drain)  # maxUnavailable 0: then an old one
                if k + 1 < len(old):
                    yield self.env.timeout(e.interval)
            self.event(f"rolling upgrade {e.service} done", kind="info", entry=index)

        self.env.process(roll())

    def _crash(self, e: Crash, index: int) -> None:
        f = self.fleet
        if e.instance == "all":
            insts = f.live(e.service)
        else:
            one = f.instance(e.service, e.instance)
            insts = [one] if one is not None else []
        for inst in insts:
            f.crash(inst, e.mode)
        who = "all " + e.service if e.instance == "all" else f"{e.service}-{e.instance}"
        note = "" if insts else ", not running"
        self.event(
            f"crash {who} ({e.mode}{note})",
            action="crash",
            entry=index,
            mode=e.mode,
            targets=[i.name for i in insts],
        )

    def _slow(self, e: Slow, index: int) -> None:
        insts = self.fleet.live(e.service)
        for inst in insts:
            assert inst.cpu is not None
            inst.cpu.slowdown = e.factor
        self.event(
            f"slow {e.service} ×{e.factor:g}",
            action="slow",
            entry=index,
            targets=[i.name for i in insts],
        )
        if e.duration is not None:

            def back() -> None:
                for inst in insts:
                    assert inst.cpu is not None
                    inst.cpu.slowdown = 1.0
                self.event(f"{e.service} back to speed", kind="info", entry=index)

            self._at(self.env.now + e.duration, back)

    def _node_loss(self, e: NodeLoss, index: int) -> None:
        f = self.fleet
        one = f.instance(e.service, e.instance)
        insts = f.on_host(one.place.host) if one is not None else []
        insts = [i for i in insts if f.of(i) == "up" and i.alive]
        f.lose(insts, e.grace)
        where = one.place.host if one is not None else f"{e.service}-{e.instance}: not running"
        self.event(
            f"node loss {where}",
            action="node_loss",
            entry=index,
            mode="silent",
            targets=[i.name for i in insts],
        )

    def _stop(self, e: StopInfra, index: int) -> None:
        f = self.fleet
        procs = f.infrastructure(e.component)
        if not procs:
            self.event(f"stop {e.component} {e.index} (none here)", kind="info", entry=index)
            return
        p = procs[e.index]
        f.stop_infrastructure(p, e.mode)
        self.event(
            f"stop {p.name} ({e.mode})",
            action="stop",
            entry=index,
            mode=e.mode,
            targets=[p.name],
        )
        if e.duration is not None:

            def back() -> None:
                f.start_infrastructure(p)
                self.event(f"{p.name} back", kind="info", entry=index)

            self._at(self.env.now + e.duration, back)

    def _link(self, e: Link, index: int) -> None:
        a, b = e.between
        trouble = Trouble(a, b, e.extra_latency, e.loss, e.partition)
        handle = self.app.net.trouble(trouble, self._loss)
        what = ["partition"] if e.partition else []
        if e.extra_latency:
            what.append(f"+{e.extra_latency * 1e3:g} ms")
        if e.loss:
            what.append(f"{e.loss:.0%} loss")
        self.event(f"link {a}↔{b}: {', '.join(what) or 'no change'}", action="link", entry=index)
        if e.duration is not None:

            def heal() -> None:
                self.app.net.clear(handle)
                self.event(f"link {a}↔{b} healed", kind="info", entry=index)

            self._at(self.env.now + e.duration, heal)

    def _outage(self, e: RegionOutage, index: int) -> None:
        f, net = self.fleet, self.app.net
        insts = f.in_region(e.region)
        f.lose(insts, e.grace)
        # every process of the region's infrastructure; a broker server already down stays
        # down (it is not restarted when the region comes back)
        gws = [g for g in f.infrastructure("gateway") if g.place.region == e.region]
        brokers = [b for b in f.infrastructure("broker") if b.place.region == e.region and b.alive]
        for p in (*gws, *brokers):
            f.stop_infrastructure(p, "silent")
        handles = [
            net.trouble(Trouble(e.region, r.name, partition=True))
            for r in self.app.sc.placement.regions
            if r.name != e.region
        ]
        names = [i.name for i in insts] + [p.name for p in (*gws, *brokers)]
        self.event(f"region {e.region} out", action="region_outage", entry=index, targets=names)
        if e.duration is None:
            return

        def back() -> None:
            for h in handles:
                net.clear(h)
            for p in (*gws, *brokers):
                f.start_infrastructure(p)
            for inst in insts:  # the orchestrator starts the lost instances again
                self.env.process(f.add(inst.service))
            self.event(f"region {e.region} back", kind="info", entry=index)

        self._at(self.env.now + e.duration, back)
