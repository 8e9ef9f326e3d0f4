"""Organ-specific resectability, the rectum's watch-and-wait after a clinical complete response,
and refusal of an abdominoperineal resection: magnitudes against hand calculations.

The model-level test runs 10,000 patients with the disease slowed to a halt and no toxicity,
response or second look, so that whether a site is treated is the MDT's draw alone."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import REFERENCE

from sim.execution.runner import run_scenario
from sim.model.inputs import PatientAttributes
from sim.model.rng import PURPOSES, Stream
from sim.model.treatments.mdt import MdtParams, _with_metastases, organ_probabilities
from sim.outcomes.summary import patients_of
from sim.scenario.loader import load_scenario
from sim.scenario.params import apply_odds_ratio

LIVER, LUNG, GT5_OR = 0.7, 0.4, 0.35
CCR, REGROWTH, APR, REFUSAL = 0.2, 0.36, 0.5, 0.2


def _p(value: float) -> dict:
    return {"value": value, "source": "test"}


def _within(share: float, p: float, n: int, k: float = 3.0) -> bool:
    return abs(share - p) <= k * math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def patients():
    overrides = {
        "run.patients": 10_000, "run.seed": 23,
        "parameters.disease.progression.weibull_scale_months": 1e6,
        "parameters.response.complete_probability": 0.0,
        # every patient responds (a rectal cCR needs a response), and response moves no odds
        "parameters.response.partial_probability": 1.0,
        "parameters.resectability.partial_response_odds_ratio": 1.0,
        "parameters.mdt.refusal_probability": 0.0,
        "parameters.mdt.more_chemotherapy_probability": 0.0,
        "parameters.mdt.tme_declined_low_tumour_probability": 0.0,
        "parameters.resectability.probability": LIVER,
        "parameters.resectability.liver_metastases_gt5_odds_ratio": GT5_OR,
        "parameters.resectability.lung_probability": _p(LUNG),
        "parameters.mdt.rectal_watch_and_wait": {
            "complete_response_probability": _p(CCR), "regrowth_probability": _p(REGROWTH)},
        "parameters.mdt.stoma_refusal": {
            "apr_needed_low_tumour_probability": _p(APR), "refusal_probability": _p(REFUSAL)},
        **{f"parameters.chemotherapy.toxicity.per_cycle.{t}": 0.0
           for t in ("hematological", "gastrointestinal", "neurological", "dermatological")},
    }
    return patients_of(run_scenario(load_scenario(REFERENCE, overrides, use_calibration=False)))


def test_lung_metastases_are_treated_with_the_lung_probability(patients):
    lung_only = patients[patients["metastatic_site"] == "lung_only"]
    assert len(lung_only) > 2000
    assert _within(lung_only["lung_treated"].mean(), LUNG, len(lung_only))


def test_liver_metastases_are_treated_with_the_liver_probability_and_its_odds_ratio(patients):
    liver = patients[patients["metastatic_site"] == "liver_only"]
    few, many = liver[liver["n_liver_metastases"] <= 5], liver[liver["n_liver_metastases"] > 5]
    assert _within(few["liver_treated"].mean(), LIVER, len(few))
    gt5 = apply_odds_ratio(LIVER, GT5_OR)  # 0.7 x 0.35 / (0.3 + 0.245) = 0.4495
    assert gt5 == pytest.approx(0.4495, abs=1e-4)
    assert _within(many["liver_treated"].mean(), gt5, len(many))


def test_two_organs_need_both_treatable(patients):
    both = patients[(patients["metastatic_site"] == "liver_and_lung") & (patients["n_liver_metastases"] <= 5)]
    treated = both["liver_treated"] & both["lung_treated"]
    assert _within(treated.mean(), LIVER * LUNG, len(both))  # 0.28: no two-organs odds ratio
    # local treatment needs every organ treatable: never one organ without the other
    assert not (both["liver_treated"] ^ both["lung_treated"]).any()


def test_rectal_ccr_after_chemoradiotherapy_only(patients):
    treatable = patients[patients["metastasis_treatment"]]
    lcrt = treatable[treatable["radiotherapy_course"] == "LCRT"]
    # a complete response of the primary is called only in patients who responded
    responded = lcrt["first_response"].astype(str).isin(["PR", "CR"])
    assert _within(lcrt.loc[responded, "rectal_watch_and_wait"].mean(), CCR, int(responded.sum()))
    assert not lcrt.loc[~responded, "rectal_watch_and_wait"].any()
    # short course: the MDT meets before the radiotherapy, so no cCR is called
    assert not treatable.loc[treatable["radiotherapy_course"] == "SCRT", "rectal_watch_and_wait"].any()


def test_rectal_ccr_patients_are_metastasis_treatment_only(patients):
    watched = patients[patients["rectal_watch_and_wait"]]
    assert len(watched) > 250
    assert not watched["completed"].any() and not watched["rectal_surgery"].any()
    assert not watched["watch_and_wait"].any()  # the all-sites cCR is another thing
    alive_through = watched[watched["pathway"] != "died_during_treatment"]
    assert (alive_through["pathway"] == "metastasis_treatment_only").all()
    # they go on to adjuvant chemotherapy like the all-sites cCR (Li 2021's watch-and-wait)
    assert (alive_through["adjuvant_cycles"] >= 1).mean() > 0.9


def test_stoma_refusal_among_low_tumours(patients):
    treatable = patients[patients["metastasis_treatment"] & ~patients["rectal_watch_and_wait"]]
    low = treatable[treatable["tumour_height"] == "low"]
    refused = ~low["rectal_surgery"]
    assert _within(refused.mean(), APR * REFUSAL, len(low))  # 0.1
    # (a background death between stages aside)
    others = treatable[(treatable["tumour_height"] != "low")
                       & (treatable["pathway"] != "died_during_treatment")]
    assert others["rectal_surgery"].all()


class _Disease:
    cured_if_treated = True

    def exclude_cure(self) -> None:
        self.cured_if_treated = False


def _stub(i: int, low: bool, rt_done: bool = True, response: str = "PR") -> SimpleNamespace:
    log = []
    return SimpleNamespace(
        untreated={"rectum", "liver"}, rt_end=100.0 if rt_done else None, response=response,
        attrs=SimpleNamespace(tumour_height="low" if low else "middle"),
        decisions=Stream([], 5, PURPOSES["decisions"][0], i), disease=_Disease(),
        log=lambda *row: log.append(row), rows=log,
    )


def _mdt(**kw) -> MdtParams:
    base = dict(refusal=0, more_chemotherapy=0, primary_resection=0, supportive_care=0,
                tme_declined_low=0, resectable=0.5, partial_response_or=1, liver_gt5_or=1,
                two_organs_or=1, pelvic=1.0)
    return MdtParams(**{**base, **kw})


def test_rectal_decision_magnitudes_on_keyed_draws():
    mp = _mdt(rectal_ccr=CCR, rectal_regrowth=REGROWTH, stoma_refusal_low=APR * REFUSAL)
    n = 20_000
    stubs = [_stub(i, low=True) for i in range(n)]
    decisions = [_with_metastases(mp, p, 0.0) for p in stubs]  # type: ignore[arg-type]
    ccr = np.array(["rectum" not in p.untreated for p in stubs])
    assert _within(ccr.mean(), CCR, n)
    regrown = np.array([not p.disease.cured_if_treated for p in stubs])
    assert not regrown[~ccr].any()
    assert _within(regrown[ccr].mean(), REGROWTH, int(ccr.sum()))
    mets_only = np.array([d == "metastases_only" for d in decisions])
    assert mets_only[ccr].all()
    assert _within(mets_only[~ccr].mean(), APR * REFUSAL, int((~ccr).sum()))
    # the decisions stream itself is untouched: the rectal draws are keyed elsewhere
    assert all(p.decisions._pos == 0 for p in stubs)


def test_no_ccr_without_radiotherapy_or_response_and_none_when_off():
    mp = _mdt(rectal_ccr=1.0)
    p = _stub(0, low=False, rt_done=False)
    assert _with_metastases(mp, p, 0.0) == "local_treatment"  # type: ignore[arg-type]
    stable = _stub(2, low=False, response="SD")
    assert _with_metastases(mp, stable, 0.0) == "local_treatment"  # type: ignore[arg-type]
    off = _mdt()
    q = _stub(1, low=True)
    assert _with_metastases(off, q, 0.99) == "local_treatment"  # type: ignore[arg-type]
    assert q.decisions._keyed is None  # no keyed stream made when the features are off


def test_organ_probabilities_hand_calculated():
    mp = _mdt(resectable=0.6, partial_response_or=2.0, liver_gt5_or=0.5, lung_resectable=0.3)
    attrs = PatientAttributes(
        response_odds_ratio=1.0, regimen="CAPOX", radiotherapy_course="LCRT", sequence="bowel_first",
        sites=("rectum", "liver", "lung"), has_liver=True, has_lung=True, n_liver_metastases=7,
        tumour_height="middle", modality={"liver": "resection", "lung": "rfa"},
    )
    liver, lung = organ_probabilities(mp, attrs, "PR")
    # liver: odds 1.5 x 2 x 0.5 = 1.5 -> 0.6; lung: odds 0.3/0.7 x 2 = 6/7 -> 6/13
    assert liver == pytest.approx(0.6) and lung == pytest.approx(6 / 13)
