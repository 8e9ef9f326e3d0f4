"""Radiotherapy courses: weekday fractions in booked linac slots.

A course is booked as a block of fraction slots on successive weekdays with a free slot (as
departments book), so a course costs one engine event, while every delivered fraction is still
logged with its own time. If death, the end of follow-up or detected progression stops the course,
only the fractions already given are logged and the rest of the booking is released.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim import events as ev
from sim.parameters_schema import TOXICITY_TYPES

PELVIC_COURSES = ("LCRT", "SCRT")
DRAWS_PER_COURSE = 9


@dataclass(frozen=True, slots=True)
class RtParams:
    fractions: dict[str, int]
    toxicity_per_course: tuple[float, ...]
    grade4_fraction: tuple[float, ...]


def compile_radiotherapy(params) -> RtParams:
    rt = params.radiotherapy
    tox = params.chemotherapy.toxicity
    return RtParams(
        fractions={k: c.fractions for k, c in rt.courses.items()},
        toxicity_per_course=tuple(getattr(rt.toxicity_per_course, t).value for t in TOXICITY_TYPES),
        grade4_fraction=tuple(getattr(tox.grade4_fraction, t).value for t in TOXICITY_TYPES),
    )


def deliver_course(p, ctx, course: str):
    """Book and deliver a course; returns the booked fraction times."""
    earliest = p.env.now
    times = ctx.linac.book_course(earliest, ctx.rt.fractions[course])
    p.log(ev.RT_BOOKED, course, times[0] - earliest)
    rows = [(t, ev.RT_FRACTION, course, float(k)) for k, t in enumerate(times, start=1)]
    try:
        yield from p.hold_logging(rows, times[-1])
    except BaseException:
        given = sum(1 for t in times if t < p.env.now)
        for t in times[given:]:
            ctx.linac.release(t)
        p.log(ev.RT_STOPPED, course, given)
        raise
    p.log(ev.RT_COMPLETED, course, len(times))
    return times


def build(spec, ctx):
    rp: RtParams = ctx.rt
    if spec.course != "assigned" and spec.course not in rp.fractions:
        raise ValueError(f"unknown radiotherapy course {spec.course!r}")

    def run(p):
        course = p.rt_course if spec.course == "assigned" else spec.course
        u = p.tox.take(DRAWS_PER_COURSE)
        yield from deliver_course(p, ctx, course)
        if course in PELVIC_COURSES:
            p.rt_end = p.env.now
        if not spec.with_chemotherapy:
            for k in range(4):
                if u[k] < rp.toxicity_per_course[k]:
                    p.log(ev.TOXICITY, TOXICITY_TYPES[k], 4 if u[4] < rp.grade4_fraction[k] else 3)
        if (
            spec.treats_distant_lymph_nodes
            and course in PELVIC_COURSES
            and p.attrs["modality"].get("distant_lymph_nodes") == "extended_rt_field"
        ):
            p.treat_site("distant_lymph_nodes")
            p.update_hazard_state()
        return None

    return run
