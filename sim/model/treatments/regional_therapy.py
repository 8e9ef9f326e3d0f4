"""Regional therapy of liver metastases: hepatic arterial chemoinfusion or chemoembolization.

Palliative intent: the patient enters the palliative state, then has sessions every few weeks and
RECIST restaging on its own schedule. The disease is fixed from here on, so the restaging that
finds the (latent) progression is known when the course starts, as in follow-up: sessions stop
there, or at symptoms, whichever comes first, and the step ends only then (or at death or the
end of follow-up), so what follows it starts after progression is detected. Each session may
bring a grade >= III complication.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model import events as ev
from sim.model.events import EventRow
from sim.model.treatments.follow_up import restaging_times

if TYPE_CHECKING:
    from sim.model.context import Context, Runner, StepProcess
    from sim.model.patient import Patient, Wait
    from sim.scenario.parameters import Parameters
    from sim.scenario.strategy import RegionalTherapyStep

#: past the alert, so that rounding in the wait can never end it a moment before the alert fires
ALERT_MARGIN_DAYS = 1e-6


@dataclass(frozen=True, slots=True)
class RegionalParams:
    every: tuple[float, float]
    max_sessions: int
    restaging_days: float
    complication: float


def compile_regional(params: Parameters) -> RegionalParams | None:
    r = params.regional_therapy
    if r is None:
        return None
    return RegionalParams((r.session_every_days.low, r.session_every_days.high), r.max_sessions,
                          r.restaging_every_weeks * 7.0, r.complication_probability.value)


def build(spec: RegionalTherapyStep, ctx: Context) -> Runner:
    rp = ctx.regional
    if rp is None:
        raise ValueError("a regional_therapy step needs parameters.regional_therapy")

    def run(p: Patient) -> StepProcess:
        p.enter_palliative("regional_therapy")
        p.begin_course()  # the sessions treat the liver: its hazard from now, before planning
        try:
            yield from _sessions(p, spec, rp)
        finally:
            p.end_course()
        return None

    return run


def _sessions(p: Patient, spec: RegionalTherapyStep, rp: RegionalParams) -> Wait:
    """Sessions until the restaging (or symptoms) that reveal progression."""
    now = p.env.now
    d = p.disease
    # the restaging that will find the progression, unless symptoms or death come first
    stop = min(p.t_end, d.t_death, d.t_symptoms)
    restagings = restaging_times(now, stop, rp.restaging_days, d.t_progression)
    by_imaging = bool(restagings) and restagings[-1] >= d.t_progression
    # otherwise the step lasts until the alert: symptoms reveal the progression (palliative:
    # the wait goes on past it, so it ends a moment later), or death / end of follow-up
    found = restagings[-1] if by_imaging else stop
    pid, phase = p.index, p.phase
    rows: list[EventRow] = []
    t = now
    for k in range(1, rp.max_sessions + 1):
        if t >= found:
            break
        u = p.surgery.take(2)
        rows.append(ev.row(patient_id=pid, day=t, event=ev.REGIONAL_SESSION, phase=phase,
                           detail=spec.procedure, value=float(k)))
        if u[0] < rp.complication:
            rows.append(ev.row(patient_id=pid, day=t, event=ev.COMPLICATION, phase=phase,
                               detail=spec.procedure, value=3.0))
        low, high = rp.every
        t += low + (high - low) * u[1]
    rows.extend(ev.series(patient_id=pid, days=restagings, event=ev.RESTAGING, phase=phase,
                          detail="RECIST"))
    rows.sort(key=ev.day_of)
    yield from p.hold_logging(rows, found if by_imaging else stop + ALERT_MARGIN_DAYS)
    p.image()
    return None
