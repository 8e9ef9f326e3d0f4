"""Surveillance after treatment and palliative care: the imaging that detects progression.

Follow-up visits follow the scenario's schedule (Li 2021: 3-monthly for 2 years, 6-monthly to
5 years, then yearly), counted from the end of treatment. Palliative patients without detected
progression are restaged every few weeks; afterwards they are followed until death.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model import events as ev
from sim.model.events import EventRow
from sim.model.hazards import DAYS_PER_MONTH
from sim.scenario.parameters import SITES

if TYPE_CHECKING:
    from sim.model.context import Context, Runner, StepProcess
    from sim.model.patient import Patient
    from sim.scenario.parameters import Parameters
    from sim.scenario.strategy import FollowUpStep, PalliativeStep, WatchAndWaitStep


@dataclass(frozen=True, slots=True)
class FollowUpParams:
    schedule: tuple[tuple[float, float], ...]
    """(until day, every days) after the end of treatment, one interval after the other"""
    restaging_every_days: float
    """restaging of palliative patients whose progression is not yet detected"""


def compile_follow_up(params: Parameters) -> FollowUpParams:
    fu = params.follow_up
    schedule = tuple(
        (i.until_month * DAYS_PER_MONTH, i.every_months * DAYS_PER_MONTH) for i in fu.schedule
    )
    return FollowUpParams(schedule, fu.palliative_restaging_every_weeks * 7.0)


def _visits_until_detection(p: Patient, times: list[float], event: str) -> tuple[list[EventRow], float]:
    """Planned imaging rows (``times`` ascending) up to the first one that will find the (latent)
    progression, and its time (infinite: none will)."""
    found = bisect_left(times, p.disease.t_progression)
    rows = ev.series(patient_id=p.index, days=times[: found + 1], event=event, phase=p.phase)
    return rows, times[found] if found < len(times) else math.inf


def build_follow_up(spec: FollowUpStep, ctx: Context) -> Runner:
    schedule = ctx.follow_up.schedule

    def run(p: Patient) -> StepProcess:
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


def build_palliative(spec: PalliativeStep, ctx: Context) -> Runner:
    every = ctx.follow_up.restaging_every_days
    supportive_hr = ctx.disease.supportive_care_hazard_ratio

    def run(p: Patient) -> StepProcess:
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


def build_watch_and_wait(spec: WatchAndWaitStep, ctx: Context) -> Runner:
    def run(p: Patient) -> StepProcess:
        p.phase = "watch_and_wait"
        p.log(ev.WATCH_AND_WAIT, "all_sites")
        for site in SITES:
            p.treat_site(site)
        p.update_hazard_state()
        return None
        yield  # a generator like every step

    return run
