"""Monte Carlo standard errors of a point's outputs by a paired bootstrap over virtual patients.

The arms of a comparison run the same virtual patients with common random numbers, so row i of
every arm's patient table is the same person: resampling patients (the same resample in every arm)
gives the error of each arm's estimate and, far smaller, of their difference. Kaplan-Meier
landmarks and restricted means are recomputed for hundreds of resamples at once from resample
weights, by the one Kaplan-Meier estimator (:func:`sim.outcomes.survival.km_landmark`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.outcomes.metrics import VOCABULARY
from sim.outcomes.survival import km_landmark, km_rmst


def resample_weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """How many times each patient appears in each bootstrap resample (resamples x n)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB007]))
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)


def metric_replicates(patients: pd.DataFrame, name: str, weights: np.ndarray) -> np.ndarray | None:
    """One arm's output in every resample (None for outputs not derived from the patient table)."""
    measure = VOCABULARY[name]
    if measure.kind == "rate":
        x = patients[measure.source].to_numpy(dtype=float)
        return weights @ x / weights.sum(axis=1)
    if measure.kind not in ("landmark", "rmst"):
        return None
    assert measure.months is not None  # landmarks and RMST have a horizon
    endpoint, month = measure.endpoint, float(measure.months)
    time, event = patients[f"{endpoint}_months"].to_numpy(), patients[f"{endpoint}_event"].to_numpy()
    if month > float(time.max()):
        return np.full(len(weights), math.nan)
    if measure.kind == "rmst":
        return km_rmst(time, event, weights, month)
    return km_landmark(time, event, weights, month)


def standard_error(replicates: np.ndarray | None) -> float:
    if replicates is None:
        return math.nan
    ok = replicates[np.isfinite(replicates)]
    return float(ok.std(ddof=1)) if len(ok) > 1 else math.nan
