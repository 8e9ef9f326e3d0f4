"""The weekly multidisciplinary team meeting: a booked place at the next meeting, then a decision.

Decision rules, in order: refusal of radical treatment; a clinical complete response at all sites
-> watch-and-wait; all metastases judged treatable (a logistic model of response, number of liver
metastases and number of metastatic organs: organ-blind, one draw, or per organ, one draw each)
-> local treatment, of the metastases only when the rectum had a clinical complete response
after chemoradiotherapy (watched, not resected), when a low tumour needs an abdominoperineal
resection that the patient refuses, or when a patient with a low tumour declines TME (the older
single knob); otherwise more chemotherapy and a second look (when the strategy allows it),
resection of the primary alone, or palliative care. Detected progression leads to palliative
therapy or, for some patients, best supportive care.

Each decision reads a fixed number of uniforms from the patient's ``decisions`` stream; the
per-organ and rectal draws come from keyed streams of their own (``resectability``, ``rectum``),
read only when those features are on, so that scenarios without them keep every draw.
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
#: per-organ treatability: liver, lung (read at every meeting that asks, used or not)
ORGAN_DRAWS = 2
#: the rectum once the metastases are treatable: cCR, regrowth, stoma refusal
RECTAL_DRAWS = 3


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
    lung_resectable: float | None = None
    """per-organ treatability when set (organ-blind when None)"""
    rectal_ccr: float = 0.0
    rectal_regrowth: float = 0.0
    stoma_refusal_low: float = 0.0
    """P(a low tumour needs an abdominoperineal resection and the patient refuses it)"""


def compile_mdt(params: Parameters) -> MdtParams:
    m, r = params.mdt, params.resectability
    ww, stoma = m.rectal_watch_and_wait, m.stoma_refusal
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
        lung_resectable=None if r.lung_probability is None else r.lung_probability.value,
        rectal_ccr=0.0 if ww is None else apply_odds_ratio(
            ww.complete_response_probability.value, params.effects.rectal_complete_response_odds_ratio.value),
        rectal_regrowth=0.0 if ww is None else ww.regrowth_probability.value,
        stoma_refusal_low=0.0 if stoma is None else (
            stoma.apr_needed_low_tumour_probability.value * stoma.refusal_probability.value),
    )


def resectability_probability(mp: MdtParams, attrs: PatientAttributes, response: str) -> float:
    """P(every untreated liver/lung metastasis is judged treatable), organ-blind."""
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


def organ_probabilities(mp: MdtParams, attrs: PatientAttributes, response: str) -> tuple[float, float]:
    """P(the liver's metastases are treatable), P(the lung's are), per organ (1 without them)."""
    assert mp.lung_resectable is not None
    responded = response in ("PR", "CR")
    liver = lung = 1.0
    if attrs.has_liver:
        liver = mp.resectable
        if responded:
            liver = apply_odds_ratio(liver, mp.partial_response_or)
        if attrs.n_liver_metastases > 5:
            liver = apply_odds_ratio(liver, mp.liver_gt5_or)
    if attrs.has_lung:
        lung = mp.lung_resectable
        if responded:
            lung = apply_odds_ratio(lung, mp.partial_response_or)
    return liver, lung


def _treatable(mp: MdtParams, p: Patient, u: float) -> bool:
    """Every untreated liver/lung metastasis judged treatable: one draw (``u``, organ-blind) or
    one keyed draw per organ."""
    if mp.lung_resectable is None:
        return u < resectability_probability(mp, p.attrs, p.response)
    liver, lung = organ_probabilities(mp, p.attrs, p.response)
    u_liver, u_lung = p.decisions.keyed("resectability").take(ORGAN_DRAWS)
    return (u_liver < liver or "liver" not in p.untreated) and (u_lung < lung or "lung" not in p.untreated)


def _with_metastases(mp: MdtParams, p: Patient, u_declined: float) -> str:
    """Local treatment once the metastases are treatable: all sites, or the metastases alone."""
    if "rectum" not in p.untreated:
        return "local_treatment"
    if mp.rectal_ccr > 0.0 or mp.stoma_refusal_low > 0.0:
        u_ccr, u_regrowth, u_refusal = p.decisions.keyed("rectum").take(RECTAL_DRAWS)
        if p.rt_end is not None and p.response in ("PR", "CR") and u_ccr < mp.rectal_ccr:
            # cCR of the primary after chemoradiotherapy: watched, not resected; a regrowth is
            # residual tumour, so treating the other sites cannot cure
            p.untreated.discard("rectum")
            p.log(ev.WATCH_AND_WAIT, "rectum")
            if u_regrowth < mp.rectal_regrowth:
                p.disease.exclude_cure()
            return "metastases_only"
        if p.attrs.tumour_height == "low" and u_refusal < mp.stoma_refusal_low:
            return "metastases_only"
    if p.attrs.tumour_height == "low" and u_declined < mp.tme_declined_low:
        return "metastases_only"
    return "local_treatment"


def decide(mp: MdtParams, p: Patient, u: list[float], allow_more: bool) -> str:
    if p.detected:
        u_bsc = p.decisions.keyed("supportive_care").random()
        return "best_supportive_care" if u_bsc < mp.supportive_care else "palliative"
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
    treatable = _treatable(mp, p, u[1])  # its keyed draws every meeting (common random numbers)
    if pelvic_ok and treatable:
        return _with_metastases(mp, p, u[4])
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
