"""Surveillance after treatment and palliative care: the imaging that detects progression.

Follow-up visits follow the scenario's schedule (Li 2021: 3-monthly for 2 years, 6-monthly to
5 years, then yearly), counted from the end of treatment. Palliative patients without detected
progression are restaged every few weeks; afterwards they are followed until death.
"""

from __future__ import annotations

import math

from sim.model import events as ev
from sim.model.hazards import DAYS_PER_MONTH
from sim.scenario.parameters import SITES


def compile_follow_up(params) -> tuple[tuple[tuple[float, float], ...], float]:
    fu = params.follow_up
    schedule = tuple(
        (i.until_month * DAYS_PER_MONTH, i.every_months * DAYS_PER_MONTH) for i in fu.schedule
    )
    return schedule, fu.palliative_restaging_every_weeks * 7.0


def _visits_until_detection(p, times: list[float], event: str) -> tuple[list, float]:
    """Planned imaging rows up to the first one that will find the (latent) progression."""
    t_progression = p.disease.t_progression
    rows = []
    pid, phase = p.index, p.phase
    for k, t in enumerate(times, start=1):
        rows.append((pid, t, event, phase, "", float(k)))
        if t >= t_progression:
            return rows, t
    return rows, math.inf


def build_follow_up(spec, ctx):
    schedule, _ = ctx.follow_up

    def run(p):
        p.phase = "follow_up"
        p.log(ev.FOLLOW_UP_START)
        start = t = p.env.now
        times = []
        for until, every in schedule:
            while t + every <= start + until + 1e-9 and t + every <= p.t_end:
                t += every
                times.append(t)
        # the disease state is fixed from here on, so the visit that finds progression is known
        rows, until = _visits_until_detection(p, times, ev.FOLLOW_UP_VISIT)
        yield from p.hold_logging(rows, until)
        p.image()
        yield from p.hold_forever()
        return None

    return run


def build_palliative(spec, ctx):
    _, every = ctx.follow_up
    supportive_hr = ctx.disease.supportive_care_hazard_ratio

    def run(p):
        if not spec.therapy:
            reason = "best_supportive_care"
        elif p.detected:
            reason = "progression"
        elif p.decision in ("refused", "primary_only", "metastases_only"):
            reason = p.decision
        else:
            reason = "palliative"
        p.enter_palliative(reason, "palliative" if spec.therapy else "supportive_care")
        if not spec.therapy:
            p.disease.change_death_hazard(p.env.now, supportive_hr)
            p.update_hazard_state()
        if not p.detected:
            # restaging every few weeks until imaging or symptoms reveal the progression
            last = min(p.t_end, p.disease.t_death, p.disease.t_symptoms)
            t_progression = p.disease.t_progression
            times = []
            t = p.env.now + every
            while t < last:
                times.append(t)
                if t >= t_progression:
                    break
                t += every
            rows, until = _visits_until_detection(p, times, ev.RESTAGING)
            yield from p.hold_logging(rows, until)
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
