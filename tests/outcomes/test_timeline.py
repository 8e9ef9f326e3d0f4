"""The state timeline: hand-written logs with hand-worked intervals, and on real runs intervals
that tile each patient's follow-up and add up to the OS time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.execution.runner import run_scenario
from sim.model import events as ev
from sim.model.hazards import DAYS_PER_MONTH
from sim.outcomes.summary import patients_of
from sim.outcomes.timeline import PHASES, STATES, days_in_states, state_timeline
from sim.scenario.loader import load_scenario

COLUMNS = ["patient_id", "day", "event", "phase", "detail", "value"]
NEO, LOCAL, ADJ, FU, PAL, BSC, BRK = ("neoadjuvant", "local_treatment", "adjuvant", "follow_up",
                                      "palliative", "supportive_care", "treatment_break")

ROWS = [
    # 0: neoadjuvant, surgery, adjuvant, follow-up, progression found at a visit, palliative care
    (0, 10.0, ev.ARRIVAL, NEO, "0", 60.0),
    (0, 10.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
    (0, 30.0, ev.RT_BOOKED, NEO, "LCRT", 3.0),
    (0, 33.0, ev.RT_FRACTION, NEO, "LCRT", 1.0),
    (0, 100.0, ev.MDT, NEO, "local_treatment", 1.0),
    (0, 130.0, ev.PROCEDURE, LOCAL, "tme", 4.0),
    (0, 130.0, ev.SITE_TREATED, LOCAL, "rectum", 0.0),
    (0, 170.0, ev.CHEMO_CYCLE, ADJ, "CAPOX", 2.0),
    (0, 191.0, ev.CHEMO_CYCLE, ADJ, "CAPOX", 3.0),
    (0, 220.0, ev.FOLLOW_UP_START, FU, "", 0.0),
    (0, 300.0, ev.FOLLOW_UP_VISIT, FU, "", 1.0),
    (0, 400.0, ev.PROGRESSION_DETECTED, FU, "imaging", 350.0),
    (0, 405.0, ev.MDT, FU, "palliative", 5.0),
    (0, 405.0, ev.PALLIATIVE_START, PAL, "progression", 0.0),
    (0, 460.0, ev.RESTAGING, PAL, "", 1.0),
    (0, 700.0, ev.DEATH, PAL, "cancer", 0.0),
    # 1: entered after resection of the rectum (site_treated at arrival, in the model's initial
    # phase): never in neoadjuvant therapy; liver resection, follow-up to the horizon
    (1, 0.0, ev.ARRIVAL, NEO, "0", 55.0),
    (1, 0.0, ev.SITE_TREATED, NEO, "rectum", 0.0),
    (1, 23.0, ev.PROCEDURE, LOCAL, "liver_resection", 3.0),
    (1, 23.0, ev.SITE_TREATED, LOCAL, "liver", 0.0),
    (1, 23.0, ev.FOLLOW_UP_START, FU, "", 0.0),
    (1, 500.0, ev.END_OF_FOLLOW_UP, FU, "", 0.0),
    # 2: died on the day of first treatment: no time in any state
    (2, 5.0, ev.ARRIVAL, NEO, "0", 80.0),
    (2, 5.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
    (2, 5.0, ev.DEATH, NEO, "other", 0.0),
    # 3: progression detected in neoadjuvant therapy, then best supportive care
    (3, 0.0, ev.ARRIVAL, NEO, "0", 70.0),
    (3, 0.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
    (3, 21.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 2.0),
    (3, 40.0, ev.PROGRESSION_DETECTED, NEO, "symptoms", 35.0),
    (3, 40.0, ev.PALLIATIVE_START, BSC, "best_supportive_care", 0.0),
    (3, 100.0, ev.DEATH, BSC, "cancer", 0.0),
    # 4: a row of another phase between two of the same phase on one day: one interval
    (4, 0.0, ev.ARRIVAL, NEO, "0", 50.0),
    (4, 0.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
    (4, 50.0, ev.PROCEDURE, LOCAL, "liver_rfa", 0.0),
    (4, 50.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 2.0),
    (4, 80.0, ev.DEATH, NEO, "other", 0.0),
    # 5: a first palliative line, a break in which restaging finds the progression, the
    # regimen reintroduced
    (5, 0.0, ev.ARRIVAL, NEO, "0", 66.0),
    (5, 0.0, ev.CHEMO_CYCLE, NEO, "CAPOX", 1.0),
    (5, 30.0, ev.MDT, NEO, "palliative", 2.0),
    (5, 30.0, ev.PALLIATIVE_START, PAL, "palliative", 0.0),
    (5, 30.0, ev.CHEMO_CYCLE, PAL, "CAPOX", 2.0),
    (5, 200.0, ev.TREATMENT_BREAK, BRK, "", 0.0),
    (5, 263.0, ev.RESTAGING, BRK, "", 1.0),
    (5, 326.0, ev.PROGRESSION_DETECTED, BRK, "imaging", 300.0),
    (5, 330.0, ev.CHEMO_CYCLE, PAL, "CAPOX", 3.0),
    (5, 400.0, ev.DEATH, PAL, "cancer", 0.0),
]

EXPECTED = [
    (0, "neoadjuvant/progression_free", 10.0, 130.0),
    (0, "local_treatment/progression_free", 130.0, 170.0),
    (0, "adjuvant/progression_free", 170.0, 220.0),
    (0, "follow_up/progression_free", 220.0, 400.0),
    (0, "follow_up/progressed", 400.0, 405.0),
    (0, "palliative/progressed", 405.0, 700.0),
    (1, "local_treatment/progression_free", 0.0, 23.0),
    (1, "follow_up/progression_free", 23.0, 500.0),
    (3, "neoadjuvant/progression_free", 0.0, 40.0),
    (3, "supportive_care/progressed", 40.0, 100.0),
    (4, "neoadjuvant/progression_free", 0.0, 80.0),
    (5, "neoadjuvant/progression_free", 0.0, 30.0),
    (5, "palliative/progression_free", 30.0, 200.0),
    (5, "treatment_break/progression_free", 200.0, 326.0),
    (5, "treatment_break/progressed", 326.0, 330.0),
    (5, "palliative/progressed", 330.0, 400.0),
]


def _frame(rows, categorical: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if categorical:
        frame = frame.astype({c: "category" for c in ("event", "phase", "detail")})
    return frame


def _as_rows(timeline: pd.DataFrame) -> list[tuple]:
    return list(zip(timeline["patient_id"].tolist(), timeline["state"].astype(object).tolist(),
                    timeline["start_day"].tolist(), timeline["end_day"].tolist(), strict=True))


@pytest.mark.parametrize("categorical", [True, False])
def test_hand_written_log(categorical):
    timeline = state_timeline(_frame(ROWS, categorical))
    assert _as_rows(timeline) == EXPECTED
    assert timeline["progressed"].tolist() == [s.endswith("/progressed") for _, s, _, _ in EXPECTED]
    assert timeline["phase"].astype(object).tolist() == [s.split("/")[0] for _, s, _, _ in EXPECTED]
    assert list(timeline["state"].cat.categories) == list(STATES)


def test_the_order_of_patients_in_the_log_does_not_matter():
    reordered = [r for pid in (5, 4, 3, 2, 1, 0) for r in ROWS if r[0] == pid]
    pd.testing.assert_frame_equal(state_timeline(_frame(reordered)), state_timeline(_frame(ROWS)))


def test_a_log_without_an_exit_is_refused():
    with pytest.raises(ValueError, match="patient 1"):
        state_timeline(_frame([r for r in ROWS if r[0] == 1 and r[2] != ev.END_OF_FOLLOW_UP]))


def test_days_in_states():
    days = days_in_states(state_timeline(_frame(ROWS)), by="phase")
    assert days.index.tolist() == [0, 1, 3, 4, 5]
    assert list(days.columns) == list(PHASES)
    assert days.loc[0, "follow_up"] == 185.0 and days.loc[0, "palliative"] == 295.0
    assert days.loc[1].tolist() == [0, 0, 23.0, 0, 0, 477.0, 0, 0, 0]
    assert days.loc[5, "treatment_break"] == 130.0 and days.loc[5, "palliative"] == 240.0
    by_state = days_in_states(state_timeline(_frame(ROWS)))
    assert by_state.loc[3, "supportive_care/progressed"] == 60.0
    assert by_state.sum(axis=1).tolist() == [690.0, 500.0, 100.0, 80.0, 400.0]


# ------------------------------------------------------------------ real runs

@pytest.fixture(scope="module", params=["li2021_reference", "tnt_scrt_consolidation"])
def run(request, reference_path):
    path = reference_path.parent / f"{request.param}.yaml"
    result = run_scenario(load_scenario(path, {"run.patients": 400, "run.seed": 5}))
    return request.param, patients_of(result), state_timeline(result.events)


def test_intervals_tile_each_patients_follow_up(run):
    _, patients, timeline = run
    patients = patients.set_index("patient_id")
    start, end = timeline["start_day"].to_numpy(), timeline["end_day"].to_numpy()
    pid = timeline["patient_id"].to_numpy()
    assert (end > start).all()
    same = pid[1:] == pid[:-1]
    assert (start[1:][same] == end[:-1][same]).all()  # no gap, no overlap
    assert (timeline["state"].to_numpy()[1:][same] != timeline["state"].to_numpy()[:-1][same]).all()
    by_patient = timeline.groupby("patient_id")
    first, last = by_patient["start_day"].first(), by_patient["end_day"].last()
    assert (first == patients.loc[first.index, "arrival_day"]).all()
    exit_day = patients["arrival_day"] + patients["os_months"] * DAYS_PER_MONTH
    np.testing.assert_allclose(last, exit_day.loc[last.index], rtol=1e-12)
    # every patient with follow-up time has intervals, in documented states only
    assert set(first.index) == set(patients.index[patients["os_months"] > 0])
    assert set(timeline["state"].astype(object)) <= set(STATES)


def test_time_in_states_is_the_os_time(run):
    _, patients, timeline = run
    total = days_in_states(timeline).sum(axis=1)
    os_days = patients.set_index("patient_id")["os_months"] * DAYS_PER_MONTH
    np.testing.assert_allclose(total, os_days.loc[total.index], rtol=1e-9)


def test_progressed_time_begins_at_detected_progression(run):
    _, patients, timeline = run
    patients = patients.set_index("patient_id")
    progressed = timeline[timeline["progressed"]].groupby("patient_id")["start_day"].min()
    detected = patients["arrival_day"] + patients["progression_detected_months"] * DAYS_PER_MONTH
    np.testing.assert_allclose(progressed, detected.loc[progressed.index], rtol=1e-12)
    before_exit = patients.index[patients["progression_detected_months"] < patients["os_months"]]
    assert set(progressed.index) == set(before_exit)


def test_phases_match_the_pathway(run):
    name, patients, timeline = run
    phases = timeline.groupby("patient_id")["phase"].agg(lambda s: set(s.astype(object)))
    patients = patients.set_index("patient_id").loc[phases.index]
    local = phases.map(lambda s: "local_treatment" in s)
    # surgery then adjuvant chemotherapy: the recovery between them is local treatment (surgery
    # followed at once by palliative care or follow-up leaves no time in it)
    recovered = patients["rectal_surgery"] & (patients["adjuvant_cycles"] > 0)
    assert local[recovered].all() and (recovered.any() or name != "li2021_reference")
    # in local treatment without an operation: only when the restaging before it found progression
    operated = patients["rectal_surgery"] | patients["metastasis_treatment"]
    assert patients.loc[local & ~operated, "progression_detected_months"].notna().all()
    with_adjuvant = patients["adjuvant_cycles"] > 0
    assert phases[with_adjuvant].map(lambda s: "adjuvant" in s).all()
    if name == "tnt_scrt_consolidation":
        consolidation = patients["consolidation_cycles"] > 0
        assert consolidation.mean() > 0.5
        assert phases[consolidation].map(lambda s: "consolidation" in s).all()
