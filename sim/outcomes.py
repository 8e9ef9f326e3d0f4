"""Pure functions from the event log to the patient table.

Everything here is derived from the events (plus the patient's baseline attributes), so every
number in a summary can be traced back to events and tested on hand-written logs.

Pathway categories, in order of precedence (how the patient left or finished the schedule):

- ``completed``: the strategy's completion criteria are met (Li 2021: neoadjuvant chemotherapy and
  radiotherapy, local treatment of all sites, at least 2 adjuvant cycles);
- ``refused``: refused radical treatment at an MDT;
- ``died_during_treatment``: died while still in a curative phase;
- ``on_treatment_at_horizon``: follow-up ended while still in a curative phase;
- ``bowel_surgery_only``: the rectum was treated but not every metastatic site;
- ``metastasis_treatment_only``: a metastatic site was treated but not the rectum;
- ``incomplete_adjuvant``: every site treated, but too few adjuvant cycles (complication,
  progression or adherence);
- ``palliative``: no local treatment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim import events as ev
from sim.hazards import DAYS_PER_MONTH
from sim.parameters_schema import TOXICITY_TYPES
from sim.population import sites_of

PATHWAYS = (
    "completed", "palliative", "bowel_surgery_only", "metastasis_treatment_only", "refused",
    "died_during_treatment", "incomplete_adjuvant", "on_treatment_at_horizon",
)
CURATIVE_PHASES = ("neoadjuvant", "local_treatment", "adjuvant", "consolidation", "watch_and_wait")
METASTATIC_SITES = ("liver", "lung", "distant_lymph_nodes")


def _first_day(events: pd.DataFrame, mask: np.ndarray, index: pd.Index) -> pd.Series:
    sub = events.loc[mask, ["patient_id", "day"]]
    return sub.groupby("patient_id")["day"].min().reindex(index)


def _any(events: pd.DataFrame, mask: np.ndarray, index: pd.Index) -> pd.Series:
    ids = events.loc[mask, "patient_id"].unique()
    return pd.Series(index.isin(ids), index=index)


def _count(events: pd.DataFrame, mask: np.ndarray, index: pd.Index) -> pd.Series:
    return events.loc[mask].groupby("patient_id").size().reindex(index, fill_value=0)


def patient_table(
    events: pd.DataFrame, population: pd.DataFrame, completion, rectal_complications: tuple[str, ...]
) -> pd.DataFrame:
    """One row per patient: attributes plus everything derived from their events."""
    idx = pd.Index(population["patient_id"].to_numpy(), name="patient_id")
    event = events["event"].to_numpy()
    detail = events["detail"].astype(str).to_numpy()
    phase = events["phase"].astype(str).to_numpy()
    out = population.set_index("patient_id").copy()

    arrival = _first_day(events, event == ev.ARRIVAL, idx)
    death_rows = events.loc[event == ev.DEATH].set_index("patient_id")
    death_day = death_rows["day"].reindex(idx)
    death_cause = death_rows["detail"].astype(str).reindex(idx).fillna("")
    death_phase = death_rows["phase"].astype(str).reindex(idx).fillna("")
    end_rows = events.loc[event == ev.END_OF_FOLLOW_UP].set_index("patient_id")
    end_day = end_rows["day"].reindex(idx)
    end_phase = end_rows["phase"].astype(str).reindex(idx).fillna("")
    exit_day = death_day.fillna(end_day)

    out["arrival_day"] = arrival
    out["os_months"] = (exit_day - arrival) / DAYS_PER_MONTH
    out["os_event"] = death_day.notna().astype(np.int8)
    out["death_cause"] = death_cause

    progression = _first_day(events, event == ev.PROGRESSION_DETECTED, idx)
    cancer_death = death_day.where(death_cause == "cancer")
    pfs_day = pd.concat([progression, cancer_death], axis=1).min(axis=1)
    out["pfs_event"] = pfs_day.notna().astype(np.int8)
    out["pfs_months"] = (pfs_day.fillna(exit_day) - arrival) / DAYS_PER_MONTH
    out["progression_detected_months"] = (progression - arrival) / DAYS_PER_MONTH

    tox = event == ev.TOXICITY
    neo = phase == "neoadjuvant"
    for t in TOXICITY_TYPES:
        out[f"grade34_{t}"] = _any(events, tox & neo & (detail == t), idx)
    out["grade34_toxicity"] = _any(events, tox & neo, idx)
    out["grade34_toxicity_any_phase"] = _any(events, tox, idx)

    cycles = event == ev.CHEMO_CYCLE
    out["chemo_cycles"] = _count(events, cycles, idx)
    cycles_by_phase = {
        ph: _count(events, cycles & (phase == ph), idx) for ph in completion.min_cycles
    }
    out["rt_fractions"] = _count(events, event == ev.RT_FRACTION, idx)
    procedure = event == ev.PROCEDURE
    out["rectal_surgery"] = _any(events, procedure & (detail == "tme"), idx)
    treated = event == ev.SITE_TREATED
    out["metastasis_treatment"] = _any(events, treated & np.isin(detail, METASTATIC_SITES), idx)
    rectum_treated = _any(events, treated & (detail == "rectum"), idx)
    n_treated = (
        events.loc[treated, ["patient_id", "detail"]].drop_duplicates()
        .groupby("patient_id").size().reindex(idx, fill_value=0)
    )
    n_sites = out["metastatic_site"].map(lambda s: len(sites_of(s)))
    out["all_sites_treated"] = n_treated >= n_sites
    complication = event == ev.COMPLICATION
    out["surgical_complication"] = _any(
        events, complication & np.isin(detail, rectal_complications), idx
    )
    out["any_complication"] = _any(events, complication, idx)
    out["ypcr"] = _any(events, (event == ev.PATHOLOGY) & (detail == "ypCR"), idx)
    mdt_rows = events.loc[event == ev.MDT, ["patient_id", "detail"]]
    out["mdt_decision"] = (
        mdt_rows.groupby("patient_id")["detail"].last().astype(str).reindex(idx).fillna("")
    )
    refused = _any(events, (event == ev.MDT) & (detail == "refused"), idx)

    rt_done = (
        events.loc[event == ev.RT_COMPLETED, ["patient_id", "detail"]]
        .astype({"detail": str})
        .merge(out["radiotherapy_course"].reset_index(), on="patient_id")
    )
    rt_done = pd.Series(
        idx.isin(rt_done.loc[rt_done["detail"] == rt_done["radiotherapy_course"], "patient_id"]),
        index=idx,
    )
    completed = pd.Series(True, index=idx)
    if completion.radiotherapy:
        completed &= rt_done
    if completion.all_sites_treated:
        completed &= out["all_sites_treated"]
    for ph, minimum in completion.min_cycles.items():
        completed &= cycles_by_phase[ph] >= minimum
    out["completed"] = completed

    died_curative = death_phase.isin(CURATIVE_PHASES)
    ended_curative = end_phase.isin(CURATIVE_PHASES)
    pathway = np.select(
        [
            completed,
            refused,
            died_curative,
            ended_curative,
            rectum_treated & ~out["all_sites_treated"],
            out["metastasis_treatment"] & ~rectum_treated,
            out["all_sites_treated"],
        ],
        [
            "completed", "refused", "died_during_treatment", "on_treatment_at_horizon",
            "bowel_surgery_only", "metastasis_treatment_only", "incomplete_adjuvant",
        ],
        default="palliative",
    )
    out["pathway"] = pd.Categorical(pathway, categories=PATHWAYS)
    return out.reset_index()
