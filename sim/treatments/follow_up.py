"""Surveillance after treatment and palliative care: the imaging that detects progression.

Follow-up visits follow the scenario's schedule (Li 2021: 3-monthly for 2 years, 6-monthly to
5 years, then yearly), counted from the end of treatment. Palliative patients without detected
progression are restaged every few weeks; afterwards they are followed until death.
"""

from __future__ import annotations

from sim import events as ev
from sim.hazards import DAYS_PER_MONTH
from sim.parameters_schema import SITES


def compile_follow_up(params) -> tuple[tuple[tuple[float, float], ...], float]:
    fu = params.follow_up
    schedule = tuple(
        (i.until_month * DAYS_PER_MONTH, i.every_months * DAYS_PER_MONTH) for i in fu.schedule
    )
    return schedule, fu.palliative_restaging_every_weeks * 7.0


def build_follow_up(spec, ctx):
    schedule, _ = ctx.follow_up

    def run(p):
        p.phase = "follow_up"
        p.log(ev.FOLLOW_UP_START)
        start = t = p.env.now
        visit = 0
        for until, every in schedule:
            while t + every <= start + until + 1e-9:
                t += every
                yield from p.hold_until(t)
                visit += 1
                p.log(ev.FOLLOW_UP_VISIT, "", visit)
                p.image()
        yield from p.hold_forever()
        return None

    return run


def build_palliative(spec, ctx):
    _, every = ctx.follow_up

    def run(p):
        if p.detected:
            reason = "progression"
        elif p.decision in ("refused", "primary_only"):
            reason = p.decision
        else:
            reason = "palliative"
        p.enter_palliative(reason)
        while not p.detected:
            yield from p.hold(every)
            p.log(ev.RESTAGING)
            p.image()
        yield from p.hold_forever()
        return None

    return run


def build_watch_and_wait(spec, ctx):
    def run(p):
        p.phase = "watch_and_wait"
        p.log(ev.WATCH_AND_WAIT, "all_sites")
        for site in SITES:
            p.treat_site(site)
        p.update_hazard_state()
        return None
        yield  # a generator like every step

    return run
