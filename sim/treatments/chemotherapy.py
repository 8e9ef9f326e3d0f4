"""Chemotherapy cycles with per-cycle grade 3-4 toxicity and its consequences.

Each cycle reads a fixed number of uniforms from the patient's toxicity stream (``DRAWS_PER_CYCLE``)
so that cycle *k* sees the same draws under every strategy. Toxicity is found at the end of the
cycle (the pre-cycle check); it can stop the phase, reduce the dose of later cycles (less toxic),
and delays the next cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim import events as ev
from sim.parameters_schema import TOXICITY_TYPES
from sim.params import apply_odds_ratio

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


def compile_chemotherapy(params) -> ChemoParams:
    chemo = params.chemotherapy
    tox = chemo.toxicity
    probabilities = {}
    for name, regimen in chemo.regimens.items():
        for with_rt in (False, True):
            for reduced in (False, True):
                row = []
                for t in TOXICITY_TYPES:
                    p = getattr(tox.per_cycle, t).value
                    p = apply_odds_ratio(p, getattr(regimen.toxicity_odds_ratio, t).value)
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


def _n_cycles(spec, p, cycle_days: int, cp: ChemoParams) -> int:
    scale = cp.equivalent_days / cycle_days
    if spec.cycles is not None:
        if isinstance(spec.cycles, int):
            eq = spec.cycles
        else:
            low, high = spec.cycles
            eq = low + min(int(p.durations.random() * (high - low + 1)), high - low)
        return _round(eq * scale)
    target_days = spec.until_total_cycles * cp.equivalent_days
    remaining = _round((target_days - p.curative_chemo_days) / cycle_days)
    return max(remaining, _round(spec.min_cycles * scale))


def build(spec, ctx):
    cp: ChemoParams = ctx.chemo
    phase = spec.phase
    with_rt = spec.with_radiotherapy
    curative = phase != "palliative"
    adjuvant = phase == "adjuvant"

    def run(p):
        if adjuvant:
            if p.adjuvant_prevented_by is not None:
                p.log(ev.ADJUVANT_CANCELLED, p.adjuvant_prevented_by)
                return None
            if p.last_surgery is not None:
                low, high = cp.recovery_days
                start = p.last_surgery + low + (high - low) * p.durations.random() + p.adjuvant_delay
                yield from p.hold_until(start)
        regimen = p.regimen
        cycle_days = cp.cycle_days[regimen]
        n = _n_cycles(spec, p, cycle_days, cp)
        p.phase = phase
        given = 0
        for i in range(n):
            u = p.tox.take(DRAWS_PER_CYCLE)
            if adjuvant and i > 0 and u[8] < cp.adjuvant_discontinuation:
                p.log(ev.CHEMO_STOPPED, "adherence", given)
                break
            probs = cp.probabilities[(regimen, with_rt, p.dose_reduced)]
            p.cycles += 1
            p.log(ev.CHEMO_CYCLE, regimen, p.cycles)
            yield from p.hold(cycle_days)
            given += 1
            if curative:
                p.curative_chemo_days += cycle_days
            toxic = False
            for k in range(4):
                if u[k] < probs[k]:
                    toxic = True
                    p.log(ev.TOXICITY, TOXICITY_TYPES[k], 4 if u[4] < cp.grade4_fraction[k] else 3)
            if not toxic:
                continue
            if u[6] < cp.discontinuation:
                p.log(ev.CHEMO_STOPPED, "toxicity", given)
                break
            if not p.dose_reduced and u[5] < cp.dose_reduction:
                p.dose_reduced = True
                p.log(ev.DOSE_REDUCTION, regimen, p.cycles)
            if i < n - 1:
                low, high = cp.delay_days
                delay = low + (high - low) * u[7]
                p.log(ev.CYCLE_DELAY, "toxicity", delay)
                yield from p.hold(delay)
        return None

    return run
