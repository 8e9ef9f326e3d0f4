"""One virtual study: its arms' patient tables censored as the study saw them, analysed as the
paper did.

Each patient enters at a date drawn uniformly over the accrual window (a constant accrual
rate) and is followed to the data cut-off, or until lost to follow-up (exponential), whichever
comes first: the study's potential follow-up ``C``. A simulated time ``T`` with event ``E`` is
then seen as ``min(T, C)`` with event ``E and T <= C``; a progression found after ``C`` was not
seen. Each arm holds patients of its own, as randomisation gives each arm its own: the spread of
a contrast between arms is then a trial's, not that of the same patients treated twice (what
``crcsim compare`` measures, on common random numbers).

Survival figures are the package's Kaplan-Meier (:mod:`sim.outcomes.survival`); hazard ratios
are lifelines' Cox model of the arm, the log-rank test lifelines'.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from sim.calibrate.statistics import statistics_from_patients
from sim.calibrate.targets import TargetsFile, published_figures
from sim.outcomes.survival import kaplan_meier
from sim.trial.spec import Statistic

#: the patient table's columns a study analysis needs besides the ones statistics name
TIMES = ("os_months", "os_event", "pfs_months", "pfs_event", "progression_detected_months")


def potential_follow_up(n: int, window: tuple[float, float], loss_per_year: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``n`` patients, months from entry (uniform over the accrual window) to the
    cut-off, and months to loss to follow-up (infinite without loss): the study follows a
    patient for the smaller of the two. Kept apart so that an earlier cut-off (an interim
    report) moves the first alone."""
    shortest, longest = window
    to_cutoff = rng.uniform(shortest, longest, n)
    to_loss = (rng.exponential(12.0 / loss_per_year, n) if loss_per_year > 0
               else np.full(n, np.inf))
    return to_cutoff, to_loss


def censored(patients: pd.DataFrame, follow_up: np.ndarray) -> pd.DataFrame:
    """The table's times as the study saw them at its cut-off: survival, progression and its
    timing. Other columns (completion, pathway, treatment received, toxicity) are as they
    ended, most of them settled within months of entry."""
    out = patients.copy()
    for curve in ("os", "pfs"):
        t = out[f"{curve}_months"].to_numpy(float)
        e = out[f"{curve}_event"].to_numpy(bool)
        out[f"{curve}_event"] = (e & (t <= follow_up)).astype(np.int8)
        out[f"{curve}_months"] = np.minimum(t, follow_up)
    if "progression_detected_months" in out:
        seen = out["progression_detected_months"].to_numpy(float)
        out["progression_detected_months"] = np.where(seen <= follow_up, seen, np.nan)
        if "progression_timing" in out:
            timing = out["progression_timing"].astype(object).where(seen <= follow_up, "no_progression")
            categories = out["progression_timing"].cat.categories
            out["progression_timing"] = pd.Categorical(timing, categories=categories)
    return out


def _subset(table: pd.DataFrame, group: str | None) -> pd.DataFrame:
    if group is None:
        return table
    negate = group.startswith("not_") and group not in table
    column = group[4:] if negate else group
    mask = table[column].to_numpy(bool)
    return table[~mask if negate else mask]


def _cox_and_logrank(a: pd.DataFrame, b: pd.DataFrame, endpoint: str) -> tuple[float, float]:
    """Hazard ratio of arm ``a`` against ``b`` (Cox model of the arm alone) and the log-rank P."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError
    from lifelines.statistics import logrank_test

    t = np.concatenate([a[f"{endpoint}_months"], b[f"{endpoint}_months"]])
    e = np.concatenate([a[f"{endpoint}_event"], b[f"{endpoint}_event"]]).astype(int)
    x = np.concatenate([np.ones(len(a)), np.zeros(len(b))])
    # an empty arm or group, or no event in one: no hazard ratio (not a failed study)
    if len(a) == 0 or len(b) == 0 or e[x == 1].sum() == 0 or e[x == 0].sum() == 0:
        return math.nan, math.nan
    frame = pd.DataFrame({"t": t, "e": e, "arm": x})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            hr = float(np.exp(CoxPHFitter().fit(frame, "t", "e").params_["arm"]))
        except ConvergenceError:
            hr = math.nan
        p = logrank_test(t[x == 1], t[x == 0], e[x == 1], e[x == 0]).p_value
    return hr, float(p)


def statistic_value(s: Statistic, tables: dict[str, pd.DataFrame]) -> float:
    """One explicit statistic of one study (``tables``: the arms censored at the statistic's
    cut-off). ``column`` and ``group`` may be ``not_<column>``."""
    assert s.arm is not None  # set by the design's loader
    table = _subset(tables[s.arm], s.group)
    if s.kind == "proportion":
        assert s.column is not None
        return len(_subset(table, s.column)) / len(table) if len(table) else math.nan
    assert s.endpoint is not None
    if s.kind in ("hazard_ratio", "logrank_p"):
        assert s.versus is not None
        hr, p = _cox_and_logrank(table, _subset(tables[s.versus], s.group), s.endpoint)
        return hr if s.kind == "hazard_ratio" else p
    if not len(table):
        return math.nan
    fit = kaplan_meier(table[f"{s.endpoint}_months"].to_numpy(float),
                       table[f"{s.endpoint}_event"].to_numpy(bool))
    if s.kind == "median":
        return fit.median()
    assert s.month is not None
    return fit.survival_at(s.month)


def target_values(targets: TargetsFile, table: pd.DataFrame, prefix: str) -> dict[str, float]:
    """Every figure of a targets file, as calibration computes it, on the study's data (the
    study's own censoring replaces the file's follow-up window)."""
    stats = statistics_from_patients(table, targets.km_months, None)
    return {prefix + f.name: f.simulated(stats) for f in published_figures(targets)}
