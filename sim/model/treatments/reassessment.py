"""Reassessment (colonoscopy, CT chest/abdomen, pelvic MRI, CEA): finds progression or grades
the clinical response (CR, PR, SD) that the MDT decides on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model import events as ev
from sim.scenario.params import apply_odds_ratio

if TYPE_CHECKING:
    from sim.model.context import Context, Runner, StepProcess
    from sim.model.patient import Patient
    from sim.scenario.parameters import Parameters
    from sim.scenario.strategy import ReassessmentStep


@dataclass(frozen=True, slots=True)
class ResponseParams:
    complete: float
    partial: float


def compile_response(params: Parameters) -> ResponseParams:
    r = params.response
    complete = apply_odds_ratio(r.complete_probability.value,
                                params.effects.complete_response_odds_ratio.value)
    # the strategy's extra complete responses come out of the partial responses
    partial = max(0.0, r.partial_probability.value - (complete - r.complete_probability.value))
    return ResponseParams(complete, partial)


def build(spec: ReassessmentStep, ctx: Context) -> Runner:
    rp = ctx.response
    after_rt = spec.after_radiotherapy_days
    after_cycle = spec.after_last_cycle_days

    def run(p: Patient) -> StepProcess:
        target = p.env.now
        if after_rt is not None and p.rt_end is not None:
            target = max(target, p.rt_end + after_rt)
        if after_cycle is not None:
            target = max(target, p.env.now + after_cycle)
        u = p.response_draws.take(2)[0]
        yield from p.hold_until(target)
        p.image()
        partial = rp.partial
        r_or = p.attrs.response_odds_ratio
        if r_or != 1.0:
            partial = min(apply_odds_ratio(partial, r_or), 1.0 - rp.complete)
        if u < rp.complete:
            p.response = "CR"
        elif u < rp.complete + partial:
            p.response = "PR"
        else:
            p.response = "SD"
        p.log(ev.REASSESSMENT, p.response)
        return None

    return run
