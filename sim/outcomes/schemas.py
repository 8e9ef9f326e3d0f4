"""The documented columns of every output table, and the event log's construction.

``events``: one row per event, sorted by patient then time (events of one patient at the same
time keep the order in which they happened).

| column | type | meaning |
|---|---|---|
| patient_id | int64 | index of the patient in the cohort (0-based) |
| day | float64 | absolute simulation time in days; day 0 is a Monday |
| event | category | see :data:`sim.model.events.EVENT_DOCS` |
| phase | category | clinical phase (neoadjuvant, local_treatment, adjuvant, ..., palliative) |
| detail | category | event-specific text (see EVENT_DOCS) |
| value | float64 | event-specific number (see EVENT_DOCS) |

``patients``: one row per patient; see :data:`PATIENT_COLUMNS`.

``timeline``: one row per interval a patient spent in one state (:mod:`sim.outcomes.timeline`);
see :data:`TIMELINE_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import union_categoricals

from sim.model.events import FIELDS, log_columns

#: the event table's columns: the fields of the model's event rows, in their order
EVENT_COLUMNS = FIELDS

PATIENT_COLUMNS: dict[str, str] = {
    "patient_id": "index of the patient in the cohort",
    "candidate_id": "index in the source population before eligibility (= patient_id without criteria)",
    "centre": "centre the patient was treated at (independent resources per centre)",
    "arrival_day": "day of first treatment (absolute simulation day)",
    "age_years": "age at first treatment",
    "sex": "male / female",
    "kps": "Karnofsky performance status band",
    "t_category": "clinical T category",
    "node_positive": "clinical N+",
    "metastatic_site": "liver_only / lung_only / liver_and_lung / distant_lymph_nodes",
    "n_liver_metastases": "number of liver metastases (0 without liver metastases)",
    "regimen": "assigned chemotherapy regimen",
    "bevacizumab": "bevacizumab added",
    "radiotherapy_course": "assigned pelvic radiotherapy course",
    "sequence": "assigned local-treatment sequence when rectum and metastases are both treated",
    "pathway": "how the patient left (or finished) the schedule, see sim.outcomes.patients.PATHWAYS",
    "completed": "completed the schedule as the strategy defines it",
    "grade34_toxicity": "any grade 3-4 toxicity during neoadjuvant treatment",
    "grade34_hematological, ..._gastrointestinal, ..._neurological, ..._dermatological":
        "grade 3-4 toxicity of that type during neoadjuvant treatment",
    "grade34_toxicity_any_phase": "any grade 3-4 toxicity in any phase",
    "chemo_cycles": "chemotherapy cycles received (all phases)",
    "chemotherapy_months": "duration of chemotherapy: every cycle received (all phases) times its "
                           "regimen's cycle length, in months; gaps between courses and toxicity "
                           "delays are not counted (NaN when cycle lengths were not given)",
    "treatment_chemotherapy_months": "chemotherapy_months of the treatment period: the cycles "
                                     "before a relapse found in surveillance (the curative pathway "
                                     "and any palliative therapy after leaving it; Li 2021 Table 2)",
    "neoadjuvant_cycles": "chemotherapy cycles in the neoadjuvant phase",
    "consolidation_cycles": "chemotherapy cycles in a consolidation phase (TNT)",
    "adjuvant_cycles": "chemotherapy cycles in the adjuvant phase",
    "rt_fractions": "radiotherapy fractions received (all courses)",
    "rectal_surgery": "had total mesorectal excision",
    "metastasis_treatment": "had local treatment of at least one metastatic site",
    "liver_treated": "had local treatment of the liver metastases",
    "lung_treated": "had local treatment of the lung metastases",
    "all_sites_treated": "every tumour site treated (watch-and-wait after cCR counts)",
    "surgical_complication": "any Clavien-Dindo >= III complication of rectal surgery",
    "any_complication": "any Clavien-Dindo >= III complication of any procedure",
    "ypcr": "pathological complete response at TME",
    "watch_and_wait": "clinical complete response at all sites managed by watch-and-wait",
    "rectal_watch_and_wait": "clinical complete response of the rectum alone after pelvic "
                             "radiotherapy, watched rather than resected while the metastases "
                             "were treated (the rectum is not a treated site)",
    "first_response": "clinical response at the first reassessment (CR, PR, SD; '' if none)",
    "mdt_decision": "last MDT decision",
    "os_months": "months from first treatment to death or censoring",
    "os_event": "1 = died, 0 = censored at the horizon",
    "pfs_months": "months to detected progression or cancer death, or censoring",
    "pfs_event": "1 = progression detected or cancer death, 0 = censored",
    "progression_detected_months": "months from first treatment to the first detected progression "
                                   "(NaN if none)",
    "progression_timing": "phase of the first detected progression: during_treatment (a treatment "
                          "phase, curative or palliative), after_treatment (follow-up, watch-and-wait, "
                          "a break after a palliative line, best supportive care), no_progression; see "
                          "sim.outcomes.patients.PROGRESSION_TIMINGS",
    "death_cause": "cancer / other / '' if alive at the horizon",
}


TIMELINE_COLUMNS: dict[str, str] = {
    "patient_id": "index of the patient in the cohort",
    "state": "'<phase>/<status>', see sim.outcomes.timeline.STATES",
    "phase": "treatment phase: neoadjuvant, consolidation, local_treatment, adjuvant, "
             "watch_and_wait, follow_up, palliative, supportive_care",
    "progressed": "False = progression-free, True = after detected progression",
    "start_day": "absolute simulation day the interval begins (the first begins at arrival_day)",
    "end_day": "day it ends: the next interval's start_day, or death / end of follow-up; a "
               "patient's intervals add up to os_months * DAYS_PER_MONTH",
}


def from_codes(codes: npt.NDArray[np.integer[Any]], categories: Sequence[str]) -> pd.Categorical:
    """A categorical of integer codes into ``categories`` (pandas takes the array as it is; its
    stubs ask for a Sequence)."""
    return pd.Categorical.from_codes(cast("Sequence[int]", codes), categories=pd.Index(categories))


def labels_of(column: pd.Series) -> pd.Categorical:
    """A log column as a categorical: itself as the model hands it over, else categorised once
    (a hand-written log of plain text), so that labels are compared per category, not per row."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return cast(pd.Categorical, column.array)
    return pd.Categorical(column)


def _categorical(values: list[str]) -> pd.Categorical:
    """Categorical with sorted categories, so the same events give the same table whatever the
    order in which centres were simulated. The labels come from a small vocabulary: a dict
    lookup per row is cheaper than hashing an object array."""
    categories = sorted(set(values))
    index = {label: code for code, label in enumerate(categories)}
    codes = np.fromiter(map(index.__getitem__, values), np.int32, len(values))
    return from_codes(codes, categories)


def _floats(values: list[float]) -> npt.NDArray[np.float64]:
    return np.fromiter(values, np.float64, len(values))


def _by_patient_then_day(patient: npt.NDArray[np.int64],
                         day: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """The rows' order by patient, then day; rows of one patient on the same day keep the order
    in which they were logged: ``np.lexsort((day, patient))``, 3 times faster on a model's log.

    One stable sort of the complex keys ``patient + day j``: numpy orders complex numbers by
    real part, then imaginary part, and its stable sort (timsort) takes the log's long ordered
    runs in near-linear time, where lexsort makes two full passes. Patient ids are exact as
    floats (below 2**53). A NaN anywhere sorts a complex number last of all, not last of its
    patient: a log with NaN days (the model's never has one) takes lexsort."""
    if np.isnan(day).any():
        return np.lexsort((day, patient))
    key = np.empty(len(patient), np.complex128)
    key.real, key.imag = patient, day  # not patient + day * 1j: 0 * inf is NaN
    return np.argsort(key, kind="stable")


def events_frame(flat: list[Any]) -> pd.DataFrame:
    """The event log as a table, from the flat list the model appended to (see
    :mod:`sim.model.events`)."""
    columns = log_columns(flat)
    if not flat:
        return pd.DataFrame({c: [] for c in EVENT_COLUMNS})
    patient = np.fromiter(columns["patient_id"], np.int64, len(columns["patient_id"]))
    day = _floats(columns["day"])
    order = _by_patient_then_day(patient, day)
    # new arrays, so not copied again (pandas copies a dict's arrays by default) nor merged
    # into one block per dtype
    return pd.DataFrame({
        "patient_id": patient[order],
        "day": day[order],
        "event": _categorical(columns["event"])[order],
        "phase": _categorical(columns["phase"])[order],
        "detail": _categorical(columns["detail"])[order],
        "value": _floats(columns["value"])[order],
    }, copy=False)


def concat_events(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Event logs of consecutive blocks of patients as one log, the same table as
    :func:`events_frame` of all their rows (categories sorted over the union)."""
    out: dict[str, pd.Categorical | np.ndarray] = {}
    for column in EVENT_COLUMNS:
        parts = [frame[column] for frame in frames]
        if isinstance(parts[0].dtype, pd.CategoricalDtype):
            out[column] = union_categoricals(parts, sort_categories=True)
        else:
            out[column] = np.concatenate([part.to_numpy() for part in parts])
    return pd.DataFrame(out)
