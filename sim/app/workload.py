"""External load: open arrivals (Poisson, constant, MMPP, step/ramp profiles, a replayed
trace) and closed loops of users with think time.

Arrival times come from the ``arrivals`` stream (and ``mmpp``/``thinning`` for the modulated
kinds), the flow of each arrival from ``flows``: the same on both architectures. A
non-homogeneous profile is sampled by thinning (Lewis & Shedler 1979): candidates at the
peak rate, each kept with probability rate(t)/peak. MMPP alternates two Poisson rates with
exponential sojourns (Fischer & Meier-Hellstern 1993).
"""

from __future__ import annotations

import bisect
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.core.distributions import Sampler, Uniforms
from sim.core.schedule import call_at, call_soon
from sim.scenario import model as m
from sim.scenario.distributions import Exponential

if TYPE_CHECKING:
    from sim.app.application import Application


def _exp(mean: float, app: Application, stream: str) -> Sampler:
    return Sampler(Exponential(dist="exponential", mean=mean), app.streams.get(stream))


def profile_rate(p: m.Profile, t: float) -> float:
    """The profile's rate at time t: steps, with linear ramps into each step."""
    ats = [s.at for s in p.steps]
    i = bisect.bisect_right(ats, t) - 1
    if i < 0:
        return 0.0
    s = p.steps[i]
    prev = p.steps[i - 1].rate if i > 0 else 0.0
    if s.ramp > 0 and t < s.at + s.ramp:
        return prev + (s.rate - prev) * (t - s.at) / s.ramp
    return s.rate


class Workload:
    """Drives the application with the scenario's arrivals."""

    def __init__(self, app: Application, cfg: m.Workload):
        self.app = app
        self.cfg = cfg
        weights = [f.weight for f in cfg.flows]
        total = sum(weights)
        self.cum = [sum(weights[: i + 1]) / total for i in range(len(weights))]
        self.pick = Uniforms(app.streams.get("flows"))

    def start(self) -> None:
        a = self.cfg.arrivals
        env = self.app.env
        if isinstance(a, m.Closed):
            think = Sampler(a.think, self.app.streams.get("think"))
            for u in range(a.users):
                env.process(self._user(u, think))
        elif isinstance(a, m.Poisson | m.ConstantRate):
            call_soon(env, lambda _e: self._steady(a))
        elif isinstance(a, m.Replay):
            call_soon(env, lambda _e: self._replay(a.times))
        else:
            env.process(self._open(a))

    def _flow(self) -> m.Flow:
        if len(self.cum) == 1:
            return self.cfg.flows[0]
        return self.cfg.flows[bisect.bisect_left(self.cum, self.pick())]

    def _steady(self, a: m.Poisson | m.ConstantRate) -> None:
        """Poisson or constant-rate arrivals as a chain of bare timers, each launching one
        request and then arming the next: where a process's ``yield env.timeout(gap)`` loop
        put its timeouts in the event queue, with the same draws in the same order, but no
        process resumed per arrival (it starts as the process did, :func:`call_soon`)."""
        env = self.app.env
        launch = self.app.launch
        flow = self._flow
        gap = _exp(1.0 / a.rate, self.app, "arrivals") if isinstance(a, m.Poisson) else None
        step = 1.0 / a.rate

        def arrive(_e: Any) -> None:
            launch(flow())
            call_at(env, gap() if gap is not None else step, arrive)

        call_at(env, gap() if gap is not None else step, arrive)

    def _replay(self, times: list[float]) -> None:
        """Arrivals at the trace's instants, as a chain of bare timers (as :meth:`_steady`),
        each launching its request(s) and arming the next instant."""
        env = self.app.env
        launch = self.app.launch
        flow = self._flow
        it = iter(times)

        def arrive(_e: Any) -> None:
            launch(flow())
            nxt = next(it, None)
            if nxt is not None:
                call_at(env, nxt - env._now, arrive)

        call_at(env, next(it) - env._now, arrive)

    def _open(self, a: Any) -> Generator[Any, Any, None]:
        env = self.app.env
        launch = self.app.launch
        if isinstance(a, m.Mmpp):
            state = 0
            sojourn = [_exp(a.mean_sojourn[i], self.app, f"mmpp/{i}") for i in (0, 1)]
            gaps = [
                _exp(1.0 / r, self.app, f"arrivals/{i}") if r > 0 else None
                for i, r in enumerate(a.rates)
            ]
            switch_at = sojourn[0]()
            while True:
                g = gaps[state]
                nxt = env.now + g() if g is not None else float("inf")
                if nxt >= switch_at:  # memoryless: redraw after the switch
                    yield env.timeout(switch_at - env.now)
                    state = 1 - state
                    switch_at = env.now + sojourn[state]()
                    continue
                yield env.timeout(nxt - env.now)
                launch(self._flow())
        elif isinstance(a, m.Profile):
            peak = max(s.rate for s in a.steps)
            gap = _exp(1.0 / peak, self.app, "arrivals")
            keep = Uniforms(self.app.streams.get("thinning"))
            while True:
                yield env.timeout(gap())
                if keep() * peak < profile_rate(a, env.now):
                    launch(self._flow())

    def _user(self, u: int, think: Sampler) -> Generator[Any, Any, None]:
        env = self.app.env
        while True:
            yield env.process(self.app.client_request(self._flow(), client=u))
            yield env.timeout(think())
