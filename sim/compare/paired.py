"""Paired comparison of strategies on the same virtual patients.

Every arm runs the same population with the same seed, and each patient's random streams are keyed
by patient and purpose (:mod:`sim.model.rng`), so a patient's disease luck (progression budget, response,
toxicity draws) is the same under every strategy: common random numbers. Differences between arms
then carry far less Monte Carlo noise than two independent runs would.

Replications rerun every arm on a fresh seed; the spread of the paired differences across them is
the Monte Carlo error of the comparison. With parameter uncertainty, each replication also draws
one parameter set (a calibration posterior set and a draw of every uncertain strategy effect),
the same set for every arm, so the interval covers both sources.

Everything here is a pure function of patient tables, except :func:`run_comparison`, which runs
the arms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from scipy import stats

from sim.outcomes.metrics import (
    DEPENDENCE_METRICS,
    ENDPOINTS,
    LANDMARKS,
    RMST_HORIZONS,
    VOCABULARY,
    hr_name,
    landmark_name,
    log_hr_name,
    rmst_name,
)
from sim.outcomes.survival import kaplan_meier

if TYPE_CHECKING:
    from sim.execution.runner import SimulationResult
    from sim.scenario.loader import Scenario

#: the rates compared, by the patient-table column each averages
RATE_COLUMNS = {m.name: m.source for m in VOCABULARY.values() if m.kind == "rate"}


def arm_metrics(patients: pd.DataFrame) -> dict[str, float]:
    """The outcomes compared between arms: rates, survival at landmarks and RMST, all 0-1 or
    months. A landmark past the longest follow-up is NaN rather than extrapolated."""
    out = {name: float(patients[col].mean()) for name, col in RATE_COLUMNS.items()}
    for endpoint in ENDPOINTS:
        fit = kaplan_meier(patients[f"{endpoint}_months"], patients[f"{endpoint}_event"])
        for t in LANDMARKS:
            out[landmark_name(endpoint, t)] = fit.survival_at(t)
        for t in RMST_HORIZONS:
            out[rmst_name(endpoint, t)] = fit.restricted_mean(t)
    return out


def log_hazard_ratio(reference: pd.DataFrame, other: pd.DataFrame, endpoint: str) -> float:
    """log HR of ``other`` against ``reference`` (Cox proportional hazards, lifelines)."""
    frame = pd.DataFrame({
        "t": np.concatenate([reference[f"{endpoint}_months"], other[f"{endpoint}_months"]]),
        "e": np.concatenate([reference[f"{endpoint}_event"], other[f"{endpoint}_event"]]),
        "arm": np.r_[np.zeros(len(reference)), np.ones(len(other))],
    })
    if frame["e"].sum() == 0:
        return math.nan
    cph = CoxPHFitter().fit(frame, duration_col="t", event_col="e")
    return float(cph.params_["arm"])


def paired_metrics(reference: pd.DataFrame, other: pd.DataFrame) -> dict[str, float]:
    """``other`` minus ``reference`` for every arm metric, plus the log hazard ratios."""
    a, b = arm_metrics(reference), arm_metrics(other)
    out = {k: b[k] - a[k] for k in a}
    for endpoint in ENDPOINTS:
        out[log_hr_name(endpoint)] = log_hazard_ratio(reference, other, endpoint)
    return out


def interval(values, level: float = 0.95, spread: bool = False) -> dict:
    """Mean, Monte Carlo standard error and t interval of replicated estimates (NaNs dropped).

    With ``spread`` (replications that each drew a parameter set) the interval is the central
    ``level`` range of the estimates themselves: parameter uncertainty plus Monte Carlo error.
    """
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(x) == 0:
        return {"mean": None, "se": None, "ci95": None, "replications": 0}
    mean = float(x.mean())
    if len(x) < 2:
        return {"mean": mean, "se": None, "ci95": None, "replications": 1}
    se = float(x.std(ddof=1) / math.sqrt(len(x)))
    # the interval for one replication's estimate (what a study of this size would see) is
    # sd * t; the mean over replications is known to within se * t
    sd = float(x.std(ddof=1))
    q = float(stats.t.ppf(0.5 + level / 2, len(x) - 1))
    ci = ([float(v) for v in np.quantile(x, [0.5 - level / 2, 0.5 + level / 2])] if spread
          else [mean - q * se, mean + q * se])
    return {"mean": mean, "se": se, "sd": sd, "ci95": ci,
            "range95": [mean - q * sd, mean + q * sd], "replications": int(len(x))}


def replication_seeds(seed: int, replications: int) -> list[int]:
    """The first replication uses ``seed`` itself (so it matches ``crcsim run --seed``)."""
    seeds = [int(seed)]
    for r in range(1, replications):
        seeds.append(int(np.random.SeedSequence([int(seed), r]).generate_state(1)[0]))
    return seeds


def summarise(arm_names: list[str], per_arm: list[list[dict]], per_pair: dict,
              spread: bool = False) -> dict:
    """Aggregate replications: per arm metric intervals, per pair difference intervals and HRs."""
    arms = {}
    for name, reps in zip(arm_names, per_arm, strict=True):
        arms[name] = {k: interval([r[k] for r in reps], spread=spread) for k in reps[0]}
    pairs = {}
    for (i, j), reps in per_pair.items():
        block = {k: interval([r[k] for r in reps], spread=spread)
                 for k in reps[0] if VOCABULARY[k].kind != "log_hazard_ratio"}
        for endpoint in ENDPOINTS:
            lhr = interval([r[log_hr_name(endpoint)] for r in reps], spread=spread)
            block[hr_name(endpoint)] = _exp_interval(lhr)
        pairs[f"{arm_names[j]} vs {arm_names[i]}"] = {
            "reference": arm_names[i], "arm": arm_names[j], "differences": block,
        }
    return {"arms": arms, "pairs": pairs}


def _exp_interval(block: dict) -> dict:
    out = dict(block)
    if block["mean"] is not None:
        out["mean"] = math.exp(block["mean"])
        for key in ("ci95", "range95"):
            if block.get(key) is not None:
                out[key] = [math.exp(v) for v in block[key]]
        out["scale"] = "hazard ratio (mean and intervals of the log HR, exponentiated)"
    return out


@dataclass
class ArmRun:
    """One arm in one replication: what ``crcsim run`` would have produced."""

    replication: int
    scenario: Scenario
    result: SimulationResult
    patients: pd.DataFrame
    summary: dict


def _replication(task: tuple) -> tuple[list[dict], dict]:
    """One replication, every arm on its seed (in a worker): arm metrics and paired differences."""
    from sim.execution.runner import run_scenario
    from sim.outcomes.summary import patients_of

    arms, seeds = task
    tables = [patients_of(run_scenario(s.with_run(seed=seed))) for s, seed in zip(arms, seeds, strict=True)]
    pairs = {f"{i},{j}": paired_metrics(tables[i], tables[j])
             for i, j in combinations(range(len(arms)), 2)}
    return [arm_metrics(t) for t in tables], pairs


def run_comparison(
    scenarios: list,
    replications: int,
    seed: int,
    workers: int = 1,
    parameter_sets: Callable[[int], list] | None = None,
    independent: bool = False,
    on_arm: Callable[[ArmRun], None] | None = None,
    executor=None,
    on_replication: Callable[[int], None] | None = None,
) -> dict:
    """Run every arm in every replication and summarise the paired differences.

    ``parameter_sets(r)`` gives, for replication r, one scenario per arm with that replication's
    parameter draw applied (parameter uncertainty); by default the scenarios as loaded.
    ``independent`` gives each arm its own seed: only to measure what common random numbers buy.
    ``on_arm`` sees each arm run of the first replication as it finishes (the CLI writes its run
    directories from it); ``on_replication`` hears of each later replication as it finishes.
    The first replication runs here (its centres on ``workers`` processes); the others, given an
    ``executor`` (:class:`sim.execution.executor.Executor`), run on it side by side, each on its own seed,
    so the result is the same either way.
    """
    from sim.execution.runner import run_scenario
    from sim.outcomes.summary import analyse

    names = [s.name for s in scenarios]
    seeds = replication_seeds(seed, replications)
    pair_list = list(combinations(range(len(scenarios)), 2))

    def arm_seeds(seed_r: int) -> list[int]:
        return [seed_r if not independent else replication_seeds(seed_r, k + 1)[-1] + k
                for k in range(len(scenarios))]

    by_rep: dict[int, tuple[list[dict], dict]] = {}
    arms0 = parameter_sets(0) if parameter_sets is not None else scenarios
    tables = []
    for scenario, arm_seed in zip(arms0, arm_seeds(seeds[0]), strict=True):
        scenario = scenario.with_run(seed=arm_seed)
        result = run_scenario(scenario, workers=workers)
        patients, summary = analyse(result)
        tables.append(patients)
        if on_arm is not None:
            on_arm(ArmRun(0, scenario, result, patients, summary))
    by_rep[0] = ([arm_metrics(t) for t in tables],
                 {f"{i},{j}": paired_metrics(tables[i], tables[j]) for i, j in pair_list})
    tasks = [(str(r), (parameter_sets(r) if parameter_sets is not None else scenarios,
                       arm_seeds(seeds[r]))) for r in range(1, replications)]
    if executor is None:
        for key, task in tasks:
            by_rep[int(key)] = _replication(task)
            if on_replication is not None:
                on_replication(int(key))
    else:
        for outcome in executor.map_unordered(_replication, tasks):
            if outcome.error is not None:
                raise RuntimeError(f"replication {outcome.key} failed: {outcome.error}")
            by_rep[int(outcome.key)] = outcome.value
            if on_replication is not None:
                on_replication(int(outcome.key))
    per_arm = [[by_rep[r][0][k] for r in range(replications)] for k in range(len(scenarios))]
    per_pair = {(i, j): [by_rep[r][1][f"{i},{j}"] for r in range(replications)] for i, j in pair_list}
    out = summarise(names, per_arm, per_pair, spread=parameter_sets is not None)
    out["replication_seeds"] = seeds
    out["common_random_numbers"] = not independent
    out["per_replication"] = {"arms": {n: reps for n, reps in zip(names, per_arm, strict=True)},
                              "pairs": {f"{names[j]} vs {names[i]}": reps
                                        for (i, j), reps in per_pair.items()}}
    return out


# ------------------------------------------------------------------ parameter uncertainty draws


def posterior_file(scenario) -> str | None:
    """The calibration posterior that goes with a scenario's fitted overlay, if there is one."""
    from pathlib import Path

    if not scenario.calibration:
        return None
    fitted = Path(scenario.calibration)
    candidate = fitted.with_name(f"{fitted.stem}_posterior.parquet")
    return str(candidate) if candidate.is_file() else None


def assumed_effects(scenario, drawn: bool = False) -> dict[str, float]:
    """The overrides that set every strategy effect that is not 1 to 1 (with ``drawn``, also
    every effect a parameter draw would move off 1: one with an uncertainty distribution): the
    same strategy with its assumed effects removed, what the model's mechanisms alone make of
    it."""
    effects = scenario.parameters.effects
    return {f"parameters.effects.{name}.value": 1.0 for name in type(effects).model_fields
            if getattr(effects, name).value != 1.0
            or (drawn and getattr(effects, name).uncertainty is not None)}


def effect_paths(scenario) -> list[str]:
    """The strategy effects with an uncertainty distribution (``parameters.effects.*``)."""
    effects = scenario.parameters.effects
    return [f"parameters.effects.{name}" for name in type(effects).model_fields
            if getattr(effects, name).uncertainty is not None]


def draw_overrides(scenarios: list, replication: int, seed: int) -> list[dict]:
    """Per arm, the overrides of one parameter draw: calibration posterior set number
    ``replication`` (cycling), and a draw of every uncertain strategy effect. A parameter that
    several arms share gets the same value in all of them."""
    import zlib

    posterior = None
    files = sorted({f for s in scenarios if (f := posterior_file(s)) is not None})
    if files:
        posterior = pd.read_parquet(files[0])
    shared: dict[str, float] = {}
    if posterior is not None and len(posterior):
        row = posterior.iloc[replication % len(posterior)]
        shared.update({f"{c}.value": float(row[c]) for c in posterior.columns if c != "draw"})
    out = []
    for s in scenarios:
        overrides = dict(shared)
        for path in effect_paths(s):
            param = getattr(s.parameters.effects, path.rsplit(".", 1)[1])
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), replication,
                                                                 zlib.crc32(path.encode())]))
            overrides[f"{path}.value"] = float(param.uncertainty.sample(rng, param.value))
        out.append(overrides)
    return out


def dependence(draws: list[dict[str, float]], pair_reps: list[dict]) -> dict:
    """How each pair's differences move with each drawn parameter, across replications.

    Where no data exist (an immunotherapy effect in pMMR disease, say) the answer is a function of
    the assumption: per parameter, the Spearman correlation of the draw with each difference and
    the least-squares slope per unit of the parameter. Only parameters that vary are reported.
    """
    out: dict = {}
    if len(draws) < 3:
        return out
    names = sorted({k for d in draws for k in d})
    for name in names:
        x = np.array([d.get(name, np.nan) for d in draws], dtype=float)
        if not np.isfinite(x).all() or np.ptp(x) == 0:
            continue
        block = {}
        for metric in DEPENDENCE_METRICS:
            y = np.array([r.get(metric, np.nan) for r in pair_reps], dtype=float)
            ok = np.isfinite(y)
            if ok.sum() < 3 or np.ptp(y[ok]) == 0:
                continue
            rho = float(stats.spearmanr(x[ok], y[ok]).statistic)
            slope = float(np.polyfit(x[ok], y[ok], 1)[0])
            block[metric] = {"spearman_rho": rho, "slope_per_unit": slope}
        if block:
            out[name.removesuffix(".value")] = block
    return out
