"""Radiotherapy courses: weekday fractions in booked linac slots.

A course is booked as a block of fraction slots on successive weekdays with a free slot (as
departments book), so a course costs one engine event, while every delivered fraction is still
logged with its own time. If death, the end of follow-up or detected progression stops the course,
only the fractions already given are logged and the rest of the booking is released.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model import events as ev
from sim.model.plans import Plan, PlanRunner, with_plan
from sim.scenario.parameters import TOXICITY_TYPES

if TYPE_CHECKING:
    from sim.model.context import Context
    from sim.model.patient import Patient
    from sim.scenario.parameters import Parameters
    from sim.scenario.strategy import RadiotherapyStep

DRAWS_PER_COURSE = 9


@dataclass(frozen=True, slots=True)
class RtParams:
    fractions: dict[str, int]
    pelvic: dict[str, bool]
    toxicity_per_course: tuple[float, ...]
    grade4_fraction: tuple[float, ...]
    #: a course to a metastasis (SBRT) has its own: its field is not the pelvis
    metastasis_toxicity_per_course: tuple[float, ...]


def compile_radiotherapy(params: Parameters) -> RtParams:
    rt = params.radiotherapy
    tox = params.chemotherapy.toxicity
    metastasis = rt.metastasis_toxicity_per_course  # None: no course to a metastasis
    return RtParams(
        fractions={k: c.fractions for k, c in rt.courses.items()},
        pelvic={k: c.target == "pelvis" for k, c in rt.courses.items()},
        toxicity_per_course=tuple(getattr(rt.toxicity_per_course, t).value for t in TOXICITY_TYPES),
        grade4_fraction=tuple(getattr(tox.grade4_fraction, t).value for t in TOXICITY_TYPES),
        metastasis_toxicity_per_course=tuple(
            getattr(metastasis, t).value if metastasis is not None else 0.0 for t in TOXICITY_TYPES
        ),
    )


def plan_course(
    p: Patient, ctx: Context, course: str, toxicity: Sequence[tuple[str, float]] = (),
    on_done: Callable[[float], None] | None = None,
) -> Plan:
    """Book a course now; its fractions (and the ``toxicity`` found at its end: (CTCAE type,
    grade) pairs) as a plan."""
    earliest = p.env.now
    times = ctx.linac.book_course(earliest, ctx.rt.fractions[course])
    p.log(ev.RT_BOOKED, course, times[0] - earliest)
    end = times[-1]
    pid, phase = p.index, p.phase
    rows = ev.series(patient_id=pid, days=times, event=ev.RT_FRACTION, phase=phase, detail=course)
    rows.extend(ev.row(patient_id=pid, day=end, event=ev.TOXICITY, phase=phase, detail=kind,
                       value=grade) for kind, grade in toxicity)

    def settle(now: float, completed: bool) -> None:
        if completed:
            p.log_at(end, ev.RT_COMPLETED, course, float(len(times)))
            if on_done is not None:
                on_done(end)
            return
        given = sum(1 for t in times if t < now)
        for t in times[given:]:
            ctx.linac.release(t)
        p.log(ev.RT_STOPPED, course, float(given))

    return Plan(rows, end, settle, times[0])


def build(spec: RadiotherapyStep, ctx: Context) -> PlanRunner:
    rp = ctx.rt
    if spec.course != "assigned" and spec.course not in rp.fractions:
        raise ValueError(f"unknown radiotherapy course {spec.course!r}")

    def plan(p: Patient) -> Plan:
        if spec.phase is not None:
            p.phase = spec.phase
        course = p.rt_course if spec.course == "assigned" else spec.course
        u = p.tox.take(DRAWS_PER_COURSE)
        toxicity: list[tuple[str, float]] = []
        pelvic = rp.pelvic[course]
        per_course = rp.toxicity_per_course if pelvic else rp.metastasis_toxicity_per_course
        if not spec.with_chemotherapy:
            for k in range(4):
                if u[k] < per_course[k]:
                    grade = 4.0 if u[4] < rp.grade4_fraction[k] else 3.0
                    toxicity.append((TOXICITY_TYPES[k], grade))
        nodes = (
            spec.treats_distant_lymph_nodes and pelvic
            and p.attrs.modality.get("distant_lymph_nodes") == "extended_rt_field"
        )

        def done(end: float) -> None:
            if pelvic:
                p.rt_end = end
                p.rt_course = course  # the course given times TME and sets the pCR chance
            if nodes:
                p.treat_site("distant_lymph_nodes")
                p.update_hazard_state()

        return plan_course(p, ctx, course, toxicity, done)

    return with_plan(plan)
