"""Kaplan-Meier summaries at landmark months, with 95% confidence intervals.

The estimator and its pointwise intervals (exponential Greenwood, on the log(-log S) scale) are
computed here with numpy, operation for operation as lifelines' ``KaplanMeierFitter`` computes
them (the tests hold the two equal), because a summary fits about twenty curves and lifelines'
pandas machinery cost more than the rest of the analysis. Calibration compares against published
intervals on their own scale (see MODELLING.md), not these.
"""

from __future__ import annotations

import math

import numpy as np

LANDMARKS_MONTHS = (12, 24, 36)
#: two-sided 95% normal quantile, ``scipy.stats.norm.ppf(0.975)`` as lifelines computes it
#: (written out: importing scipy.stats costs half a second in every process)
Z95 = 1.959963984540054


def kaplan_meier(durations: np.ndarray, events: np.ndarray):
    """Timeline, S(t), and the lower and upper 95% bounds, at every distinct time and at the
    start (time 0, or the earliest duration if negative)."""
    start = min(0.0, float(durations.min()))
    timeline, where = np.unique(np.concatenate((durations, [start])), return_inverse=True)
    where = where[:-1]
    removed = np.bincount(where, minlength=len(timeline))
    deaths = np.bincount(where, weights=events, minlength=len(timeline)).astype(np.int64)
    removed_before = np.concatenate(([0], np.cumsum(removed)[:-1]))
    population = len(durations) - removed_before  # everyone enters at the start
    with np.errstate(divide="ignore", invalid="ignore"):
        log_surv = np.cumsum(np.log(population - deaths) - np.log(population))
        pop = population.astype(np.uint64)
        var = deaths / (pop * (pop - deaths))
        var[np.isinf(var)] = 0.0
        var = np.cumsum(var)
        surv = np.exp(log_surv)
        v = np.log(surv)
        spread = Z95 * np.sqrt(var) / v
        lower = np.exp(-np.exp(np.log(-v) - spread))
        upper = np.exp(-np.exp(np.log(-v) + spread))
    lower[np.isnan(lower)] = 1.0
    upper[np.isnan(upper)] = 1.0
    return timeline, surv, lower, upper


def _median(timeline: np.ndarray, surv: np.ndarray) -> float:
    if surv[-1] > 0.5:
        return math.inf
    return float(timeline[np.searchsorted(-surv, -0.5)])


def _value_at(series_index: np.ndarray, values: np.ndarray, t: float) -> float:
    pos = np.searchsorted(series_index, t, side="right") - 1
    return float(values[max(pos, 0)])


def km_summary(durations, events, landmarks=LANDMARKS_MONTHS) -> dict:
    """{"12": S(12), ..., "median": months or None, "ci95": {"12": [lo, hi], ...}}."""
    durations = np.asarray(durations, dtype=float)
    events = np.asarray(events, dtype=int)
    if len(durations) == 0:
        return {}
    timeline, surv, lo, hi = kaplan_meier(durations, events)
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
    median = _median(timeline, surv)
    out["median"] = None if not math.isfinite(median) else round(float(median), 4)
    out["ci95"] = ci95
    return out
