"""Recovery test: targets simulated from known parameters at the published cohort's size, then
calibrated with the spec's own method. A parameter the targets identify (posterior 95% width
under half its prior's) must have its true value inside its 95% credible interval; one that
rests on its prior says so.

The synthetic study reports what a study of ``cohort_size`` patients run by the model at the
true parameters would: counts of the simulated denominators, a partition's counts of the
cohort, Kaplan-Meier landmarks with a 95% CI symmetric on log S from the Greenwood variance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import yaml

from sim.calibrate.statistics import Statistics
from sim.calibrate.targets import (
    Z95,
    BinomialTarget,
    MultinomialTarget,
    TargetsFile,
    load_targets,
    statistics_for,
)
from sim.errors import InputError
from sim.execution.runner import run_scenario
from sim.io.atomic import atomic_write
from sim.outcomes.summary import patients_of
from sim.scenario.documents import read_yaml_mapping
from sim.scenario.loader import build_scenario, load_raw


def synthetic_targets(targets: TargetsFile, stats: Statistics, name: str) -> dict:
    """A targets document with every figure of ``targets`` as the simulated study reports it.
    A figure the study cannot report (no patient in its denominator) is left out."""
    n = targets.cohort_size
    doc: dict = {"name": name, "source": f"synthetic: simulated at known parameters, {n} patients",
                 "cohort_size": n, "targets": []}
    if targets.follow_up_months is not None:
        doc["follow_up_months"] = list(targets.follow_up_months)
    for t in targets.targets:
        base = {"name": t.name, "fit": t.fit, "source": "synthetic"}
        if isinstance(t, BinomialTarget):
            den = int(stats.denominators.get(t.statistic, 0))
            p = stats.values.get(t.statistic, math.nan)
            if den > 0 and p == p:
                doc["targets"].append({**base, "likelihood": "binomial", "statistic": t.statistic,
                                       "count": round(p * den), "of": den})
        elif isinstance(t, MultinomialTarget):
            counts = {c: round(stats.values.get(f"{t.statistic}.{c}", 0.0) * n) for c in t.counts}
            while sum(counts.values()) > n:  # rounding up past the cohort
                counts[max(counts, key=lambda c: counts[c])] -= 1
            doc["targets"].append({**base, "likelihood": "multinomial", "statistic": t.statistic,
                                   "counts": counts, "of": n})
        else:
            surv, var = stats.km.get(t.key, {}).get(float(t.month), (math.nan, math.nan))
            if not (surv > 0 and var == var):
                continue
            se = math.sqrt(max(var, 1.0 / n**2))
            percent = min(100 * surv, 100.0)
            ci = [100 * surv * math.exp(-Z95 * se), min(100 * surv * math.exp(Z95 * se), 100.0)]
            entry = {**base, "likelihood": "km", "curve": t.curve, "month": t.month,
                     "percent": percent, "ci95": [min(ci[0], percent), max(ci[1], percent)]}
            if t.group is not None:
                entry["group"] = t.group
            doc["targets"].append(entry)
    return doc


def _fitted_values(path: Path, names: list[str]) -> list[float] | None:
    """The values a fitted overlay gives the free parameters, if it gives them all."""
    if not path.is_file():
        return None
    node_root = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    values = []
    for name in names:
        node = node_root
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or "value" not in node:
            return None
        values.append(float(node["value"]))
    return values


def run_recovery(spec_path: str | Path, out_dir: Path, truth: dict[str, float] | None = None,
                 seed: int = 20211, workers: int = 1, backend: str = "processes",
                 scheduler: str | None = None, progress=None) -> dict:
    """Simulate the targets at ``truth`` (default: the spec's fitted best, else the middle of
    each prior on its scale), calibrate to them in ``out_dir`` and say what was recovered."""
    from sim.calibrate.run import run_calibration
    from sim.calibrate.spec import load_calibration

    spec_path = Path(spec_path).resolve()
    cal = load_calibration(spec_path)
    if truth is not None:
        missing = [name for name in cal.names if name not in truth]
        unknown = [name for name in truth if name not in cal.names]
        if missing or unknown:
            raise InputError("--truth", missing[0] if missing else unknown[0],
                             "a true value for every free parameter of the spec and no other, got "
                             + ("none" if missing else "a parameter the spec does not free"))
        truth_x = np.array([float(truth[name]) for name in cal.names])
    else:
        fitted = _fitted_values(cal.fitted_path, cal.names)
        truth_x = np.array(fitted) if fitted is not None else cal.u_to_x(np.full(len(cal.names), 0.5))
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    targets, _ = load_targets(cal.targets_path)
    recovered_fit = out_dir / "fitted" / "recovered.yaml"

    # the study: the calibration's scenario at the truth, at the cohort's size
    raw, origins = load_raw(cal.scenario_path, use_calibration=recovered_fit)
    overrides = {"run.patients": targets.cohort_size, "run.seed": seed, **cal.overrides(truth_x)}
    scenario = build_scenario(raw, origins, cal.scenario_path, overrides)
    stats = statistics_for(targets, patients_of(run_scenario(scenario, workers=1)))
    doc = synthetic_targets(targets, stats, f"{targets.name}_recovery")
    targets_file = out_dir / "targets.yaml"
    atomic_write(targets_file, yaml.safe_dump(doc, sort_keys=False))

    spec = read_yaml_mapping(spec_path)
    spec.update({"name": f"{cal.spec.name}_recovery", "scenario": str(cal.scenario_path),
                 "targets": str(targets_file), "fitted": str(recovered_fit),
                 "verification": {"patients": cal.spec.run.patients,
                                  "seed": cal.spec.verification.seed}})
    # recovery judges the posterior: the best fit's polish and the predictive check are skipped
    method = dict(spec.get("method") or {})
    method["predictive"] = {"draws": 0}
    if method.get("kind") == "history-matching":
        method["history_matching"] = {**(method.get("history_matching") or {}), "polish_evaluations": 0}
    spec["method"] = method
    recovery_spec = out_dir / "spec.yaml"
    atomic_write(recovery_spec, yaml.safe_dump(spec, sort_keys=False))
    report = run_calibration(recovery_spec, out_dir / "calibration", workers=workers, progress=progress,
                             backend=backend, scheduler=scheduler)

    rows = []
    for p, true in zip(report["parameters"], truth_x, strict=True):
        low, high = p["posterior_ci95"]
        rows.append({"parameter": p["parameter"], "truth": float(true), "posterior_ci95": [low, high],
                     "posterior_mean": p["posterior_mean"], "inside": bool(low <= true <= high),
                     "posterior_to_prior_width": p["posterior_to_prior_width"],
                     "identified": p["pinned_down_by_targets"]})
    identified = [r for r in rows if r["identified"]]
    result = {
        "spec": str(spec_path), "truth_seed": seed, "cohort_size": targets.cohort_size,
        "parameters": rows,
        "identified": [r["parameter"] for r in identified],
        "identified_recovered": all(r["inside"] for r in identified),
        "resting_on_priors": [r["parameter"] for r in rows if not r["identified"]],
        "all_inside": all(r["inside"] for r in rows),
        "calibration_report": str(out_dir / "calibration" / "report.json"),
        "evaluations": report["evaluations"], "wall_time_s": report["wall_time_s"],
    }
    atomic_write(out_dir / "recovery.json", json.dumps(result, indent=2) + "\n")
    return result
