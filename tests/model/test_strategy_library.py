"""The strategy library: every shipped strategy's distinctive mechanics, seen in the event log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_invariants import check_invariants

from sim.execution.runner import run_scenario
from sim.model import events as ev
from sim.outcomes.summary import analyse
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def _run(name: str, **overrides):
    s = load_scenario(SCENARIOS / name, {"run.patients": 400, "run.seed": 23, **overrides})
    result = run_scenario(s)
    patients, summary = analyse(result)
    return s, result.events, patients, summary


@pytest.fixture(scope="module")
def sbrt_pd1():
    return _run("crlm_r1_sbrt_pd1.yaml")


@pytest.fixture(scope="module")
def crlm_control():
    return _run("crlm_r1_adjuvant_chemo.yaml")


def test_tnt_gives_scrt_then_consolidation_and_no_adjuvant_phase():
    s, events, patients, summary = _run("tnt_scrt_consolidation.yaml")
    check_invariants(s, events, patients)
    assert not (events["phase"] == "adjuvant").any()
    first_rt = events[events["event"] == ev.RT_FRACTION].groupby("patient_id")["day"].min()
    first_cycle = events[(events["event"] == ev.CHEMO_CYCLE)
                         & (events["phase"] == "consolidation")].groupby("patient_id")["day"].min()
    both = first_rt.index.intersection(first_cycle.index)
    assert len(both) > 300 and (first_rt[both] < first_cycle[both]).all()
    # RAPIDO's protocol: the first cycle 11-18 days after the last of the 5 fractions
    scrt = events[(events["event"] == ev.RT_FRACTION) & (events["detail"].astype(str) == "SCRT_TNT")]
    last_rt = scrt.groupby("patient_id")["day"].max()
    gap = (first_cycle[both] - last_rt[both])
    assert gap.between(11, 18).all() and gap.std() > 1.5
    # five fractions of the TNT course for everyone who started it
    courses = events[events["event"] == ev.RT_COMPLETED]
    assert set(courses["detail"].astype(str)) <= {"SCRT_TNT", "SBRT"}
    assert summary["completion_rate"] > 0.3


def test_tnt_effects_move_pcr_against_the_reference_on_the_same_patients():
    _, _, ref, _ = _run("li2021_reference.yaml", **{"run.patients": 1500})
    _, _, tnt, _ = _run("tnt_scrt_consolidation.yaml", **{"run.patients": 1500})
    assert tnt.loc[tnt["rectal_surgery"], "ypcr"].mean() > 1.4 * ref.loc[ref["rectal_surgery"], "ypcr"].mean()


def test_resected_population_starts_with_every_site_treated_but_after_r2(crlm_control):
    s, events, patients, _ = crlm_control
    check_invariants(s, events, patients)
    arrival = events[events["event"] == ev.ARRIVAL].set_index("patient_id")["day"]
    treated = events[events["event"] == ev.SITE_TREATED]
    at_entry = treated[treated["day"].to_numpy() == arrival.loc[treated["patient_id"]].to_numpy()]
    sites = at_entry.groupby("patient_id")["detail"].apply(lambda d: set(d.astype(str)))
    r2 = (patients.set_index("patient_id")["resection_margin"] == "R2").loc[sites.index]
    assert 10 <= r2.sum() <= 45  # 400 x 0.03 / 0.45 = 27
    assert (sites[~r2] == {"rectum", "liver"}).all() and (sites[r2] == {"rectum"}).all()
    assert len(at_entry["patient_id"].unique()) == len(patients)
    assert (patients["all_sites_treated"] == (patients["resection_margin"] != "R2")).all()
    assert (patients["metastatic_site"] == "liver_only").all()
    # eligibility: close or positive margins, at most 5 lesions
    assert patients["resection_margin"].isin(["R0_close", "R1", "R2"]).all()
    assert (patients["n_liver_metastases"] <= 5).all()
    assert not (events["event"] == ev.PROCEDURE).any()


def test_sintilimab_every_three_weeks_alongside_chemotherapy(sbrt_pd1):
    s, events, patients, _ = sbrt_pd1
    check_invariants(s, events, patients)
    doses = events[events["event"] == ev.IMMUNOTHERAPY_DOSE]
    gaps = doses.groupby("patient_id")["day"].diff().dropna()
    assert len(gaps) > 500 and np.allclose(gaps, 21.0)
    assert doses.groupby("patient_id").size().max() == 6
    # immunotherapy starts with the first adjuvant cycle, after the liver SBRT
    first_dose = doses.groupby("patient_id")["day"].min()
    first_cycle = events[events["event"] == ev.CHEMO_CYCLE].groupby("patient_id")["day"].min()
    common = first_dose.index.intersection(first_cycle.index)
    assert np.allclose(first_dose[common], first_cycle[common])
    sbrt_end = events[(events["event"] == ev.RT_COMPLETED)].groupby("patient_id")["day"].max()
    assert (sbrt_end.reindex(common).dropna() <= first_dose[common].reindex(sbrt_end.index).dropna()).all()


def test_immune_related_events_stop_the_antibody_when_they_say_so():
    _, events, _, _ = _run("crlm_r1_sbrt_pd1.yaml", **{
        "parameters.immunotherapy.immune_related_grade34_per_dose.value": 0.3,
        "parameters.immunotherapy.discontinuation_after_grade34.value": 1.0})
    irae = events[(events["event"] == ev.TOXICITY) & (events["detail"].astype(str) == "immune_related")]
    stopped = events[events["event"] == ev.IMMUNOTHERAPY_STOPPED]
    assert len(irae) > 50
    # every irAE stops the drug: one irAE per patient at most, each followed by the stop
    assert irae.groupby("patient_id").size().max() == 1
    assert set(stopped["patient_id"]) == set(irae["patient_id"])
    doses = events[events["event"] == ev.IMMUNOTHERAPY_DOSE]
    last_dose = doses.groupby("patient_id")["day"].max()
    assert (last_dose.loc[stopped["patient_id"]].to_numpy() < stopped["day"].to_numpy()).all()


def test_immunotherapy_leaves_the_other_draws_of_each_patient_alone(crlm_control, sbrt_pd1):
    """Common random numbers: adding the antibody and SBRT changes no chemotherapy draw."""
    _, ev_a, _, _ = crlm_control
    _, ev_b, _, _ = sbrt_pd1
    def tox(e):
        t = e[(e["event"] == ev.TOXICITY) & (e["detail"].astype(str) != "immune_related")
              & (e["phase"] == "adjuvant")]
        return t.groupby("patient_id").size()
    a, b = tox(ev_a), tox(ev_b)
    common = a.index.intersection(b.index)
    assert len(common) > 20 and (a[common] == b[common]).mean() > 0.8


def test_a_calibration_of_a_child_scenario_keeps_the_parents_fit():
    from sim.calibrate.spec import load_calibration

    cal = load_calibration(ROOT / "calibration" / "crlm_r1.yaml")
    own = load_scenario(cal.scenario_path, use_calibration=cal.fitted_path)
    everything = load_scenario(cal.scenario_path)
    reference = load_scenario(SCENARIOS / "li2021_reference.yaml")
    prog = "disease.progression"
    # the parent's fitted values stay, the file being fitted is left out
    assert (own.parameters.disease.progression.weibull_scale_months.value
            == reference.parameters.disease.progression.weibull_scale_months.value)
    assert (own.parameters.disease.progression.hazard_ratio_by_state["all_sites_treated"].value
            == reference.parameters.disease.progression.hazard_ratio_by_state["all_sites_treated"].value)
    assert (everything.parameters.disease.progression.hazard_ratio_by_state["all_sites_treated"].value
            != own.parameters.disease.progression.hazard_ratio_by_state["all_sites_treated"].value), prog


def test_a_mix_override_replaces_its_categories(write_scenario):
    path = write_scenario({"extends": str(SCENARIOS / "li2021_reference.yaml"), "name": "liver",
                           "population": {"metastatic_site": {"counts": {"liver_only": 1}}}})
    assert load_scenario(path).population.metastatic_site.categories == ("liver_only",)


@pytest.fixture(scope="module")
def tace():
    return _run("crlm_chemoresistant_tace.yaml")


def test_regional_sessions_until_the_restaging_that_finds_progression(tace):
    s, events, patients, _ = tace
    check_invariants(s, events, patients)
    sessions = events[events["event"] == ev.REGIONAL_SESSION]
    assert len(sessions) > 400
    gaps = sessions.groupby("patient_id")["day"].diff().dropna()
    assert gaps.between(28, 42).all()
    assert sessions.groupby("patient_id").size().max() <= s.parameters.regional_therapy.max_sessions
    restaging = events[(events["event"] == ev.RESTAGING) & (events["detail"].astype(str) == "RECIST")]
    arrival = events[events["event"] == ev.ARRIVAL].set_index("patient_id")["day"]
    first = restaging.groupby("patient_id")["day"].min()
    assert np.allclose(first - arrival.loc[first.index], 84.0)
    # nothing regional after progression is found; best supportive care follows
    detected = events[events["event"] == ev.PROGRESSION_DETECTED].groupby("patient_id")["day"].min()
    last_session = sessions.groupby("patient_id")["day"].max()
    both = last_session.index.intersection(detected.index)
    assert (last_session[both] < detected[both]).all()
    bsc = events[(events["event"] == ev.PALLIATIVE_START)
                 & (events["detail"].astype(str) == "best_supportive_care")]
    assert set(detected.index) - set(bsc["patient_id"]) <= set(
        events[events["event"] == ev.DEATH]["patient_id"])


def test_tace_lands_its_published_survival_on_a_fresh_seed():
    """The bar: 1-year survival and median OS within the uncertainty of a 36-patient cohort."""
    from sim.outcomes.survival import km_summary

    _, _, patients, _ = _run("crlm_chemoresistant_tace.yaml", **{"run.patients": 5000,
                                                                  "run.seed": 9})
    os = km_summary(patients["os_months"], patients["os_event"], landmarks=(12, 22))
    assert 0.672 <= os["12"] <= 0.936  # 30/36, Clopper-Pearson
    assert 0.329 <= os["22"] <= 0.671  # median 22 months read as S(22) = 18/36
    assert 15 <= os["median"] <= 33


def test_ulrrc_schedule_and_pelvic_conversion():
    s, events, patients, _ = _run("ulrrc_sbrt_pd1.yaml", **{"run.patients": 600})
    check_invariants(s, events, patients)
    assert (patients["metastatic_site"] == "none").all() and (patients["mmr_status"] == "pMMR").all()
    assert patients["age_years"].between(18, 75).all() and patients["ecog"].isin(["0", "1"]).all()
    # one cycle and one PD-1 dose before SBRT, then both alongside
    sbrt = events[(events["event"] == ev.RT_FRACTION)].groupby("patient_id")["day"].min()
    doses = events[events["event"] == ev.IMMUNOTHERAPY_DOSE]
    before = doses[doses["day"] < doses["patient_id"].map(sbrt).fillna(np.inf)]
    assert before.groupby("patient_id").size().max() == 1
    # the MDT converts a minority to resection, more often after a response
    operated = patients["rectal_surgery"]
    assert 0.1 < operated.mean() < 0.6
    responders = patients["first_response"].isin(["PR", "CR"])
    assert operated[responders].mean() > operated[~responders].mean()
    visits = events[events["event"] == ev.FOLLOW_UP_VISIT]
    gaps = visits.groupby("patient_id")["day"].diff().dropna()
    assert np.allclose(gaps, 3 * 30.4375, atol=0.01)


def test_ras_braf_status_sets_the_regimen_the_response_and_the_recurrence_hazard():
    s, events, patients, _ = _run("crlm_resectable_neoadjuvant.yaml", **{"run.patients": 3000})
    check_invariants(s, events, patients)
    braf = patients["ras_braf"] == "braf_v600e"
    assert braf.sum() > 100
    assert (patients.loc[braf, "regimen"] == "FOLFOXIRI").all()
    assert (patients.loc[~braf, "regimen"] == "FOLFOX").all()
    responded = patients["first_response"].isin(["PR", "CR"])
    assessed = patients["first_response"] != ""
    assert responded[braf & assessed].mean() < responded[~braf & assessed].mean()
    from sim.compare.paired import log_hazard_ratio

    lhr = log_hazard_ratio(patients[patients["ras_braf"] == "wild_type"], patients[braf], "pfs")
    assert np.exp(lhr) > 1.3


def test_the_resectable_pair_holds_the_same_patients():
    from sim.compare.run import check_same_population

    paths = [SCENARIOS / "crlm_resectable_upfront.yaml", SCENARIOS / "crlm_resectable_neoadjuvant.yaml"]
    arms = [load_scenario(p) for p in paths]
    check_same_population(paths, arms)  # raises if the arms were not paired
    from sim.population.sample import sample_population

    a, b = (sample_population(x.with_run(patients=300), 0, 300) for x in arms)
    assert a.equals(b)


@pytest.mark.parametrize("probability", [0.0, 0.25])
def test_a_liver_resection_may_find_the_disease_unresectable_at_laparotomy(probability):
    """Upfront hepatectomy: with P(unresectable at exploration) 0.25 about a quarter of the
    operations are explorations, the liver stays untreated and the patient goes on to palliative
    care; at 0 there are none. The other draws are untouched: the same patients are resected or
    explored, never both."""
    path = "parameters.local_treatment.unresectable_at_exploration_probability.value"
    s, events, patients, _ = _run("crlm_resectable_upfront.yaml",
                                  **{"run.patients": 2000, path: probability})
    check_invariants(s, events, patients)
    procedures = events[events["event"] == ev.PROCEDURE]
    explored = procedures.loc[procedures["detail"].astype(str) == "exploration", "patient_id"]
    resected = procedures.loc[procedures["detail"].astype(str) == "liver_resection", "patient_id"]
    share = len(explored) / (len(explored) + len(resected))
    assert share == pytest.approx(probability, abs=0.03)
    assert not set(explored) & set(resected)
    table = patients.set_index("patient_id")
    assert not table.loc[explored, "liver_treated"].any()
    assert (table.loc[explored, "pathway"].astype(str) != "completed").all()
    palliative = events[(events["event"] == ev.PALLIATIVE_START) & events["patient_id"].isin(explored)]
    assert palliative["patient_id"].nunique() >= 0.9 * len(explored)


def test_organ_preservation_acts_on_the_rectum_alone():
    """TNT's OPRA effect raises the rectum's clinical complete response (watch-and-wait of the
    primary beside treated metastases) on the same patients, and leaves complete response at
    every site (all-sites watch-and-wait) where it was."""
    path = "parameters.effects.rectal_complete_response_odds_ratio.value"
    runs = {v: _run("tnt_scrt_consolidation.yaml", **{"run.patients": 3000, path: v})[2]
            for v in (1.0, 4.0)}
    rectal = {v: t["rectal_watch_and_wait"].mean() for v, t in runs.items()}
    assert rectal[4.0] > rectal[1.0] + 0.01
    all_sites = {v: (t["watch_and_wait"] & ~t["rectal_watch_and_wait"]).mean() for v, t in runs.items()}
    assert abs(all_sites[4.0] - all_sites[1.0]) < 0.005


def test_a_published_pcr_rate_is_over_every_response_by_hand():
    """Rate 0.2, half the patients responders with odds twice a non-responder's: the
    non-responders' pCR b solves 0.5 b + 0.5 * 2b / (1 + b) = 0.2, i.e. b^2 + 2.6 b - 0.4 = 0,
    b = (-2.6 + sqrt(6.76 + 1.6)) / 2 = 0.14568."""
    from sim.model.treatments.local_treatment import non_responder_pcr
    from sim.scenario.params import apply_odds_ratio
    b = non_responder_pcr(0.2, 0.5, 2.0)
    assert 0.5 * b + 0.5 * apply_odds_ratio(b, 2.0) == pytest.approx(0.2, abs=1e-9)
    assert b == pytest.approx((-2.6 + (6.76 + 1.6) ** 0.5) / 2, abs=1e-9)
    assert non_responder_pcr(0.2, 0.5, 1.0) == 0.2 and non_responder_pcr(0.2, 0.0, 2.0) == 0.2


@pytest.mark.parametrize("name", ["tnt_scrt_consolidation.yaml", "tnt_lcrt_induction.yaml"])
def test_tnt_pcr_inside_the_trials_range(name):
    """RAPIDO 28.0%, PRODIGE 23 27.5%: TNT's pCR among resected rectums inside 20-35% in this
    population (it was 43-48% when the trials' odds ratios were applied to a non-responder's
    pCR set at the cohort's overall rate)."""
    _, _, patients, summary = _run(name, **{"run.patients": 4000, "run.seed": 3})
    assert 0.20 <= summary["ypcr_rate_of_rectal_surgery"] <= 0.35
