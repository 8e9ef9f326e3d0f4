"""Run a sweep: expand its points, evaluate them on the execution layer, store each as it
finishes, and summarise (tornado, grid, PSA, Sobol/Morris or threshold)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sim.errors import InputError
from sim.execution.executor import Executor
from sim.io.atomic import atomic_write, atomic_write_with
from sim.outcomes.metrics import Metric
from sim.sweep import analyses
from sim.sweep.point import evaluate_point
from sim.sweep.spec import Sweep, Threshold, load_sweep
from sim.sweep.store import Store, point_key

Progress = Callable[[int, int], None]


def _arm_fingerprints(sweep: Sweep) -> dict[str, str]:
    """Each arm's resolved scenario and the model's code, as the calibration cache keys them."""
    from sim.calibrate.evaluate import model_fingerprint

    return {arm: model_fingerprint(sweep.raw[arm][0], "") for arm in sweep.arms}


def _fingerprint(arms: dict[str, str]) -> str:
    """The arms' fingerprints and the point evaluation's code: a point stored before any of
    them changed is not taken on --resume."""
    digest = hashlib.sha256()
    for arm, fingerprint in arms.items():
        digest.update(f"{arm}:{fingerprint}".encode())
    here = Path(__file__).resolve().parent
    for name in ("point.py", "mc_error.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


class _Points:
    """Evaluates numbered points through the store: finished ones (on --resume) are read back,
    the rest run on the executor and are committed one by one as they finish."""

    def __init__(self, sweep: Sweep, store: Store, executor: Executor, resume: bool,
                 progress: Progress | None) -> None:
        self.sweep, self.store, self.executor, self.progress = sweep, store, executor, progress
        self.arm_fingerprints = _arm_fingerprints(sweep)
        self.fingerprint = _fingerprint(self.arm_fingerprints)
        self.done: dict[str, dict | None] = dict(store.finished()) if resume else {}  # None: failed
        self.count = 0
        self.finished = 0
        self.expected = 0

    def run(self, points: list[dict]) -> list[dict | None]:
        """Values ({"outputs", "mc_se"}, or None for a failed point) in the order given."""
        spec = self.sweep.spec
        reference = self.sweep.reference if self.sweep.comparison else None
        keys = []
        tasks: dict[str, dict] = {}
        numbers: dict[str, list[int]] = {}
        for overrides in points:
            key = point_key(self.fingerprint, overrides, spec.patients, spec.seed,
                            [list(spec.outputs), spec.bootstrap, reference])
            keys.append(key)
            numbers.setdefault(key, []).append(self.count)
            if key in self.done:
                self.store.number(self.count, key)
            elif key not in tasks:
                tasks[key] = {"overrides": overrides,
                              "arms": {a: str(p) for a, p in self.sweep.arm_paths.items()},
                              "fingerprints": self.arm_fingerprints,
                              "patients": spec.patients, "seed": spec.seed,
                              "outputs": list(spec.outputs), "reference": reference,
                              "bootstrap": spec.bootstrap,
                              "keep_replicates": spec.analysis.type == "one_way"}
            self.count += 1
        self.finished += len(points) - sum(len(numbers[k]) for k in tasks)
        self.expected = max(self.expected, self.finished + sum(len(numbers[k]) for k in tasks))
        self._tick()
        for outcome in self.executor.map_unordered(evaluate_point, tasks.items()):
            value = outcome.value if outcome.error is None else None
            self.store.add(outcome.key, numbers[outcome.key], tasks[outcome.key]["overrides"],
                           value["outputs"] if value else None, value["mc_se"] if value else None,
                           outcome.error, value.get("replicates") if value else None)
            if value:
                value = {"outputs": value["outputs"], "mc_se": value["mc_se"]}
            self.done[outcome.key] = value
            self.finished += len(numbers[outcome.key])
            self._tick()
        return [self.done.get(k) for k in keys]

    def _tick(self) -> None:
        if self.progress:
            self.progress(self.finished, max(self.expected, self.finished))


def run_sweep(path: str | Path, out_dir: Path, backend: str = "processes", workers: int | None = None,
              scheduler: str | None = None, resume: bool = False,
              progress: Progress | None = None, dashboard: bool = True) -> dict:
    sweep = load_sweep(path)  # every check before anything runs
    out_dir = Path(out_dir)
    db = out_dir / "points.sqlite"
    if db.exists() and not resume:
        raise InputError(str(out_dir), None, "expected a new directory, or --resume to continue it")
    spec = sweep.spec
    store = Store(db)
    summary: dict = {"name": spec.name, "description": spec.description, "analysis": spec.analysis.type,
                     "patients": spec.patients, "seed": spec.seed,
                     "arms": {a: str(p) for a, p in sweep.arm_paths.items()} if sweep.comparison
                     else {"scenario": str(sweep.arm_paths[""])},
                     "reference": sweep.reference or None, "outputs": sweep.output_names()}
    try:
        with Executor(backend, workers, scheduler) as executor:
            runner = _Points(sweep, store, executor, resume, progress)
            if isinstance(spec.analysis, Threshold):
                summary["threshold"] = _threshold(sweep, runner)
            else:
                design = None
                if spec.analysis.type in ("one_way", "grid"):
                    points = sweep.points()
                elif spec.analysis.type == "psa":
                    from sim.sweep.designs import psa_points

                    points = psa_points(sweep)
                else:
                    from sim.sweep.designs import salib_design, salib_points

                    design, points = salib_design(sweep), salib_points(sweep)
                runner.run(points)
        table = store.table()
        replicates = store.replicates()
    finally:
        store.close()
    points_total = runner.count
    summary["points"] = points_total
    summary["failed"] = int(table.loc[table["error"].notna(), "point"].nunique())
    kind = spec.analysis.type
    if kind == "one_way":
        summary["tornado"] = analyses.tornado(sweep, table, points_total, replicates)
    elif kind == "grid":
        summary["grid"] = analyses.grid(sweep, table, points_total)
    elif kind == "psa":
        summary["psa"] = analyses.psa(sweep, table, points_total)
    elif kind in ("sobol", "morris"):
        assert design is not None  # drawn above for these analyses
        summary[kind] = analyses.salib_indices(sweep, table, points_total, design)
    atomic_write_with(out_dir / "results.parquet", lambda tmp: table.to_parquet(tmp, index=False))
    atomic_write(out_dir / "summary.json", json.dumps(summary, indent=2, default=_json) + "\n")
    if dashboard:
        from sim.report.dashboard.sweep_page import write_sweep_dashboard

        write_sweep_dashboard(out_dir)
    return summary


def _json(x):
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON: {type(x).__name__}")


def _threshold(sweep: Sweep, runner: _Points) -> dict:
    """A bracketing grid over the range, then k-section rounds inside the narrowest bracket
    where the paired difference crosses the target, until the bracket is narrower than the
    tolerance."""
    analysis = sweep.spec.analysis
    assert isinstance(analysis, Threshold)
    v = analysis.parameter
    arm = analysis.arm or next(a for a in sweep.arms if a != sweep.reference)
    output = str(Metric(analysis.output, arm, sweep.reference))
    arm_of = {v.path: v.arms}
    evaluated: list[tuple[float, float, float]] = []

    def evaluate(xs: list[float]) -> None:
        results = runner.run([sweep.overrides({v.path: x}, arm_of) for x in xs])
        for x, r in zip(xs, results, strict=True):
            y = r["outputs"].get(output) if r else None
            s = r["mc_se"].get(output) if r else None
            evaluated.append((x, math.nan if y is None else y, math.nan if s is None else s))

    assert v.low is not None and v.high is not None  # a Bounded parameter
    runner.expected = analysis.initial_points + analysis.max_rounds * analysis.points_per_round
    evaluate([float(x) for x in np.linspace(v.low, v.high, analysis.initial_points)])
    rounds = 0
    for _ in range(analysis.max_rounds):
        result = analyses.threshold_result(sweep, evaluated)
        if not result["found"]:
            break
        a, b = result["bracket"]
        if b - a <= analysis.tolerance:
            break
        k = analysis.points_per_round
        evaluate([a + (b - a) * i / (k + 1) for i in range(1, k + 1)])
        rounds += 1
    runner.expected = runner.finished
    runner._tick()
    result = analyses.threshold_result(sweep, evaluated)
    result.update(arm=arm, reference=sweep.reference, rounds=rounds, tolerance=analysis.tolerance)
    return result
