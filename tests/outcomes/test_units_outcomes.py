"""Unit tests of the patient table (sim/outcomes/patients.py) and Kaplan-Meier summaries
(sim/outcomes/survival.py)
on hand-written event logs: every expected value is worked out by hand below."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.model import events as ev
from sim.outcomes.patients import PATHWAYS, patient_table
from sim.outcomes.survival import km_summary
from sim.scenario.parameters import TOXICITY_TYPES
from sim.scenario.strategy import Completion

M = 365.25 / 12  # days per month
COLUMNS = ["patient_id", "day", "event", "phase", "detail", "value"]
RECTAL_COMPLICATIONS = ("anastomotic_leak", "intestinal_obstruction")
LI2021 = Completion(radiotherapy=True, all_sites_treated=True, min_cycles={"neoadjuvant": 1, "adjuvant": 2})

NEO, LOCAL, ADJ, FU, PAL = "neoadjuvant", "local_treatment", "adjuvant", "follow_up", "palliative"
CURATIVE = (NEO, LOCAL, ADJ)


def completer_rows(pid: int, arrival: float, adjuvant_cycles: int = 2, course: str = "LCRT") -> list[tuple]:
    """A patient who goes through the whole Li 2021 schedule (liver_only, LCRT)."""
    rows = [
        (pid, arrival, ev.ARRIVAL, NEO, "0", 55.0),
        (pid, arrival, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
        (pid, arrival + 20, ev.RT_BOOKED, NEO, course, 3.0),
        (pid, arrival + 21, ev.RT_FRACTION, NEO, course, 1.0),
        (pid, arrival + 22, ev.RT_FRACTION, NEO, course, 2.0),
        (pid, arrival + 45, ev.RT_COMPLETED, NEO, course, 25.0),
        (pid, arrival + 80, ev.REASSESSMENT, NEO, "PR", 0.0),
        (pid, arrival + 85, ev.MDT, NEO, "local_treatment", 4.0),
        (pid, arrival + 90, ev.PROCEDURE, LOCAL, "tme", 2.0),
        (pid, arrival + 90, ev.SITE_TREATED, LOCAL, "rectum", 0.0),
        (pid, arrival + 95, ev.PATHOLOGY, LOCAL, "residual", 3.0),
        (pid, arrival + 100, ev.PROCEDURE, LOCAL, "liver_resection", 1.0),
        (pid, arrival + 100, ev.SITE_TREATED, LOCAL, "liver", 0.0),
    ]
    for k in range(adjuvant_cycles):
        rows.append((pid, arrival + 130 + 21 * k, ev.CHEMO_CYCLE, ADJ, "CAPOX", 2.0 + k))
    rows.append((pid, arrival + 200, ev.FOLLOW_UP_START, FU, "", 0.0))
    return rows


def build_log() -> tuple[pd.DataFrame, list[tuple]]:
    population = pd.DataFrame({
        "patient_id": np.arange(9, dtype=np.int64),
        "age_years": [55.0, 61.0, 70.0, 48.0, 66.0, 72.0, 59.0, 63.0, 50.0],
        "sex": ["male", "female", "male", "female", "male", "female", "male", "female", "male"],
        "metastatic_site": [
            "liver_only", "liver_only", "liver_and_lung", "lung_only", "liver_only",
            "distant_lymph_nodes", "liver_only", "liver_only", "liver_and_lung",
        ],
        "radiotherapy_course": ["LCRT", "LCRT", "SCRT", "LCRT", "LCRT", "SCRT", "LCRT", "LCRT", "LCRT"],
    })
    rows: list[tuple] = []

    # 0: completer, censored at 36 months; grade 3 toxicity in neoadjuvant and adjuvant, a rectal
    # complication and a ypCR
    rows += completer_rows(0, 10.0)
    rows += [
        (0, 15.0, ev.TOXICITY, NEO, "hematological", 3.0),
        (0, 140.0, ev.TOXICITY, ADJ, "neurological", 3.0),
        (0, 101.0, ev.COMPLICATION, LOCAL, "anastomotic_leak", 3.0),
        (0, 96.0, ev.PATHOLOGY, LOCAL, "ypCR", 1.0),
        (0, 10.0 + 36 * M, ev.END_OF_FOLLOW_UP, FU, "", 0.0),
    ]
    # 1: as 0 with a single adjuvant cycle; a non-rectal complication; dies of other causes at 24 m
    rows += completer_rows(1, 20.0, adjuvant_cycles=1)
    rows += [
        (1, 125.0, ev.COMPLICATION, LOCAL, "wound_infection", 3.0),
        (1, 20.0 + 24 * M, ev.DEATH, FU, "other", 0.0),
    ]
    # 2: rectum treated only (liver and lung not); progression detected at 12 m (latent onset at
    # day 300), cancer death at 24 m; toxicity only in the palliative phase
    rows += [
        (2, 0.0, ev.ARRIVAL, NEO, "0", 70.0),
        (2, 0.0, ev.CHEMO_CYCLE, NEO, "FOLFOX", 1.0),
        (2, 30.0, ev.TOXICITY, NEO, "gastrointestinal", 4.0),
        (2, 60.0, ev.RT_COMPLETED, NEO, "SCRT", 5.0),
        (2, 70.0, ev.MDT, NEO, "primary_only", 2.0),
        (2, 80.0, ev.PROCEDURE, LOCAL, "tme", 0.0),
        (2, 80.0, ev.SITE_TREATED, LOCAL, "rectum", 0.0),
        (2, 120.0, ev.PALLIATIVE_START, PAL, "primary_only", 0.0),
        (2, 250.0, ev.TOXICITY, PAL, "dermatological", 3.0),
        (2, 12 * M, ev.PROGRESSION_DETECTED, PAL, "imaging", 300.0),
        (2, 24 * M, ev.DEATH, PAL, "cancer", 0.0),
    ]
    # 3: a metastatic site only (lung), cancer death at 10 m with no detected progression
    rows += [
        (3, 5.0, ev.ARRIVAL, NEO, "0", 48.0),
        (3, 5.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
        (3, 60.0, ev.MDT, NEO, "local_treatment", 1.0),
        (3, 70.0, ev.PROCEDURE, LOCAL, "lung_rfa", 0.0),
        (3, 70.0, ev.SITE_TREATED, LOCAL, "lung", 0.0),
        (3, 90.0, ev.PALLIATIVE_START, PAL, "palliative", 0.0),
        (3, 5.0 + 10 * M, ev.DEATH, PAL, "cancer", 0.0),
    ]
    # 4: refused radical treatment, alive at the horizon in palliative care
    rows += [
        (4, 0.0, ev.ARRIVAL, NEO, "0", 66.0),
        (4, 0.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
        (4, 60.0, ev.MDT, NEO, "refused", 5.0),
        (4, 61.0, ev.PALLIATIVE_START, PAL, "refused", 0.0),
        (4, 36 * M, ev.END_OF_FOLLOW_UP, PAL, "", 0.0),
    ]
    # 5: died (other cause) during neoadjuvant chemotherapy on day 40
    rows += [
        (5, 0.0, ev.ARRIVAL, NEO, "0", 72.0),
        (5, 0.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
        (5, 21.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 2.0),
        (5, 40.0, ev.DEATH, NEO, "other", 0.0),
    ]
    # 6: palliative from the MDT, progression at day 100 (latent 50), other-cause death at day 200
    rows += [
        (6, 0.0, ev.ARRIVAL, NEO, "0", 59.0),
        (6, 0.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
        (6, 45.0, ev.RT_COMPLETED, NEO, "LCRT", 25.0),
        (6, 60.0, ev.MDT, NEO, "more_chemotherapy", 1.0),
        (6, 90.0, ev.MDT, NEO, "palliative", 2.0),
        (6, 91.0, ev.PALLIATIVE_START, PAL, "palliative", 0.0),
        (6, 100.0, ev.PROGRESSION_DETECTED, PAL, "imaging", 50.0),
        (6, 200.0, ev.DEATH, PAL, "other", 0.0),
    ]
    # 7: every site treated, still in adjuvant chemotherapy at the horizon
    rows += completer_rows(7, 0.0, adjuvant_cycles=1)[:-1]  # no follow-up start
    rows += [(7, 300.0, ev.END_OF_FOLLOW_UP, ADJ, "", 0.0)]
    # 8: liver_and_lung; the rectum treated twice (re-resection) and the liver, not the lung
    rows += [
        (8, 0.0, ev.ARRIVAL, NEO, "0", 50.0),
        (8, 0.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
        (8, 45.0, ev.RT_COMPLETED, NEO, "LCRT", 25.0),
        (8, 80.0, ev.SITE_TREATED, LOCAL, "rectum", 0.0),
        (8, 90.0, ev.SITE_TREATED, LOCAL, "rectum", 0.0),
        (8, 100.0, ev.SITE_TREATED, LOCAL, "liver", 0.0),
        (8, 130.0, ev.CHEMO_CYCLE, ADJ, "CAPOX", 2.0),
        (8, 151.0, ev.CHEMO_CYCLE, ADJ, "CAPOX", 3.0),
        (8, 200.0, ev.FOLLOW_UP_START, FU, "", 0.0),
        (8, 12 * M, ev.END_OF_FOLLOW_UP, FU, "", 0.0),
    ]
    return population, rows


CATEGORICAL = ("event", "phase", "detail")


def named(row: tuple) -> dict:
    """A hand-written row's fields by name (sim.model.events.FIELDS)."""
    return dict(zip(ev.FIELDS, row, strict=True))


def log_frame(rows: list[tuple], all_names: bool = False) -> pd.DataFrame:
    """The event log as the model hands it over (sim.outcomes.schemas.events_frame): rows sorted by patient
    and day, ``event``, ``phase`` and ``detail`` categorical. With ``all_names`` the categories also
    hold names that never occur, which changes every category code."""
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame = frame.sort_values(["patient_id", "day"], kind="stable").reset_index(drop=True)
    extra = {
        "event": tuple(ev.EVENT_DOCS),
        "phase": ("aaa_unused", "consolidation", "watch_and_wait", *CURATIVE),
        "detail": ("aaa_unused", "refused", "tme", "rectum", "liver", "lung", "ypCR", "cancer"),
    }
    for c in CATEGORICAL:
        values = frame[c].astype(str)
        categories = sorted(set(values) | (set(extra[c]) if all_names else set()))
        frame[c] = pd.Categorical(values, categories=categories)
    return frame


def table(rows: list[tuple], population: pd.DataFrame, completion=LI2021, all_names=False) -> pd.DataFrame:
    events = log_frame(rows, all_names)
    return patient_table(events, population, completion, RECTAL_COMPLICATIONS).set_index("patient_id")


@pytest.fixture(scope="module", params=["observed_categories", "all_categories"])
def patients(request) -> pd.DataFrame:
    """The patient table of the hand-written log; the answers must not depend on which
    categories (hence which category codes) the event frame has."""
    population, rows = build_log()
    return table(rows, population, all_names=request.param == "all_categories")


# ----------------------------------------------------------------------------- pathways


@pytest.mark.parametrize(
    "pid,pathway",
    [
        (0, "completed"),
        (1, "incomplete_adjuvant"),
        (2, "bowel_surgery_only"),
        (3, "metastasis_treatment_only"),
        (4, "refused"),
        (5, "died_during_treatment"),
        (6, "palliative"),
        (7, "on_treatment_at_horizon"),
        (8, "bowel_surgery_only"),
    ],
)
def test_pathway(patients, pid, pathway):
    assert patients.loc[pid, "pathway"] == pathway


def test_pathway_is_categorical_over_all_pathways(patients):
    assert list(patients["pathway"].cat.categories) == list(PATHWAYS)
    assert patients["completed"].tolist() == [True] + [False] * 8


def test_all_sites_treated_counts_distinct_sites(patients):
    # 0, 1, 7: rectum + liver of liver_only; 8: rectum twice + liver of three sites is not all
    assert patients["all_sites_treated"].tolist() == [
        True, True, False, False, False, False, False, True, False,
    ]
    assert patients["metastasis_treatment"].tolist() == [
        True, True, False, True, False, False, False, True, True,
    ]
    assert patients["rectal_surgery"].tolist() == [
        True, True, True, False, False, False, False, True, False,
    ]


def test_rt_completed_must_match_the_patients_course():
    population, _ = build_log()
    population = population.iloc[:1]
    rows = completer_rows(0, 0.0, course="SCRT")  # the patient was assigned LCRT
    t = table(rows, population)
    assert not t.loc[0, "completed"]
    assert t.loc[0, "pathway"] == "incomplete_adjuvant"
    # the same log under a strategy that does not require radiotherapy is complete
    no_rt = Completion(
        radiotherapy=False, all_sites_treated=True, min_cycles={"neoadjuvant": 1, "adjuvant": 2}
    )
    assert table(rows, population, no_rt).loc[0, "pathway"] == "completed"


def test_rt_stopped_is_not_completion():
    population, _ = build_log()
    population = population.iloc[:1]
    rows = [
        ev.row(**{**named(r), "event": ev.RT_STOPPED}) if named(r)["event"] == ev.RT_COMPLETED else r
        for r in completer_rows(0, 0.0)
    ]
    t = table(rows, population)
    assert not t.loc[0, "completed"]


def test_min_cycles_per_phase():
    population, _ = build_log()
    population = population.iloc[:1]
    rows = completer_rows(0, 0.0, adjuvant_cycles=2)
    three = Completion(min_cycles={"neoadjuvant": 1, "adjuvant": 3})
    assert table(rows, population, three).loc[0, "pathway"] == "incomplete_adjuvant"
    two_neo = Completion(min_cycles={"neoadjuvant": 2, "adjuvant": 2})
    assert not table(rows, population, two_neo).loc[0, "completed"]
    assert table(rows, population, Completion()).loc[0, "completed"]


def test_refused_takes_precedence_over_died_in_curative_phase():
    population, _ = build_log()
    population = population.iloc[:1]
    rows = [
        (0, 0.0, ev.ARRIVAL, NEO, "0", 55.0),
        (0, 60.0, ev.MDT, NEO, "refused", 1.0),
        (0, 70.0, ev.DEATH, NEO, "cancer", 0.0),
    ]
    assert table(rows, population).loc[0, "pathway"] == "refused"


@pytest.mark.parametrize("phase", ["neoadjuvant", "local_treatment", "adjuvant", "consolidation",
                                   "watch_and_wait"])
def test_death_in_any_curative_phase(phase):
    population, _ = build_log()
    population = population.iloc[:1]
    rows = [(0, 0.0, ev.ARRIVAL, NEO, "0", 55.0), (0, 70.0, ev.DEATH, phase, "other", 0.0)]
    assert table(rows, population).loc[0, "pathway"] == "died_during_treatment"


def test_death_in_follow_up_with_no_local_treatment_is_palliative():
    population, _ = build_log()
    population = population.iloc[:1]
    rows = [(0, 0.0, ev.ARRIVAL, NEO, "0", 55.0), (0, 70.0, ev.DEATH, FU, "other", 0.0)]
    assert table(rows, population).loc[0, "pathway"] == "palliative"


# ----------------------------------------------------------------------------- OS / PFS


def test_overall_survival(patients):
    assert patients.loc[0, "arrival_day"] == 10.0
    assert patients.loc[0, "os_months"] == pytest.approx(36.0)
    assert patients.loc[0, "os_event"] == 0
    assert patients.loc[1, "os_months"] == pytest.approx(24.0)
    assert patients.loc[1, "os_event"] == 1
    assert patients.loc[3, "os_months"] == pytest.approx(10.0)
    assert patients.loc[5, "os_months"] == pytest.approx(40.0 / M)
    assert patients.loc[5, "os_event"] == 1
    assert patients.loc[7, "os_months"] == pytest.approx(300.0 / M)
    assert patients.loc[7, "os_event"] == 0
    assert patients["os_event"].tolist() == [0, 1, 1, 1, 0, 1, 1, 0, 0]
    assert patients["death_cause"].tolist() == [
        "", "other", "cancer", "cancer", "", "other", "other", "", "",
    ]


def test_pfs_uses_the_detection_day(patients):
    # patient 2: detected at 12 months although the latent onset was day 300 (9.9 months)
    assert patients.loc[2, "pfs_months"] == pytest.approx(12.0)
    assert patients.loc[2, "pfs_event"] == 1
    assert patients.loc[2, "progression_detected_months"] == pytest.approx(12.0)
    # patient 6: detected on day 100, then died of other causes
    assert patients.loc[6, "pfs_months"] == pytest.approx(100.0 / M)
    assert patients.loc[6, "pfs_event"] == 1


def test_cancer_death_without_detection_is_a_pfs_event(patients):
    assert patients.loc[3, "pfs_event"] == 1
    assert patients.loc[3, "pfs_months"] == pytest.approx(10.0)
    assert math.isnan(patients.loc[3, "progression_detected_months"])


def test_other_cause_death_censors_pfs(patients):
    for pid in (1, 5):
        assert patients.loc[pid, "pfs_event"] == 0
        assert patients.loc[pid, "pfs_months"] == pytest.approx(patients.loc[pid, "os_months"])
    assert patients.loc[1, "pfs_months"] == pytest.approx(24.0)


def test_censored_at_horizon_censors_pfs(patients):
    assert patients.loc[0, "pfs_event"] == 0
    assert patients.loc[0, "pfs_months"] == pytest.approx(36.0)
    assert patients["pfs_event"].tolist() == [0, 0, 1, 1, 0, 0, 1, 0, 0]


def test_pfs_never_exceeds_os(patients):
    assert (patients["pfs_months"] <= patients["os_months"] + 1e-12).all()
    assert (patients["pfs_event"] >= 0).all()


# ----------------------------------------------------------------------------- other columns


def test_toxicity_flags(patients):
    # 0: hematological in neoadjuvant, neurological in adjuvant
    assert patients.loc[0, "grade34_hematological"]
    assert not patients.loc[0, "grade34_neurological"]
    assert patients.loc[0, "grade34_toxicity"]
    assert patients.loc[0, "grade34_toxicity_any_phase"]
    # 2: gastrointestinal in neoadjuvant, dermatological in palliative care
    assert patients.loc[2, "grade34_gastrointestinal"]
    assert not patients.loc[2, "grade34_dermatological"]
    # nobody else had toxicity
    assert patients["grade34_toxicity"].tolist() == [True, False, True] + [False] * 6
    assert patients["grade34_toxicity_any_phase"].tolist() == [True, False, True] + [False] * 6
    for t in TOXICITY_TYPES:
        assert patients[f"grade34_{t}"].dtype == bool


def test_toxicity_outside_neoadjuvant_only_counts_in_any_phase():
    population, _ = build_log()
    population = population.iloc[:2]
    rows = [
        (0, 0.0, ev.ARRIVAL, NEO, "0", 55.0),
        (0, 140.0, ev.TOXICITY, ADJ, "neurological", 3.0),
        (0, 300.0, ev.TOXICITY, PAL, "hematological", 4.0),
        (0, 400.0, ev.END_OF_FOLLOW_UP, PAL, "", 0.0),
        (1, 0.0, ev.ARRIVAL, NEO, "0", 61.0),
        (1, 400.0, ev.END_OF_FOLLOW_UP, PAL, "", 0.0),
    ]
    t = table(rows, population)
    assert t["grade34_toxicity"].tolist() == [False, False]
    assert t["grade34_toxicity_any_phase"].tolist() == [True, False]
    for tox in TOXICITY_TYPES:
        assert t[f"grade34_{tox}"].tolist() == [False, False]


def test_counts_and_flags(patients):
    assert patients["chemo_cycles"].tolist() == [3, 2, 1, 1, 1, 2, 1, 2, 3]
    assert patients.loc[0, "rt_fractions"] == 2
    assert patients.loc[2, "rt_fractions"] == 0
    assert patients["surgical_complication"].tolist() == [True] + [False] * 8
    assert patients["any_complication"].tolist() == [True, True] + [False] * 7
    assert patients["ypcr"].tolist() == [True] + [False] * 8
    assert patients["mdt_decision"].tolist() == [
        "local_treatment", "local_treatment", "primary_only", "local_treatment", "refused", "",
        "palliative", "local_treatment", "",
    ]


def test_population_attributes_are_copied(patients):
    population, _ = build_log()
    assert patients.index.tolist() == population["patient_id"].tolist()
    for col in ("age_years", "sex", "metastatic_site", "radiotherapy_course"):
        assert patients[col].tolist() == population[col].tolist()


# ----------------------------------------------------------------------------- km_summary


def test_km_no_censoring_is_the_empirical_fraction():
    durations = [6, 10, 14, 18, 22, 26, 30, 34, 38, 42]
    s = km_summary(durations, [1] * 10)
    assert s["12"] == pytest.approx(0.8)  # 6 and 10 died
    assert s["24"] == pytest.approx(0.5)  # 5 died
    assert s["36"] == pytest.approx(0.2)  # 8 died
    # lifelines' median: the first time the survival drops to 0.5 or below
    assert s["median"] == pytest.approx(22.0)
    for key in ("12", "24", "36"):
        lo, hi = s["ci95"][key]
        assert lo <= s[key] <= hi


def test_km_odd_sample_median():
    s = km_summary([5, 15, 25, 35, 45], [1] * 5)
    assert (s["12"], s["24"], s["36"]) == pytest.approx((0.8, 0.6, 0.2))
    assert s["median"] == pytest.approx(25.0)


def test_km_event_on_the_landmark_counts():
    # survival is right-continuous: a death at exactly 12 months is counted in S(12)
    s = km_summary([12, 24, 36, 48], [1, 1, 1, 1])
    assert (s["12"], s["24"], s["36"]) == pytest.approx((0.75, 0.5, 0.25))
    assert s["median"] == pytest.approx(24.0)


def test_km_with_censoring_hand_computed():
    # at risk 5: death at 6 -> 4/5; censored at 10; at risk 3: death at 20 -> 0.8 * 2/3;
    # at risk 2: death at 30 -> 0.8 * 2/3 * 1/2; censored at 40
    s = km_summary([6, 10, 20, 30, 40], [1, 0, 1, 1, 0])
    assert s["12"] == pytest.approx(0.8)
    assert s["24"] == pytest.approx(0.8 * 2 / 3, abs=1e-6)
    assert s["36"] == pytest.approx(0.8 / 3, abs=1e-6)
    assert s["median"] == pytest.approx(30.0)


def test_km_landmark_beyond_follow_up_is_none():
    s = km_summary([3, 8, 20, 30], [1, 0, 1, 0])
    assert s["36"] is None
    assert s["ci95"]["36"] is None
    assert s["24"] == pytest.approx(0.75 * 0.5)  # 3 -> 3/4, 20 -> at risk 2, 1/2
    assert s["12"] == pytest.approx(0.75)


def test_km_median_not_reached_is_none():
    s = km_summary([5, 40, 40, 40], [1, 0, 0, 0])
    assert s["median"] is None
    assert s["12"] == pytest.approx(0.75)


def test_km_custom_landmarks_and_empty_input():
    s = km_summary([6, 18], [1, 1], landmarks=(6, 12))
    assert set(s) == {"6", "12", "median", "ci95"}
    assert (s["6"], s["12"]) == pytest.approx((0.5, 0.5))
    assert km_summary([], []) == {}


def test_population_subset_ignores_other_patients_events():
    population, rows = build_log()
    subset = population[population["patient_id"].isin([0, 2])]
    t = table(rows, subset)
    expected = table([r for r in rows if named(r)["patient_id"] in (0, 2)], subset)
    # patient 1's arrival (day 20) and other-cause death must not be given to patient 2
    assert t.loc[2, "arrival_day"] == 0.0
    assert t.loc[2, "death_cause"] == "cancer"
    assert t.loc[2, "os_months"] == pytest.approx(24.0)
    pd.testing.assert_frame_equal(t, expected)


def test_plain_string_columns_are_accepted():
    population, rows = build_log()
    plain = pd.DataFrame(rows, columns=COLUMNS).sort_values(["patient_id", "day"], kind="stable")
    t = patient_table(plain.reset_index(drop=True), population, LI2021, RECTAL_COMPLICATIONS)
    assert t["pathway"].tolist()[:2] == ["completed", "incomplete_adjuvant"]


def test_km_on_the_patient_table(patients):
    """OS of the hand-written cohort of 9 up to 12 months: deaths of 5 (1.3 m) and 6 (6.6 m),
    7 censored at 9.9 m, death of 3 at 10 m with 6 at risk, 8 censored at 12 m."""
    s = km_summary(patients["os_months"], patients["os_event"], landmarks=(12,))
    assert s["12"] == pytest.approx(8 / 9 * 7 / 8 * 5 / 6, abs=1e-6)
