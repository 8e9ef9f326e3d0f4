"""The weekly multidisciplinary team meeting: a booked place at the next meeting, then a decision.

Decision rules, in order: refusal of radical treatment; a clinical complete response at all sites
-> watch-and-wait; all metastases judged treatable (a logistic model of response, number of liver
metastases and number of metastatic organs) -> local treatment (of the metastases only when a
patient with a low tumour declines TME); otherwise more chemotherapy and a
second look (when the strategy allows it), resection of the primary alone, or palliative care.
Detected progression leads to palliative therapy or, for some patients, best supportive care.
Each decision reads a fixed number of uniforms from the patient's ``decisions`` stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model import events as ev
from sim.model.inputs import PatientAttributes
from sim.scenario.params import apply_odds_ratio

if TYPE_CHECKING:
    from sim.model.context import Context, Runner, StepProcess
    from sim.model.patient import Patient
    from sim.scenario.parameters import Parameters
    from sim.scenario.strategy import MdtStep

DRAWS_PER_MDT = 5


@dataclass(frozen=True, slots=True)
class MdtParams:
    refusal: float
    more_chemotherapy: float
    primary_resection: float
    supportive_care: float
    tme_declined_low: float
    resectable: float
    partial_response_or: float
    liver_gt5_or: float
    two_organs_or: float
    pelvic: float


def compile_mdt(params: Parameters) -> MdtParams:
    m, r = params.mdt, params.resectability
    return MdtParams(
        refusal=m.refusal_probability.value,
        more_chemotherapy=m.more_chemotherapy_probability.value,
        primary_resection=m.primary_resection_probability.value,
        tme_declined_low=m.tme_declined_low_tumour_probability.value,
        supportive_care=m.best_supportive_care_probability.value,
        resectable=r.probability.value,
        partial_response_or=r.partial_response_odds_ratio.value,
        liver_gt5_or=r.liver_metastases_gt5_odds_ratio.value,
        two_organs_or=r.two_organs_odds_ratio.value,
        pelvic=r.pelvic_probability.value,
    )


def resectability_probability(mp: MdtParams, attrs: PatientAttributes, response: str) -> float:
    """P(every untreated liver/lung metastasis is judged treatable)."""
    if not attrs.has_liver and not attrs.has_lung:
        return 1.0
    p = mp.resectable
    if response in ("PR", "CR"):
        p = apply_odds_ratio(p, mp.partial_response_or)
    if attrs.n_liver_metastases > 5:
        p = apply_odds_ratio(p, mp.liver_gt5_or)
    if attrs.has_liver and attrs.has_lung:
        p = apply_odds_ratio(p, mp.two_organs_or)
    return p


def decide(mp: MdtParams, p: Patient, u: list[float], allow_more: bool) -> str:
    if p.detected:
        return "best_supportive_care" if u[0] < mp.supportive_care else "palliative"
    if u[0] < mp.refusal:
        return "refused"
    if p.response == "CR":
        return "watch_and_wait"
    pelvic_ok = True
    if mp.pelvic < 1.0 and "rectum" in p.untreated:
        # an unresectable pelvic tumour (locally recurrent disease) that may become resectable;
        # its own draw, taken only then, so strategies without it keep their streams
        pelvic = mp.pelvic
        if p.response in ("PR", "CR"):
            pelvic = apply_odds_ratio(pelvic, mp.partial_response_or)
        pelvic_ok = p.decisions.random() < pelvic
    if pelvic_ok and u[1] < resectability_probability(mp, p.attrs, p.response):
        low = p.attrs.tumour_height == "low" and "rectum" in p.untreated
        return "metastases_only" if low and u[4] < mp.tme_declined_low else "local_treatment"
    if allow_more and u[2] < mp.more_chemotherapy:
        return "more_chemotherapy"
    if pelvic_ok and "rectum" in p.untreated and u[3] < mp.primary_resection:
        return "primary_only"
    return "palliative"


def build(spec: MdtStep, ctx: Context) -> Runner:
    mp = ctx.mdt_params
    allow_more = spec.allow_more_chemotherapy

    def run(p: Patient) -> StepProcess:
        asked = p.env.now
        meeting = ctx.mdt.book(asked)
        u = p.decisions.take(DRAWS_PER_MDT)
        yield from p.hold_until(meeting)
        p.decision = decide(mp, p, u, allow_more)
        p.log(ev.MDT, p.decision, meeting - asked)
        return None

    return run
