"""The statistics targets are compared with, computed from a run's patient table.

Each proportion comes with its simulated denominator (for Monte Carlo error), and each
Kaplan-Meier landmark with the Greenwood variance of log S.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sim.outcomes.metrics import LANDMARKS
from sim.outcomes.patients import PATHWAYS
from sim.outcomes.survival import kaplan_meier
from sim.scenario.parameters import TOXICITY_TYPES


@dataclass
class Statistics:
    values: dict[str, float] = field(default_factory=dict)
    denominators: dict[str, int] = field(default_factory=dict)
    #: curve -> month -> (S, var of log S)
    km: dict[str, dict[float, tuple[float, float]]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "values": self.values,
            "denominators": self.denominators,
            "km": {c: {str(m): list(v) for m, v in d.items()} for c, d in self.km.items()},
        }


def km_landmarks(durations, events, months) -> dict[float, tuple[float, float]]:
    """S(t) and the Greenwood variance of log S(t) at each month (NaN beyond follow-up)."""
    fit = kaplan_meier(durations, events)
    return {m: (fit.survival_at(m), fit.log_variance_at(m)) for m in months}


def statistics_from_patients(patients: pd.DataFrame, months: tuple[float, ...] = LANDMARKS) -> Statistics:
    n = len(patients)
    s = Statistics()

    def rate(name: str, mask: pd.Series, denominator: int | None = None) -> None:
        denom = n if denominator is None else denominator
        s.values[name] = float(mask.sum()) / denom if denom else float("nan")
        s.denominators[name] = int(denom)

    rate("completion_rate", patients["completed"])
    counts = patients["pathway"].value_counts().reindex(PATHWAYS, fill_value=0)
    for cat, k in counts.items():
        s.values[f"pathway.{cat}"] = float(k) / n
        s.denominators[f"pathway.{cat}"] = n
    rate("grade34_toxicity_rate", patients["grade34_toxicity"])
    for t in TOXICITY_TYPES:
        rate(f"grade34_toxicity_by_type.{t}", patients[f"grade34_{t}"])
    rectal = patients["rectal_surgery"]
    rate("rectal_surgery_rate", rectal)
    rate("surgical_complication_rate", patients["surgical_complication"])
    rate("metastasis_treatment_rate", patients["metastasis_treatment"])
    rate("watch_and_wait_rate", patients["watch_and_wait"])
    rate("partial_response_rate", patients["first_response"] == "PR")
    rate("ypcr_rate_of_rectal_surgery", patients["ypcr"] & rectal, int(rectal.sum()))
    s.km["os"] = km_landmarks(patients["os_months"], patients["os_event"], months)
    s.km["pfs"] = km_landmarks(patients["pfs_months"], patients["pfs_event"], months)
    return s
