"""The run summary (``summary.json``): rates, pathway split, survival and resource use.

Pure functions of the patient table, the event log and the scenario. Fractions are in 0-1 and
times in months, except resource waits (days).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim import events as ev
from sim.outcomes import PATHWAYS
from sim.parameters_schema import TOXICITY_TYPES
from sim.survival import km_summary


def _rate(x: pd.Series) -> float:
    return round(float(x.mean()), 6) if len(x) else 0.0


def _survival_block(patients: pd.DataFrame) -> dict:
    return {
        "n": int(len(patients)),
        "os": km_summary(patients["os_months"], patients["os_event"]),
        "pfs": km_summary(patients["pfs_months"], patients["pfs_event"]),
    }


def _open_slots(weekdays: list[int], slots: int, first: int, last: int) -> int:
    days = np.arange(first, last + 1)
    return int(np.isin(days % 7, weekdays).sum()) * slots


def _resource(calendar, uses: pd.DataFrame, waits: pd.Series, population) -> dict:
    """Utilisation = slots used / slots open between each centre's first and last use."""
    if uses.empty:
        return {"utilisation": 0.0, "mean_wait_days": 0.0, "p90_wait_days": 0.0, "slots_used": 0}
    centre = population.set_index("patient_id")["centre"]
    day = np.floor(uses["day"].to_numpy()).astype(int)
    frame = pd.DataFrame({"centre": centre.reindex(uses["patient_id"]).to_numpy(), "day": day})
    offered = sum(
        _open_slots(calendar.weekdays, calendar.slots_per_day, g["day"].min(), g["day"].max())
        for _, g in frame.groupby("centre")
    )
    return {
        "utilisation": round(len(frame) / offered, 6) if offered else 0.0,
        "mean_wait_days": round(float(waits.mean()), 4) if len(waits) else 0.0,
        "p90_wait_days": round(float(waits.quantile(0.9)), 4) if len(waits) else 0.0,
        "slots_used": int(len(frame)),
    }


def resource_use(events: pd.DataFrame, population: pd.DataFrame, resources) -> dict:
    event = events["event"].to_numpy()
    detail = events["detail"].astype(str).to_numpy()
    fractions = events.loc[event == ev.RT_FRACTION, ["patient_id", "day"]]
    rt_waits = events.loc[event == ev.RT_BOOKED, "value"]
    theatre_mask = (
        (event == ev.PROCEDURE) & (detail != "reoperation") & ~np.char.endswith(
            detail.astype(str), "_sbrt"
        )
    )
    ops = events.loc[theatre_mask, ["patient_id", "day", "value"]].drop_duplicates(
        ["patient_id", "day"]
    )
    mdt = events.loc[event == ev.MDT, ["patient_id", "day", "value"]]
    return {
        "linac": _resource(resources.linac, fractions, rt_waits, population),
        "theatre": _resource(resources.theatre, ops[["patient_id", "day"]], ops["value"],
                             population),
        "mdt": _resource(resources.mdt, mdt[["patient_id", "day"]], mdt["value"], population),
    }


def summarize(scenario, patients: pd.DataFrame, events: pd.DataFrame) -> dict:
    n = len(patients)
    pathway = patients["pathway"].value_counts().reindex(PATHWAYS, fill_value=0)
    rectal = patients["rectal_surgery"]
    summary = {
        "scenario": scenario.name,
        "n_patients": int(n),
        "seed": int(scenario.run.seed),
        "completion_rate": _rate(patients["completed"]),
        "pathway": {k: round(float(v) / n, 6) for k, v in pathway.items()},
        "grade34_toxicity_rate": _rate(patients["grade34_toxicity"]),
        "grade34_toxicity_by_type": {
            t: _rate(patients[f"grade34_{t}"]) for t in TOXICITY_TYPES
        },
        "grade34_toxicity_any_phase_rate": _rate(patients["grade34_toxicity_any_phase"]),
        "surgical_complication_rate": _rate(patients["surgical_complication"]),
        "surgical_complication_rate_of_rectal_surgery": _rate(
            patients.loc[rectal, "surgical_complication"]
        ),
        "rectal_surgery_rate": _rate(rectal),
        "metastasis_treatment_rate": _rate(patients["metastasis_treatment"]),
        "ypcr_rate_of_rectal_surgery": _rate(patients.loc[rectal, "ypcr"]),
        "mean_chemo_cycles": round(float(patients["chemo_cycles"].mean()), 4),
    }
    whole = _survival_block(patients)
    summary["os"] = whole["os"]
    summary["pfs"] = whole["pfs"]
    groups = {
        "completed": patients[patients["completed"]],
        "not_completed": patients[~patients["completed"]],
    }
    for name in PATHWAYS:
        if name != "completed":
            groups[f"pathway_{name}"] = patients[patients["pathway"] == name]
    summary["by_group"] = {k: _survival_block(g) for k, g in groups.items()}
    summary["resources"] = resource_use(events, patients, scenario.resources)
    return summary


def analyse(result) -> tuple[pd.DataFrame, dict]:
    """Patient table and summary of a simulation result."""
    from sim.outcomes import patient_table

    scenario = result.scenario
    patients = patient_table(
        result.events,
        result.population,
        scenario.strategy.completion,
        tuple(scenario.parameters.local_treatment.rectal_complications),
    )
    return patients, summarize(scenario, patients, result.events)
