"""``crcsim compare``: load the arms, check they share a population, run, write one directory.

Layout of the results directory (written into a hidden sibling and renamed into place at the end,
so an interrupted comparison leaves nothing half-written):

| path | content |
|---|---|
| ``comparison.json`` | per arm the run summary and metric intervals; per pair the differences |
| ``replications.parquet`` | one row per replication, arm (or pair) and metric |
| ``<arm>/`` | the first replication of each arm, as ``crcsim run`` writes it |
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.compare.paired import ArmRun, assumed_effects, dependence, draw_overrides, run_comparison
from sim.errors import InputError
from sim.execution.executor import Executor
from sim.io.atomic import swap_into_place
from sim.io.results import check_output_dir, git_commit, json_safe, manifest, write_run
from sim.scenario.loader import load_scenario


def _population_key(scenario) -> str:
    """What must match for two arms to hold the same virtual patients."""
    run = scenario.run
    return json.dumps({
        "population": scenario.population.model_dump(mode="json"),
        "assignment": scenario.parameters.assignment.model_dump(mode="json"),
        "arrivals": run.arrivals.model_dump(mode="json"), "centre_size": run.centre_size,
        "horizon_months": run.horizon_months,
    }, sort_keys=True)


def check_same_population(paths: list[Path], scenarios: list) -> None:
    first = _population_key(scenarios[0])
    for path, s in zip(paths[1:], scenarios[1:], strict=True):
        if _population_key(s) != first:
            raise InputError(str(path), "population",
                             f"expected the same population, arrivals and follow-up as {paths[0]} "
                             "(pass --allow-different-populations to compare anyway, unpaired)")


@dataclass
class Plan:
    """A checked comparison, ready to run: every input error is found before any simulation."""

    paths: list[Path]
    scenarios: list
    overrides: dict
    seed: int
    target: Path

    def mechanisms_only(self, parameter_uncertainty: bool) -> bool:
        """Whether an arm assumes effects (or, with parameter draws, draws one): the comparison
        is then run again without them."""
        return any(assumed_effects(s, parameter_uncertainty) for s in self.scenarios)

    def runs(self, replications: int, parameter_uncertainty: bool = False) -> int:
        """Arm runs in all (for a progress bar)."""
        again = self.mechanisms_only(parameter_uncertainty)
        return replications * len(self.scenarios) * (2 if again else 1)


def prepare(paths: list[Path], patients: int | None, seed: int | None, out_dir: Path | None,
            allow_different_populations: bool, force: bool) -> Plan:
    overrides = {"run.patients": patients} if patients is not None else {}
    scenarios = [load_scenario(p, overrides) for p in paths]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise InputError(str(paths[-1]), "name", f"expected arms with distinct names, got {names}")
    if not allow_different_populations:
        check_same_population(paths, scenarios)
    n = scenarios[0].run.patients
    for path, s in zip(paths, scenarios, strict=True):
        if s.run.patients != n:
            raise InputError(str(path), "run.patients",
                             f"expected {n} patients like {paths[0]} (or give --patients)")
    seed = scenarios[0].run.seed if seed is None else seed
    target = out_dir if out_dir is not None else Path("results") / ("compare-" + "-".join(names))
    check_output_dir(target, force)
    return Plan(list(paths), scenarios, overrides, seed, target)


def execute(plan: Plan, replications: int, parameter_uncertainty: bool, workers: int,
            tick: Callable[[], None] | None = None, backend: str = "processes",
            scheduler: str | None = None) -> tuple[dict, Path]:
    paths, scenarios, overrides, seed, target = (plan.paths, plan.scenarios, plan.overrides,
                                                 plan.seed, plan.target)
    names = [s.name for s in scenarios]
    n = scenarios[0].run.patients

    parameter_sets = None
    drawn: list[dict[str, float]] = []
    if parameter_uncertainty:
        def parameter_sets(r: int) -> list:
            draws = draw_overrides(scenarios, r, seed)
            merged: dict[str, float] = {}
            for d in draws:
                merged.update(d)
            drawn.append(merged)
            return [load_scenario(p, {**overrides, **d}) for p, d in zip(paths, draws, strict=True)]

    def mechanism_sets(r: int) -> list:
        """Replication r's arms with every assumed effect at 1 (the same parameter draw)."""
        draws = (draw_overrides(scenarios, r, seed) if parameter_uncertainty
                 else [{} for _ in scenarios])
        return [load_scenario(p, {**overrides, **d, **assumed_effects(s, parameter_uncertainty)})
                for p, d, s in zip(paths, draws, scenarios, strict=True)]

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    summaries: dict[str, dict] = {}
    started = time.perf_counter()

    def on_arm(arm: ArmRun) -> None:
        if arm.replication == 0:
            k = names.index(arm.scenario.name)
            write_run(tmp / arm.scenario.name, arm.result.events, arm.patients, arm.summary,
                      manifest(arm.scenario, str(paths[k]), 0.0, {"workers": workers,
                                                                   "comparison": str(target)}))
            summaries[arm.scenario.name] = arm.summary
        if tick is not None:
            tick()

    def on_replication(_: int) -> None:
        if tick is not None:
            for _arm in names:
                tick()

    try:
        # replications after the first run side by side on the execution layer
        with Executor(backend if replications > 1 else "serial", workers, scheduler) as executor:
            result = run_comparison(scenarios, replications, seed, workers, parameter_sets,
                                    on_arm=on_arm, executor=executor, on_replication=on_replication)
            mechanisms = None
            if plan.mechanisms_only(parameter_uncertainty):
                mechanisms = run_comparison(mechanism_sets(0), replications, seed, workers,
                                            mechanism_sets if parameter_uncertainty else None,
                                            executor=executor,
                                            on_arm=lambda _: tick() if tick is not None else None,
                                            on_replication=on_replication)
                mechanisms.pop("per_replication")
                _incomparable_completion(mechanisms["pairs"], scenarios)
        per_rep = result.pop("per_replication")
        _incomparable_completion(result["pairs"], scenarios)
        result = {
            "arms": {name: {"summary": summaries[name], "metrics": result["arms"][name]}
                     for name in names},
            "pairs": result["pairs"],
            "dependence": {pair: dependence(drawn, reps) for pair, reps in per_rep["pairs"].items()}
            if parameter_uncertainty else {},
            "scenario_files": [str(Path(p).resolve()) for p in paths],
            "patients_per_arm": n, "replications": replications, "seed": seed,
            "replication_seeds": result["replication_seeds"],
            "common_random_numbers": result["common_random_numbers"],
            "parameter_uncertainty": parameter_uncertainty,
            # the same comparison with every assumed strategy effect at 1: how much of each
            # contrast the model's mechanisms make, and how much is the assumption
            "mechanisms_only": None if mechanisms is None else {
                "effects_set_to_one": {s.name: sorted(assumed_effects(s, parameter_uncertainty))
                                       for s in scenarios},
                "arms": mechanisms["arms"], "pairs": mechanisms["pairs"]},
            "interval": ("2.5-97.5% of the replications' estimates (parameter uncertainty and "
                         "Monte Carlo error)" if parameter_uncertainty else
                         "t interval of the mean over replications (Monte Carlo error)"),
            "crcsim_git_commit": git_commit(), "wall_time_s": round(time.perf_counter() - started, 3),
        }
        (tmp / "comparison.json").write_text(json.dumps(json_safe(result), indent=2, allow_nan=False) + "\n",
                                             encoding="utf-8")
        _long_frame(per_rep).to_parquet(tmp / "replications.parquet", index=False)
        swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # the table shows metric intervals per arm
    shown = {"arms": {k: v["metrics"] for k, v in result["arms"].items()}, "pairs": result["pairs"],
             "dependence": result["dependence"], "mechanisms_only": result["mechanisms_only"],
             "replications": replications, "patients_per_arm": n,
             "parameter_uncertainty": parameter_uncertainty}
    return shown, target


INCOMPARABLE_COMPLETION = ("the arms define completion differently (strategy.completion): each "
                           "arm's rate is reported, not their difference")


def _incomparable_completion(pairs: dict, scenarios: list) -> None:
    """A completion rate is a share of patients who met *their strategy's* criteria: between arms
    whose criteria differ (TNT's consolidation cycles, a regional therapy's sessions) the
    difference compares two definitions, not two outcomes, so it is withheld with a note."""
    definitions = {s.name: s.strategy.completion for s in scenarios}
    for block in pairs.values():
        if definitions[block["arm"]] != definitions[block["reference"]]:
            block["differences"]["completion_rate"] = {"mean": None, "ci95": None,
                                                       "note": INCOMPARABLE_COMPLETION}
            block.setdefault("notes", []).append(INCOMPARABLE_COMPLETION)


def _long_frame(per_rep: dict) -> pd.DataFrame:
    rows = []
    for kind in ("arms", "pairs"):
        for name, reps in per_rep[kind].items():
            for r, metrics in enumerate(reps):
                for metric, value in metrics.items():
                    rows.append({"kind": kind[:-1], "name": name, "replication": r,
                                 "metric": metric, "value": value})
    return pd.DataFrame(rows)

