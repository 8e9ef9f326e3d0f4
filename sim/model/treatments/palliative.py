"""Palliative care: lines of systemic therapy with restaging, then best supportive care.

A patient whose disease cannot be treated locally (or who progressed) leaves the curative
pathway. With ``parameters.palliative_therapy``, what follows is what a medical oncologist gives:

- disease not yet progressed: a first line of the patient's regimen for its planned length, with
  restaging at the palliative interval; it stops at the scan (or the symptoms) that reveal
  progression. If it ends first, therapy pauses and restaging goes on until progression is found;
- after a detected progression: each later line in turn, if the patient is fit for it, for a time
  drawn from its mean; then best supportive care, under which the cancer death hazard runs at the
  supportive-care ratio.

The disease runs at the hazard of what is being done: the ``palliative`` state on a line (for
disease judged untreatable locally), ``untreated`` during a pause, ``partially_treated`` whatever
runs once some sites were treated (see :meth:`Patient.update_hazard_state`). Without the section
the step is restaging only, under continuous (unmodelled) palliative therapy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model import events as ev
from sim.model.hazards import DAYS_PER_MONTH
from sim.model.treatments.chemotherapy import course_plan, restaged_course, restaging_times
from sim.model.treatments.follow_up import visits_until_detection
from sim.scenario.strategy import ChemotherapyStep

if TYPE_CHECKING:
    from sim.model.context import Context, Runner, StepProcess
    from sim.model.patient import Patient, Wait
    from sim.scenario.parameters import Parameters
    from sim.scenario.strategy import PalliativeStep

#: the step a line's cycles are planned as (palliative phase, no radiotherapy)
_LINE = ChemotherapyStep(step="chemotherapy", phase="palliative", cycles=1)


@dataclass(frozen=True, slots=True)
class PalliativeParams:
    first_line_days: float
    later_lines: tuple[tuple[float, float], ...]
    """(probability of receiving it, mean days on it), in order"""


def compile_palliative(params: Parameters) -> PalliativeParams | None:
    pt = params.palliative_therapy
    if pt is None:
        return None
    return PalliativeParams(
        first_line_days=pt.first_line_months.value * DAYS_PER_MONTH,
        later_lines=tuple((line.probability.value, line.mean_months.value * DAYS_PER_MONTH)
                          for line in pt.later_lines),
    )


def _restage_until_detection(p: Patient, every: float) -> Wait:
    """Restaging every ``every`` days until imaging or symptoms reveal the progression."""
    d = p.disease
    last = min(p.t_end, d.t_death, d.t_symptoms)
    times = restaging_times(p.env.now, last, every, d.t_progression)
    rows, until = visits_until_detection(p, times, ev.RESTAGING)
    yield from p.hold_logging(rows, until)
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

    def run(p: Patient) -> StepProcess:
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
            if not p.detected:  # a pause: restaging goes on
                yield from _restage_until_detection(p, every)
        for probability, mean_days in pp.later_lines:
            u = p.durations.take(2)
            if u[0] >= probability:
                break
            n = max(1, round(-math.log1p(-u[1]) * mean_days / cycle_days))
            yield from p.carry_out(course_plan(p, _LINE, cp, p.env.now, n))
        supportive_care(p, "after_therapy")
        yield from p.hold_forever()
        return None

    return run
