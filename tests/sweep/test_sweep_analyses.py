"""Sweep analyses: paired outputs and their Monte Carlo errors, PSA, Sobol/Morris, threshold and
capacity grids, and the checks on their sweep files."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

from sim.errors import InputError
from sim.sweep.designs import psa_points
from sim.sweep.mc_error import km_landmark, km_rmst
from sim.sweep.point import evaluate_point
from sim.sweep.run import run_sweep
from sim.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
REFERENCE = str(SCENARIOS / "li2021_reference.yaml")
TNT = str(SCENARIOS / "tnt_scrt_consolidation.yaml")
CONTROL = str(SCENARIOS / "crlm_r1_adjuvant_chemo.yaml")
SBRT_PD1 = str(SCENARIOS / "crlm_r1_sbrt_pd1.yaml")
HR = "parameters.effects.progression_hazard_ratio"


def _write(tmp_path: Path, data: dict, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _pair(tmp_path: Path, analysis: dict, **extra) -> Path:
    data = {"name": "pair", "arms": {"control": CONTROL, "sbrt_pd1": SBRT_PD1}, "patients": 80,
            "seed": 4, "outputs": ["pfs_24", "os_36"], "analysis": analysis, **extra}
    return _write(tmp_path, data)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.booleans()), min_size=2, max_size=40),
       st.sampled_from([5.0, 12.0, 24.0]))
def test_weighted_kaplan_meier_is_lifelines_with_unit_weights(data, t):
    time = np.array([float(x) for x, _ in data])
    event = np.array([e for _, e in data])
    weights = np.ones((1, len(time)))
    kmf = KaplanMeierFitter().fit(time, event)
    assert km_landmark(time, event, weights, t)[0] == pytest.approx(float(kmf.predict(t)), abs=1e-12)
    assert km_rmst(time, event, weights, t)[0] == pytest.approx(
        float(restricted_mean_survival_time(kmf, t=t)), rel=1e-6, abs=1e-6)


def test_weights_are_repeated_patients():
    time, event = np.array([3.0, 5.0, 5.0, 8.0]), np.array([1, 0, 1, 1])
    doubled = km_landmark(time, event, np.array([[2.0, 1.0, 1.0, 1.0]]), 6.0)[0]
    kmf = KaplanMeierFitter().fit(np.r_[3.0, time], np.r_[1, event])
    assert doubled == pytest.approx(float(kmf.predict(6.0)))


def _fingerprints(arms: dict[str, str]) -> dict[str, str]:
    from sim.calibrate.evaluate import model_fingerprint
    from sim.scenario.loader import load_raw

    return {arm: model_fingerprint(load_raw(path)[0], "") for arm, path in arms.items()}


def test_paired_difference_has_a_smaller_error_than_either_arm():
    arms = {"reference": REFERENCE, "tnt": TNT}
    task = {"arms": arms, "fingerprints": _fingerprints(arms), "overrides": {}, "patients": 400,
            "seed": 9, "outputs": ["os_36", "completion_rate"], "reference": "reference",
            "bootstrap": 200}
    out = evaluate_point(task)
    se = out["mc_se"]
    diff = se["os_36[tnt - reference]"]
    # common random numbers: the same patients, the same disease luck in both arms
    assert diff < 0.6 * math.hypot(se["os_36[reference]"], se["os_36[tnt]"])
    assert out["outputs"]["os_36[tnt - reference]"] == pytest.approx(
        out["outputs"]["os_36[tnt]"] - out["outputs"]["os_36[reference]"])


def test_threshold_is_found_inside_its_bracket_and_is_reproducible(tmp_path):
    analysis = {"type": "threshold", "output": "pfs_24", "target": 0.05, "tolerance": 0.05,
                "max_rounds": 3, "parameter": {"path": HR, "low": 0.3, "high": 1.3, "arms": ["sbrt_pd1"]}}
    path = _pair(tmp_path, analysis)
    first = run_sweep(path, tmp_path / "a", backend="serial", dashboard=False)["threshold"]
    assert first["found"] and first["arm"] == "sbrt_pd1"
    low, high = first["bracket"]
    assert low <= first["threshold"] <= high
    evaluated = {p["value"]: p["difference"] for p in first["evaluated"]}
    assert evaluated[0.3] > 0.05 > evaluated[1.3]  # a strong effect wins, a harmful one loses
    # the control arm never took the hazard ratio: its outcome is the same at every point
    table = pd.read_parquet(tmp_path / "a" / "results.parquet")
    assert table.loc[table["output"] == "pfs_24[control]", "value"].nunique() == 1
    again = run_sweep(path, tmp_path / "b", backend="processes", workers=2, dashboard=False)["threshold"]
    assert again == first


def test_threshold_outside_the_range_says_so(tmp_path):
    analysis = {"type": "threshold", "output": "pfs_24", "target": 0.9, "tolerance": 0.05,
                "initial_points": 3, "parameter": {"path": HR, "low": 0.5, "high": 1.0, "arms": ["sbrt_pd1"]}}
    summary = run_sweep(_pair(tmp_path, analysis), tmp_path / "o", backend="serial", dashboard=False)
    result = summary["threshold"]
    assert not result["found"] and "below the target" in result["note"]


def test_psa_draws_one_parameter_set_for_every_arm(tmp_path):
    data = {"name": "psa", "arms": {"reference": REFERENCE, "tnt": TNT}, "patients": 60, "seed": 2,
            "outputs": ["os_36", "grade34_toxicity_rate"], "analysis": {"type": "psa", "draws": 5}}
    sweep = load_sweep(_write(tmp_path, data))
    points = psa_points(sweep)
    assert points == psa_points(sweep) and len(points) == 5
    posterior = pd.read_parquet(ROOT / "calibration" / "fitted" / "li2021_posterior.parquet")
    key = "parameters.disease.progression.weibull_scale_months"
    for p in points:
        shared = set(p["reference"]) & set(p["tnt"])
        assert all(p["reference"][k] == p["tnt"][k] for k in shared)
        # a fitted parameter comes from the posterior sample, never from its calibration prior
        assert p["reference"][f"{key}.value"] in set(posterior[key])
        assert f"{HR}.value" in p["tnt"] and f"{HR}.value" not in p["reference"]
    assert len({p["tnt"][f"{HR}.value"] for p in points}) == 5
    summary = run_sweep(_write(tmp_path, data), tmp_path / "out", backend="serial", dashboard=False)
    best = summary["psa"]["probability_best"]
    for metric in ("os_36", "grade34_toxicity_rate"):
        assert sum(best[metric].values()) == pytest.approx(1.0)
    diff = summary["psa"]["outputs"]["os_36[tnt - reference]"]
    assert 0 <= diff["probability_positive"] <= 1 and diff["draws"] == 5
    assert diff["interval95"][0] <= diff["mean"] <= diff["interval95"][1]
    rhos = [abs(d["spearman_rho"]) for d in diff["drivers"]]
    assert 0 < len(rhos) <= 8 and rhos == sorted(rhos, reverse=True)


@pytest.mark.parametrize("kind, per_sample", [("sobol", 2 + 2), ("morris", 2 + 1)])
def test_global_sensitivity_runs_salib_designs(tmp_path, kind, per_sample):
    data = {"name": kind, "scenario": REFERENCE, "patients": 40, "seed": 1, "outputs": ["completion_rate"],
            "analysis": {"type": kind, "samples": 4, "parameters": [
                {"path": "parameters.resectability.probability", "low": 0.3, "high": 0.7},
                {"path": "parameters.mdt.refusal_probability", "low": 0.0, "high": 0.3}]}}
    summary = run_sweep(_write(tmp_path, data), tmp_path / "out", backend="serial", dashboard=False)
    assert summary["points"] == 4 * per_sample and summary["failed"] == 0
    block = summary[kind]["completion_rate"]
    keys = ("S1", "S1_conf", "ST", "ST_conf") if kind == "sobol" else ("mu_star", "mu_star_conf", "sigma")
    assert all(len(block[k]) == 2 for k in keys)
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["analysis"] == kind


def test_capacity_grid_varies_plain_numbers_and_waits_follow(tmp_path):
    data = {"name": "capacity", "scenario": REFERENCE, "patients": 120, "seed": 3,
            "outputs": ["linac_mean_wait_days", "linac_utilisation", "os_36"],
            "analysis": {"type": "grid", "parameters": [
                {"path": "resources.linac.slots_per_day", "values": [1, 6]},
                {"path": "run.arrivals.per_week", "values": [0.7, 3.0]}]}}
    summary = run_sweep(_write(tmp_path, data), tmp_path / "out", backend="serial", dashboard=False)
    grid = summary["grid"]
    assert grid["points"] == [[1, 0.7], [1, 3.0], [6, 0.7], [6, 3.0]]
    wait = grid["outputs"]["linac_mean_wait_days"]["values"]
    assert wait[1] > wait[3] and wait[1] > wait[0]  # one slot a day and fast arrivals: queues
    assert all(s is not None and s >= 0 for s in grid["outputs"]["linac_mean_wait_days"]["mc_se"])


def test_a_design_with_a_repeated_point_runs_it_once(tmp_path):
    data = {"name": "twice", "scenario": REFERENCE, "patients": 40, "seed": 1, "outputs": ["os_36"],
            "analysis": {"type": "grid", "parameters": [
                {"path": "parameters.mdt.refusal_probability", "values": [0.1, 0.1]}]}}
    summary = run_sweep(_write(tmp_path, data), tmp_path / "out", backend="serial", dashboard=False)
    table = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert summary["points"] == 2 and list(table["point"]) == [0, 1] and table["key"].nunique() == 1


@pytest.mark.parametrize("change, needle", [
    ({"arms": None, "scenario": CONTROL, "analysis": {
        "type": "threshold", "output": "pfs_24", "tolerance": 0.1,
        "parameter": {"path": HR, "low": 0.5, "high": 1}}}, "compares arms"),
    ({"arms": None, "scenario": CONTROL}, "one scenario"),
    ({"analysis": {"type": "threshold", "output": "pfs_24", "tolerance": 0.1,
                   "parameter": {"path": HR, "low": 0.5, "high": 1, "arms": ["nope"]}}},
     "expected arms among"),
    ({"analysis": {"type": "grid", "parameters": [{"path": "resources.linac.slots_per_day",
                                                   "values": [1.5]}]}}, "whole numbers"),
    ({"analysis": {"type": "grid", "parameters": [{"path": "resources.linac.slots_per_day",
                                                   "values": [0]}]}}, "slots_per_day"),
    ({"analysis": {"type": "psa", "draws": 3, "parameters": ["parameters.mdt.nonsense"]}}, "uncertainty"),
    ({"analysis": {"type": "psa", "draws": 0}}, "analysis.draws: expected a value >= 2"),
    ({"analysis": {"type": "sobol", "samples": 4, "parameters": [{"path": HR, "values": [1]},
                                                                 {"path": HR, "low": 0.5, "high": 1}]}},
     "low and high"),
    ({"reference": "elsewhere"}, "one of the arms"),
])
def test_bad_sweep_files_name_the_problem(tmp_path, change, needle):
    data = {"name": "bad", "arms": {"control": CONTROL, "sbrt_pd1": SBRT_PD1}, "patients": 50,
            "outputs": ["pfs_24"], "analysis": {"type": "one_way", "parameters": [
                {"path": HR, "low": 0.5, "high": 1.0, "arms": ["sbrt_pd1"]}]}}
    data.update(change)
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(InputError) as info:
        load_sweep(_write(tmp_path, data))
    assert needle in info.value.one_line() and "\n" not in info.value.one_line()


def test_a_worker_with_other_scenario_files_refuses_the_point():
    arms = {"": REFERENCE}
    task = {"arms": arms, "fingerprints": {"": "0" * 16}, "overrides": {}, "patients": 20, "seed": 1,
            "outputs": ["os_36"], "reference": None, "bootstrap": 20}
    with pytest.raises(RuntimeError, match="differs from the sweep's"):
        evaluate_point(task)


def test_tornado_error_is_the_paired_error_between_the_ends(tmp_path):
    data = {"name": "tornado", "scenario": REFERENCE, "patients": 300, "seed": 6, "outputs": ["os_36"],
            "analysis": {"type": "one_way", "parameters": [
                {"path": "parameters.mdt.best_supportive_care_probability", "low": 0.05, "high": 0.3}]}}
    summary = run_sweep(_write(tmp_path, data), tmp_path / "out", backend="serial", dashboard=False)
    bar = summary["tornado"]["os_36"]["bars"][0]
    assert bar["mc_se_method"] == "paired bootstrap"
    # the same patients at both ends: most of the noise cancels in the swing
    assert 0 < bar["mc_se"] < 0.7 * bar["independent_bound"]
    assert bar["noise"] == (bar["swing"] < 2 * bar["mc_se"])


def test_psa_draws_do_not_depend_on_where_the_project_is(tmp_path):
    # the same sweep in two copies of the tree picks the same posterior sets
    points = []
    for name in ("a", "b/deeper"):
        root = tmp_path / name
        for folder in ("scenarios", "calibration"):
            shutil.copytree(ROOT / folder, root / folder)
        points.append(psa_points(load_sweep(root / "scenarios" / "sweeps" / "reference_posterior_psa.yaml")))
    assert points[0] == points[1] and len(points[0]) == 200
