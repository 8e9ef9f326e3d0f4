"""Chemotherapy cycles with per-cycle grade 3-4 toxicity and its consequences.

Each cycle reads a fixed number of uniforms from the patient's toxicity stream (``DRAWS_PER_CYCLE``)
so that cycle *k* sees the same draws under every strategy. Toxicity is found at the end of the
cycle (the pre-cycle check); it can stop the phase, reduce the dose of later cycles (less toxic),
and delays the next cycle.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model import events as ev
from sim.model.events import EventRow
from sim.model.plans import Plan, PlanRunner, with_plan
from sim.model.treatments.follow_up import restaging_times
from sim.scenario.parameters import TOXICITY_TYPES
from sim.scenario.params import apply_odds_ratio

if TYPE_CHECKING:
    from sim.model.context import Context
    from sim.model.patient import Patient
    from sim.scenario.parameters import Parameters
    from sim.scenario.strategy import ChemotherapyStep

DRAWS_PER_CYCLE = 9  # 4 types, grade, dose reduction, stop, delay length, adherence


@dataclass(frozen=True, slots=True)
class ChemoParams:
    equivalent_days: int
    cycle_days: dict[str, int]
    #: (regimen, with radiotherapy, dose reduced) -> P(grade 3-4) per type, in TOXICITY_TYPES order
    probabilities: dict[tuple[str, bool, bool], tuple[float, ...]]
    grade4_fraction: tuple[float, ...]
    delay_days: tuple[float, float]
    dose_reduction: float
    discontinuation: float
    adjuvant_discontinuation: float
    recovery_days: tuple[float, float]


def compile_chemotherapy(params: Parameters) -> ChemoParams:
    chemo = params.chemotherapy
    tox = chemo.toxicity
    probabilities: dict[tuple[str, bool, bool], tuple[float, ...]] = {}
    for name, regimen in chemo.regimens.items():
        for with_rt in (False, True):
            for reduced in (False, True):
                row = []
                for t in TOXICITY_TYPES:
                    p = getattr(tox.per_cycle, t).value
                    p = apply_odds_ratio(p, getattr(regimen.toxicity_odds_ratio, t).value)
                    p = apply_odds_ratio(p, params.effects.chemotherapy_toxicity_odds_ratio.value)
                    if with_rt:
                        p = apply_odds_ratio(p, getattr(tox.with_radiotherapy_odds_ratio, t).value)
                    if reduced:
                        p = apply_odds_ratio(p, tox.after_dose_reduction_odds_ratio.value)
                    row.append(p)
                probabilities[(name, with_rt, reduced)] = tuple(row)
    rec = params.local_treatment.recovery_before_adjuvant_days
    return ChemoParams(
        equivalent_days=chemo.equivalent_cycle_days,
        cycle_days={k: r.cycle_days for k, r in chemo.regimens.items()},
        probabilities=probabilities,
        grade4_fraction=tuple(getattr(tox.grade4_fraction, t).value for t in TOXICITY_TYPES),
        delay_days=(tox.delay_days.low, tox.delay_days.high),
        dose_reduction=tox.dose_reduction_probability.value,
        discontinuation=tox.discontinuation_probability.value,
        adjuvant_discontinuation=chemo.adjuvant_discontinuation_per_cycle.value,
        recovery_days=(rec.low, rec.high),
    )


def _round(x: float) -> int:
    return int(x + 0.5) if x > 0 else 0


def _count(count: int | tuple[int, int], p: Patient) -> int:
    if isinstance(count, int):
        return count
    low, high = count
    return low + min(int(p.durations.random() * (high - low + 1)), high - low)


def _n_cycles(spec: ChemotherapyStep, p: Patient, cycle_days: int, cp: ChemoParams) -> int:
    scale = cp.equivalent_days / cycle_days
    if spec.regimen_cycles is not None:
        return _count(spec.regimen_cycles, p)
    if spec.cycles is not None:
        return _round(_count(spec.cycles, p) * scale)
    assert spec.until_total_cycles is not None  # the step gives exactly one of the three counts
    target_days = spec.until_total_cycles * cp.equivalent_days
    remaining = _round((target_days - p.curative_chemo_days) / cycle_days)
    return max(remaining, _round(spec.min_cycles * scale))


def plan_cycles(
    p: Patient, spec: ChemotherapyStep, cp: ChemoParams, start: float, n: int
) -> tuple[list[EventRow], float, list[float], int | None]:
    """The course as it will happen unless an alert cuts it short.

    Returns (rows, end, cycle_ends, reduced_after): the planned event rows, the end of the
    course, the end day of each cycle, and the cycle index after which the dose is reduced (or
    None).
    """
    regimen = p.regimen
    cycle_days = cp.cycle_days[regimen]
    adjuvant = spec.phase == "adjuvant"
    reduced = p.dose_reduced
    reduced_after = None
    rows: list[EventRow] = []
    pid, phase = p.index, p.phase
    cycle_ends: list[float] = []
    t = start
    number = p.cycles
    probs = cp.probabilities[(regimen, spec.with_radiotherapy, reduced)]
    # every cycle's draws at once; only the cycles begun are consumed (as a take a cycle would)
    draws = p.tox.peek(DRAWS_PER_CYCLE * max(n, 0))
    used = 0
    for i in range(n):
        u = draws[used : used + DRAWS_PER_CYCLE]
        used += DRAWS_PER_CYCLE
        if adjuvant and i > 0 and u[8] < cp.adjuvant_discontinuation:
            rows.append(ev.row(patient_id=pid, day=t, event=ev.CHEMO_STOPPED, phase=phase,
                               detail="adherence", value=float(i)))
            break
        number += 1
        rows.append(ev.row(patient_id=pid, day=t, event=ev.CHEMO_CYCLE, phase=phase,
                           detail=regimen, value=float(number)))
        t += cycle_days
        cycle_ends.append(t)
        if u[0] >= probs[0] and u[1] >= probs[1] and u[2] >= probs[2] and u[3] >= probs[3]:
            continue  # no grade 3-4 toxicity of any type (most cycles): nothing more to plan
        toxic = False
        for k in range(4):
            if u[k] < probs[k]:
                toxic = True
                grade = 4.0 if u[4] < cp.grade4_fraction[k] else 3.0
                rows.append(ev.row(patient_id=pid, day=t, event=ev.TOXICITY, phase=phase,
                                   detail=TOXICITY_TYPES[k], value=grade))
        if not toxic:
            continue
        if u[6] < cp.discontinuation:
            rows.append(ev.row(patient_id=pid, day=t, event=ev.CHEMO_STOPPED, phase=phase,
                               detail="toxicity", value=float(i + 1)))
            break
        if not reduced and u[5] < cp.dose_reduction:
            reduced = True
            reduced_after = i
            probs = cp.probabilities[(regimen, spec.with_radiotherapy, reduced)]
            rows.append(ev.row(patient_id=pid, day=t, event=ev.DOSE_REDUCTION, phase=phase,
                               detail=regimen, value=float(number)))
        if i < n - 1:
            low, high = cp.delay_days
            delay = low + (high - low) * u[7]
            rows.append(ev.row(patient_id=pid, day=t, event=ev.CYCLE_DELAY, phase=phase,
                               detail="toxicity", value=delay))
            t += delay
    p.tox.skip(used)
    return rows, t, cycle_ends, reduced_after


def cycles_equivalent(done: int, already_reduced: bool, reduced_after: int | None,
                      ratio: float) -> float:
    """Full-dose equivalents of the first ``done`` cycles of a course: a cycle after a dose
    reduction (from the course's start if the dose was reduced before it, or after cycle index
    ``reduced_after``) counts ``ratio`` of one."""
    if ratio == 1.0:
        return float(done)
    if already_reduced:
        return ratio * done
    if reduced_after is None or reduced_after + 1 >= done:
        return float(done)
    return reduced_after + 1 + ratio * (done - reduced_after - 1)


def course_plan(
    p: Patient, spec: ChemotherapyStep, cp: ChemoParams, start: float, n: int,
    stop_at: float = math.inf,
) -> Plan:
    """The plan of ``n`` cycles from ``start``, cut at ``stop_at`` if it falls inside them
    (a restaging there finds progression): cycles that would start from then on are not given."""
    cycle_days = cp.cycle_days[p.regimen]
    curative = spec.phase != "palliative"
    adjuvant = spec.phase == "adjuvant"
    already_reduced = p.dose_reduced
    reduced_kill = p.disease.p.reduced_dose_kill_ratio
    per_equivalent = cycle_days / cp.equivalent_days
    rows, end, cycle_ends, reduced_after = plan_cycles(p, spec, cp, start, n)
    cut = stop_at < end
    if cut:
        rows = [row for row in rows if ev.day_of(row) < stop_at]
        end = stop_at

    def settle(now: float, completed: bool) -> None:
        if completed and not cut:
            done = started = len(cycle_ends)
        else:  # cycles finished by now, and cycles begun before now
            done = bisect_right(cycle_ends, now)
            started = bisect_left(cycle_ends, now + cycle_days)
        p.cycles += started
        if curative:
            p.curative_chemo_days += done * cycle_days
        # the kill is per equivalent cycle (three weeks of CAPOX, say: 1.5 FOLFOX cycles) at full dose
        full = cycles_equivalent(done, already_reduced, reduced_after, reduced_kill) * per_equivalent
        if reduced_after is not None and reduced_after < done:
            p.dose_reduced = True
        if adjuvant:  # the cycles given may have cleared residual micrometastases
            p.disease.adjuvant_given(now, full, start)
            p.update_hazard_state()  # and the alerts with them (no symptoms of a cured disease)
        elif curative:  # before the operations: they shrank the micrometastases too
            p.disease.preoperative_given(now, full)

    return Plan(rows, end, settle, start)


def restaged_course(
    p: Patient, spec: ChemotherapyStep, cp: ChemoParams, start: float, n: int, every: float,
    symptoms_stop: bool = False,
) -> Plan:
    """A course of ``n`` cycles with imaging every ``every`` days while it runs; it stops at the
    scan that finds the progression (or, with ``symptoms_stop``, when symptoms reveal it: a
    palliative patient's symptoms do not unwind the pathway). The disease state must stay as it
    is until the course ends (every site treated, or a palliative line), so the latent
    progression is known now."""
    d = p.disease
    cycle_days = cp.cycle_days[p.regimen]
    bound = start + n * (cycle_days + cp.delay_days[1])
    scans = restaging_times(start, bound, every, d.t_progression)
    found = scans[-1] if scans and scans[-1] >= d.t_progression else math.inf
    stop = min(found, d.t_symptoms) if symptoms_stop and not p.detected else found
    course = course_plan(p, spec, cp, start, n, stop)
    scans = [t for t in scans if t <= course.end]
    if scans:
        course.rows.extend(ev.series(patient_id=p.index, days=scans, event=ev.RESTAGING,
                                     phase=spec.phase, detail=spec.phase))
        course.rows.sort(key=ev.day_of)
    if found <= course.end:
        settle = course.settle

        def settle_and_image(now: float, completed: bool) -> None:
            settle(now, completed)
            if completed:
                p.image()  # the last scan found it (a curative patient's pathway reroutes)

        course.settle = settle_and_image
    return course


def build(spec: ChemotherapyStep, ctx: Context) -> PlanRunner:
    cp = ctx.chemo
    adjuvant = spec.phase == "adjuvant"
    every = ctx.follow_up.adjuvant_restaging_every_days if adjuvant else None
    after_rt = spec.after_radiotherapy_days

    def plan(p: Patient) -> Plan | None:
        start = p.env.now
        if after_rt is not None and p.rt_end is not None:
            # a protocol's gap after radiotherapy (untreated time: the patient waits)
            first, last = after_rt
            u = p.durations.keyed("after_radiotherapy").random()
            start = max(start, p.rt_end + first + (last - first) * u)
        if adjuvant:
            if p.adjuvant_prevented_by is not None:
                p.log(ev.ADJUVANT_CANCELLED, p.adjuvant_prevented_by)
                return None
            if p.last_surgery is not None:  # recovery after surgery before adjuvant cycles
                low, high = cp.recovery_days
                gate = p.last_surgery + low + (high - low) * p.durations.random() + p.adjuvant_delay
                start = max(start, gate)
        n = _n_cycles(spec, p, cp.cycle_days[p.regimen], cp)
        p.phase = spec.phase
        if every is None or p.untreated:
            return course_plan(p, spec, cp, start, n)
        # imaging during adjuvant chemotherapy, every site treated
        return restaged_course(p, spec, cp, start, n, every)

    return with_plan(plan)
