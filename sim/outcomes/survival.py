"""Kaplan-Meier: the one estimator behind every survival number of crcsim.

The summary's landmarks and medians, the dashboard's curves and numbers at risk, calibration's
Greenwood variances, the comparison's landmarks and restricted means and the sweep's bootstrap
replicates all come from :func:`_product_limit` below. It is computed with numpy, operation for
operation as lifelines' Kaplan-Meier fitter computes it (the tests hold the two equal, bit for
bit), because a summary fits about twenty curves and lifelines' pandas machinery cost more than
the rest of the analysis, and a bootstrap needs hundreds of curves at once.

Pointwise 95% intervals are lifelines' (exponential Greenwood, on the log(-log S) scale).
Calibration compares against published intervals on their own scale (see MODELLING.md), not
these. Beyond the longest follow-up a curve has no value (NaN; None in the summary).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.outcomes.metrics import LANDMARKS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: two-sided 95% normal quantile, ``scipy.stats.norm.ppf(0.975)`` as lifelines computes it
#: (written out: importing scipy.stats costs half a second in every process)
Z95 = 1.959963984540054


def _product_limit(
    durations: FloatArray, events: npt.NDArray[np.bool_], weights: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The timeline (every distinct time and the start: 0, or the earliest duration if negative),
    and per row of ``weights`` (resamples x patients) the weight at risk and the weight of deaths
    at each time. Everyone enters at the start; ties put deaths and censorings at one time, as
    lifelines does. Integer weights (1 for a plain fit) add up exactly in any order."""
    start = min(0.0, float(durations.min()))
    timeline, where = np.unique(np.concatenate((durations, [start])), return_inverse=True)
    where = where[:-1]
    order = np.argsort(where, kind="stable")
    first = np.searchsorted(where[order], np.arange(len(timeline) + 1))  # each time's first row
    zero = np.zeros((len(weights), 1))
    removed = np.concatenate((zero, np.cumsum(weights[:, order], axis=1)), axis=1)
    died = np.concatenate((zero, np.cumsum(weights[:, order] * events[order], axis=1)), axis=1)
    at_risk = removed[:, -1:] - removed[:, first[:-1]]
    deaths = died[:, first[1:]] - died[:, first[:-1]]
    return timeline, at_risk, deaths


def _log_survival(at_risk: FloatArray, deaths: FloatArray) -> FloatArray:
    """log S after each time (a resample with nobody left at risk keeps its last value)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.log(at_risk - deaths) - np.log(at_risk)
    steps[at_risk == 0] = 0.0
    return np.cumsum(steps, axis=-1)


def _step_index(timeline: FloatArray, t: float) -> int:
    """Position of the last time at or before ``t``: survival is right-continuous."""
    return max(int(np.searchsorted(timeline, t, side="right")) - 1, 0)


def _restricted_mean(timeline: FloatArray, survival: FloatArray, horizon: float) -> FloatArray:
    """Area under the step curve(s) from the start to ``horizon`` (lifelines' exact KM RMST)."""
    inside = int(np.searchsorted(timeline, horizon, side="right"))
    widths = np.diff(np.concatenate((timeline[:inside], [horizon])))
    result: FloatArray = (survival[..., :inside] * widths).sum(axis=-1)
    return result


@dataclass(frozen=True)
class KaplanMeier:
    """One fitted curve: at each time of :attr:`timeline` the survival just after it, its 95%
    interval, the Greenwood variance of log S and the number entering it at risk."""

    timeline: FloatArray
    survival: FloatArray
    lower: FloatArray
    upper: FloatArray
    log_variance: FloatArray
    at_risk: IntArray
    longest: float

    def covers(self, t: float) -> bool:
        """Whether ``t`` is within the longest follow-up (the curve is defined there)."""
        return t <= self.longest

    def survival_at(self, t: float) -> float:
        """S(t); NaN beyond the longest follow-up (not extrapolated)."""
        return math.nan if not self.covers(t) else float(self.survival[_step_index(self.timeline, t)])

    def interval_at(self, t: float) -> tuple[float, float]:
        if not self.covers(t):
            return (math.nan, math.nan)
        i = _step_index(self.timeline, t)
        return (float(self.lower[i]), float(self.upper[i]))

    def log_variance_at(self, t: float) -> float:
        """Greenwood variance of log S(t) (NaN beyond the longest follow-up)."""
        return math.nan if not self.covers(t) else float(self.log_variance[_step_index(self.timeline, t)])

    def median(self) -> float:
        """First time S drops to 0.5 or below (lifelines' median); inf if it never does."""
        if self.survival[-1] > 0.5:
            return math.inf
        return float(self.timeline[np.searchsorted(-self.survival, -0.5)])

    def restricted_mean(self, horizon: float) -> float:
        """Restricted mean survival time to ``horizon`` (NaN beyond the longest follow-up)."""
        if not self.covers(horizon):
            return math.nan
        return float(_restricted_mean(self.timeline, self.survival, horizon))

    def numbers_at_risk(self, times: tuple[float, ...]) -> dict[float, int]:
        """Patients still followed (duration >= t) at each of ``times``."""
        positions = np.searchsorted(self.timeline, times, side="left")
        return {t: int(self.at_risk[i]) if i < len(self.timeline) else 0
                for t, i in zip(times, positions.tolist(), strict=True)}


def kaplan_meier(durations: npt.ArrayLike, events: npt.ArrayLike) -> KaplanMeier:
    """The Kaplan-Meier estimate of right-censored ``durations`` (``events``: 1 = event)."""
    t = np.asarray(durations, dtype=np.float64)
    e = np.asarray(events).astype(bool)
    timeline, at_risk, deaths = _product_limit(t, e, np.ones((1, len(t))))
    population, died = at_risk[0], deaths[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        var = died / (population * (population - died))
        var[np.isinf(var)] = 0.0
        var = np.cumsum(var)
        surv = np.exp(_log_survival(population, died))
        v = np.log(surv)
        spread = Z95 * np.sqrt(var) / v
        lower = np.exp(-np.exp(np.log(-v) - spread))
        upper = np.exp(-np.exp(np.log(-v) + spread))
    lower[np.isnan(lower)] = 1.0
    upper[np.isnan(upper)] = 1.0
    return KaplanMeier(timeline, surv, lower, upper, var, population.astype(np.int64), float(t.max()))


def km_summary(durations: npt.ArrayLike, events: npt.ArrayLike,
               landmarks: tuple[float, ...] = LANDMARKS) -> dict[str, object]:
    """{"12": S(12), ..., "median": months or None, "ci95": {"12": [lo, hi], ...}}; a landmark
    beyond the longest follow-up is None."""
    if len(np.asarray(durations)) == 0:
        return {}
    fit = kaplan_meier(durations, events)
    out: dict[str, object] = {}
    ci95: dict[str, list[float] | None] = {}
    for t in landmarks:
        key = str(t)
        if not fit.covers(t):
            out[key] = ci95[key] = None
            continue
        out[key] = round(fit.survival_at(t), 6)
        ci95[key] = [round(v, 6) for v in fit.interval_at(t)]
    median = fit.median()
    out["median"] = None if not math.isfinite(median) else round(median, 4)
    out["ci95"] = ci95
    return out


# ------------------------------------------------------------------ many resamples at once

def _weighted_survival(time: npt.ArrayLike, event: npt.ArrayLike,
                       weights: FloatArray) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(time, dtype=np.float64)
    timeline, at_risk, deaths = _product_limit(t, np.asarray(event).astype(bool), weights)
    return timeline, np.exp(_log_survival(at_risk, deaths))


def km_landmark(time: npt.ArrayLike, event: npt.ArrayLike, weights: FloatArray, t: float) -> FloatArray:
    """S(t) per resample, each row of ``weights`` (resamples x patients) counting how often
    each patient appears in it (bootstrap)."""
    timeline, surv = _weighted_survival(time, event, weights)
    return surv[:, _step_index(timeline, t)]


def km_rmst(time: npt.ArrayLike, event: npt.ArrayLike, weights: FloatArray, horizon: float) -> FloatArray:
    """Restricted mean survival time to ``horizon`` per resample (see :func:`km_landmark`)."""
    timeline, surv = _weighted_survival(time, event, weights)
    return _restricted_mean(timeline, surv, horizon)
