"""Local treatment of the rectum and the metastases: TME, resection, ablation (RFA) or SBRT.

The MDT's decision says which sites (all, or the primary alone); the patient's assigned sequence
says how: bowel-first, metastases-first or simultaneous, with an interval between staged
operations. TME is timed after radiotherapy (6-8 weeks after LCRT, within a week after SCRT).
Operations and ablations take a theatre slot; SBRT a block of linac slots. Each stage starts with
restaging, which can find progression and end the curative pathway (so a bowel-first patient may
end with bowel surgery only). Complications (Clavien-Dindo >= III) can mean re-operation and delay
or prevent adjuvant chemotherapy. A planned liver resection may find the disease unresectable at
laparotomy (``unresectable_at_exploration_probability``): an exploration, the liver untreated.
Each procedure reads a fixed number of uniforms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model import events as ev
from sim.model.rng import choose
from sim.model.treatments.radiotherapy import plan_course
from sim.scenario.params import apply_odds_ratio

if TYPE_CHECKING:
    from sim.model.context import Context, Runner, StepProcess
    from sim.model.patient import Patient, Wait
    from sim.scenario.parameters import Complication, Parameters
    from sim.scenario.strategy import LocalTreatmentStep

DRAWS_PER_PROCEDURE = 6

PROCEDURES = {
    ("liver", "resection"): ("liver_resection", "resection"),
    ("liver", "rfa"): ("liver_rfa", "rfa"),
    ("liver", "resection_rfa"): ("liver_resection_rfa", "resection"),
    ("liver", "sbrt"): ("liver_sbrt", "sbrt"),
    ("lung", "resection"): ("lung_resection", "resection"),
    ("lung", "rfa"): ("lung_rfa", "rfa"),
    ("lung", "sbrt"): ("lung_sbrt", "sbrt"),
    ("distant_lymph_nodes", "resection"): ("node_resection", "resection"),
    # nodes planned for the extended RT field but still untreated are resected
    ("distant_lymph_nodes", "extended_rt_field"): ("node_resection", "resection"),
}


@dataclass(frozen=True, slots=True)
class ComplicationSet:
    names: tuple[str, ...]
    cumulative: tuple[float, ...]  # P(type 1), P(type 1 or 2), ...; above the last: none
    grade4: tuple[float, ...]
    reoperation: tuple[float, ...]
    delay: tuple[tuple[float, float], ...]
    prevents: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class LocalParams:
    tme_after_rt: dict[str, tuple[float, float]]
    metastases_first: tuple[float, float]
    stage_interval: tuple[float, float]
    pcr: dict[str, float]
    pcr_response_or: float
    trg_names: tuple[str, ...]
    trg_cumulative: tuple[float, ...]
    rectal: ComplicationSet
    metastasis: dict[str, ComplicationSet]
    unresectable_at_exploration: float = 0.0


def _complications(spec: Mapping[str, Complication]) -> ComplicationSet:
    names = tuple(spec)
    acc, cumulative = 0.0, []
    for name in names:
        acc += spec[name].probability.value
        cumulative.append(acc)
    if acc > 1.0 + 1e-9:
        raise ValueError("complication probabilities of one procedure sum to more than 1")
    return ComplicationSet(
        names=names,
        cumulative=tuple(cumulative),
        grade4=tuple(spec[n].grade4_fraction.value for n in names),
        reoperation=tuple(spec[n].reoperation_probability.value for n in names),
        delay=tuple((spec[n].adjuvant_delay_days.low, spec[n].adjuvant_delay_days.high) for n in names),
        prevents=tuple(spec[n].prevents_adjuvant_probability.value for n in names),
    )


def non_responder_pcr(rate: float, responders: float, odds_ratio: float) -> float:
    """The pCR of a patient without clinical response such that, with a responder's odds
    ``odds_ratio`` times higher and ``responders`` the share of responders, the course's rate over
    all its patients is ``rate``: a published pCR rate is over every response. (Responders are
    somewhat likelier to reach surgery, so the rate among resected rectums comes out a little
    above ``rate``.)"""
    if odds_ratio == 1.0 or responders <= 0.0 or rate in (0.0, 1.0):
        return rate
    low, high = 0.0, rate
    for _ in range(60):  # the mixture rises with the non-responders' pCR: bisect
        mid = (low + high) / 2
        mixed = (1 - responders) * mid + responders * apply_odds_ratio(mid, odds_ratio)
        low, high = (mid, high) if mixed < rate else (low, mid)
    return (low + high) / 2


def compile_local(params: Parameters) -> LocalParams:
    lt = params.local_treatment
    response = params.response
    responders = min(1.0, response.complete_probability.value + response.partial_probability.value)
    return LocalParams(
        tme_after_rt={k: (r.low, r.high) for k, r in lt.tme_after_radiotherapy_days.items()},
        metastases_first=(lt.metastases_first_after_mdt_days.low, lt.metastases_first_after_mdt_days.high),
        stage_interval=(lt.stage_interval_days.low, lt.stage_interval_days.high),
        pcr={k: non_responder_pcr(apply_odds_ratio(v.value, params.effects.pcr_odds_ratio.value),
                                  responders, lt.pcr_partial_response_odds_ratio.value)
             for k, v in lt.pcr_probability.items()},
        pcr_response_or=lt.pcr_partial_response_odds_ratio.value,
        trg_names=lt.trg_if_residual.categories,
        trg_cumulative=lt.trg_if_residual.cumulative(),
        rectal=_complications(lt.rectal_complications),
        metastasis={
            family: _complications({family: c}) for family, c in lt.metastasis_complications.items()
        },
        unresectable_at_exploration=0.0 if lt.unresectable_at_exploration_probability is None
        else lt.unresectable_at_exploration_probability.value,
    )


def _between(bounds: tuple[float, float], u: float) -> float:
    return bounds[0] + (bounds[1] - bounds[0]) * u


def _plan(p: Patient, lp: LocalParams, d: list[float]) -> list[tuple[float | None, list[str]]]:
    """Stages as (earliest start or None = after the stage interval, sites)."""
    now = p.env.now
    order = ("rectum", "liver", "lung", "distant_lymph_nodes")
    planned = [s for s in order if s in p.untreated]
    if p.decision == "primary_only":
        planned = [s for s in planned if s == "rectum"]
    elif p.decision == "metastases_only":
        planned = [s for s in planned if s != "rectum"]
    rectum = "rectum" in planned
    mets = [s for s in planned if s != "rectum"]
    tme_at = now
    if rectum and p.rt_end is not None:
        tme_at = max(now, p.rt_end + _between(lp.tme_after_rt[p.rt_course], d[0]))
    mets_at = now + _between(lp.metastases_first, d[1])
    if not rectum:
        return [(mets_at, mets)] if mets else []
    if not mets:
        return [(tme_at, ["rectum"])]
    sequence = p.attrs.sequence
    if sequence == "simultaneous":
        return [(tme_at, ["rectum", *mets])]
    if sequence == "bowel_first":
        return [(tme_at, ["rectum"]), (None, mets)]
    return [(mets_at, mets), (None, ["rectum"])]


def _complication(p: Patient, cs: ComplicationSet, u: list[float]) -> bool:
    """Apply a possible complication; True if it needs a re-operation."""
    k = choose(cs.cumulative + (1.0,), u[0])
    if k >= len(cs.names):
        return False
    name = cs.names[k]
    p.log(ev.COMPLICATION, name, 4 if u[1] < cs.grade4[k] else 3)
    p.adjuvant_delay += _between(cs.delay[k], u[3])
    if u[4] < cs.prevents[k] and p.adjuvant_prevented_by is None:
        p.adjuvant_prevented_by = name
    return u[2] < cs.reoperation[k]


def build(spec: LocalTreatmentStep, ctx: Context) -> Runner:
    lp = ctx.local

    def operate(p: Patient, sites: list[str]) -> Wait:
        # (site, procedure, its complications)
        theatre: list[tuple[str, str, ComplicationSet]] = []
        sbrt: list[tuple[str, str, ComplicationSet]] = []
        for site in sites:
            if site == "rectum":
                theatre.append((site, "tme", lp.rectal))
                continue
            name, family = PROCEDURES[(site, p.attrs.modality[site])]
            (sbrt if family == "sbrt" else theatre).append((site, name, lp.metastasis[family]))
        if theatre:
            asked = p.env.now
            slot = ctx.theatre.book(asked)
            draws = [p.surgery.take(DRAWS_PER_PROCEDURE) for _ in theatre]
            yield from p.hold_until(slot)
            p.local_treatment_started = True
            p.last_surgery = p.env.now
            reoperate = False
            for (site, name, complications), u in zip(theatre, draws, strict=True):
                # the last draw: the rectum's pathology, or whether a liver resection is
                # found unresectable at laparotomy (an exploration, the liver left untreated)
                explored_only = (site == "liver" and name.startswith("liver_resection")
                                 and u[5] < lp.unresectable_at_exploration)
                if explored_only:
                    p.log(ev.PROCEDURE, "exploration", slot - asked)
                    continue
                p.log(ev.PROCEDURE, name, slot - asked)
                p.treat_site(site)
                if site == "rectum":
                    _pathology(p, lp, u[5])
                reoperate |= _complication(p, complications, u)
            if reoperate:
                p.log(ev.PROCEDURE, "reoperation", 0.0)
            p.update_hazard_state()
        for site, name, complications in sbrt:
            u = p.surgery.take(DRAWS_PER_PROCEDURE)
            asked = p.env.now
            course = plan_course(p, ctx, "SBRT")
            yield from p.carry_out(course)
            p.local_treatment_started = True
            p.log(ev.PROCEDURE, name, ev.day_of(course.rows[0]) - asked)
            p.treat_site(site)
            _complication(p, complications, u)
            p.update_hazard_state()

    def run(p: Patient) -> StepProcess:
        p.phase = "local_treatment"
        d = p.durations.take(3)
        stages = _plan(p, lp, d)
        for earliest, sites in stages:
            if earliest is None:
                earliest = p.env.now + _between(lp.stage_interval, d[2])
                if "rectum" in sites and p.rt_end is not None:
                    earliest = max(earliest, p.rt_end + lp.tme_after_rt[p.rt_course][0])
            yield from p.hold_until(earliest)
            p.image()  # restaging before each stage
            yield from operate(p, sites)
        return None

    return run


def _pathology(p: Patient, lp: LocalParams, u: float) -> None:
    pcr = lp.pcr.get(p.rt_course, 0.0) if p.rt_end is not None else 0.0
    if p.response in ("PR", "CR"):
        pcr = apply_odds_ratio(pcr, lp.pcr_response_or)
    if u < pcr:
        p.log(ev.PATHOLOGY, "ypCR", 1)
        return
    # rescale the same uniform onto the residual-disease grades
    v = (u - pcr) / (1.0 - pcr) if pcr < 1.0 else 0.0
    trg = lp.trg_names[choose(lp.trg_cumulative, v)]
    p.log(ev.PATHOLOGY, "residual", float(trg))
