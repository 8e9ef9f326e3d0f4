"""The run summary (``summary.json``): rates, pathway split, survival and resource use.

Pure functions of the patient table, the event log and the scenario. Fractions are in 0-1 and
times in months, except resource waits (days).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.outcomes.patients import PATHWAYS
from sim.outcomes.resources import ResourceSummary, resource_use
from sim.outcomes.survival import km_summary
from sim.scenario.parameters import TOXICITY_TYPES

if TYPE_CHECKING:
    from sim.execution.runner import SimulationResult
    from sim.scenario.loader import Scenario

#: the patient-table columns the summary reads
SUMMARY_COLUMNS = (
    "completed", "pathway", "grade34_toxicity", *(f"grade34_{t}" for t in TOXICITY_TYPES),
    "grade34_toxicity_any_phase", "surgical_complication", "rectal_surgery", "metastasis_treatment",
    "ypcr", "watch_and_wait", "first_response", "chemo_cycles", "os_months", "os_event",
    "pfs_months", "pfs_event",
)


def _rate(x: pd.Series) -> float:
    return round(float(x.mean()), 6) if len(x) else 0.0


def _survival_block(patients: pd.DataFrame) -> dict[str, Any]:
    return {
        "n": int(len(patients)),
        "os": km_summary(patients["os_months"], patients["os_event"]),
        "pfs": km_summary(patients["pfs_months"], patients["pfs_event"]),
    }


def summarize(scenario: Scenario, patients: pd.DataFrame, events: pd.DataFrame) -> dict[str, Any]:
    return summary_of(scenario, patients, resource_use(events, patients, scenario.resources))


def summary_of(scenario: Scenario, patients: pd.DataFrame,
               resources: ResourceSummary) -> dict[str, Any]:
    """The summary from the patient table (the columns in :data:`SUMMARY_COLUMNS` suffice) and
    the resource summary."""
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
        "watch_and_wait_rate": _rate(patients["watch_and_wait"]),
        "partial_response_rate": _rate(patients["first_response"] == "PR"),
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
    summary["resources"] = resources
    return summary


def patients_of(result: SimulationResult) -> pd.DataFrame:
    """The patient table of a simulation result."""
    return patient_table_of(result.scenario, result.population, result.events)


def patient_table_of(scenario: Scenario, population: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The patient table of a population and its event log, as the scenario defines completion."""
    from sim.outcomes.patients import patient_table

    return patient_table(
        events,
        population,
        scenario.strategy.completion,
        tuple(scenario.parameters.local_treatment.rectal_complications),
        tuple(k for k, c in scenario.parameters.radiotherapy.courses.items() if c.target == "pelvis"),
        {k: r.cycle_days for k, r in scenario.parameters.chemotherapy.regimens.items()},
    )


def analyse(result: SimulationResult) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Patient table and summary of a simulation result."""
    patients = patients_of(result)
    return patients, summarize(result.scenario, patients, result.events)
