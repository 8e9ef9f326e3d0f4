"""Plans: a step's series of events, fixed when the step starts.

A chemotherapy course or a radiotherapy course is decided when it starts (cycle dates, toxicity,
delays; booked fraction slots), so it can be planned then and carried out behind a single engine
event. Whatever cuts it short (death, end of follow-up, symptomatic progression) is only known
while waiting, so the plan's rows are logged when the wait ends, keeping only those that happened
before it, and ``settle`` brings the patient's state up to what really happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Plan:
    rows: list[tuple]
    """full event rows ``(patient_id, day, event, phase, detail, value)`` as planned"""
    end: float
    """when the series is over"""
    settle: Callable[[float, bool], None]
    """``settle(now, completed)``: update the patient for what happened up to ``now``"""


def plannable(runner) -> bool:
    return getattr(runner, "plan", None) is not None


def with_plan(plan_fn):
    """A step runner that carries out the plan ``plan_fn(patient)`` returns (None: nothing to do)."""

    def run(p):
        plan = plan_fn(p)
        if plan is not None:
            yield from p.carry_out(plan)
        return None

    run.plan = plan_fn
    return run
