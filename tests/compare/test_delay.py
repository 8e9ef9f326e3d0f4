"""The delay study's arms: the planned start of the step moves by exactly the delay, nothing else."""

from __future__ import annotations

from conftest import REFERENCE

from sim.compare.delay import _reached, _shift
from sim.execution.runner import run_scenario
from sim.model import events as ev
from sim.scenario.loader import load_scenario


def test_surgery_delay_moves_every_first_operation_window_by_the_delay():
    base = load_scenario(REFERENCE)
    shifted = load_scenario(REFERENCE, _shift(base, "surgery", 28.0))
    a, b = base.parameters.local_treatment, shifted.parameters.local_treatment
    # Li 2021: TME 42-56 days after LCRT, 0-7 after SCRT; metastases first 7-21 days after the MDT
    assert (b.tme_after_radiotherapy_days["LCRT"].low, b.tme_after_radiotherapy_days["LCRT"].high) == (70, 84)
    assert (b.tme_after_radiotherapy_days["SCRT"].low, b.tme_after_radiotherapy_days["SCRT"].high) == (28, 35)
    assert (b.metastases_first_after_mdt_days.low, b.metastases_first_after_mdt_days.high) == (35, 49)
    assert b.recovery_before_adjuvant_days == a.recovery_before_adjuvant_days


def test_adjuvant_delay_moves_only_the_recovery_interval():
    base = load_scenario(REFERENCE)
    shifted = load_scenario(REFERENCE, _shift(base, "adjuvant", 56.0))
    a, b = base.parameters.local_treatment, shifted.parameters.local_treatment
    assert (b.recovery_before_adjuvant_days.low, b.recovery_before_adjuvant_days.high) == (28 + 56, 42 + 56)
    assert b.tme_after_radiotherapy_days == a.tme_after_radiotherapy_days


def test_reached_is_the_patients_with_the_step_in_their_log():
    result = run_scenario(load_scenario(REFERENCE, {"run.patients": 200, "run.seed": 3}))
    events = result.events
    operated = set(events.loc[events["event"] == ev.PROCEDURE, "patient_id"])
    adjuvant = set(events.loc[(events["event"] == ev.CHEMO_CYCLE) & (events["phase"] == "adjuvant"),
                              "patient_id"])
    assert set(_reached(events, "surgery").tolist()) == operated
    assert set(_reached(events, "adjuvant").tolist()) == adjuvant
    assert 0 < len(adjuvant) < len(operated) < 200
