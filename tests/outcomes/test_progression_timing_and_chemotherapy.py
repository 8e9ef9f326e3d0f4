"""The patient table's ``progression_timing`` and ``chemotherapy_months`` on hand-written logs
(every expected value worked out by hand), and the phase vocabulary they rely on."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from sim.execution.runner import run_scenario
from sim.model import events as ev
from sim.model.events import SURVEILLANCE_PHASES
from sim.outcomes.patients import PROGRESSION_TIMINGS, patient_table
from sim.outcomes.summary import patients_of
from sim.scenario.loader import load_scenario
from sim.scenario.strategy import Completion

M = 365.25 / 12
COLUMNS = ["patient_id", "day", "event", "phase", "detail", "value"]
CYCLE_DAYS = {"CAPOX": 21, "FOLFOX": 14, "capecitabine": 21}
#: the phases of anti-cancer treatment a progression can be detected in
TREATMENT_PHASES = ("neoadjuvant", "consolidation", "local_treatment", "adjuvant", "palliative")


def _table(rows: list[tuple], n: int, cycle_days=CYCLE_DAYS) -> pd.DataFrame:
    population = pd.DataFrame({
        "patient_id": np.arange(n, dtype=np.int64),
        "metastatic_site": ["liver_only"] * n,
        "radiotherapy_course": ["LCRT"] * n,
    })
    events = pd.DataFrame(rows, columns=COLUMNS).sort_values(["patient_id", "day"], kind="stable")
    return patient_table(events.reset_index(drop=True), population, Completion(), (),
                         cycle_days=cycle_days).set_index("patient_id")


def _arrival(pid: int) -> tuple:
    return (pid, 0.0, ev.ARRIVAL, "neoadjuvant", "0", 60.0)


def _arrive_and_detect(pid: int, phase: str, day: float = 200.0) -> list[tuple]:
    return [
        _arrival(pid),
        (pid, day, ev.PROGRESSION_DETECTED, phase, "imaging", day - 30),
        (pid, 900.0, ev.END_OF_FOLLOW_UP, phase, "", 0.0),
    ]


@pytest.mark.parametrize("phase,timing", [
    ("neoadjuvant", "during_treatment"), ("consolidation", "during_treatment"),
    ("local_treatment", "during_treatment"), ("adjuvant", "during_treatment"),
    ("palliative", "during_treatment"), ("follow_up", "after_treatment"),
    ("watch_and_wait", "after_treatment"), ("supportive_care", "after_treatment"),
    ("treatment_break", "after_treatment"),
])
def test_progression_timing_is_the_phase_of_detection(phase, timing):
    t = _table(_arrive_and_detect(0, phase), 1)
    assert t.loc[0, "progression_timing"] == timing
    assert t.loc[0, "progression_detected_months"] == pytest.approx(200.0 / M)


def test_only_the_first_detection_counts_and_cancer_death_alone_is_no_progression():
    rows = [
        # 0: found in follow-up on day 400; a later row in palliative care does not change it
        _arrival(0),
        (0, 400.0, ev.PROGRESSION_DETECTED, "follow_up", "imaging", 380.0),
        (0, 500.0, ev.PROGRESSION_DETECTED, "palliative", "symptoms", 380.0),
        (0, 600.0, ev.DEATH, "palliative", "cancer", 0.0),
        # 1: cancer death in palliative care with no detected progression: a PFS event, not a
        # progression of Table 3
        _arrival(1),
        (1, 300.0, ev.DEATH, "palliative", "cancer", 0.0),
        # 2: alive and progression-free at the horizon
        _arrival(2),
        (2, 900.0, ev.END_OF_FOLLOW_UP, "follow_up", "", 0.0),
    ]
    t = _table(rows, 3)
    assert t["progression_timing"].tolist() == ["after_treatment", "no_progression", "no_progression"]
    assert t.loc[1, "pfs_event"] == 1
    assert list(t["progression_timing"].cat.categories) == list(PROGRESSION_TIMINGS)


def test_chemotherapy_months_is_cycles_times_cycle_length_in_every_phase():
    rows = [
        # 0: 4 CAPOX neoadjuvant (one delayed by toxicity), 2 FOLFOX adjuvant, 1 CAPOX palliative:
        # 4 x 21 + 2 x 14 + 21 = 133 days; the 10-day delay and the gap around surgery do not count
        _arrival(0),
        (0, 0.0, ev.CHEMO_CYCLE, "neoadjuvant", "CAPOX", 1.0),
        (0, 21.0, ev.CHEMO_CYCLE, "neoadjuvant", "CAPOX", 2.0),
        (0, 42.0, ev.CYCLE_DELAY, "neoadjuvant", "toxicity", 10.0),
        (0, 52.0, ev.CHEMO_CYCLE, "neoadjuvant", "CAPOX", 3.0),
        (0, 73.0, ev.CHEMO_CYCLE, "neoadjuvant", "CAPOX", 4.0),
        (0, 200.0, ev.CHEMO_CYCLE, "adjuvant", "FOLFOX", 5.0),
        (0, 214.0, ev.CHEMO_CYCLE, "adjuvant", "FOLFOX", 6.0),
        (0, 400.0, ev.CHEMO_CYCLE, "palliative", "CAPOX", 7.0),
        (0, 900.0, ev.END_OF_FOLLOW_UP, "palliative", "", 0.0),
        # 1: no chemotherapy at all
        _arrival(1),
        (1, 900.0, ev.END_OF_FOLLOW_UP, "follow_up", "", 0.0),
        # 2: the schedule's "6 months": 8 three-weekly capecitabine cycles, 168 days
        _arrival(2),
        *[(2, 21.0 * k, ev.CHEMO_CYCLE, "neoadjuvant", "capecitabine", k + 1.0) for k in range(8)],
        (2, 900.0, ev.END_OF_FOLLOW_UP, "follow_up", "", 0.0),
    ]
    t = _table(rows, 3)
    assert t.loc[0, "chemotherapy_months"] == pytest.approx(133.0 / M)
    assert t.loc[1, "chemotherapy_months"] == 0.0
    assert t.loc[2, "chemotherapy_months"] == pytest.approx(5.519, abs=1e-3)  # 168 / 30.4375
    assert t.loc[0, "chemo_cycles"] == 7


def test_treatment_chemotherapy_stops_at_a_relapse_found_in_surveillance():
    """Li 2021's Table 2 count: the treatment period, not the treatment of a later relapse."""
    perioperative = [(0.0, "neoadjuvant"), (21.0, "neoadjuvant"), (42.0, "neoadjuvant"),
                     (63.0, "neoadjuvant"), (200.0, "adjuvant"), (221.0, "adjuvant"),
                     (242.0, "adjuvant"), (263.0, "adjuvant")]
    rows = [
        # 0: a completer (8 CAPOX cycles, 168 days) whose relapse is found in follow-up on day
        # 500, then 6 palliative cycles (126 days): every cycle 294 days, the treatment period 168
        _arrival(0),
        *[(0, d, ev.CHEMO_CYCLE, ph, "CAPOX", k + 1.0) for k, (d, ph) in enumerate(perioperative)],
        (0, 500.0, ev.PROGRESSION_DETECTED, "follow_up", "imaging", 480.0),
        *[(0, 510.0 + 21 * k, ev.CHEMO_CYCLE, "palliative", "CAPOX", 9.0 + k) for k in range(6)],
        (0, 900.0, ev.END_OF_FOLLOW_UP, "palliative", "", 0.0),
        # 1: progression during neoadjuvant treatment (day 60) after 3 cycles, then 6 palliative
        # cycles: all 9 (189 days) belong to the treatment period
        _arrival(1),
        *[(1, 21.0 * k, ev.CHEMO_CYCLE, "neoadjuvant", "CAPOX", k + 1.0) for k in range(3)],
        (1, 60.0, ev.PROGRESSION_DETECTED, "neoadjuvant", "imaging", 50.0),
        *[(1, 70.0 + 21 * k, ev.CHEMO_CYCLE, "palliative", "CAPOX", 4.0 + k) for k in range(6)],
        (1, 900.0, ev.END_OF_FOLLOW_UP, "palliative", "", 0.0),
    ]
    t = _table(rows, 2)
    assert t.loc[0, "chemotherapy_months"] == pytest.approx(294.0 / M)
    assert t.loc[0, "treatment_chemotherapy_months"] == pytest.approx(168.0 / M)
    assert t.loc[1, "chemotherapy_months"] == pytest.approx(189.0 / M)
    assert t.loc[1, "treatment_chemotherapy_months"] == pytest.approx(189.0 / M)


def test_chemotherapy_months_needs_the_cycle_lengths():
    rows = [_arrival(0),
            (0, 0.0, ev.CHEMO_CYCLE, "neoadjuvant", "FOLFIRI", 1.0)]
    assert math.isnan(_table(rows, 1, cycle_days=None).loc[0, "chemotherapy_months"])
    with pytest.raises(ValueError, match="no cycle length for regimen 'FOLFIRI'"):
        _table(rows, 1)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_phase_a_progression_is_found_in_is_classified(path):
    """A new phase must be placed on one side: treatment (during) or surveillance (after)."""
    scenario = load_scenario(path, {"run.patients": 150, "run.seed": 3})
    result = run_scenario(scenario)
    events = result.events
    phases = set(events.loc[events["event"] == ev.PROGRESSION_DETECTED, "phase"].astype(str))
    assert phases, "some progression is found in 150 patients"
    assert phases <= set(TREATMENT_PHASES) | set(SURVEILLANCE_PHASES)
    patients = patients_of(result)
    months = patients["chemotherapy_months"]
    # every patient of every strategy has a finite duration, between the shortest and the longest
    # cycle length times the cycles given
    lengths = [r.cycle_days for r in scenario.parameters.chemotherapy.regimens.values()]
    cycles = patients["chemo_cycles"]
    assert months.notna().all()
    assert (months >= cycles * min(lengths) / M - 1e-9).all()
    assert (months <= cycles * max(lengths) / M + 1e-9).all()
    assert (patients["treatment_chemotherapy_months"] <= months + 1e-9).all()
