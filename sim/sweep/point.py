"""One sweep point, evaluated in a worker: every arm run with the point's overrides on the same
seed (common random numbers), its outputs, their differences from the reference arm, and the
Monte Carlo standard error of each from a paired bootstrap over the virtual patients."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from sim.compare.paired import arm_metrics
from sim.outcomes.metrics import VOCABULARY, Metric
from sim.sweep.mc_error import metric_replicates, resample_weights, standard_error


@lru_cache(maxsize=16)
def _raw(path: str, fingerprint: str) -> tuple[dict, dict]:
    """The merged raw scenario, read once per worker (a point copies it before overriding), and
    checked against the fingerprint the sweep was planned with: a worker on another machine, or
    one that outlived an edit of the files, must not run another model under this point's key."""
    from sim.calibrate.evaluate import model_fingerprint
    from sim.scenario.loader import load_raw

    raw, origins = load_raw(path)
    if model_fingerprint(raw, "") != fingerprint:
        raise RuntimeError(f"this worker's {path} or crcsim code differs from the sweep's "
                           "(install the same crcsim and scenario files on every worker)")
    return raw, origins


def _resource_outputs(result, patients: pd.DataFrame, weights: np.ndarray,
                      names: list[str]) -> tuple[dict, dict]:
    """Mean waits and utilisation of the linac, theatre and MDT, with bootstrap replicates
    (patients resampled, each with all their slots and waits)."""
    from sim.outcomes.resources import resource_log, resource_records, resource_summary

    wanted = [n for n in names if VOCABULARY[n].resource is not None]
    if not wanted:
        return {}, {}
    logs = resource_log(result.events)
    use = resource_summary(resource_records(result.events, patients, logs), result.scenario.resources)
    ids = patients["patient_id"].to_numpy()
    values, reps = {}, {}
    for name in wanted:
        resource, measure = VOCABULARY[name].resource, VOCABULARY[name].source
        assert resource is not None and measure is not None  # wanted: resource outputs only
        log = logs[resource]
        values[name] = float(use[resource][measure])
        if measure == "utilisation":
            used = np.bincount(np.searchsorted(ids, log.slot_patient), minlength=len(ids))
            total = used.sum()
            reps[name] = (weights @ used) / total * values[name] if total else np.zeros(len(weights))
        else:
            pos = np.searchsorted(ids, log.wait_patient)
            sums = np.bincount(pos, weights=log.wait_days, minlength=len(ids))
            counts = np.bincount(pos, minlength=len(ids))
            with np.errstate(invalid="ignore", divide="ignore"):
                reps[name] = (weights @ sums) / (weights @ counts)
    return values, reps


def evaluate_point(task: dict) -> dict:
    """Run one point; ``task`` holds the arms' scenario files, the per-arm overrides, patients,
    seed, outputs, the reference arm and the number of bootstrap resamples."""
    from sim.execution.runner import run_scenario
    from sim.outcomes.summary import patients_of
    from sim.scenario.loader import build_scenario

    metrics = task["outputs"]
    run = {"run.patients": task["patients"], "run.seed": task["seed"]}
    per_arm: dict[str, tuple[dict, dict]] = {}
    weights = None
    for arm, path in task["arms"].items():
        raw, origins = _raw(path, task["fingerprints"][arm])
        scenario = build_scenario(raw, origins, path, {**task["overrides"].get(arm, {}), **run})
        result = run_scenario(scenario)
        patients = patients_of(result).sort_values("patient_id", kind="stable")
        if weights is None or len(weights[0]) != len(patients):
            weights = resample_weights(len(patients), task["bootstrap"], task["seed"])
        values = {k: v for k, v in arm_metrics(patients).items() if k in metrics}
        reps = {k: metric_replicates(patients, k, weights) for k in values}
        extra, extra_reps = _resource_outputs(result, patients, weights, metrics)
        per_arm[arm] = ({**values, **extra}, {**reps, **extra_reps})
    outputs: dict[str, float] = {}
    mc_se: dict[str, float] = {}
    replicates: dict[str, np.ndarray | None] = {}
    reference = task.get("reference")
    for arm, (values, reps) in per_arm.items():
        for m in metrics:
            name = str(Metric(m) if reference is None else Metric(m, arm))
            outputs[name], mc_se[name], replicates[name] = values[m], standard_error(reps[m]), reps[m]
    if reference is not None:
        ref_values, ref_reps = per_arm[reference]
        for arm, (values, reps) in per_arm.items():
            if arm == reference:
                continue
            for m in metrics:
                name = str(Metric(m, arm, reference))
                outputs[name] = values[m] - ref_values[m]
                paired = (reps[m] - ref_reps[m]
                          if reps[m] is not None and ref_reps[m] is not None else None)
                mc_se[name], replicates[name] = standard_error(paired), paired
    out: dict[str, dict] = {"outputs": {k: (None if isinstance(v, float) and math.isnan(v) else v)
                       for k, v in outputs.items()},
           "mc_se": {k: (None if math.isnan(v) else v) for k, v in mc_se.items()}}
    if task.get("keep_replicates"):
        # every point resamples the same patients (same seed and count), so replicates of two
        # points pair up: the error of a difference between points, as between arms
        out["replicates"] = {k: [None if not math.isfinite(x) else round(float(x), 9) for x in r]
                             for k, r in replicates.items() if r is not None}
    return out
