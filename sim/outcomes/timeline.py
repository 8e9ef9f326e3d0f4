"""Each patient's time, state by state: the intervals a cost-and-utility layer integrates over
(a cost per day of each phase, a utility per state, discounting by the interval's days).

A **state** is a treatment phase crossed with disease status, the split health-economic models of
metastatic rectal cancer value (partitioned survival's progression-free and progressed, with the
costs of what the patient is being given):

- phase, as the event log records it: ``neoadjuvant`` (preoperative chemotherapy and/or
  radiotherapy), ``consolidation`` (TNT's chemotherapy after radiotherapy), ``local_treatment``
  (surgery, ablation or SBRT of the tumour sites, the wait for it and the recovery before
  adjuvant chemotherapy), ``adjuvant``, ``watch_and_wait`` (surveillance of a clinical complete
  response), ``follow_up`` (surveillance after curative treatment), ``palliative`` (palliative
  systemic or regional therapy) and ``supportive_care`` (best supportive care);
- status: ``progression_free`` until progression is detected, ``progressed`` from that day (the
  detected day, as PFS uses it: what changes costs and care is the detection).

Conventions (the log has no event for entering a phase):

- a state begins at the first event logged in it and lasts until the next state begins: the
  interval between the last neoadjuvant treatment and surgery counts as neoadjuvant, the recovery
  from surgery before the first adjuvant cycle as local treatment (an operation followed the same
  day by palliative care or follow-up leaves no time in local treatment: its cost is the
  ``procedure`` event's). In the shipped strategies ``watch_and_wait`` marks the day of the
  decision and the surveillance after it is logged as ``follow_up`` (the patient table's
  ``watch_and_wait`` flag tells the two apart);
- ``arrival`` and ``site_treated`` rows begin no state: arrival is logged in the model's initial
  phase before any step sets one, and ``site_treated`` rows at arrival record sites treated
  before entry (a patient entering after resection has never been in neoadjuvant therapy); the
  first interval takes the phase of the patient's first other event;
- the intervals of a patient tile [first treatment, death or end of follow-up] without gap or
  overlap, so they add up to the OS time; intervals of no length are left out and consecutive
  intervals in one state merged (a patient who died on the day of first treatment has none).

The columns are documented in :data:`sim.outcomes.schemas.TIMELINE_COLUMNS`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.model import events as ev
from sim.outcomes.schemas import from_codes, labels_of

PHASES = ("neoadjuvant", "consolidation", "local_treatment", "adjuvant", "watch_and_wait",
          "follow_up", "palliative", "treatment_break", "supportive_care")
STATUSES = ("progression_free", "progressed")
#: every state, phase by phase: ``"<phase>/<status>"``
STATES = tuple(f"{phase}/{status}" for phase in PHASES for status in STATUSES)

Bools = npt.NDArray[np.bool_]


def _phase_codes(column: pd.Series) -> tuple[npt.NDArray[np.int64], tuple[str, ...]]:
    """Each row's phase as an index into the phases (the documented ones first, then any other
    the log holds, so that a new phase shows up instead of vanishing)."""
    labels = labels_of(column)
    names = [str(c) for c in labels.categories]
    phases = PHASES + tuple(sorted(set(names) - set(PHASES)))
    to_phase = np.array([phases.index(n) for n in names] + [-1], dtype=np.int64)
    return to_phase[labels.codes], phases


def _first_day(ids: npt.NDArray[np.int64], day: npt.NDArray[np.float64], mask: Bools,
               patients: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Per patient (``patients``, sorted), the day of the first masked row; NaN if none."""
    out = np.full(len(patients), np.nan)
    pos = np.searchsorted(patients, ids[mask])
    out[pos[::-1]] = day[mask][::-1]
    return out


def _new_run(pid: npt.NDArray[np.int64], state: npt.NDArray[np.int64]) -> Bools:
    """Rows that begin a run of one state within a patient."""
    change = np.ones(len(pid), dtype=bool)
    change[1:] = (pid[1:] != pid[:-1]) | (state[1:] != state[:-1])
    return change


def _ends(pid: npt.NDArray[np.int64], start: npt.NDArray[np.float64],
          exit_day: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each interval ends where the patient's next begins; the last at the patient's exit."""
    end = exit_day.copy()
    same = pid[1:] == pid[:-1]
    end[:-1][same] = start[1:][same]
    return end


def state_timeline(events: pd.DataFrame) -> pd.DataFrame:
    """The state intervals of every patient in ``events`` (the event log, as
    :func:`sim.outcomes.schemas.events_frame` builds it; plain text columns do too)."""
    order = np.lexsort((events["day"].to_numpy(), events["patient_id"].to_numpy()))
    if np.any(np.diff(order) != 1):
        events = events.iloc[order]
    ids = events["patient_id"].to_numpy(np.int64)
    day = events["day"].to_numpy(np.float64)
    event = events["event"]
    patients = np.unique(ids)
    arrival = _first_day(ids, day, (event == ev.ARRIVAL).to_numpy(), patients)
    death = _first_day(ids, day, (event == ev.DEATH).to_numpy(), patients)
    end = _first_day(ids, day, (event == ev.END_OF_FOLLOW_UP).to_numpy(), patients)
    exit_day = np.where(np.isnan(death), end, death)
    missing = np.isnan(arrival) | np.isnan(exit_day)
    if missing.any():
        raise ValueError(f"patient {int(patients[missing][0])} has no arrival, or neither death "
                         "nor end of follow-up, in the event log")

    phase, phases = _phase_codes(events["phase"])
    detected = (event == ev.PROGRESSION_DETECTED).to_numpy()
    seen = np.cumsum(detected)
    first_row = np.searchsorted(ids, ids)  # each row's patient's first row
    progressed = (seen - seen[first_row] + detected[first_row]) > 0
    # the rows that say which state the patient is in (see the module's docstring)
    telling = ~event.isin([ev.ARRIVAL, ev.SITE_TREATED]).to_numpy()
    pos = np.searchsorted(patients, ids[telling])
    pid = ids[telling]
    state = phase[telling] * 2 + progressed[telling]
    start = np.clip(day[telling], arrival[pos], exit_day[pos])
    begins = _new_run(pid, state)
    begins_patient = np.ones(len(pid), dtype=bool)
    begins_patient[1:] = pid[1:] != pid[:-1]
    start[begins_patient] = arrival[pos[begins_patient]]
    pid, state, start, pos = pid[begins], state[begins], start[begins], pos[begins]
    finish = _ends(pid, start, exit_day[pos])
    # leave out intervals of no length, then merge the neighbours they separated
    keep = finish > start
    pid, state, start, pos = pid[keep], state[keep], start[keep], pos[keep]
    merged = _new_run(pid, state)
    pid, state, start, pos = pid[merged], state[merged], start[merged], pos[merged]
    finish = _ends(pid, start, exit_day[pos])

    states = tuple(f"{p}/{s}" for p in phases for s in STATUSES)
    return pd.DataFrame({
        "patient_id": pid,
        "state": from_codes(state, states),
        "phase": from_codes(state // 2, phases),
        "progressed": (state % 2).astype(bool),
        "start_day": start,
        "end_day": finish,
    })


def days_in_states(timeline: pd.DataFrame, by: str = "state") -> pd.DataFrame:
    """Days each patient spent in each state (or ``by="phase"``): one row per patient of the
    timeline, one column per category, 0 where the patient never was."""
    days = timeline["end_day"] - timeline["start_day"]
    table = days.groupby([timeline["patient_id"], timeline[by]], observed=False).sum().unstack(by)
    return table.loc[timeline["patient_id"].unique()].fillna(0.0)
