"""Surveillance after treatment: the imaging that detects progression.

Follow-up visits follow the scenario's schedule (Li 2021: 3-monthly for 2 years, 6-monthly to
5 years, then yearly), counted from the end of treatment. (Palliative patients' restaging is in
:mod:`sim.model.treatments.palliative`.)
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
    from sim.scenario.strategy import FollowUpStep, WatchAndWaitStep


@dataclass(frozen=True, slots=True)
class FollowUpParams:
    schedule: tuple[tuple[float, float], ...]
    """(until day, every days) after the end of treatment, one interval after the other"""
    restaging_every_days: float
    """restaging of palliative patients whose progression is not yet detected"""
    adjuvant_restaging_every_days: float | None = None
    """imaging during adjuvant chemotherapy (None: none before follow-up)"""


def compile_follow_up(params: Parameters) -> FollowUpParams:
    fu = params.follow_up
    schedule = tuple(
        (i.until_month * DAYS_PER_MONTH, i.every_months * DAYS_PER_MONTH) for i in fu.schedule
    )
    adjuvant = fu.adjuvant_restaging_every_months
    return FollowUpParams(schedule, fu.palliative_restaging_every_weeks * 7.0,
                          None if adjuvant is None else adjuvant * DAYS_PER_MONTH)


def restaging_times(start: float, end: float, every: float, t_progression: float) -> list[float]:
    """Scans every ``every`` days after ``start`` while a course runs (until ``end``), up to the
    first one at or after ``t_progression`` (the one that finds it)."""
    times = []
    t = start + every
    while t < end:
        times.append(t)
        if t >= t_progression:
            break
        t += every
    return times


def visits_until_detection(p: Patient, times: list[float], event: str) -> tuple[list[EventRow], float]:
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
        if p.untreated:  # residual tumour no treatment is planned for (an R2 resection)
            p.update_hazard_state()
        start = t = p.env.now
        times = []
        for until, every in schedule:
            while t + every <= start + until + 1e-9 and t + every <= p.t_end:
                t += every
                times.append(t)
        # the disease state is fixed from here on, so the visit that finds progression is known
        rows, until = visits_until_detection(p, times, ev.FOLLOW_UP_VISIT)
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
