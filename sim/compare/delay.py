"""What waiting does, measured rather than assumed: a cohort's surgery or adjuvant chemotherapy
is started 4 and 8 weeks later than the scenario plans, all else equal (the same virtual patients
with the same luck: common random numbers), and the overall-survival hazard ratio per 4 weeks of
delay that emerges from the model's mechanisms is estimated the way the meta-analyses did.

The published figures it is compared with (``strategy_evidence.yaml``,
``treatment_delay_and_survival``) are observational associations per 4-week delay: Hanna et al.,
BMJ 2020 (surgery 1.06-1.08) and Biagi et al., JAMA 2011 (adjuvant chemotherapy 1.14,
1.10-1.17). They validate the mechanism; nothing here is fitted to them.

Design of the virtual study:

- **Arms**: the scenario as it is (delay 0) and with the chosen start shifted by 4 and 8 weeks:
  for ``surgery`` the earliest day of the first operation (TME after long- or short-course
  radiotherapy, the first operation of a metastases-first sequence); for ``adjuvant`` the recovery
  interval between the last operation and the first adjuvant cycle. Queues for theatre and linac
  then form as they would.
- **Population analysed**: the patients who reach that step in the undelayed arm (had a first
  operation; started adjuvant chemotherapy), followed in every arm whatever then happens to them
  (intention to delay: a patient whose progression is found while waiting stays in the analysis).
- **Estimate**: a Cox model of overall survival on the pooled arms with the delay in 4-week units
  as a continuous covariate (log-linear, as Hanna 2020), standard errors clustered on the patient
  (each patient appears in every arm). Its interval is **Monte Carlo error** of the virtual cohort,
  not a trial's confidence interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from sim.execution.runner import run_scenario
from sim.model import events as ev
from sim.outcomes.summary import patients_of
from sim.outcomes.survival import kaplan_meier
from sim.scenario.loader import Scenario, load_scenario

Target = Literal["surgery", "adjuvant"]
TARGETS: tuple[Target, ...] = ("surgery", "adjuvant")
DELAYS_WEEKS = (0, 4, 8)

#: the published hazard ratios per 4 weeks of delay the emergent ones are set against
PUBLISHED: dict[Target, dict[str, Any]] = {
    "surgery": {"range": (1.06, 1.08), "source": "Hanna et al., BMJ 2020;371:m4087: surgery, "
                "high-validity studies, OS HR per 4-week delay 1.06-1.08"},
    "adjuvant": {"range": (1.10, 1.17), "estimate": 1.14,
                 "source": "Biagi et al., JAMA 2011;305:2335-42: adjuvant chemotherapy in "
                 "colorectal cancer, OS HR per 4-week delay 1.14 (1.10-1.17)"},
}


def _shift(scenario: Scenario, target: Target, days: float) -> dict[str, float]:
    """Overrides that move the target step's earliest start ``days`` later."""
    lt = scenario.parameters.local_treatment
    base = "parameters.local_treatment"
    if target == "adjuvant":
        rec = lt.recovery_before_adjuvant_days
        return {f"{base}.recovery_before_adjuvant_days.low": rec.low + days,
                f"{base}.recovery_before_adjuvant_days.high": rec.high + days}
    out = {f"{base}.metastases_first_after_mdt_days.low": lt.metastases_first_after_mdt_days.low + days,
           f"{base}.metastases_first_after_mdt_days.high": lt.metastases_first_after_mdt_days.high + days}
    for course, r in lt.tme_after_radiotherapy_days.items():
        out[f"{base}.tme_after_radiotherapy_days.{course}.low"] = r.low + days
        out[f"{base}.tme_after_radiotherapy_days.{course}.high"] = r.high + days
    return out


def _reached(events: pd.DataFrame, target: Target) -> np.ndarray:
    """Patients who reached the target step (first operation, or a first adjuvant cycle)."""
    if target == "surgery":
        rows = events["event"] == ev.PROCEDURE
    else:
        rows = (events["event"] == ev.CHEMO_CYCLE) & (events["phase"] == "adjuvant")
    return np.unique(events.loc[rows, "patient_id"].to_numpy())


@dataclass(frozen=True)
class DelayEffect:
    """The emergent effect of delaying one step, with what it rests on."""

    target: Target
    patients_analysed: int
    hazard_ratio_per_4_weeks: float
    mc_interval95: tuple[float, float]
    os_36_by_delay: dict[int, float]
    published: dict[str, Any]

    @property
    def inside_published_range(self) -> bool:
        low, high = self.published["range"]
        return bool(low <= self.hazard_ratio_per_4_weeks <= high)


def delay_effect(path: str | Path, target: Target, patients: int | None = None,
                 seed: int | None = None, parameters: dict[str, Any] | None = None) -> DelayEffect:
    """Run the scenario undelayed and with ``target`` delayed 4 and 8 weeks; estimate the OS
    hazard ratio per 4 weeks of delay among the patients who reach the step undelayed.

    ``parameters`` (dotted paths) change the scenario in every arm alike: what the emergent
    effect is across a mechanism's prior range."""
    overrides: dict[str, Any] = dict(parameters or {})
    if patients is not None:
        overrides["run.patients"] = patients
    if seed is not None:
        overrides["run.seed"] = seed
    base = load_scenario(path, overrides)
    frames, cohort = [], None
    for weeks in DELAYS_WEEKS:
        scenario = base if weeks == 0 else load_scenario(
            path, {**overrides, **_shift(base, target, 7.0 * weeks)})
        result = run_scenario(scenario)
        table = patients_of(result)
        if cohort is None:
            cohort = _reached(result.events, target)
        chosen = table[table["patient_id"].isin(cohort)]
        frames.append(pd.DataFrame({
            "patient_id": chosen["patient_id"].to_numpy(),
            "t": chosen["os_months"].to_numpy(), "e": chosen["os_event"].to_numpy(),
            "delay_4_weeks": weeks / 4.0,
        }))
    pooled = pd.concat(frames, ignore_index=True)
    cph = CoxPHFitter().fit(pooled, duration_col="t", event_col="e", cluster_col="patient_id")
    beta, se = float(cph.params_["delay_4_weeks"]), float(cph.standard_errors_["delay_4_weeks"])
    os36 = {weeks: kaplan_meier(frame["t"], frame["e"]).survival_at(36.0)
            for weeks, frame in zip(DELAYS_WEEKS, frames, strict=True)}
    return DelayEffect(
        target=target, patients_analysed=len(frames[0]),
        hazard_ratio_per_4_weeks=math.exp(beta),
        mc_interval95=(math.exp(beta - 1.96 * se), math.exp(beta + 1.96 * se)),
        os_36_by_delay=os36, published=PUBLISHED[target],
    )
