"""Checkpoint inhibitor doses (sintilimab, camrelizumab, ...) with immune-related adverse events.

A course is planned when it starts, like a chemotherapy course: doses on the agent's schedule, a
grade 3-4 immune-related adverse event (irAE) after a dose with the scenario's probability, and
after one the drug may be stopped for good: for the patient, so no later immunotherapy step
restarts it. Its draws come from the patient's own immunotherapy stream, so adding immunotherapy
to a strategy leaves every other draw of the patient unchanged: the arms of a comparison still
share their chemotherapy toxicity, response and disease luck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model import events as ev
from sim.model.events import EventRow
from sim.model.plans import Plan, PlanRunner, with_plan

if TYPE_CHECKING:
    from sim.model.context import Context
    from sim.model.patient import Patient
    from sim.scenario.parameters import Parameters
    from sim.scenario.strategy import ImmunotherapyStep

DRAWS_PER_DOSE = 3  # irAE, grade, discontinuation


@dataclass(frozen=True, slots=True)
class ImmunoParams:
    every_days: dict[str, int]
    irae: float
    grade4: float
    discontinuation: float


def compile_immunotherapy(params: Parameters) -> ImmunoParams | None:
    im = params.immunotherapy
    if im is None:
        return None
    return ImmunoParams(
        every_days={k: a.every_days for k, a in im.agents.items()},
        irae=im.immune_related_grade34_per_dose.value,
        grade4=im.grade4_fraction.value,
        discontinuation=im.discontinuation_after_grade34.value,
    )


def build(spec: ImmunotherapyStep, ctx: Context) -> PlanRunner:
    ip = ctx.immunotherapy
    if ip is None:
        raise ValueError("an immunotherapy step needs parameters.immunotherapy")
    if spec.agent not in ip.every_days:
        raise ValueError(f"unknown immunotherapy agent {spec.agent!r} "
                         f"(expected one of {sorted(ip.every_days)})")
    every = ip.every_days[spec.agent]

    def plan(p: Patient) -> Plan | None:
        draws = p.immuno
        if draws is None:  # the centre gives every patient this stream when parameters have it
            raise RuntimeError("a patient without an immunotherapy stream")
        p.phase = spec.phase
        if p.immunotherapy_stopped:  # stopped for good by an earlier step's irAE
            return None
        if isinstance(spec.doses, int):
            n = spec.doses
        else:
            low, high = spec.doses
            n = low + min(int(draws.random() * (high - low + 1)), high - low)
        pid, phase, t = p.index, p.phase, p.env.now
        rows: list[EventRow] = []
        stop: float | None = None
        for k in range(1, n + 1):
            u = draws.take(DRAWS_PER_DOSE)
            rows.append(ev.row(patient_id=pid, day=t, event=ev.IMMUNOTHERAPY_DOSE, phase=phase,
                               detail=spec.agent, value=float(k)))
            t += every
            if u[0] < ip.irae:
                grade = 4.0 if u[1] < ip.grade4 else 3.0
                rows.append(ev.row(patient_id=pid, day=t, event=ev.TOXICITY, phase=phase,
                                   detail="immune_related", value=grade))
                if u[2] < ip.discontinuation:
                    rows.append(ev.row(patient_id=pid, day=t, event=ev.IMMUNOTHERAPY_STOPPED,
                                       phase=phase, detail="immune_related", value=float(k)))
                    stop = t
                    break

        def settle(now: float, completed: bool) -> None:
            if stop is not None and (completed or stop < now):  # the stop row was logged
                p.immunotherapy_stopped = True

        return Plan(rows, t, settle)

    return with_plan(plan)
