"""The run summary (``summary.json``): rates, pathway split, survival and resource use.

Pure functions of the patient table, the event log and the scenario. Fractions are in 0-1 and
times in months, except resource waits (days).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.model import events as ev
from sim.outcomes.patients import PATHWAYS
from sim.outcomes.survival import km_summary
from sim.scenario.parameters import TOXICITY_TYPES

#: the patient-table columns the summary reads
SUMMARY_COLUMNS = (
    "completed", "pathway", "grade34_toxicity", *(f"grade34_{t}" for t in TOXICITY_TYPES),
    "grade34_toxicity_any_phase", "surgical_complication", "rectal_surgery", "metastasis_treatment",
    "ypcr", "watch_and_wait", "first_response", "chemo_cycles", "os_months", "os_event",
    "pfs_months", "pfs_event",
)


def _rate(x: pd.Series) -> float:
    return round(float(x.mean()), 6) if len(x) else 0.0


def _survival_block(patients: pd.DataFrame) -> dict:
    return {
        "n": int(len(patients)),
        "os": km_summary(patients["os_months"], patients["os_event"]),
        "pfs": km_summary(patients["pfs_months"], patients["pfs_event"]),
    }


def _open_slots(weekdays: list[int], slots: int, first: np.ndarray, last: np.ndarray) -> int:
    """Slots open on days first..last (inclusive), summed over centres."""
    total = 0
    for w in weekdays:
        total += int(np.sum((last - w) // 7 - (first - 1 - w) // 7))
    return total * slots


@dataclass(frozen=True)
class ResourceUse:
    """What the summary needs of one resource's use, reduced per centre so that blocks of whole
    centres combine exactly: each centre's first and last day of use, slots used, the waits."""

    spans: pd.DataFrame  # index centre; columns min, max (days)
    used: int
    waits: np.ndarray


def _use(patient_ids: np.ndarray, days: np.ndarray, waits: np.ndarray,
         population: pd.DataFrame) -> ResourceUse:
    ids = population["patient_id"].to_numpy()
    order = np.argsort(ids, kind="stable")
    pos = order[np.searchsorted(ids[order], patient_ids)]
    centre = population["centre"].to_numpy()[pos]
    day = np.floor(days).astype(np.int64)
    spans = pd.DataFrame({"centre": centre, "day": day}).groupby("centre")["day"].agg(["min", "max"])
    return ResourceUse(spans, len(day), np.asarray(waits, dtype=np.float64))


def slot_records(events: pd.DataFrame) -> dict[str, tuple[np.ndarray, ...]]:
    """Per resource: the patient and day of every slot used (linac fractions, theatre sessions,
    MDT cases), and every wait in days with its patient (a linac wait is a course's booking)."""
    event = events["event"]
    pid, day, value = (events[c].to_numpy() for c in ("patient_id", "day", "value"))
    fractions = (event == ev.RT_FRACTION).to_numpy()
    booked = (event == ev.RT_BOOKED).to_numpy()
    procedure = (event == ev.PROCEDURE).to_numpy()
    names = events["detail"].cat.categories
    off_theatre = [i for i, n in enumerate(names) if n == "reoperation" or str(n).endswith("_sbrt")]
    in_theatre = procedure & ~np.isin(events["detail"].cat.codes.to_numpy(), off_theatre)
    # one theatre session per patient and day, however many procedures it held
    ops = pd.DataFrame({"p": pid[in_theatre], "d": day[in_theatre], "w": value[in_theatre]})
    ops = ops.drop_duplicates(["p", "d"])
    mdt = (event == ev.MDT).to_numpy()
    return {
        "linac": (pid[fractions], day[fractions], value[booked], pid[booked]),
        "theatre": (ops["p"].to_numpy(), ops["d"].to_numpy(), ops["w"].to_numpy(), ops["p"].to_numpy()),
        "mdt": (pid[mdt], day[mdt], value[mdt], pid[mdt]),
    }


def resource_records(events: pd.DataFrame, population: pd.DataFrame,
                     slots: dict[str, tuple[np.ndarray, ...]] | None = None) -> dict[str, ResourceUse]:
    """Use and waits of the linac (fractions), theatre (operation sessions) and MDT (cases);
    ``slots``: the log's :func:`slot_records`, when the caller has them already."""
    slots = slot_records(events) if slots is None else slots
    return {name: _use(ids, days, waits, population) for name, (ids, days, waits, _) in slots.items()}


def combine_records(parts: list[dict[str, ResourceUse]]) -> dict[str, ResourceUse]:
    """The records of consecutive blocks of whole centres as those of the whole run."""
    return {
        name: ResourceUse(
            pd.concat([p[name].spans for p in parts]),
            sum(p[name].used for p in parts),
            np.concatenate([p[name].waits for p in parts]),
        )
        for name in parts[0]
    }


def _resource(calendar, use: ResourceUse) -> dict:
    """Utilisation = slots used / slots open between each centre's first and last use."""
    if use.used == 0:
        return {"utilisation": 0.0, "mean_wait_days": 0.0, "p90_wait_days": 0.0, "slots_used": 0}
    offered = _open_slots(calendar.weekdays, calendar.slots_per_day,
                          use.spans["min"].to_numpy(), use.spans["max"].to_numpy())
    waits = use.waits
    return {
        "utilisation": round(use.used / offered, 6) if offered else 0.0,
        "mean_wait_days": round(float(np.mean(waits)), 4) if len(waits) else 0.0,
        "p90_wait_days": round(float(np.quantile(waits, 0.9)), 4) if len(waits) else 0.0,
        "slots_used": int(use.used),
    }


def resource_summary(records: dict[str, ResourceUse], resources) -> dict:
    return {name: _resource(getattr(resources, name), use) for name, use in records.items()}


def resource_use(events: pd.DataFrame, population: pd.DataFrame, resources) -> dict:
    """Use and waits of the linac (fractions), theatre (operation sessions) and MDT (cases)."""
    return resource_summary(resource_records(events, population), resources)


def summarize(scenario, patients: pd.DataFrame, events: pd.DataFrame) -> dict:
    return summary_of(scenario, patients, resource_use(events, patients, scenario.resources))


def summary_of(scenario, patients: pd.DataFrame, resources: dict) -> dict:
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


def patients_of(result) -> pd.DataFrame:
    """The patient table of a simulation result."""
    return patient_table_of(result.scenario, result.population, result.events)


def patient_table_of(scenario, population: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The patient table of a population and its event log, as the scenario defines completion."""
    from sim.outcomes.patients import patient_table

    return patient_table(
        events,
        population,
        scenario.strategy.completion,
        tuple(scenario.parameters.local_treatment.rectal_complications),
        tuple(k for k, c in scenario.parameters.radiotherapy.courses.items() if c.target == "pelvis"),
    )


def analyse(result) -> tuple[pd.DataFrame, dict]:
    """Patient table and summary of a simulation result."""
    patients = patients_of(result)
    return patients, summarize(result.scenario, patients, result.events)
