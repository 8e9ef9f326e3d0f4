"""Validation figures that are not fit targets: the emergent prognostic effect of a baseline
factor on progression-free survival, estimated the way the paper did (a Cox model).

Li 2021 found one factor linked to PFS: more than 5 liver metastases (univariable HR 1.25,
multivariable 1.18; ``prognostic_factors_pfs`` in ``../shared/data/li2021_targets.yaml``). In
the model that factor acts through resectability (fewer patients get every site treated) and,
optionally, a covariate on the progression hazard; the HR that emerges from both is what should
match the published one, so it is measured on simulated patients, not read from a parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: the published PFS hazard ratios of > 5 vs <= 5 liver metastases (Li 2021, Cox)
PUBLISHED_LIVER_GT5_PFS_HR = {"univariable": 1.25, "multivariable": 1.18}


@dataclass(frozen=True)
class HazardRatio:
    """A Cox estimate: HR with its 95% interval (Monte Carlo error of the simulated cohort) and
    the patients and events it rests on."""

    hazard_ratio: float
    ci95: tuple[float, float]
    patients: int
    events: int


def pfs_hazard_ratio(patients: pd.DataFrame, exposed: np.ndarray, among: np.ndarray) -> HazardRatio:
    """Univariable Cox PFS hazard ratio of ``exposed`` vs not, among the ``among`` patients."""
    from lifelines import CoxPHFitter  # heavy; only this validation needs it

    rows = patients[among]
    frame = pd.DataFrame({
        "t": rows["pfs_months"].to_numpy(float),
        "e": rows["pfs_event"].to_numpy(int),
        "x": exposed[among].astype(float),
    })
    events = int(frame["e"].sum())
    if events == 0 or frame["x"].nunique() < 2:
        return HazardRatio(math.nan, (math.nan, math.nan), len(frame), events)
    cph = CoxPHFitter().fit(frame, duration_col="t", event_col="e")
    beta, se = float(cph.params_["x"]), float(cph.standard_errors_["x"])
    return HazardRatio(math.exp(beta), (math.exp(beta - 1.96 * se), math.exp(beta + 1.96 * se)),
                       len(frame), events)


def liver_gt5_pfs_hazard_ratio(patients: pd.DataFrame) -> HazardRatio:
    """PFS HR of > 5 vs <= 5 liver metastases among patients with liver metastases."""
    liver = patients["metastatic_site"].isin(("liver_only", "liver_and_lung")).to_numpy()
    gt5 = (patients["n_liver_metastases"] > 5).to_numpy()
    return pfs_hazard_ratio(patients, gt5, liver)
