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
from typing import TYPE_CHECKING, Protocol, TypeGuard, cast

from sim.model.events import EventRow

if TYPE_CHECKING:
    from sim.model.context import StepProcess
    from sim.model.patient import Patient


@dataclass(slots=True)
class Plan:
    rows: list[EventRow]
    """the event rows as planned"""
    end: float
    """when the series is over"""
    settle: Callable[[float, bool], None]
    """``settle(now, completed)``: update the patient for what happened up to ``now``"""
    start: float = -1.0
    """when its first treatment is given (a booked slot, a cycle after recovery): the patient
    waits untreated until then; before now means at once"""


class PlanRunner(Protocol):
    """A step runner that carries out the plan its ``plan(patient)`` returns (None: nothing to
    do); the plan can also be asked for directly, to carry out several side by side (see
    :func:`sim.model.pathway._concurrent_plans`)."""

    plan: Callable[[Patient], Plan | None]

    def __call__(self, p: Patient, /) -> StepProcess: ...


def with_plan(plan: Callable[[Patient], Plan | None]) -> PlanRunner:
    """The step runner of a planned step.

    A plain function with the plan as an attribute, not an object with ``__call__``: calling
    an object costs a frame more, and step runners are called for every patient."""

    def run(p: Patient) -> StepProcess:
        planned = plan(p)
        if planned is not None:
            yield from p.carry_out(planned)
        return None

    runner = cast(PlanRunner, run)
    runner.plan = plan
    return runner


def plannable(runner: Callable[[Patient], StepProcess]) -> TypeGuard[PlanRunner]:
    return hasattr(runner, "plan")
