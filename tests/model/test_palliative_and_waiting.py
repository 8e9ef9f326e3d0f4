"""Untreated time, palliative lines and restaging during adjuvant chemotherapy (issue 15)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import REFERENCE
from test_invariants import check_invariants

from sim.execution.runner import run_scenario
from sim.model import events as ev
from sim.model.disease import DiseaseClock, DiseaseParams
from sim.model.hazards import DAYS_PER_MONTH
from sim.outcomes.summary import analyse
from sim.scenario.loader import load_scenario


def _params(untreated_factor: float = 1.0, **ratios: float) -> DiseaseParams:
    return DiseaseParams(
        progression_shape=1.0, progression_scale_days=300.0, untreated_factor=untreated_factor,
        state_hazard_ratio={"on_treatment": 1.0, "partially_treated": 1.0,
                            "all_sites_treated": 1.0, "palliative": 1.0, **ratios},
        cure_probability=0.0, death_shape=1.0, death_scale_days=300.0,
        supportive_care_hazard_ratio=3.0, symptomatic_mean_days=30.0,
        bands_male=((0.0, 0.0),), bands_female=((0.0, 0.0),),
    )


def test_untreated_time_runs_at_its_own_hazard_by_hand():
    """Constant hazard 1/300 a day on treatment, twice that untreated (a factor 2 on the state's
    hazard) from day 30 to day 60: the budget b is reached where 30/300 + 2*30/300 + (t - 60)/300
    = b; the factor acts on the palliative state's ratio (3) the same way."""
    u = 1 - math.exp(-0.9)  # budget 0.9
    clock = DiseaseClock(_params(2.0), 0.0, [u, 0.5, 0.5, 0.5, 0.9], 50.0, True, 1.0, 1.0)
    assert clock.t_progression == pytest.approx(270.0)  # never untreated: 0.9 * 300
    clock.set_state(30.0, "on_treatment", True)
    assert clock.t_progression == pytest.approx(30.0 + (0.9 * 300 - 30) / 2)
    clock.set_state(60.0, "on_treatment")
    assert clock.t_progression == pytest.approx(60.0 + 0.9 * 300 - 30 - 60)


def _with_palliative(write_scenario, lines, patients=3000, first_line_months=6,
                     reintroduction=None, **extra):
    path = write_scenario({
        "extends": str(REFERENCE),
        "parameters": {"palliative_therapy": {"first_line_months": first_line_months,
                                              "later_lines": lines, "relapse_line": None,
                                              "reintroduction_line": reintroduction},
                       **extra},
        "run": {"patients": patients, "seed": 23},
    })
    s = load_scenario(path)
    result = run_scenario(s)
    patients_table, _ = analyse(result)
    check_invariants(s, result.events, patients_table)
    return result.events, patients_table


def test_a_later_line_lasts_its_mean_then_supportive_care(write_scenario):
    """One later line, always given, mean 5 months: among patients whose line ran to its end
    (supportive care logged), time from progression to supportive care is about 5 months (the
    exponential draw rounded to whole 21-day cycles, plus toxicity delays)."""
    events, _ = _with_palliative(write_scenario, [{"probability": 1.0, "mean_months": 5}])
    detected = events[events["event"] == ev.PROGRESSION_DETECTED].groupby("patient_id")["day"].min()
    bsc = events[(events["event"] == ev.SUPPORTIVE_CARE)
                 & (events["detail"].astype(str) == "after_therapy")].groupby("patient_id")["day"].min()
    both = bsc.index.intersection(detected.index)
    assert len(both) > 300
    # patients still alive when the line ends: its length is min(draw, death), so compare the
    # median with the exponential's median (5 months * ln 2 = 3.47), shortened a little by deaths
    months = (bsc[both] - detected[both]) / DAYS_PER_MONTH
    assert 2.6 < np.median(months) < 4.0
    # every later-line cycle is in the palliative phase and after the progression was found
    cycles = events[events["event"] == ev.CHEMO_CYCLE]
    late = cycles[cycles["day"] >= cycles["patient_id"].map(detected).fillna(np.inf)]
    assert (late["phase"].astype(str) == "palliative").all()


def test_no_later_line_means_supportive_care_at_once(write_scenario):
    events, _ = _with_palliative(write_scenario, [{"probability": 0.0, "mean_months": 5}], 1500)
    detected = events[events["event"] == ev.PROGRESSION_DETECTED].groupby("patient_id")["day"].min()
    cycles = events[events["event"] == ev.CHEMO_CYCLE]
    after = cycles[cycles["day"] > cycles["patient_id"].map(detected).fillna(np.inf)]
    assert after.empty  # no chemotherapy after a detected progression
    bsc = events[events["event"] == ev.SUPPORTIVE_CARE].groupby("patient_id")["day"].min()
    palliative = detected.index.intersection(bsc.index)
    assert len(palliative) > 300
    # at once, or after the weekly MDT that reviews a progression found on the curative pathway
    wait = bsc[palliative] - detected[palliative]
    assert (wait >= 0).all() and (wait <= 14).mean() > 0.9


def test_first_line_stops_at_the_scan_that_finds_progression(write_scenario):
    """Non-progressed palliative patients: restaging every 9 weeks from the first palliative
    cycle; no first-line cycle starts after the progression was found."""
    events, _ = _with_palliative(write_scenario, [{"probability": 0.0, "mean_months": 5}], 3000)
    starts = events[events["event"] == ev.PALLIATIVE_START]
    starts = starts[starts["detail"].astype(str).isin(["palliative", "primary_only"])]
    first = starts.groupby("patient_id")["day"].min()
    scans = events[(events["event"] == ev.RESTAGING) & events["patient_id"].isin(first.index)]
    by_scan = events[(events["event"] == ev.PROGRESSION_DETECTED)
                     & (events["detail"].astype(str) == "imaging")
                     & events["patient_id"].isin(first.index)].set_index("patient_id")["day"]
    assert len(by_scan) > 100
    # found at a scan of the schedule: 9-week multiples after the start of palliative care
    weeks = (by_scan - first[by_scan.index]) / 7
    on_grid = np.isclose(weeks / 9, np.round(weeks / 9)) | by_scan.index.isin(
        scans[scans["phase"].astype(str) == "palliative"]["patient_id"])
    assert on_grid.mean() > 0.95


def test_a_break_follows_a_first_line_and_its_progression_gets_the_regimen_again(write_scenario):
    """A 3-month first line for controlled disease, then a break (restaging only): a progression
    found in the break is found after treatment (Li 2021 Table 3), and the induction regimen is
    reintroduced (always, mean 5 months) before supportive care: the median time from the
    progression to supportive care is about the exponential's median, 5 ln 2 = 3.47 months."""
    events, table = _with_palliative(write_scenario, [{"probability": 0.0, "mean_months": 5}],
                                     4000, first_line_months=3,
                                     reintroduction={"probability": 1.0, "mean_months": 5})
    breaks = events[events["event"] == ev.TREATMENT_BREAK].set_index("patient_id")["day"]
    assert len(breaks) > 200 and not breaks.index.duplicated().any()
    assert (events.loc[events["event"] == ev.TREATMENT_BREAK, "phase"].astype(str)
            == ev.TREATMENT_BREAK).all()
    # the break starts when the line's last cycle has run its course: no cycle inside a break
    found = events[events["event"] == ev.PROGRESSION_DETECTED].groupby("patient_id")["day"].min()
    in_break = breaks.index.intersection(found.index)
    assert len(in_break) > 150
    cycles = events[events["event"] == ev.CHEMO_CYCLE]
    cday, cpid = cycles["day"].to_numpy(), cycles["patient_id"].to_numpy()
    start, end = breaks.reindex(cpid).to_numpy(), found.reindex(cpid).to_numpy()
    assert not ((cday > start) & (cday < end)).any()
    timing = table.set_index("patient_id").loc[in_break, "progression_timing"].astype(str)
    assert (timing == "after_treatment").all()
    # reintroduction: cycles after the progression, then supportive care about 5 ln 2 later
    bsc = events[(events["event"] == ev.SUPPORTIVE_CARE)
                 & (events["detail"].astype(str) == "after_therapy")].groupby("patient_id")["day"].min()
    both = in_break.intersection(bsc.index)
    assert len(both) > 100
    assert set(both) <= set(cycles.loc[cycles["day"] >= cycles["patient_id"].map(found), "patient_id"])
    months = (bsc[both] - found[both]) / DAYS_PER_MONTH
    assert 2.6 < np.median(months) < 4.0


def test_without_a_reintroduction_a_progression_in_the_break_goes_to_the_later_lines(write_scenario):
    events, _ = _with_palliative(write_scenario, [{"probability": 0.0, "mean_months": 5}], 2000,
                                 first_line_months=3)
    breaks = events[events["event"] == ev.TREATMENT_BREAK]["patient_id"].unique()
    found = events[events["event"] == ev.PROGRESSION_DETECTED].groupby("patient_id")["day"].min()
    cycles = events[events["event"] == ev.CHEMO_CYCLE]
    after = cycles[cycles["day"] > cycles["patient_id"].map(found).fillna(np.inf)]
    assert len(breaks) > 100 and not after["patient_id"].isin(breaks).any()


def test_progression_found_during_adjuvant_at_three_monthly_scans(write_scenario):
    """Completers' progressions during adjuvant chemotherapy are found at the scans, 3, 6, ...
    months after the first adjuvant cycle, not at the first follow-up visit."""
    path = write_scenario({"extends": str(REFERENCE), "run": {"patients": 4000, "seed": 31},
                           "parameters": {"follow_up": {"adjuvant_restaging_every_months": 3}}})
    s = load_scenario(path)
    events = run_scenario(s).events
    first_adj = events[(events["event"] == ev.CHEMO_CYCLE)
                       & (events["phase"].astype(str) == "adjuvant")].groupby("patient_id")["day"].min()
    found = events[(events["event"] == ev.PROGRESSION_DETECTED)
                   & (events["phase"].astype(str) == "adjuvant")
                   & (events["detail"].astype(str) == "imaging")].set_index("patient_id")["day"]
    assert len(found) >= 5  # few: adjuvant courses after 4-6 neoadjuvant cycles are short
    months = (found - first_adj[found.index]) / (3 * DAYS_PER_MONTH)
    assert np.allclose(months, np.round(months)) and (np.round(months) >= 1).all()


def _micro(growth: float, kill: float, cure_probability: float = 0.5) -> DiseaseParams:
    from dataclasses import replace
    from statistics import NormalDist
    return replace(_params(), cure_probability=cure_probability,
                   growth_probit_per_day=growth, kill_probit_per_cycle=kill,
                   cure_probit=NormalDist().inv_cdf(cure_probability))


@pytest.mark.parametrize(("untreated_days", "cured"), [(20.0, True), (30.0, False)])
def test_untreated_time_costs_the_cure_by_hand(untreated_days, cured):
    """P(cure) 0.5 (threshold 0 on the probit scale), the patient's rank z = probit(0.45) =
    -0.1257; a doubling every 60 days with a log10 spread of 1 moves the threshold down by
    log10(2)/60 = 0.005017 a day: cured after 20 untreated days (-0.100), not after 30 (-0.151)."""
    import math as m
    clock = DiseaseClock(_micro(m.log10(2) / 60, 0.0), 0.0, [0.5, 0.5, 0.5, 0.5, 0.45], 50.0, True,
                         1.0, 1.0)
    clock.set_state(10.0, "on_treatment", True)
    clock.set_state(10.0 + untreated_days, "on_treatment", False)
    clock.set_state(100.0, "all_sites_treated")
    assert clock.cured is cured
    assert (clock.t_progression == math.inf) is cured  # budget 0.69: due at day 208 otherwise


def test_adjuvant_cycles_clear_what_surgery_left_by_hand():
    """Not cured at surgery (z = probit(0.52) = 0.0502 > 0); 2 adjuvant cycles of 0.06 each,
    started 14 days after surgery (growth 0.005017 a day): threshold 0.12 - 0.070 = 0.0498 <
    z, not cleared; 3 cycles: 0.18 - 0.070 = 0.110 > z, cleared, and progression never comes."""
    import math as m
    for cycles, cleared in ((2, False), (3, True)):
        clock = DiseaseClock(_micro(m.log10(2) / 60, 0.06), 0.0, [0.5, 0.5, 0.5, 0.5, 0.52], 50.0,
                             True, 1.0, 1.0)
        clock.set_state(50.0, "all_sites_treated")
        assert not clock.cured and clock.t_progression > 200
        clock.adjuvant_given(200.0, cycles, 64.0)
        assert clock.cured is cleared
        assert (clock.t_progression == math.inf) is cleared
    # the same 3 cycles beside a site left untreated (an R2 resection) clear nothing
    clock = DiseaseClock(_micro(m.log10(2) / 60, 0.06), 0.0, [0.5, 0.5, 0.5, 0.5, 0.52], 50.0,
                         True, 1.0, 1.0)
    clock.set_state(50.0, "partially_treated")
    clock.adjuvant_given(200.0, 3, 64.0)
    assert not clock.cured and clock.t_progression < math.inf


def test_preoperative_cycles_count_when_the_last_site_is_treated_by_hand():
    """z = probit(0.55) = 0.1257 above a threshold of 0: 2 preoperative cycles of 0.06 (ratio 1)
    bring it to 0.12, not enough; 3 to 0.18, cured at surgery. After a progression, or once
    every site is treated, preoperative_given adds nothing."""
    from dataclasses import replace
    for cycles, cured in ((2.0, False), (3.0, True)):
        params = replace(_micro(0.0, 0.06), preoperative_kill_probit_per_cycle=0.06)
        clock = DiseaseClock(params, 0.0, [0.5, 0.5, 0.5, 0.5, 0.55], 50.0, True, 1.0, 1.0)
        clock.preoperative_given(60.0, cycles)
        clock.set_state(90.0, "all_sites_treated")
        assert clock.cured is cured
    # without the ratio (None: preoperative cycles do not act) nothing changes
    clock = DiseaseClock(_micro(0.0, 0.06), 0.0, [0.5, 0.5, 0.5, 0.5, 0.55], 50.0, True, 1.0, 1.0)
    clock.preoperative_given(60.0, 3.0)
    clock.set_state(90.0, "all_sites_treated")
    assert not clock.cured


@pytest.mark.parametrize(("done", "already", "after", "expected"), [
    (6, False, None, 6.0), (6, True, None, 4.8), (6, False, 1, 2 + 0.8 * 4), (2, False, 1, 2.0),
    (6, False, 5, 6.0), (0, True, None, 0.0),
])
def test_cycles_equivalent_by_hand(done, already, after, expected):
    """Cycles after a dose reduction (from the start if it came in an earlier course, or after
    cycle index ``after``) count 0.8 of a full-dose cycle."""
    from sim.model.treatments.chemotherapy import cycles_equivalent
    assert cycles_equivalent(done, already, after, 0.8) == pytest.approx(expected)


def test_more_preoperative_chemotherapy_cures_more_on_the_same_patients(write_scenario):
    """EORTC 40983's perioperative arm with its strategy effect at 1: the cycles before the
    hepatectomy act on the micrometastases too, so more patients are cured than with only the
    cycles after it (preoperative_kill_ratio 0: none), on the same patients."""
    from sim.compare.paired import paired_metrics
    root = REFERENCE.parent
    base = {"run.patients": 3000, "run.seed": 4, "parameters.effects.progression_hazard_ratio.value": 1.0}
    path = "parameters.disease.progression.micrometastases.preoperative_kill_ratio.value"
    tables = {}
    for ratio in (0.0, 1.0):
        s = load_scenario(root / "crlm_resectable_neoadjuvant.yaml", {**base, path: ratio})
        tables[ratio], _ = analyse(run_scenario(s))
    m = paired_metrics(tables[0.0], tables[1.0])
    assert m["pfs_36"] > 0.01 and np.exp(m["log_hr_pfs"]) < 0.97


def test_the_untreated_factor_multiplies_the_palliative_state_by_hand():
    """A pause in palliative therapy: palliative ratio 3 times the factor 2 = 6 times the base
    hazard from day 30; budget 0.9: 30 * 3 / 300 + 6 (t - 30) / 300 = 0.9 -> t = 30 + 30 = 60."""
    u = 1 - math.exp(-0.9)
    clock = DiseaseClock(_params(2.0, palliative=3.0), 0.0, [u, 0.5, 0.5, 0.5, 0.9], 50.0, True,
                         1.0, 1.0)
    clock.set_state(0.0, "palliative")
    clock.set_state(30.0, "palliative", True)
    assert clock.t_progression == pytest.approx(30.0 + (0.9 * 300 - 90) / 6)





def _leavers(clear: float, cure: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Whether the disease progressed after leaving the curative pathway without progression,
    for patients who left with the primary alone or the metastases alone treated, and for
    those the MDT judged untreatable."""
    progression = "parameters.disease.progression"
    overrides: dict = {"run.patients": 3000, "run.seed": 5,
                       f"{progression}.hazard_ratio_by_state.palliative": 3.0,
                       f"{progression}.cure_probability_all_sites_treated": cure}
    overrides[f"{progression}.left_untreated_clear_probability"] = {"value": clear, "source": "test"}
    s = load_scenario(REFERENCE, overrides)
    result = run_scenario(s)
    events = result.events
    check_invariants(s, events, analyse(result)[0])
    start = events[events["event"] == ev.PALLIATIVE_START].set_index("patient_id")
    # the progression's own day (the detected event's value), not the day a scan found it: a
    # progression while waiting for the last operation is found only after the patient left
    onset = events[events["event"] == ev.PROGRESSION_DETECTED].groupby("patient_id")["value"].min()
    after = onset.reindex(start.index).to_numpy() >= start["day"].to_numpy()
    reason = start["detail"].astype(str).to_numpy()
    left, untreatable = np.isin(reason, ["primary_only", "metastases_only"]), reason == "palliative"
    assert left.sum() > 200 and untreatable.sum() > 200
    return after[left], after[untreatable]


def test_sites_left_untreated_by_choice_may_hold_no_tumour():
    # with every patient whose sites are all treated cured, a leaver whose untreated sites are
    # clear never progresses afterwards; the others progress at the palliative ratio (3 times the
    # on-treatment hazard: nearly all of them within the horizon), as without the mechanism
    never, untreatable = _leavers(1.0)
    assert never.mean() < 0.005 and untreatable.mean() > 0.9
    without, untreatable_without = _leavers(0.0)
    assert without.mean() > 0.9
    np.testing.assert_array_equal(untreatable, untreatable_without)  # same patients, same luck
    half, _ = _leavers(0.4)
    # 60% keep their residual disease, and all but a few of those progress
    expected = 0.6 * without.mean()
    assert abs(half.mean() - expected) < 3 * math.sqrt(expected * (1 - expected) / len(half))
    # clear but not cured: the disease runs at the all-sites-treated hazard
    uncured, _ = _leavers(1.0, cure=0.0)
    assert uncured.mean() > 0.5
