"""Kaplan-Meier summaries (lifelines) at landmark months, with 95% confidence intervals.

lifelines builds its pointwise intervals on the log(-log S) scale; calibration compares against
published intervals on their own scale (see MODELLING.md), not these.
"""

from __future__ import annotations

import math

import numpy as np
from lifelines import KaplanMeierFitter

LANDMARKS_MONTHS = (12, 24, 36)


def _value_at(series_index: np.ndarray, values: np.ndarray, t: float) -> float:
    pos = np.searchsorted(series_index, t, side="right") - 1
    return float(values[max(pos, 0)])


def km_summary(durations, events, landmarks=LANDMARKS_MONTHS) -> dict:
    """{"12": S(12), ..., "median": months or None, "ci95": {"12": [lo, hi], ...}}."""
    durations = np.asarray(durations, dtype=float)
    events = np.asarray(events, dtype=int)
    if len(durations) == 0:
        return {}
    kmf = KaplanMeierFitter().fit(durations, events)
    timeline = kmf.survival_function_.index.to_numpy()
    surv = kmf.survival_function_.iloc[:, 0].to_numpy()
    ci = kmf.confidence_interval_survival_function_
    lo, hi = ci.iloc[:, 0].to_numpy(), ci.iloc[:, 1].to_numpy()
    out: dict = {}
    ci95: dict = {}
    for t in landmarks:
        key = str(t)
        if t > durations.max():
            out[key] = None
            ci95[key] = None
            continue
        out[key] = round(_value_at(timeline, surv, t), 6)
        ci95[key] = [round(_value_at(timeline, lo, t), 6), round(_value_at(timeline, hi, t), 6)]
    median = kmf.median_survival_time_
    out["median"] = None if not math.isfinite(median) else round(float(median), 4)
    out["ci95"] = ci95
    return out
