"""The statistics targets are compared with, computed from a run's patient table.

Each proportion comes with its simulated denominator (for Monte Carlo error), and each
Kaplan-Meier landmark with the Greenwood variance of log S. Curves of a group of patients
(completers, non-completers) are kept under :func:`km_key`.

Partitions of the cohort (one multinomial each, :data:`PARTITIONS`):

- ``pathway``: how the patient left or finished the schedule;
- ``progression_timing``: first progression detected during treatment, after it, or none,
  counted as a cohort with the published follow-up would have seen them (see
  :func:`observed_within`);
- ``chemotherapy_duration``: months of chemotherapy of the treatment period (cycles x cycle
  length, before a relapse found in surveillance: ``treatment_chemotherapy_months``, see
  :mod:`sim.outcomes.patients`) in the published bands <= 3, 3-6 and > 6 months.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

from sim.outcomes.metrics import LANDMARKS
from sim.outcomes.patients import PATHWAYS, PROGRESSION_TIMINGS
from sim.outcomes.survival import kaplan_meier
from sim.scenario.parameters import TOXICITY_TYPES

#: the published bands of total chemotherapy duration (Li 2021 Table 2): upper bounds in months
CHEMOTHERAPY_DURATION_BANDS = {"up_to_3_months": 3.0, "3_to_6_months": 6.0, "over_6_months": np.inf}
PARTITIONS: dict[str, tuple[str, ...]] = {
    "pathway": PATHWAYS,
    "progression_timing": PROGRESSION_TIMINGS,
    "chemotherapy_duration": tuple(CHEMOTHERAPY_DURATION_BANDS),
}
#: groups of patients with Kaplan-Meier curves of their own
KmGroup = Literal["completed", "not_completed"]
KM_GROUPS: tuple[KmGroup, ...] = get_args(KmGroup)


@dataclass
class Statistics:
    values: dict[str, float] = field(default_factory=dict)
    denominators: dict[str, int] = field(default_factory=dict)
    #: curve (see :func:`km_key`) -> month -> (S, var of log S)
    km: dict[str, dict[float, tuple[float, float]]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "values": self.values,
            "denominators": self.denominators,
            "km": {c: {str(m): list(v) for m, v in d.items()} for c, d in self.km.items()},
        }


def km_key(curve: str, group: str | None = None) -> str:
    """Where :attr:`Statistics.km` keeps a curve: ``os``, or ``os.completed`` for a group's."""
    return curve if group is None else f"{curve}.{group}"


def km_landmarks(durations, events, months) -> dict[float, tuple[float, float]]:
    """S(t) and the Greenwood variance of log S(t) at each month (NaN beyond follow-up)."""
    if len(durations) == 0:
        return {m: (float("nan"), float("nan")) for m in months}
    fit = kaplan_meier(durations, events)
    return {m: (fit.survival_at(m), fit.log_variance_at(m)) for m in months}


def observed_within(months: np.ndarray, follow_up_months: tuple[float, float] | None) -> np.ndarray:
    """Per event time (months from first treatment), the probability that a cohort followed
    from first treatment to a common closing date saw it: accrual at a constant rate makes the
    potential follow-up uniform between ``follow_up_months`` (shortest, longest), so an event at
    t is seen with probability 1 up to the shortest, (longest - t) / (longest - shortest) after.
    None: every event of the simulated follow-up is seen. NaN (no event) gives 0."""
    if follow_up_months is None:
        return np.where(np.isnan(months), 0.0, 1.0)
    shortest, longest = follow_up_months
    with np.errstate(invalid="ignore"):
        if longest <= shortest:
            return np.where(months <= longest, 1.0, 0.0)
        return np.nan_to_num(np.clip((longest - months) / (longest - shortest), 0.0, 1.0), nan=0.0)


def _partition(s: Statistics, name: str, shares: dict[str, float], n: int) -> None:
    for category in PARTITIONS[name]:
        s.values[f"{name}.{category}"] = shares[category]
        s.denominators[f"{name}.{category}"] = n


def statistics_from_patients(
    patients: pd.DataFrame, months: tuple[float, ...] = LANDMARKS,
    follow_up_months: tuple[float, float] | None = None,
) -> Statistics:
    """Every statistic a target may name. ``follow_up_months``: the published cohort's shortest
    and longest potential follow-up, for counts observed at any time within it (see
    :func:`observed_within`). Statistics of columns a patient table lacks (one written by an
    older version) are left out."""
    n = len(patients)
    s = Statistics()

    def rate(name: str, mask: pd.Series, denominator: int | None = None) -> None:
        denom = n if denominator is None else denominator
        s.values[name] = float(mask.sum()) / denom if denom else float("nan")
        s.denominators[name] = int(denom)

    rate("completion_rate", patients["completed"])
    counts = patients["pathway"].value_counts().reindex(PATHWAYS, fill_value=0)
    _partition(s, "pathway", {str(cat): float(k) / n for cat, k in counts.items()}, n)
    rate("grade34_toxicity_rate", patients["grade34_toxicity"])
    for t in TOXICITY_TYPES:
        rate(f"grade34_toxicity_by_type.{t}", patients[f"grade34_{t}"])
    rectal = patients["rectal_surgery"]
    rate("rectal_surgery_rate", rectal)
    rate("surgical_complication_rate", patients["surgical_complication"])
    rate("metastasis_treatment_rate", patients["metastasis_treatment"])
    rate("watch_and_wait_rate", patients["watch_and_wait"])
    if {"liver_treated", "lung_treated"} <= set(patients.columns):
        site = patients["metastatic_site"]
        for organ, with_organ in (("liver", site.isin(("liver_only", "liver_and_lung"))),
                                  ("lung", site.isin(("lung_only", "liver_and_lung")))):
            rate(f"{organ}_treatment_rate", patients[f"{organ}_treated"] & with_organ,
                 int(with_organ.sum()))
    rate("partial_response_rate", patients["first_response"] == "PR")
    rate("ypcr_rate_of_rectal_surgery", patients["ypcr"] & rectal, int(rectal.sum()))
    if {"progression_timing", "progression_detected_months"} <= set(patients.columns) and n:
        seen = observed_within(patients["progression_detected_months"].to_numpy(float), follow_up_months)
        timing = patients["progression_timing"].to_numpy()
        shares = {w: float(seen[timing == w].sum()) / n for w in ("during_treatment", "after_treatment")}
        shares["no_progression"] = 1.0 - shares["during_treatment"] - shares["after_treatment"]
        _partition(s, "progression_timing", shares, n)
    duration = patients.get("treatment_chemotherapy_months")
    if duration is not None and n and not duration.isna().any():
        edges = list(CHEMOTHERAPY_DURATION_BANDS.values())[:-1]
        band = np.searchsorted(edges, duration.to_numpy(float), side="left")  # upper bounds inclusive
        per_band = np.bincount(band, minlength=len(CHEMOTHERAPY_DURATION_BANDS))
        _partition(s, "chemotherapy_duration",
                   {b: float(k) / n for b, k in zip(CHEMOTHERAPY_DURATION_BANDS, per_band, strict=True)}, n)
    for curve in ("os", "pfs"):
        durations, events = patients[f"{curve}_months"], patients[f"{curve}_event"]
        s.km[km_key(curve)] = km_landmarks(durations, events, months)
        completed = patients["completed"].to_numpy(bool)
        for group, mask in zip(KM_GROUPS, (completed, ~completed), strict=True):
            s.km[km_key(curve, group)] = km_landmarks(durations[mask], events[mask], months)
    return s
