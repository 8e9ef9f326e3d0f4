"""History matching: the outputs' transforms and the implausibility by hand, the emulator against
scikit-learn's own prediction, the pool's random walk, the predictive draws and synthetic
targets; end to end, a two-parameter recovery on a cheap configuration."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import yaml
from conftest import ROOT
from scipy.stats import binom

from sim.calibrate import evaluate as evaluate_module
from sim.calibrate.emulate import Emulator, Wave, fit_wave, implausibility, ruled_out
from sim.calibrate.evaluate import Cache
from sim.calibrate.fit import Runner
from sim.calibrate.history import fit_by_history_matching, refill
from sim.calibrate.outputs import empirical_logit, outputs_of, statistics_of_record
from sim.calibrate.predictive import predictive_samples
from sim.calibrate.recovery import run_recovery, synthetic_targets
from sim.calibrate.run import run_calibration
from sim.calibrate.spec import load_calibration
from sim.calibrate.statistics import Statistics
from sim.calibrate.targets import TargetsFile, load_targets

SCENARIO = ROOT / "scenarios" / "li2021_reference.yaml"


def _targets(targets: list[dict], cohort: int = 228) -> TargetsFile:
    return TargetsFile.model_validate({"name": "t", "cohort_size": cohort, "targets": targets})


def test_empirical_logit_by_hand():
    z, v = empirical_logit(112, 228)
    assert z == pytest.approx(math.log(112.5 / 116.5)) and v == pytest.approx(1 / 112.5 + 1 / 116.5)
    z0, v0 = empirical_logit(0, 10)  # finite where the plain logit is not
    assert z0 == pytest.approx(math.log(0.5 / 10.5)) and v0 == pytest.approx(1 / 0.5 + 1 / 10.5)
    assert math.isnan(empirical_logit(1, 0)[0])


def test_outputs_of_a_multinomial_are_sequential_binomials():
    closed = _targets([{"name": "p", "likelihood": "multinomial", "statistic": "pathway", "of": 10,
                        "counts": {"completed": 5, "palliative": 3, "refused": 2}}])
    outs = outputs_of(closed)
    # the last category is what the others leave: two outputs, 5 of 10 then 3 of the other 5
    assert [o.name for o in outs] == ["p.completed", "p.palliative"]
    assert outs[1].observed == pytest.approx(empirical_logit(3, 5)[0])
    assert outs[1].var_obs == pytest.approx(empirical_logit(3, 5)[1])
    open_ = _targets([{"name": "p", "likelihood": "multinomial", "statistic": "pathway", "of": 12,
                       "counts": {"completed": 5, "palliative": 3, "refused": 2}}])
    assert [o.name for o in outputs_of(open_)][-1] == "p.refused"  # 2 of 4: the remainder is last
    # simulated: palliative among those not completed, at the simulated denominator
    stats = Statistics(values={"pathway.completed": 0.5, "pathway.palliative": 0.3},
                       denominators={"pathway.completed": 1000, "pathway.palliative": 1000})
    assert outs[1].simulated(stats) == pytest.approx(empirical_logit(300, 500))


def test_km_outputs_are_log_conditional_survival():
    t = _targets([
        {"name": "os_24", "likelihood": "km", "curve": "os", "month": 24, "percent": 70, "ci95": [64, 77]},
        {"name": "os_12", "likelihood": "km", "curve": "os", "month": 12, "percent": 90, "ci95": [86, 94]},
    ])
    first, second = outputs_of(t)
    se12 = (math.log(94) - math.log(86)) / (2 * 1.959963984540054)
    se24 = (math.log(77) - math.log(64)) / (2 * 1.959963984540054)
    assert (first.name, second.name) == ("os_12", "os_24")
    assert first.observed == pytest.approx(math.log(0.9)) and first.var_obs == pytest.approx(se12**2)
    assert second.observed == pytest.approx(math.log(0.7 / 0.9))
    assert second.var_obs == pytest.approx(se24**2 - se12**2)
    stats = Statistics(km={"os": {12.0: (0.8, 0.001), 24.0: (0.6, 0.003)}})
    assert second.simulated(stats) == pytest.approx((math.log(0.6 / 0.8), 0.002))


def test_implausibility_and_the_rule_by_hand():
    assert implausibility(1.0, 0.5, 0.01, 0.02, 0.005, 0.015) == pytest.approx(0.5 / math.sqrt(0.05))
    imp = np.array([[0.5, 3.5, 1.0], [3.2, 3.1, 0.1], [2.9, 2.9, 2.9]])
    assert ruled_out(imp, 3.0, "max").tolist() == [True, True, False]
    assert ruled_out(imp, 3.0, "second-max").tolist() == [False, True, False]


def test_emulator_matches_scikit_learn_and_learns_a_smooth_function():
    rng = np.random.default_rng(4)
    u = rng.random((60, 2))
    y = np.sin(5 * u[:, 0]) + 0.3 * u[:, 1] + rng.normal(0, 0.05, 60)
    em = Emulator.fit(u, y, seed=1)
    test = rng.random((200, 2))
    mean, var = em.predict(test)
    sk_mean, sk_sd = em.gp.predict(test, return_std=True)
    assert np.allclose(mean, em.beta[0] + test @ em.beta[1:] + sk_mean * em.scale, atol=1e-9)
    assert np.allclose(var, np.maximum(sk_sd**2 * em.scale**2 - em.noise, 1e-12), atol=1e-9)
    truth = np.sin(5 * test[:, 0]) + 0.3 * test[:, 1]
    assert np.sqrt(np.mean((mean - truth) ** 2)) < 0.05  # the noise's sd
    assert 0.02 < math.sqrt(em.noise) < 0.1
    # standardised errors of the truth: about N(0, 1), not a hundred times too confident
    z = (mean - truth) / np.sqrt(var)
    assert np.mean(np.abs(z) < 3) > 0.9
    assert np.mean(np.abs(em.loo_errors()) > 3) < 0.05


def test_a_wave_rules_out_what_its_implausibility_says():
    rng = np.random.default_rng(6)
    u = rng.random((40, 2))
    y = np.column_stack([u[:, 0] * 2, u[:, 1] - u[:, 0]]) + rng.normal(0, 0.01, (40, 2))
    wave, diagnostics = fit_wave(u, y, np.full((40, 2), 1e-4), np.array([1.0, 0.0]),
                                 np.array([0.01, 0.02]), 0.1, seed=3)
    assert wave.var_disc.tolist() == pytest.approx([0.001, 0.002]) and len(diagnostics) == 2
    test = rng.random((500, 2))
    imp = wave.implausibilities(*wave.predict(test))
    for rule in ("max", "second-max"):
        assert (wave.plausible(test, 3.0, rule) == ~ruled_out(imp, 3.0, rule)).all()
    # the first output (2 u0 = 1) holds u0 near 0.5: sd of the output 0.11, so |u0 - 0.5| < 0.17
    kept = test[wave.plausible(test, 3.0, "max")]
    assert 0.3 < kept[:, 0].min() < 0.4 and 0.6 < kept[:, 0].max() < 0.7
    assert wave.held_out_errors(test[:5], np.full((5, 2), np.nan)).shape == (5, 2)


def test_likelihood_by_hand_with_a_count_at_the_model_proportion():
    # output 0: a count of 228 (its sampling variance at the model's proportion), 1: a curve
    wave = Wave([], observed=np.array([-2.0, -0.1]), var_obs=np.array([0.05, 0.001]),
                var_disc=np.array([0.005, 0.0001]), var_mc=np.array([0.004, 0.0002]),
                published_n=np.array([228.0, np.nan]))
    mean, var_em = np.array([[-2.5, -0.12]]), np.array([[0.01, 0.0003]])
    p = 1 / (1 + math.exp(2.5))
    v0 = 1 / (228 * p + 0.5) + 1 / (228 * (1 - p) + 0.5) + 0.005 + 0.004 + 0.01
    v1 = 0.001 + 0.0001 + 0.0002 + 0.0003
    hand = -0.5 * (0.5**2 / v0 + math.log(2 * math.pi * v0) + 0.02**2 / v1 + math.log(2 * math.pi * v1))
    assert wave.log_likelihood(mean, var_em)[0] == pytest.approx(hand)


def test_refill_stays_inside_and_is_uniform():
    rng = np.random.default_rng(2)

    def disc(u):
        return np.sum((u - 0.5) ** 2, axis=1) < 0.3**2

    start = rng.random((4000, 2))
    survivors = start[disc(start)][:40]
    pool = refill(survivors, disc, 8000, rng)
    assert len(pool) == 8000 and disc(pool).all()
    # uniform on the disc: each half holds half, the inner disc of half the radius a quarter
    assert np.mean(pool[:, 0] < 0.5) == pytest.approx(0.5, abs=0.05)
    assert np.mean(np.sum((pool - 0.5) ** 2, axis=1) < 0.15**2) == pytest.approx(0.25, abs=0.05)


def test_predictive_draws_are_binomial_at_the_published_size():
    t = _targets([{"name": "c", "likelihood": "binomial", "statistic": "completion_rate",
                   "count": 30, "of": 100}])
    stats = Statistics(values={"completion_rate": 0.3}, denominators={"completion_rate": 5000})
    sample = predictive_samples(t, [stats], [5000], 20000, np.random.default_rng(1))["c"]
    assert sample.mean() == pytest.approx(0.3, abs=0.005)
    assert np.quantile(sample, 0.975) == pytest.approx(binom.ppf(0.975, 100, 0.3) / 100, abs=0.011)


def test_synthetic_targets_report_what_a_study_would():
    t = _targets([
        {"name": "c", "likelihood": "binomial", "statistic": "completion_rate", "count": 1, "of": 2},
        {"name": "os_12", "likelihood": "km", "curve": "os", "month": 12, "percent": 90, "ci95": [86, 94]},
    ], cohort=200)
    stats = Statistics(values={"completion_rate": 0.455}, denominators={"completion_rate": 200},
                       km={"os": {12.0: (0.8, 0.0008)}})
    doc = synthetic_targets(t, stats, "s")
    binomial, km = doc["targets"]
    assert (binomial["count"], binomial["of"]) == (91, 200)
    half = 1.959963984540054 * math.sqrt(0.0008)
    assert km["percent"] == pytest.approx(80) and km["ci95"][0] == pytest.approx(80 * math.exp(-half))
    assert TargetsFile.model_validate(doc).cohort_size == 200


def test_statistics_of_record_round_trips_json():
    stats = Statistics(values={"a": 0.5}, denominators={"a": 10}, km={"os": {12.0: (0.9, 0.01)}})
    rec = json.loads(json.dumps({"values": stats.values, **{k: v for k, v in stats.to_json().items()
                                                           if k != "values"}}))
    back = statistics_of_record(rec)
    assert back.km["os"][12.0] == (0.9, 0.01) and back.denominators == {"a": 10}


HM = {"kind": "history-matching",
      "history_matching": {"waves": 3, "design_points": 16, "pool": 3000, "walkers": 8, "steps": 300,
                           "draws": 200},
      "predictive": {"draws": 4, "patients": 300, "studies": 100}}
TRUTH = {"parameters.chemotherapy.toxicity.per_cycle.hematological": 0.03,
         "parameters.response.partial_probability": 0.75}


def test_recovery_of_two_parameters_each_held_by_a_target(tmp_path, monkeypatch):
    targets = yaml.safe_load((ROOT / "calibration" / "li2021_targets.yaml").read_text())
    keep = {"grade34_hematological", "partial_response", "completion"}
    targets["targets"] = [t for t in targets["targets"] if t["name"] in keep]
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump(targets))
    spec = {"name": "hm", "scenario": str(SCENARIO), "targets": str(tmp_path / "targets.yaml"),
            "fitted": str(tmp_path / "fitted.yaml"), "run": {"patients": 300, "seed": 5},
            "verification": {"patients": 300, "seed": 6}, "method": HM, "parameters": [
                {"path": "parameters.chemotherapy.toxicity.per_cycle.hematological", "low": 0.003,
                 "high": 0.08, "scale": "log"},
                {"path": "parameters.response.partial_probability", "low": 0.3, "high": 0.9}]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = run_recovery(tmp_path / "spec.yaml", tmp_path / "out", TRUTH, seed=8, workers=1,
                          backend="serial")
    # both parameters pulled from their priors into a narrow band around the truth (the report
    # calls a parameter identified below half its prior's width; the partial response rate
    # counts only patients who reach reassessment, so it moves less than the parameter: 0.36
    # of the prior's width on the current reference, 0.31 on the fit before)
    assert result["identified"] == list(TRUTH) and result["identified_recovered"]
    widths = {r["parameter"]: r["posterior_to_prior_width"] for r in result["parameters"]}
    assert all(w < 0.4 for w in widths.values()), widths
    report = json.loads((tmp_path / "out" / "calibration" / "report.json").read_text())
    waves = report["history_matching"]["waves"]
    volumes = [w["volume"] for w in waves]
    assert volumes[0] < 0.3 and volumes == sorted(volumes, reverse=True)
    post = report["history_matching"]["posterior"]
    assert post["draws"] >= 200 and post["distinct"] >= 190 and post["ess"] >= 100
    assert "predictive" not in report  # recovery judges the posterior only
    assert not (tmp_path / "fitted.yaml").exists()  # the spec's own fit is never written

    calls = []
    original = evaluate_module.Evaluator.__call__
    monkeypatch.setattr(evaluate_module.Evaluator, "__call__",
                        lambda self, x, seed=None: calls.append(1) or original(self, x, seed))
    again = run_recovery(tmp_path / "spec.yaml", tmp_path / "out", TRUTH, seed=8, workers=1,
                         backend="serial")
    assert calls == [] and again["parameters"] == result["parameters"]  # resumed from the cache


def test_targets_no_candidate_reaches_end_in_one_line(tmp_path):
    # a clinical partial response published in 57% of 228, with the response rate confined to
    # 1-5%: no candidate comes near, and the first wave rules out every one
    targets = yaml.safe_load((ROOT / "calibration" / "li2021_targets.yaml").read_text())
    targets["targets"] = [t for t in targets["targets"] if t["name"] == "partial_response"]
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump(targets))
    spec = {"name": "hm", "scenario": str(SCENARIO), "targets": str(tmp_path / "targets.yaml"),
            "fitted": str(tmp_path / "fitted.yaml"), "run": {"patients": 200, "seed": 5},
            "verification": {"patients": 200, "seed": 6}, "method": HM, "parameters": [
                {"path": "parameters.response.partial_probability", "low": 0.01, "high": 0.05}]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    done = subprocess.run([sys.executable, "-m", "sim", "calibrate", str(tmp_path / "spec.yaml"),
                           "--workers", "1", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.strip().splitlines() if "spec.yaml" in line]
    assert len(lines) == 1 and "spec.yaml: method.history_matching: wave 1 ruled out" in lines[0]
    assert done.stderr.strip().splitlines()[-1] == lines[0]  # after the progress bars, one line
    assert "Traceback" not in done.stderr and not (tmp_path / "fitted.yaml").exists()


def test_best_fit_is_the_emulators_maximum_polished_by_the_simulator(tmp_path):
    # one parameter held by one published count: Powell on the simulator's deviance must end
    # where the verification run reproduces the count (inside its published CI)
    targets = yaml.safe_load((ROOT / "calibration" / "li2021_targets.yaml").read_text())
    targets["targets"] = [t for t in targets["targets"] if t["name"] == "grade34_hematological"]
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump(targets))
    method = {**HM, "history_matching": {**HM["history_matching"], "waves": 2, "design_points": 12,
                                         "polish_evaluations": 20, "polish_starts": 1},
              "predictive": {"draws": 2, "patients": 300, "studies": 50}}
    spec = {"name": "hm", "scenario": str(SCENARIO), "targets": str(tmp_path / "targets.yaml"),
            "fitted": str(tmp_path / "fitted.yaml"), "run": {"patients": 400, "seed": 5},
            "verification": {"patients": 2000, "seed": 6}, "method": method, "parameters": [
                {"path": "parameters.chemotherapy.toxicity.per_cycle.hematological", "low": 0.003,
                 "high": 0.08, "scale": "log"}]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    report = run_calibration(tmp_path / "spec.yaml", tmp_path / "out", workers=1, backend="serial")
    traces = report["convergence"]["optimizer_traces"]
    assert report["convergence"]["optimizer"] == "powell" and len(traces) == 1
    assert 5 <= len(traces[0]) <= 30  # Powell's runs, its first the emulators' maximum
    assert report["best"]["deviance"] == pytest.approx(min(traces[0]))
    (row,) = report["targets"]
    assert row["inside"], row
    assert "Powell polish by the simulator (20 runs)" in report["provenance"]["method"]
    (predicted,) = report["predictive"]["rows"]
    assert predicted["target"] == "grade34_hematological"


def test_stated_priors_bound_the_posterior_where_the_box_is_wider(tmp_path):
    # the first palliative line's stated prior is uniform on 4-12 months, the box 3-12: no
    # posterior draw below 4, and no walker stuck where the prior has no mass
    targets = yaml.safe_load((ROOT / "calibration" / "li2021_targets.yaml").read_text())
    targets["targets"] = [t for t in targets["targets"] if t["name"] == "chemotherapy_duration"]
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump(targets))
    method = {**HM, "history_matching": {**HM["history_matching"], "waves": 1, "design_points": 12},
              "predictive": {"draws": 0}}
    path = "parameters.palliative_therapy.first_line_months"
    spec = {"name": "hm", "scenario": str(SCENARIO), "targets": str(tmp_path / "targets.yaml"),
            "fitted": str(ROOT / "calibration" / "fitted" / "li2021.yaml"), "prior": "stated",
            "run": {"patients": 300, "seed": 5}, "verification": {"patients": 300, "seed": 6},
            "method": method, "parameters": [{"path": path, "low": 3, "high": 12}]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    # the spec names the shipped fit as its own (so the scenario's own prior applies); only the
    # fit's posterior is computed here, nothing is written
    cal = load_calibration(tmp_path / "spec.yaml")
    runner = Runner(str(tmp_path / "spec.yaml"), 300, 5, 1, Cache(tmp_path / "cache"), "serial")
    try:
        targets_file, _ = load_targets(tmp_path / "targets.yaml")
        result = fit_by_history_matching(cal, runner, outputs_of(targets_file), 5, tmp_path / "waves")
    finally:
        runner.close()
    draws = result.posterior_x[:, 0]
    assert draws.min() >= 4.0 and len(np.unique(draws)) >= 0.95 * len(draws)
    assert cal.prior_interval(0) == pytest.approx((4.2, 11.8))
