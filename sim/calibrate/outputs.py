"""The fitted targets as outputs for emulation: statistics on scales where they are nearly
independent of each other and nearly Gaussian, each with its observation variance.

- a binomial proportion k of n: the empirical logit log((k + 1/2) / (n - k + 1/2)), variance
  1 / (k + 1/2) + 1 / (n - k + 1/2) (Haldane-Anscombe; finite at k = 0 or k = n);
- a multinomial: sequential (stick-breaking) binomials, category j among the patients in none of
  the categories before it (the multinomial likelihood factorises exactly into these, so they
  are independent); the last category, fixed by the others, is left out;
- Kaplan-Meier landmarks of one curve: the log of conditional survival between landmarks,
  log S(t_k) - log S(t_(k-1)), whose variance is the increment of the variance of log S (the
  published CIs are symmetric on log S), floored at a quarter of the landmark's own as
  :func:`sim.calibrate.targets.km_deviances` does.

A simulated output comes with its Monte Carlo variance, the same formulas at the simulated
denominators (Greenwood increments for the curves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.calibrate.statistics import Statistics
from sim.calibrate.targets import BinomialTarget, KmTarget, MultinomialTarget, TargetsFile

#: survival below this is read as this (a curve that reached 0 has no finite log)
S_FLOOR = 1e-3


def empirical_logit(k: float, n: float) -> tuple[float, float]:
    """Logit of k successes of n, and its variance; NaN if n is not positive."""
    if not n > 0 or math.isnan(k):
        return math.nan, math.nan
    k = min(max(k, 0.0), n)
    return math.log((k + 0.5) / (n - k + 0.5)), 1.0 / (k + 0.5) + 1.0 / (n - k + 0.5)


@dataclass(frozen=True)
class Output:
    """One emulated output: a fitted target's statistic (or one piece of it) on its scale.

    ``statistic``: the binomial statistic; a multinomial's ``<statistic>.<category>`` with
    ``before`` the categories that come first; a curve's landmark month with ``curve`` and
    ``previous`` (0 for the first landmark)."""

    name: str
    target: str
    scale: str  # "logit" or "log conditional survival"
    observed: float
    var_obs: float
    statistic: str = ""
    published_n: float = math.nan  # a logit's published denominator (NaN for a curve)
    before: tuple[str, ...] = ()
    curve: str = ""
    month: float = 0.0
    previous: float = 0.0

    def simulated(self, stats: Statistics) -> tuple[float, float]:
        """The output of a simulated run and its Monte Carlo variance (NaN where undefined)."""
        if self.curve:
            return _km_increment(stats, self.curve, self.month, self.previous)
        value = stats.values.get(self.statistic, math.nan)
        n = float(stats.denominators.get(self.statistic, 0))
        if self.before:
            done = sum(stats.values.get(b, math.nan) for b in self.before)
            n *= max(1.0 - done, 0.0)
            value = value / (1.0 - done) if done < 1 else math.nan
        return empirical_logit(value * n, n)


def _km_increment(stats: Statistics, curve: str, month: float, previous: float) -> tuple[float, float]:
    marks = stats.km.get(curve, {})
    s, var = marks.get(month, (math.nan, math.nan))
    s0, var0 = marks.get(previous, (1.0, 0.0)) if previous else (1.0, 0.0)
    if not (s == s and s0 == s0):
        return math.nan, math.nan
    inc = math.log(max(s, S_FLOOR)) - math.log(max(s0, S_FLOOR))
    return inc, max(var - var0, 0.0) if var == var and var0 == var0 else math.nan


def outputs_of(targets: TargetsFile, fitted_only: bool = True) -> list[Output]:
    """The outputs of the (fitted) targets, in the targets file's order."""
    out: list[Output] = []
    chosen = [t for t in targets.targets if t.fit or not fitted_only]
    for t in chosen:
        if isinstance(t, BinomialTarget):
            z, v = empirical_logit(t.count, t.of)
            out.append(Output(t.name, t.name, "logit", z, v, statistic=t.statistic, published_n=t.of))
        elif isinstance(t, MultinomialTarget):
            out += _sticks(t)
    km = [t for t in chosen if isinstance(t, KmTarget)]
    for key in dict.fromkeys(t.key for t in km):
        previous, var_previous, log_previous = 0.0, 0.0, 0.0
        for t in sorted((t for t in km if t.key == key), key=lambda t: t.month):
            log_s, var = math.log(t.percent / 100), t.se_log**2
            out.append(Output(t.name, t.name, "log conditional survival", log_s - log_previous,
                              max(var - var_previous, 0.25 * var), curve=key, month=float(t.month),
                              previous=previous))
            previous, var_previous, log_previous = float(t.month), var, log_s
    return out


def _sticks(t: MultinomialTarget) -> list[Output]:
    categories = list(t.counts)
    remainder = t.of - sum(t.counts.values())
    # with no remainder the last category is what the others leave: not an output of its own
    last = len(categories) if remainder else len(categories) - 1
    out, left = [], t.of
    for j in range(last):
        k = t.counts[categories[j]]
        z, v = empirical_logit(k, left)
        out.append(Output(f"{t.name}.{categories[j]}", t.name, "logit", z, v,
                          statistic=f"{t.statistic}.{categories[j]}", published_n=left,
                          before=tuple(f"{t.statistic}.{c}" for c in categories[:j])))
        left -= k
    return out


def simulated_matrix(outputs: list[Output], stats: list[Statistics]) -> tuple[np.ndarray, np.ndarray]:
    """Outputs (runs x outputs) and their Monte Carlo variances, NaN where undefined."""
    values = np.full((len(stats), len(outputs)), np.nan)
    variances = np.full_like(values, np.nan)
    for i, s in enumerate(stats):
        for j, o in enumerate(outputs):
            values[i, j], variances[i, j] = o.simulated(s)
    return values, variances


def statistics_of_record(record: dict) -> Statistics:
    """The statistics an evaluation record keeps (see :class:`sim.calibrate.evaluate.Evaluator`)."""
    km = {curve: {float(m): (math.nan if v[0] is None else float(v[0]),
                             math.nan if v[1] is None else float(v[1])) for m, v in marks.items()}
          for curve, marks in record.get("km", {}).items()}
    values = {k: (math.nan if v is None else float(v)) for k, v in record.get("values", {}).items()}
    return Statistics(values=values, denominators=dict(record.get("denominators", {})), km=km)
