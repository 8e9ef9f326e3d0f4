"""Organ treatment rates (per organ, among patients with that organ's metastases) on a hand-made
table, and the Cox PFS hazard ratio of > 5 liver metastases on a cohort with a known one."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.calibrate.prognostic import liver_gt5_pfs_hazard_ratio
from sim.calibrate.statistics import statistics_from_patients
from sim.scenario.parameters import TOXICITY_TYPES


def _table() -> pd.DataFrame:
    """Six patients: liver_only (treated, untreated), lung_only (treated, untreated, untreated),
    liver_and_lung (liver treated, lung not)."""
    t = pd.DataFrame({
        "metastatic_site": ["liver_only", "liver_only", "lung_only", "lung_only", "lung_only",
                            "liver_and_lung"],
        "liver_treated": [True, False, False, False, False, True],
        "lung_treated": [False, False, True, False, False, False],
        "completed": False, "pathway": "palliative", "first_response": "SD",
        "os_months": 12.0, "os_event": 0,
    })
    t["pfs_months"], t["pfs_event"] = t["os_months"], t["os_event"]
    for column in ("grade34_toxicity", "rectal_surgery", "surgical_complication",
                   "metastasis_treatment", "watch_and_wait", "ypcr",
                   *(f"grade34_{k}" for k in TOXICITY_TYPES)):
        t[column] = False
    return t


def test_organ_treatment_rates_have_their_organs_denominators():
    s = statistics_from_patients(_table())
    # liver: 2 of the 3 patients with liver metastases (2 liver_only + 1 liver_and_lung)
    assert s.values["liver_treatment_rate"] == pytest.approx(2 / 3)
    assert s.denominators["liver_treatment_rate"] == 3
    # lung: 1 of 4 (3 lung_only + 1 liver_and_lung)
    assert s.values["lung_treatment_rate"] == pytest.approx(1 / 4)
    assert s.denominators["lung_treatment_rate"] == 4


def test_liver_gt5_hazard_ratio_recovers_a_known_one():
    rng = np.random.default_rng(3)
    n, hr = 6000, 1.5
    n_liver = rng.choice([2, 8], size=n, p=[0.75, 0.25])
    rate = np.where(n_liver > 5, hr, 1.0) / 20.0
    t = rng.exponential(1 / rate)
    table = pd.DataFrame({
        "metastatic_site": np.where(np.arange(n) % 5 == 0, "lung_only", "liver_only"),
        "n_liver_metastases": n_liver,
        "pfs_months": np.minimum(t, 36.0), "pfs_event": (t < 36.0).astype(int),
    })
    # lung-only patients are left out whatever their (fake) liver count says
    table.loc[table["metastatic_site"] == "lung_only", "pfs_months"] = 0.5
    est = liver_gt5_pfs_hazard_ratio(table)
    assert est.patients == int((table["metastatic_site"] == "liver_only").sum())
    # SE of log HR ~ sqrt(1/d1 + 1/d0): with ~4800 patients and ~3900 events about 0.037
    assert abs(math.log(est.hazard_ratio) - math.log(hr)) < 3 * 0.04
    assert est.ci95[0] < est.hazard_ratio < est.ci95[1]
