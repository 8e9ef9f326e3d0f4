"""``crcsim calibrate``: fit, verify on a fresh seed and a larger cohort, write the outputs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import sim
from sim.calibrate.evaluate import Cache
from sim.calibrate.fit import Progress, Runner, fit
from sim.calibrate.history import fit_by_history_matching
from sim.calibrate.outputs import outputs_of
from sim.calibrate.predictive import predictive_check
from sim.calibrate.report import fitted_overlay, parameter_summary, posterior_frame, write_json
from sim.calibrate.spec import load_calibration
from sim.calibrate.targets import KmTarget, load_targets, statistics_for, target_rows
from sim.execution.runner import run_scenario
from sim.io.atomic import atomic_write, atomic_write_with
from sim.io.results import git_commit
from sim.outcomes.summary import patients_of
from sim.report.calibration import (
    convergence_figure,
    identifiability_figure,
    predictive_figure,
    survival_figure,
    targets_figure,
    write_html,
)


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _method_text(method, cal_prior: str = "uniform") -> str:
    if method.kind == "history-matching":
        hm = method.history_matching
        return (("stated priors; " if cal_prior == "stated" else "")
                + f"history matching (Gaussian-process emulators, cut-off {hm.cutoff:g} on the "
                f"{hm.implausibility} implausibility, discrepancy {hm.discrepancy:g} x V_obs) -> "
                "emcee posterior on the emulators"
                + (f"; best fit: Powell polish by the simulator ({hm.polish_evaluations} runs)"
                   if hm.polish_evaluations else "; best fit: the emulators' maximum"))
    steps = ["Latin hypercube", method.optimizer.method, "IMIS"]
    if method.optimizer.polish_evaluations:
        steps.append(f"{method.optimizer.polish_method} polish")
    if method.uncertainty.posterior == "abc-mcmc":
        steps.append("ABC-MCMC posterior")
    return " -> ".join(steps)


def run_calibration(
    path: str | Path,
    out_dir: Path | None = None,
    patients: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    backend: str = "processes",
    scheduler: str | None = None,
) -> dict:
    started = time.perf_counter()
    cal = load_calibration(path)  # every check happens here, before any simulation
    targets, targets_hash = load_targets(cal.targets_path)
    patients = patients or cal.spec.run.patients
    seed = cal.spec.run.seed if seed is None else seed
    out_dir = Path(out_dir) if out_dir is not None else Path("results") / "calibration" / cal.spec.name
    cache = Cache(out_dir / "evaluations")
    runner = Runner(str(Path(path).resolve()), patients, seed, workers, cache, backend, scheduler)
    predictive = None
    try:
        if cal.spec.method.kind == "history-matching":
            result = fit_by_history_matching(cal, runner, outputs_of(targets), seed, out_dir / "waves",
                                             progress)
        else:
            result = fit(cal, runner, seed, progress)
        if cal.spec.method.predictive.draws:
            t0 = time.perf_counter()
            predictive = predictive_check(runner, targets, result.posterior_x, cal.spec.method.predictive,
                                          seed, progress)
            result.timings["predictive_s"] = time.perf_counter() - t0
    finally:
        runner.close()

    best_x = np.array(result.best["x"])
    verify = cal.spec.verification
    if progress:
        progress("verification", 0, 1)
    evaluator = runner.local
    scenario = evaluator.scenario(best_x, verify.patients, verify.seed)
    verified = patients_of(run_scenario(scenario, workers=workers))
    stats = statistics_for(targets, verified)
    rows = target_rows(targets, stats)
    if progress:
        progress("verification", 1, 1)

    date = datetime.now(UTC).isoformat(timespec="seconds")
    provenance = {
        "calibration": _relative(cal.path), "scenario": _relative(cal.scenario_path),
        "targets": _relative(cal.targets_path), "targets_sha256": targets_hash,
        "seed": seed, "patients_per_evaluation": patients, "date": date,
        "deviance": float(result.best["deviance"]), "evaluations": len(cache.records),
        "method": _method_text(cal.spec.method, cal.spec.prior),
        "crcsim_version": sim.__version__,
        "git_commit": git_commit(),
    }
    params = parameter_summary(cal, result.posterior_x, best_x)
    # history matching polishes its best fit with Powell; the optimise method names its own
    optimizer = "powell" if cal.spec.method.kind == "history-matching" else cal.spec.method.optimizer.method
    wall = time.perf_counter() - started
    report = {
        "name": cal.spec.name, "provenance": provenance,
        "best": {"deviance": float(result.best["deviance"]),
                 "parameters": dict(zip(cal.names, best_x.tolist(), strict=True)),
                 "deviances": result.best.get("deviances", {})},
        "fitted_targets": sum(t.fit for t in targets.targets),
        "verification": {"patients": verify.patients, "seed": verify.seed,
                         "all_inside": all(r["inside"] for r in rows),
                         "fitted_inside": all(r["inside"] for r in rows if r["fit"])},
        "targets": rows, "parameters": params,
        "convergence": {"optimizer": optimizer,
                        "optimizer_traces": result.optimizer_traces, "imis": result.imis,
                        "posterior": result.local},
        "uncertainty": {"method": result.posterior_method, "ess": result.ess,
                        "samples": int(len(result.samples_z)),
                        "resampled_sets": int(len(result.posterior_x)),
                        "distinct_sets": int(len(np.unique(result.posterior_x, axis=0)))},
        "evaluations": len(cache.records), "timings_s": result.timings, "wall_time_s": wall,
    }
    if result.history:
        report["history_matching"] = result.history
    if predictive is not None:
        report["predictive"] = predictive

    fitted = cal.fitted_path
    fitted.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(fitted, fitted_overlay(cal.names, best_x, result.posterior_x, provenance))
    posterior = posterior_frame(cal.names, result.posterior_x)
    out_dir.mkdir(parents=True, exist_ok=True)
    for target in (out_dir / "posterior.parquet", fitted.with_name(f"{fitted.stem}_posterior.parquet")):
        atomic_write_with(target, lambda tmp: posterior.to_parquet(tmp, index=False))
    write_json(out_dir / "report.json", report)
    write_json(fitted.with_name(f"{fitted.stem}_report.json"), report)
    km = [t for t in targets.targets if isinstance(t, KmTarget)]
    write_html(out_dir / "report.html", report, [
        targets_figure(rows), survival_figure(verified, km),
        *([convergence_figure(result.optimizer_traces, optimizer)]
          if result.optimizer_traces else []),
        identifiability_figure(params),
        *([predictive_figure(predictive)] if predictive is not None else []),
    ])
    report["out_dir"] = str(out_dir)
    report["fitted_file"] = str(fitted)
    return report


def validate_targets(result_dir: Path, targets_path: Path) -> list[dict]:
    """The target table for any results directory (``crcsim run`` output)."""
    import pandas as pd

    from sim.errors import InputError

    file = Path(result_dir) / "patients.parquet"
    if not file.is_file():
        raise InputError(str(result_dir), None, "expected a results directory with patients.parquet")
    targets, _ = load_targets(targets_path)
    patients = pd.read_parquet(file)
    return target_rows(targets, statistics_for(targets, patients))


