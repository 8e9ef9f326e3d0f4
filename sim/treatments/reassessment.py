"""Reassessment (colonoscopy, CT chest/abdomen, pelvic MRI, CEA): finds progression or grades
the clinical response (CR, PR, SD) that the MDT decides on."""

from __future__ import annotations

from dataclasses import dataclass

from sim import events as ev


@dataclass(frozen=True, slots=True)
class ResponseParams:
    complete: float
    partial: float


def compile_response(params) -> ResponseParams:
    r = params.response
    return ResponseParams(r.complete_probability.value, r.partial_probability.value)


def build(spec, ctx):
    rp: ResponseParams = ctx.response
    after_rt = spec.after_radiotherapy_days
    after_cycle = spec.after_last_cycle_days

    def run(p):
        target = p.env.now
        if after_rt is not None and p.rt_end is not None:
            target = max(target, p.rt_end + after_rt)
        if after_cycle is not None:
            target = max(target, p.env.now + after_cycle)
        u = p.response_draws.take(2)[0]
        yield from p.hold_until(target)
        p.image()
        if u < rp.complete:
            p.response = "CR"
        elif u < rp.complete + rp.partial:
            p.response = "PR"
        else:
            p.response = "SD"
        p.log(ev.REASSESSMENT, p.response)
        return None

    return run
