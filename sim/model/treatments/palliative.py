"""Palliative care: lines of systemic therapy with restaging, then best supportive care.

A patient whose disease cannot be treated locally (or who progressed) leaves the curative
pathway. With ``parameters.palliative_therapy``, what follows is what a medical oncologist gives:

- disease not yet progressed: a first line of the patient's regimen for its planned length, with
  restaging at the palliative interval; it stops at the scan (or the symptoms) that reveal
  progression. If it ends first, a treatment break follows (phase ``treatment_break``, off
  treatment: a progression found there was found after treatment, Li 2021 Table 3's sense),
  with restaging until progression is found;
- after a detected progression: each later line in turn, if the patient is fit for it, for a time
  drawn from its mean; then best supportive care, under which the cancer death hazard runs at the
  supportive-care ratio. Two first lines may come before the later ones, since the disease has not
  failed chemotherapy lately: the ``relapse_line`` for a relapse found in surveillance after
  curative treatment ended, the ``reintroduction_line`` (the induction regimen again, OPTIMOX1,
  CAIRO3) for a progression found in the break.

The disease runs at the hazard of what is being done: the ``palliative`` state on a line (sites
left untreated locally, whatever was treated before), ``untreated`` during a pause or supportive
care (see :meth:`Patient.update_hazard_state`). Without the section the step is restaging only,
under continuous (unmodelled) palliative therapy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model import events as ev
from sim.model.hazards import DAYS_PER_MONTH
from sim.model.treatments.chemotherapy import course_plan, restaged_course
from sim.model.treatments.follow_up import restaging_times, visits_until_detection
from sim.scenario.strategy import ChemotherapyStep

if TYPE_CHECKING:
    from sim.model.context import Context, Runner, StepProcess
    from sim.model.patient import Patient, Wait
    from sim.scenario.palliative import LaterLine
    from sim.scenario.parameters import Parameters
    from sim.scenario.strategy import PalliativeStep

#: phases of surveillance after treatment: a progression found there is a relapse
SURVEILLANCE = ("follow_up", "watch_and_wait")
#: the step a line's cycles are planned as (palliative phase, no radiotherapy)
_LINE = ChemotherapyStep(step="chemotherapy", phase="palliative", cycles=1)


@dataclass(frozen=True, slots=True)
class PalliativeParams:
    first_line_days: float
    later_lines: tuple[tuple[float, float], ...]
    """(probability of receiving it, mean days on it), in order"""
    relapse_line: tuple[float, float] | None = None
    """the same for a first line after a relapse found in surveillance"""
    reintroduction_line: tuple[float, float] | None = None
    """the same for the first line again after a progression found in its break"""


def compile_palliative(params: Parameters) -> PalliativeParams | None:
    pt = params.palliative_therapy
    if pt is None:
        return None
    def line(spec: LaterLine) -> tuple[float, float]:
        return spec.probability.value, spec.mean_months.value * DAYS_PER_MONTH

    return PalliativeParams(
        first_line_days=pt.first_line_months.value * DAYS_PER_MONTH,
        later_lines=tuple(line(spec) for spec in pt.later_lines),
        relapse_line=None if pt.relapse_line is None else line(pt.relapse_line),
        reintroduction_line=None if pt.reintroduction_line is None else line(pt.reintroduction_line),
    )


def _restage_until_detection(p: Patient, every: float) -> Wait:
    """Restaging every ``every`` days until imaging or symptoms reveal the progression."""
    d = p.disease
    last = min(p.t_end, d.t_death, d.t_symptoms)
    times = restaging_times(p.env.now, last, every, d.t_progression)
    rows, until = visits_until_detection(p, times, ev.RESTAGING)
    # symptoms reveal it first if no scan does (a palliative patient's symptoms do not unwind)
    yield from p.hold_logging(rows, min(until, d.t_symptoms))
    p.image()


def _reason(spec: PalliativeStep, p: Patient) -> str:
    if not spec.therapy:
        return "best_supportive_care"
    if p.detected:
        return "progression"
    if p.decision in ("refused", "primary_only", "metastases_only"):
        return p.decision
    return "palliative"


def build(spec: PalliativeStep, ctx: Context) -> Runner:
    every = ctx.follow_up.restaging_every_days
    supportive_hr = ctx.disease.supportive_care_hazard_ratio
    pp = ctx.palliative
    cp = ctx.chemo

    def supportive_care(p: Patient, reason: str) -> None:
        p.phase = "supportive_care"
        p.log(ev.SUPPORTIVE_CARE, reason)
        p.disease.change_death_hazard(p.env.now, supportive_hr)
        p.update_hazard_state()  # and the death alert with it

    def run(p: Patient) -> StepProcess:
        # a relapse found in surveillance after treatment ended: first-line therapy comes first
        relapse = p.detected and p.phase in SURVEILLANCE
        # the first line again before the later lines: after that relapse, or after a break
        relapse_line = pp.relapse_line if relapse and pp is not None else None
        p.enter_palliative(_reason(spec, p), "palliative" if spec.therapy else "supportive_care")
        if not spec.therapy:
            supportive_care(p, "decision")
            if not p.detected:
                yield from _restage_until_detection(p, every)
            yield from p.hold_forever()
            return None
        if pp is None:
            p.begin_course()  # palliative therapy, not modelled in cycles, from now on
            if not p.detected:
                yield from _restage_until_detection(p, every)
            yield from p.hold_forever()
            return None
        cycle_days = cp.cycle_days[p.regimen]
        if not p.detected:
            n = max(1, round(pp.first_line_days / cycle_days))
            p.begin_course()  # the line's hazard from now: its scans depend on it
            try:
                yield from p.carry_out(restaged_course(p, _LINE, cp, p.env.now, n, every, True))
            finally:
                p.end_course()
            if not p.detected:  # the line ended with the disease controlled: a break
                p.phase = ev.TREATMENT_BREAK
                p.log(ev.TREATMENT_BREAK)
                yield from _restage_until_detection(p, every)
                p.phase = "palliative"  # the lines after its progression
                relapse_line = pp.reintroduction_line
        lines = pp.later_lines
        if relapse_line is not None:
            lines = (relapse_line, *lines)
        for probability, mean_days in lines:
            u = p.durations.keyed("palliative_lines").take(2)
            if u[0] >= probability:
                break
            n = max(1, round(-math.log1p(-u[1]) * mean_days / cycle_days))
            yield from p.carry_out(course_plan(p, _LINE, cp, p.env.now, n))
        supportive_care(p, "after_therapy")
        yield from p.hold_forever()
        return None

    return run
