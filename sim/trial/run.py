"""``crcsim virtual-trial``: the study re-run on virtual patients, replicate after replicate,
each analysed as the paper did; where each published figure falls among them.

The spread of the replicates is **a virtual study's sampling distribution**: what studies of the
published size, calendar and follow-up would report if the model were true. With
``parameter_uncertainty`` each replicate also draws its parameters (calibration posterior sets,
uncertain strategy effects), so the spread adds parameter uncertainty: a predictive
distribution. The published figure's percentile among the replicates carries Monte Carlo error
of its own (binomial, over the replicates), given beside it.

Layout of the results directory (written into a hidden sibling and renamed into place at the
end, so an interrupted run leaves nothing half-written):

| path | content |
|---|---|
| ``trial.json`` | the design, and per published figure its simulated distribution and percentile |
| ``replicates.parquet`` | one row per replicate and statistic |
| ``trial.html`` | the dashboard: each figure's distribution with the published value |
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim.compare.paired import draw_overrides, replication_seeds
from sim.errors import InputError
from sim.execution.executor import Executor
from sim.io.atomic import swap_into_place
from sim.io.results import check_output_dir, git_commit, json_safe
from sim.trial.analysis import censored, potential_follow_up, statistic_value, target_values
from sim.trial.spec import Trial, load_trial


@lru_cache(maxsize=4)
def _trial(path: str) -> Trial:
    return load_trial(path)


def run_replicate(task: dict) -> dict[str, float]:
    """One virtual study (a worker's task): every arm on a seed of its own drawn from the
    replicate's, censored by the study's calendar; every statistic."""
    from sim.execution.runner import run_scenario
    from sim.outcomes.summary import patients_of
    from sim.scenario.loader import load_scenario

    trial = _trial(task["design"])
    design = trial.design
    loss = design.loss_to_follow_up.per_year if design.loss_to_follow_up else 0.0
    raw: dict[str, tuple[pd.DataFrame, np.ndarray, np.ndarray]] = {}
    for k, arm in enumerate(design.arms):
        # each arm its own patients, as randomisation gives them (not common random numbers)
        seed = int(np.random.SeedSequence([task["seed"], k]).generate_state(1)[0])
        overrides = {**design.overrides(arm, seed), **task["overrides"][k]}
        patients = patients_of(run_scenario(load_scenario(trial.scenario_paths[arm], overrides)))
        rng = np.random.default_rng(np.random.SeedSequence([design.seed, task["replicate"], 1, k]))
        to_cutoff, to_loss = potential_follow_up(len(patients), design.follow_up_months(), loss, rng)
        raw[arm] = (patients, to_cutoff, to_loss)

    def at(earlier: float) -> dict[str, pd.DataFrame]:
        """The arms as seen at a cut-off ``earlier`` months before the design's."""
        return {arm: censored(p, np.minimum(c - earlier, lost)) for arm, (p, c, lost) in raw.items()}

    tables = at(0.0)
    values: dict[str, float] = {}
    for arm, targets in trial.targets.items():
        values.update(target_values(targets, tables[arm], trial.prefix(arm)))
    for s in trial.statistics:
        earlier = design.earlier_by_months(s.data_cutoff)
        values[s.name] = statistic_value(s, tables if earlier == 0 else at(earlier))
    return values


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def placement(published: float, values: np.ndarray) -> dict:
    """Where a published figure falls among the replicates: its mid-rank percentile (ties
    count half), whether it is inside their central 95%, and the percentile's Monte Carlo
    standard error over this many replicates. A median a study never reached is above every
    reached one (infinite), not dropped; only a figure a study could not compute (NaN) is left
    out, and ``not_reached`` counts the first kind."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return {"replicates_with_value": 0, "not_reached": 0, "median": None, "mean": None,
                "central95": [None, None], "percentile": None, "percentile_mc_se": None,
                "inside_central95": None}
    below = float((values < published).sum() + 0.5 * (values == published).sum())
    p = below / len(values)
    clipped = min(max(p, 0.5 / len(values)), 1 - 0.5 / len(values))  # 0 or 1 still has an error
    low, high = np.quantile(values, [0.025, 0.975], method="inverted_cdf")
    reached = values[np.isfinite(values)]
    return {"replicates_with_value": int(len(values)), "not_reached": int(np.isinf(values).sum()),
            "median": _finite(float(np.quantile(values, 0.5, method="inverted_cdf"))),
            "mean": float(reached.mean()) if len(reached) == len(values) else None,
            "central95": [_finite(low), _finite(high)],
            "percentile": 100 * p, "percentile_mc_se": 100 * math.sqrt(clipped * (1 - clipped) / len(values)),
            "inside_central95": bool(low <= published <= high)}


def run_trial(path: Path, out_dir: Path | None, replicates: int | None, parameter_uncertainty: bool,
              workers: int, backend: str = "processes", scheduler: str | None = None,
              force: bool = False, tick: Callable[[], None] | None = None) -> tuple[dict, Path]:
    trial = load_trial(path)
    design = trial.design
    n = replicates if replicates is not None else design.replicates
    if n < 20:
        raise InputError("--replicates", None, f"expected at least 20 replicates, got {n}")
    target = out_dir if out_dir is not None else Path("results") / f"trial-{design.name}"
    check_output_dir(target, force)
    _check_columns(trial)
    seeds = replication_seeds(design.seed, n)
    scenarios = _scenarios(trial)
    tasks = []
    for r, seed in enumerate(seeds):
        overrides = (draw_overrides(scenarios, r, design.seed) if parameter_uncertainty
                     else [{} for _ in scenarios])
        tasks.append((str(r), {"design": str(path.resolve()), "replicate": r, "seed": seed,
                               "overrides": overrides}))
    started = time.perf_counter()
    rows: list[dict] = []
    failed: dict[int, str] = {}
    with Executor(backend, workers, scheduler) as executor:
        for outcome in executor.map_unordered(run_replicate, tasks):
            if outcome.error is not None:
                failed[int(outcome.key)] = outcome.error
            else:
                rows.extend({"replicate": int(outcome.key), "statistic": k, "value": v}
                            for k, v in outcome.value.items())
            if tick is not None:
                tick()
    if len(failed) == n:
        raise InputError(str(path), None, "expected virtual studies that run; every one failed, "
                         f"the first with {next(iter(failed.values()))}")
    table = pd.DataFrame(rows, columns=["replicate", "statistic", "value"]).sort_values(
        ["replicate", "statistic"], ignore_index=True)
    figures = []
    for fig in trial.figures():
        values = table.loc[table["statistic"] == fig["statistic"], "value"].to_numpy(float)
        figures.append({**fig, **placement(fig["published"], values)})
    shortest, longest = design.follow_up_months()
    result = {
        "name": design.name, "design_file": str(path.resolve()), "source": design.source,
        "replicates": n, "failed_replicates": len(failed), "seed": design.seed,
        "arms": {a: {"scenario": str(trial.scenario_paths[a].resolve()), "patients": s.patients}
                 for a, s in design.arms.items()},
        "potential_follow_up_months": [shortest, longest],
        "loss_to_follow_up_per_year": design.loss_to_follow_up.per_year if design.loss_to_follow_up else 0.0,
        "parameter_uncertainty": parameter_uncertainty,
        "interval": ("central 95% of the replicates: a study's predictive distribution (sampling "
                     "error at the published size, calendar and follow-up, plus parameter "
                     "uncertainty)" if parameter_uncertainty else
                     "central 95% of the replicates: the sampling distribution of a study of the "
                     "published size, calendar and follow-up, at the scenarios' parameter values"),
        "figures": figures,
        "inside_central95": sum(f["inside_central95"] is True for f in figures),
        "failed_replicate_errors": sorted(set(failed.values()))[:5],
        "crcsim_git_commit": git_commit(), "wall_time_s": round(time.perf_counter() - started, 3),
    }
    _write(target, result, table)
    return result, target


def _scenarios(trial: Trial) -> list:
    from sim.scenario.loader import load_scenario

    return [load_scenario(trial.scenario_paths[a]) for a in trial.design.arms]


def _check_columns(trial: Trial) -> None:
    """Every named column exists in the patient table and is true/false: a two-patient run of
    each arm shows the table before hundreds of replicates are run."""
    from sim.execution.runner import run_scenario
    from sim.outcomes.summary import patients_of
    from sim.scenario.loader import load_scenario

    for arm in trial.design.arms:
        table = patients_of(run_scenario(load_scenario(trial.scenario_paths[arm], {"run.patients": 2})))
        flags = {c for c in table.columns if table[c].dtype == bool}
        for i, s in enumerate(trial.statistics):
            for key, column in (("column", s.column), ("group", s.group)):
                if column is None or arm not in (s.arm, s.versus):
                    continue
                name = column[4:] if column.startswith("not_") and column not in table else column
                if name not in flags:
                    raise InputError(str(trial.path), f"statistics[{i}].{key}",
                                     f"expected a true/false column of the patient table "
                                     f"({', '.join(sorted(flags))}), got {column!r}")


def _write(target: Path, result: dict, table: pd.DataFrame) -> None:
    from sim.report.dashboard.trial_page import render_trial

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        (tmp / "trial.json").write_text(json.dumps(json_safe(result), indent=2, allow_nan=False) + "\n",
                                        encoding="utf-8")
        table.to_parquet(tmp / "replicates.parquet", index=False)
        (tmp / "trial.html").write_text(render_trial(result, table), encoding="utf-8")
        swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
