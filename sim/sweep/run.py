"""Run a sweep: expand its points, evaluate them on the execution layer, store each as it finishes,
and summarise (a tornado for one-way sweeps)."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from scipy.integrate import IntegrationWarning

from sim.comparison import RATE_COLUMNS, arm_metrics
from sim.execution import run_tasks
from sim.sweep.spec import Sweep, load_sweep
from sim.sweep.store import Store, point_key


def metric_se(patients: pd.DataFrame, name: str) -> float:
    """Monte Carlo standard error of an output at this cohort size (binomial for rates,
    Greenwood for landmarks, lifelines' variance for RMST)."""
    n = len(patients)
    if name in RATE_COLUMNS:
        p = float(patients[RATE_COLUMNS[name]].mean())
        return math.sqrt(p * (1 - p) / n) if n else math.nan
    rmst = name.startswith("rmst_")
    endpoint, month = name.removeprefix("rmst_").split("_")
    kmf = KaplanMeierFitter().fit(patients[f"{endpoint}_months"], patients[f"{endpoint}_event"])
    if rmst:
        # lifelines gives the variance of the restricted survival time itself: the mean's is /n
        with warnings.catch_warnings():
            # quadrature over a step function: scipy warns of subdivisions, the value is fine
            warnings.simplefilter("ignore", IntegrationWarning)
            _, var = restricted_mean_survival_time(kmf, t=float(month), return_variance=True)
        return math.sqrt(var / n)
    ci = kmf.confidence_interval_survival_function_
    t = float(month)
    idx = np.searchsorted(ci.index.to_numpy(), t, side="right") - 1
    low, high = ci.iloc[max(idx, 0), 0], ci.iloc[max(idx, 0), 1]
    return float(high - low) / (2 * 1.959964)


def evaluate_point(task: dict) -> dict:
    """Run one point (in a worker): the scenario with the point's overrides; its outputs and their
    Monte Carlo standard errors."""
    from sim.runner import run_scenario
    from sim.scenario import load_scenario
    from sim.summary import patients_of

    overrides = {**task["overrides"], "run.patients": task["patients"], "run.seed": task["seed"]}
    scenario = load_scenario(task["scenario"], overrides)
    patients = patients_of(run_scenario(scenario))
    metrics = arm_metrics(patients)
    outputs = {k: metrics[k] for k in task["outputs"]}
    return {"outputs": outputs, "mc_se": {k: metric_se(patients, k) for k in task["outputs"]}}


def _fingerprint(sweep: Sweep) -> str:
    """The resolved scenario and the model's code, as the calibration cache keys them: a point
    stored before either changed is not taken on --resume."""
    from sim.calibrate.evaluate import model_fingerprint
    from sim.scenario import load_raw

    raw, _ = load_raw(sweep.scenario_path)
    return model_fingerprint(raw, "")


def run_sweep(path: str | Path, out_dir: Path, backend: str = "processes", workers: int | None = None,
              scheduler: str | None = None, resume: bool = False,
              progress: Callable[[int, int], None] | None = None) -> dict:
    sweep = load_sweep(path)  # every check before anything runs
    out_dir = Path(out_dir)
    db = out_dir / "points.sqlite"
    if db.exists() and not resume:
        from sim.errors import InputError

        raise InputError(str(out_dir), None, "expected a new directory, or --resume to continue it")
    store = Store(db)
    spec = sweep.spec
    fingerprint = _fingerprint(sweep)
    points = sweep.points()
    keys = [point_key(fingerprint, p, spec.patients, spec.seed) for p in points]
    done = store.finished() if resume else set()
    tasks = [(key, {"number": i, "overrides": p, "scenario": str(sweep.scenario_path),
                    "patients": spec.patients, "seed": spec.seed, "outputs": list(spec.outputs)})
             for i, (key, p) in enumerate(zip(keys, points, strict=True)) if key not in done]
    by_key = dict(tasks)
    finished = len(points) - len(tasks)
    if progress:
        progress(finished, len(points))
    try:
        for outcome in run_tasks(evaluate_point, tasks, backend, workers, scheduler):
            task = by_key[outcome.key]
            value = outcome.value or {}
            store.add(outcome.key, task["number"], task["overrides"], value.get("outputs"),
                      value.get("mc_se"), outcome.error)
            finished += 1
            if progress:
                progress(finished, len(points))
        table = store.table()
    finally:
        store.close()
    table.to_parquet(out_dir / "results.parquet", index=False)
    summary = {"name": spec.name, "points": len(points), "failed": int(table["error"].notna().sum()),
               "analysis": spec.analysis.type}
    if spec.analysis.type == "one_way":
        summary["tornado"] = tornado(sweep, table)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    return summary


def tornado(sweep: Sweep, table: pd.DataFrame) -> dict:
    """Per output and parameter: base, low and high values, the swing, and whether the swing is
    smaller than twice its Monte Carlo error (noise rather than an effect)."""
    ok = table[table["error"].isna()]
    out: dict = {}
    for output in sweep.spec.outputs:
        rows = ok[ok["output"] == output]
        base = rows[rows["point"] == 0]
        if base.empty:
            continue
        base_value = float(base["value"].iloc[0])
        bars = []
        number = 1
        for v in sweep.spec.analysis.parameters:
            values, ses = [], []
            for _ in v.levels():
                r = rows[rows["point"] == number]
                values.append(float(r["value"].iloc[0]) if len(r) else math.nan)
                ses.append(float(r["mc_se"].iloc[0]) if len(r) else math.nan)
                number += 1
            swing = float(np.nanmax(values) - np.nanmin(values))
            # common random numbers: the difference's error is far below the independent-runs bound
            # used here (sqrt of the summed variances): a conservative flag
            noise_se = math.sqrt(sum(s * s for s in (ses[0], ses[-1])))
            bars.append({"parameter": v.path, "levels": v.levels(), "values": values,
                         "swing": swing, "mc_se": noise_se, "noise": bool(swing < 2 * noise_se)})
        bars.sort(key=lambda b: -b["swing"])
        out[output] = {"base": base_value, "bars": bars}
    return out
