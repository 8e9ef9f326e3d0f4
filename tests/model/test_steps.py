"""Each step type, seen through the event log of small runs with parameters pinned down."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE
from test_invariants import check_invariants

from sim.execution.runner import run_scenario
from sim.model import events as ev
from sim.model.hazards import DAYS_PER_MONTH
from sim.model.inputs import PatientAttributes
from sim.model.treatments.mdt import MdtParams, resectability_probability
from sim.outcomes.summary import analyse
from sim.scenario.loader import load_scenario

NO_TOXICITY = {
    f"parameters.chemotherapy.toxicity.per_cycle.{t}": 0.0
    for t in ("hematological", "gastrointestinal", "neurological", "dermatological")
}
AMPLE = {
    "resources.linac.slots_per_day": 50,
    "resources.theatre.slots_per_day": 50,
    "resources.mdt.slots_per_day": 50,
}
SLOW_DISEASE = {"parameters.disease.progression.weibull_scale_months": 400}


def run(**overrides) -> tuple[pd.DataFrame, pd.DataFrame]:
    s = load_scenario(REFERENCE, {"run.patients": 300, "run.seed": 17, **overrides})
    result = run_scenario(s)
    patients, _ = analyse(result)
    return result.events, patients


@pytest.fixture(scope="module")
def calm():
    """No toxicity, ample resources, slow disease: the schedule as planned."""
    return run(**NO_TOXICITY, **AMPLE, **SLOW_DISEASE)


def _rows(events, event, detail=None):
    out = events[events["event"] == event]
    return out if detail is None else out[out["detail"].astype(str) == detail]


def test_cycle_lengths_by_regimen(calm):
    events, patients = calm
    regimen = patients.set_index("patient_id")["regimen"]
    cycles = _rows(events, ev.CHEMO_CYCLE)
    cycles = cycles[cycles["phase"] == "neoadjuvant"]
    gaps = cycles.groupby("patient_id")["day"].diff().dropna()
    # cycles within a course follow each other by the regimen's cycle length (no toxicity delays)
    by_regimen = gaps.groupby(cycles.loc[gaps.index, "patient_id"].map(regimen)).agg(["min", "median"])
    assert by_regimen.loc["CAPOX"].tolist() == pytest.approx([21, 21])
    assert by_regimen.loc["FOLFOX"].tolist() == pytest.approx([14, 14])


def test_lcrt_starts_with_cycle_two_on_consecutive_weekdays(calm):
    events, patients = calm
    lcrt = patients.loc[patients["radiotherapy_course"] == "LCRT", "patient_id"]
    fractions = _rows(events, ev.RT_FRACTION, "LCRT")
    cycles = _rows(events, ev.CHEMO_CYCLE)
    checked = 0
    for pid in lcrt[:40]:
        days = np.floor(fractions.loc[fractions["patient_id"] == pid, "day"].to_numpy())
        if len(days) < 25:
            continue  # stopped by death or progression
        assert len(days) == 25
        assert np.all(days % 7 < 5)
        # with ample capacity no weekday is skipped: gaps are 1 day, or 3 over a weekend
        assert set(np.diff(days)) <= {1, 3}
        second = np.floor(cycles.loc[cycles["patient_id"] == pid, "day"].iloc[1])
        assert 0 <= days[0] - second <= 3  # from the second cycle's day (or after the weekend)
        checked += 1
    assert checked > 20


def test_scrt_five_fractions_then_tme_within_a_week(calm):
    events, patients = calm
    scrt = set(patients.loc[patients["radiotherapy_course"] == "SCRT", "patient_id"])
    fractions = _rows(events, ev.RT_FRACTION, "SCRT")
    counts = fractions.groupby("patient_id").size()
    assert set(counts) <= {5} and len(counts) > 5
    assert set(counts.index) <= scrt
    last = fractions.groupby("patient_id")["day"].max()
    tme = _rows(events, ev.PROCEDURE, "tme").set_index("patient_id")["day"]
    gaps = (tme.reindex(last.index) - last).dropna()
    decisions = _rows(events, ev.MDT).groupby("patient_id")["detail"].last().astype(str)
    simultaneous_or_bowel = gaps[decisions.reindex(gaps.index) != "x"]
    assert len(simultaneous_or_bowel) > 0
    # bowel-first and simultaneous TME within a week of SCRT (+ a theatre day)
    assert (gaps.min() >= 0) and (np.quantile(gaps, 0.5) <= 9)


def test_lcrt_tme_six_to_eight_weeks_after_radiotherapy(calm):
    events, patients = calm
    last = _rows(events, ev.RT_FRACTION, "LCRT").groupby("patient_id")["day"].max()
    tme = _rows(events, ev.PROCEDURE, "tme").set_index("patient_id")["day"]
    gaps = (tme.reindex(last.index) - last).dropna()
    assert len(gaps) > 50
    assert gaps.min() >= 42 - 1e-9
    reassessed = _rows(events, ev.REASSESSMENT).groupby("patient_id")["day"].first()
    assert ((reassessed.reindex(last.index) - last).dropna() >= 35 - 1e-9).all()


def test_mdt_meets_on_its_weekday(calm):
    events, _ = calm
    days = np.floor(_rows(events, ev.MDT)["day"].to_numpy())
    assert len(days) > 100 and set(days % 7) == {2}


def test_follow_up_visits_three_then_six_monthly(calm):
    events, _ = calm
    starts = _rows(events, ev.FOLLOW_UP_START).set_index("patient_id")["day"]
    visits = _rows(events, ev.FOLLOW_UP_VISIT)
    since = (visits["day"] - visits["patient_id"].map(starts)) / DAYS_PER_MONTH
    gaps = since.groupby(visits["patient_id"]).diff().dropna()
    early = gaps[since.loc[gaps.index] <= 24 + 1e-6]
    late = gaps[(since.loc[gaps.index] > 24 + 1e-6) & (since.loc[gaps.index] <= 60 + 1e-6)]
    assert len(early) > 100 and np.allclose(early, 3)
    assert len(late) > 10 and np.allclose(late, 6)


@pytest.mark.parametrize("sequence", ["bowel_first", "metastases_first", "simultaneous"])
def test_local_treatment_sequence(sequence):
    probs = {k: float(k == sequence) for k in ("bowel_first", "metastases_first", "simultaneous")}
    events, patients = run(**NO_TOXICITY, **AMPLE, **SLOW_DISEASE,
                           **{"parameters.mdt.sequence": {"probabilities": probs, "source": "test"}})
    procedures = _rows(events, ev.PROCEDURE)
    tme = procedures[procedures["detail"] == "tme"].set_index("patient_id")["day"]
    names = procedures["detail"].astype(str)
    liver = procedures[names.str.startswith("liver_") & ~names.str.endswith("_sbrt")]
    first_liver = liver.groupby("patient_id")["day"].min()
    both = first_liver.index.intersection(tme.index)
    assert len(both) > 10
    gap = tme[both] - first_liver[both]
    if sequence == "bowel_first":
        assert (gap <= -28 + 1e-9).all()
    elif sequence == "metastases_first":
        assert (gap >= 28 - 1e-9).all()
    else:
        assert (gap == 0).all()


def test_complication_that_prevents_adjuvant():
    obstruction = "parameters.local_treatment.rectal_complications.intestinal_obstruction"
    events, patients = run(**SLOW_DISEASE, **{
        f"{obstruction}.probability": 1.0,
        f"{obstruction}.prevents_adjuvant_probability": 1.0,
        f"{obstruction}.reoperation_probability": 1.0,
        "parameters.local_treatment.rectal_complications.anastomotic_leakage.probability": 0.0,
        "parameters.local_treatment.rectal_complications.anastomotic_stenosis.probability": 0.0,
        "parameters.local_treatment.rectal_complications.abscess.probability": 0.0,
    })
    tme_patients = set(_rows(events, ev.PROCEDURE, "tme")["patient_id"])
    assert set(_rows(events, ev.COMPLICATION, "intestinal_obstruction")["patient_id"]) == tme_patients
    assert set(_rows(events, ev.PROCEDURE, "reoperation")["patient_id"]) >= tme_patients
    adjuvant = _rows(events, ev.CHEMO_CYCLE)
    adjuvant = adjuvant[adjuvant["phase"] == "adjuvant"]
    assert not set(adjuvant["patient_id"]) & tme_patients
    assert not patients.loc[patients["rectal_surgery"], "completed"].any()
    assert patients.loc[patients["rectal_surgery"], "surgical_complication"].all()


def test_complete_response_goes_to_watch_and_wait():
    events, patients = run(**SLOW_DISEASE, **{"parameters.response.complete_probability": 1.0,
                                               "parameters.response.partial_probability": 0.0,
                                               "parameters.mdt.refusal_probability": 0.0})
    decided = _rows(events, ev.MDT)
    first = decided.groupby("patient_id")["detail"].first().astype(str)
    ww = first[first == "watch_and_wait"].index
    assert len(ww) > 200
    assert not set(_rows(events, ev.PROCEDURE)["patient_id"]) & set(ww)
    assert set(_rows(events, ev.WATCH_AND_WAIT)["patient_id"]) == set(ww)
    assert patients.set_index("patient_id").loc[ww, "all_sites_treated"].all()


def test_refusal():
    events, patients = run(**{"parameters.mdt.refusal_probability": 1.0})
    decisions = _rows(events, ev.MDT)["detail"].astype(str)
    # every MDT refuses, except the review of a progression found before it (palliative)
    assert set(decisions) <= {"refused", "palliative", "best_supportive_care"}
    refused = patients["mdt_decision"] == "refused"
    assert refused.sum() > 200 and (patients.loc[refused, "pathway"] == "refused").all()
    assert not patients["rectal_surgery"].any()


def test_resectability_model():
    mp = MdtParams(refusal=0, more_chemotherapy=0, primary_resection=0, tme_declined_low=0,
                   supportive_care=0,
                   resectable=0.5,
                   partial_response_or=3.0, liver_gt5_or=0.2, two_organs_or=0.5, pelvic=1.0)
    liver = PatientAttributes(
        response_odds_ratio=1.0, regimen="CAPOX", radiotherapy_course="LCRT", sequence="bowel_first",
        sites=("rectum", "liver"), has_liver=True, has_lung=False, n_liver_metastases=2,
        tumour_height="middle", modality={"liver": "resection"},
    )
    assert resectability_probability(mp, liver, "SD") == pytest.approx(0.5)
    assert resectability_probability(mp, liver, "PR") == pytest.approx(0.75)  # odds 1 -> 3
    many = liver._replace(n_liver_metastases=8)
    assert resectability_probability(mp, many, "SD") == pytest.approx(0.2 / 1.2)
    both = liver._replace(sites=("rectum", "liver", "lung"), has_lung=True)
    assert resectability_probability(mp, both, "SD") == pytest.approx(1 / 3)  # odds 1 -> 0.5
    nodes = liver._replace(sites=("rectum", "distant_lymph_nodes"), has_liver=False,
                           n_liver_metastases=0, modality={"distant_lymph_nodes": "resection"})
    assert resectability_probability(mp, nodes, "SD") == 1.0


def test_distant_nodes_treated_by_the_extended_field(calm):
    events, patients = calm
    nodes = patients.loc[patients["metastatic_site"] == "distant_lymph_nodes", "patient_id"]
    treated = _rows(events, ev.SITE_TREATED, "distant_lymph_nodes")
    rt_end = _rows(events, ev.RT_COMPLETED).groupby("patient_id")["day"].first()
    assert set(treated["patient_id"]) <= set(nodes)
    joined = treated.set_index("patient_id")["day"]
    assert np.allclose(joined, rt_end.reindex(joined.index))


def test_concurrent_steps_that_are_not_fixed_courses(write_scenario):
    """An MDT discussion during a chemotherapy course: concurrent steps run as processes."""
    path = write_scenario({
        "extends": str(REFERENCE),
        "strategy": {"phases": {"neoadjuvant": [
            {"step": "concurrent", "steps": [
                {"step": "chemotherapy", "phase": "neoadjuvant", "regimen_cycles": 3},
                {"step": "mdt"},
            ]},
            {"step": "branch", "by": "radiotherapy_course",
             "cases": {"LCRT": "long_course", "SCRT": "short_course"}},
        ]}},
        "run": {"patients": 200, "seed": 5},
    })
    s = load_scenario(path)
    result = run_scenario(s)
    events = result.events
    first_mdt = _rows(events, ev.MDT).groupby("patient_id")["day"].first()
    cycles = _rows(events, ev.CHEMO_CYCLE)
    third = cycles[cycles.groupby("patient_id").cumcount() == 2].set_index("patient_id")["day"]
    both = first_mdt.index.intersection(third.index)
    assert len(both) > 150
    # the MDT met during the first three cycles, and the fourth cycle waited for both
    assert (first_mdt[both] < third[both]).all()
    fourth = cycles[cycles.groupby("patient_id").cumcount() == 3].set_index("patient_id")["day"]
    later = fourth.index.intersection(first_mdt.index)
    assert len(later) > 100 and (fourth[later] >= first_mdt[later]).all()
    patients, _ = analyse(result)
    check_invariants(s, events, patients)
