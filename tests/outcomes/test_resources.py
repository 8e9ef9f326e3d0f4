"""The one definition of resource use, sessions and waits, on a hand-written log."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.model import events as ev
from sim.outcomes.resources import (
    queue_lengths,
    resource_log,
    resource_records,
    resource_summary,
    weekly_use,
)

COLUMNS = ["patient_id", "day", "event", "phase", "detail", "value"]
LOCAL = "local_treatment"

ROWS = [
    # patient 0: an LCRT course booked on day 0 (3 days' wait), a simultaneous resection of the
    # rectum and the liver on day 100 (one session, asked for on day 95), then a re-operation
    (0, 0.0, ev.RT_BOOKED, "neoadjuvant", "LCRT", 3.0),
    (0, 3.0, ev.RT_FRACTION, "neoadjuvant", "LCRT", 1.0),
    (0, 4.0, ev.RT_FRACTION, "neoadjuvant", "LCRT", 2.0),
    (0, 50.0, ev.MDT, "neoadjuvant", "local_treatment", 2.0),
    (0, 100.0, ev.PROCEDURE, LOCAL, "tme", 5.0),
    (0, 100.0, ev.PROCEDURE, LOCAL, "liver_resection", 5.0),
    (0, 100.0, ev.PROCEDURE, LOCAL, "reoperation", 0.0),
    # patient 1: SBRT of the liver on the linac (booked day 76, 4 days' wait), a lung ablation on
    # day 120 after 7 days' wait
    (1, 60.0, ev.MDT, "neoadjuvant", "local_treatment", 0.0),
    (1, 76.0, ev.RT_BOOKED, LOCAL, "SBRT", 4.0),
    (1, 80.0, ev.RT_FRACTION, LOCAL, "SBRT", 1.0),
    (1, 80.0, ev.PROCEDURE, LOCAL, "liver_sbrt", 4.0),
    (1, 120.0, ev.PROCEDURE, LOCAL, "lung_rfa", 7.0),
]
POPULATION = pd.DataFrame({"patient_id": [0, 1], "centre": [0, 0]})


@pytest.fixture(params=["text", "categorical"])
def events(request) -> pd.DataFrame:
    """The log as plain text columns and as the model hands it over (categorical)."""
    frame = pd.DataFrame(ROWS, columns=COLUMNS)
    if request.param == "categorical":
        frame = frame.astype({c: "category" for c in ("event", "phase", "detail")})
    return frame


def test_theatre_sessions_merge_a_day_and_leave_out_reoperations_and_sbrt(events):
    theatre = resource_log(events)["theatre"]
    assert theatre.slot_patient.tolist() == [0, 1]
    assert theatre.slot_day.tolist() == [100.0, 120.0]
    assert theatre.wait_days.tolist() == [5.0, 7.0]
    assert theatre.wait_start.tolist() == [95.0, 113.0]
    assert theatre.wait_end.tolist() == [100.0, 120.0]


def test_linac_waits_are_bookings_and_slots_are_fractions(events):
    linac = resource_log(events)["linac"]
    assert linac.slot_day.tolist() == [3.0, 4.0, 80.0]
    assert linac.wait_patient.tolist() == [0, 1]
    assert linac.wait_days.tolist() == [3.0, 4.0]
    assert (linac.wait_start.tolist(), linac.wait_end.tolist()) == ([0.0, 76.0], [3.0, 80.0])


def test_mdt_cases(events):
    mdt = resource_log(events, ("mdt",))
    assert list(mdt) == ["mdt"]
    assert mdt["mdt"].wait_days.tolist() == [2.0, 0.0]
    assert mdt["mdt"].wait_start.tolist() == [48.0, 60.0]


def test_unknown_resource_is_refused(events):
    with pytest.raises(ValueError, match="unknown resource"):
        resource_log(events, ("ct_scanner",))


def test_summary_of_the_hand_log(events):
    calendars = SimpleNamespace(
        linac=SimpleNamespace(weekdays=[0, 1, 2, 3, 4], slots_per_day=5),
        theatre=SimpleNamespace(weekdays=[1, 3], slots_per_day=1),
        mdt=SimpleNamespace(weekdays=[2], slots_per_day=4),
    )
    summary = resource_summary(resource_records(events, POPULATION), calendars)
    # theatre open days 100-120 on Tuesdays (day % 7 == 1: 106, 113, 120) and Thursdays
    # (101, 108, 115): 6 slots, 2 sessions
    assert summary["theatre"] == {"utilisation": round(2 / 6, 6), "mean_wait_days": 6.0,
                                  "p90_wait_days": 6.8, "slots_used": 2}
    assert summary["linac"]["slots_used"] == 3 and summary["linac"]["mean_wait_days"] == 3.5
    assert summary["mdt"]["mean_wait_days"] == 1.0


def test_weekly_use_and_queues(events):
    logs = resource_log(events)
    use = weekly_use(logs["theatre"])
    assert use["week"].tolist() == [14, 17] and use["uses"].tolist() == [1.0, 1.0]
    assert weekly_use(logs["linac"], centres=2)["uses"].tolist() == [1.0, 0.5]
    queue = queue_lengths(logs["theatre"])
    daily = np.repeat(queue["waiting"].to_numpy(), 7)
    # waiting on days 95-99 and 113-119: 12 patient-days over the weeks shown
    assert daily.sum() == pytest.approx(12.0)
    assert queue["week"].iloc[0] == 13  # day 95 is in week 13
    empty = queue_lengths(resource_log(events.iloc[:0])["theatre"])
    assert empty.empty and list(empty.columns) == ["week", "waiting"]
