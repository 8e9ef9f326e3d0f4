"""The event row builder and the flat log's columns (sim/model/events.py), and the model's typed
patient inputs (sim/model/inputs.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import simpy

from sim.model import events as ev
from sim.model.inputs import PatientAttributes, PatientInputs
from sim.outcomes.schemas import EVENT_COLUMNS, _by_patient_then_day, events_frame

ROWS = [
    ev.row(patient_id=3, day=10.5, event=ev.CHEMO_CYCLE, phase="neoadjuvant", detail="CAPOX", value=1.0),
    ev.row(patient_id=1, day=4.0, event=ev.ARRIVAL, phase="neoadjuvant", detail="0", value=61.0),
    ev.row(patient_id=3, day=10.5, event=ev.TOXICITY, phase="neoadjuvant", detail="neurological",
           value=3.0),
    ev.row(patient_id=3, day=2.0, event=ev.FOLLOW_UP_START, phase="follow_up"),
]


def test_row_holds_its_fields_by_name():
    named = dict(zip(ev.FIELDS, ROWS[0], strict=True))
    assert named == {"patient_id": 3, "day": 10.5, "event": "chemo_cycle", "phase": "neoadjuvant",
                     "detail": "CAPOX", "value": 1.0}
    # detail and value default to the empty text and 0
    assert dict(zip(ev.FIELDS, ROWS[3], strict=True)) == {
        "patient_id": 3, "day": 2.0, "event": "follow_up_start", "phase": "follow_up", "detail": "",
        "value": 0.0}
    assert [ev.day_of(r) for r in ROWS] == [10.5, 4.0, 10.5, 2.0]


def test_series_numbers_its_rows_from_one():
    rows = ev.series(patient_id=7, days=[3.375, 4.375, 7.375], event=ev.RT_FRACTION,
                     phase="neoadjuvant", detail="SCRT")
    assert rows == [
        ev.row(patient_id=7, day=day, event=ev.RT_FRACTION, phase="neoadjuvant", detail="SCRT",
               value=k)
        for k, day in ((1.0, 3.375), (2.0, 4.375), (3.0, 7.375))
    ]
    values = ev.log_columns([field for r in rows for field in r])["value"]
    assert all(type(v) is float for v in values)  # floats, as float(k) gave them
    assert ev.series(patient_id=7, days=[], event=ev.RESTAGING, phase="palliative") == []


class _Logger(ev.EventLogger):
    __slots__ = ()


def test_a_patients_log_writes_the_rows_row_builds():
    """The patient's log builds its rows without a call to row(): the same fields, in order; of a
    plan cut short, only the rows strictly before the cut are logged."""
    log = _Logger()
    log.index, log.env, log.flat_log, log.phase = 4, simpy.Environment(12.5), [], "adjuvant"
    log.log(ev.CHEMO_CYCLE, "CAPOX", 2.0)
    log.log_at(20.0, ev.FOLLOW_UP_START)
    planned = ev.series(patient_id=4, days=[13.0, 14.0, 15.0], event=ev.RT_FRACTION,
                        phase="adjuvant", detail="SCRT")
    log.log_rows_before(planned, 14.0)
    log.log_rows(planned[2:])
    assert log.flat_log == [
        *ev.row(patient_id=4, day=12.5, event=ev.CHEMO_CYCLE, phase="adjuvant", detail="CAPOX",
                value=2.0),
        *ev.row(patient_id=4, day=20.0, event=ev.FOLLOW_UP_START, phase="adjuvant"),
        *ev.row(patient_id=4, day=13.0, event=ev.RT_FRACTION, phase="adjuvant", detail="SCRT",
                value=1.0),
        *ev.row(patient_id=4, day=15.0, event=ev.RT_FRACTION, phase="adjuvant", detail="SCRT",
                value=3.0),
    ]


def test_fields_are_the_documented_columns():
    assert ev.FIELDS == EVENT_COLUMNS == ("patient_id", "day", "event", "phase", "detail", "value")


def test_log_columns_invert_the_flat_log():
    flat: list = []
    for r in ROWS:
        flat.extend(r)
    columns = ev.log_columns(flat)
    assert list(columns) == list(ev.FIELDS)
    assert columns["patient_id"] == [3, 1, 3, 3]
    assert columns["day"] == [10.5, 4.0, 10.5, 2.0]
    assert columns["detail"] == ["CAPOX", "0", "neurological", ""]
    with pytest.raises(ValueError, match="multiple of its 6 fields"):
        ev.log_columns(flat[:-1])


def test_events_frame_sorts_by_patient_then_day_keeping_same_time_order():
    flat: list = []
    for r in ROWS:
        flat.extend(r)
    frame = events_frame(flat)
    assert frame["patient_id"].tolist() == [1, 3, 3, 3]
    assert frame["day"].tolist() == [4.0, 2.0, 10.5, 10.5]
    # the cycle was logged before its toxicity on the same day, and stays before it
    assert frame["event"].astype(str).tolist() == [
        ev.ARRIVAL, ev.FOLLOW_UP_START, ev.CHEMO_CYCLE, ev.TOXICITY]
    assert frame["value"].dtype == np.float64 and frame["value"].tolist() == [61.0, 0.0, 1.0, 3.0]
    assert isinstance(frame["phase"].dtype, pd.CategoricalDtype)
    assert list(frame["phase"].cat.categories) == ["follow_up", "neoadjuvant"]


def test_event_order_is_lexsorts_with_ties_infinities_and_nans():
    # the complex-key sort must give lexsort's permutation exactly: ties keep their logged
    # order, -0.0 ties with 0.0, infinite days sort last of their patient; a NaN day falls back
    rng = np.random.default_rng(7)
    for days in ([0.0, -0.0, 1.0, 2.5, 1e-300, np.inf, 3.0], [0.0, 1.0, np.nan, np.inf]):
        patient = rng.integers(0, 40, 5000)
        day = rng.choice(days, 5000)
        assert np.array_equal(_by_patient_then_day(patient, day), np.lexsort((day, patient)))


def _attributes(regimen: str) -> PatientAttributes:
    return PatientAttributes(
        response_odds_ratio=1.0, regimen=regimen, radiotherapy_course="SCRT", sequence="simultaneous",
        sites=("rectum",), has_liver=False, has_lung=False, n_liver_metastases=0,
        tumour_height="low", modality={},
    )


def test_patient_inputs_slice_every_column_alike():
    inputs = PatientInputs(
        patient_id=[10, 11, 12, 13],
        attrs=[_attributes(r) for r in ("CAPOX", "FOLFOX", "CAPOX", "FOLFOXIRI")],
        age_years=[50.0, 60.0, 70.0, 80.0],
        male=[True, False, True, False],
        progression_hr=[1.0, 1.5, 2.0, 2.5],
        death_hr=[1.0, 1.1, 1.2, 1.3],
        treated_at_entry=[(), ("liver",), ("rectum", "liver"), ("rectum",)],
    )
    part = inputs.slice(1, 3)
    assert len(inputs) == 4 and len(part) == 2
    assert part.patient_id == [11, 12]
    assert [a.regimen for a in part.attrs] == ["FOLFOX", "CAPOX"]
    assert (part.age_years, part.male) == ([60.0, 70.0], [False, True])
    assert (part.progression_hr, part.death_hr) == ([1.5, 2.0], [1.1, 1.2])
    assert part.treated_at_entry == [("liver",), ("rectum", "liver")]
