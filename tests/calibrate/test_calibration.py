"""Calibration: likelihoods on hand-made statistics, spec checks before any simulation, the fit's
outputs, resuming after an interruption, and the fitted reference against its targets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT

from sim.calibrate import evaluate as evaluate_module
from sim.calibrate.run import run_calibration, validate_targets
from sim.calibrate.spec import load_calibration
from sim.calibrate.statistics import Statistics, km_landmarks
from sim.calibrate.targets import (
    BinomialTarget,
    KmTarget,
    MultinomialTarget,
    binomial_deviance,
    clopper_pearson,
    km_deviances,
    load_targets,
    multinomial_deviance,
)
from sim.errors import InputError

SPEC = ROOT / "calibration" / "li2021.yaml"
TARGETS = ROOT / "calibration" / "li2021_targets.yaml"


def _stats(values: dict, n: int = 10**9, km=None) -> Statistics:
    return Statistics(values=values, denominators={k: n for k in values}, km=km or {})


def test_binomial_deviance_zero_at_the_published_proportion():
    t = BinomialTarget(name="t", likelihood="binomial", statistic="completion_rate", count=112, of=228)
    assert binomial_deviance(t, _stats({"completion_rate": 112 / 228})) == pytest.approx(0, abs=1e-9)
    near = binomial_deviance(t, _stats({"completion_rate": 0.45}))
    far = binomial_deviance(t, _stats({"completion_rate": 0.30}))
    assert 0 < near < far
    # by hand: 2[k log(k/np) + (n-k) log((n-k)/(n(1-p)))]
    k, n, p = 112, 228, 0.45
    hand = 2 * (k * math.log(k / (n * p)) + (n - k) * math.log((n - k) / (n * (1 - p))))
    assert near == pytest.approx(hand, rel=1e-6)


def test_monte_carlo_error_down_weights_small_simulations():
    t = BinomialTarget(name="t", likelihood="binomial", statistic="completion_rate", count=112, of=228)
    big = binomial_deviance(t, _stats({"completion_rate": 0.40}, n=10**9))
    small = binomial_deviance(t, _stats({"completion_rate": 0.40}, n=228))
    assert small == pytest.approx(big / 2, rel=1e-6)


def test_multinomial_deviance_counts_the_unpublished_remainder():
    t = MultinomialTarget(name="p", likelihood="multinomial", statistic="pathway", of=10,
                          counts={"completed": 5, "palliative": 5})
    exact = _stats({"pathway.completed": 0.5, "pathway.palliative": 0.5})
    assert multinomial_deviance(t, exact) == pytest.approx(0, abs=1e-9)
    leaking = _stats({"pathway.completed": 0.4, "pathway.palliative": 0.4})  # 20% elsewhere
    assert multinomial_deviance(t, leaking) == pytest.approx(2 * 10 * math.log(0.5 / 0.4), rel=1e-6)


def test_km_deviance_uses_log_scale_increments():
    marks = [KmTarget(name=f"os_{m}", likelihood="km", curve="os", month=m, percent=p, ci95=ci)
             for m, p, ci in ((12, 91.2, (87.6, 95.0)), (24, 74.8, (69.4, 80.7)))]
    exact = _stats({}, km={"os": {12: (0.912, 0.0), 24: (0.748, 0.0)}})
    assert all(v == pytest.approx(0, abs=1e-12) for v in km_deviances(marks, exact).values())
    # a curve that is right at 12 months but 5 points low at 24 is penalised at 24 only
    low = _stats({}, km={"os": {12: (0.912, 0.0), 24: (0.698, 0.0)}})
    dev = km_deviances(marks, low)
    se12, se24 = marks[0].se_log, marks[1].se_log
    expected = (math.log(0.748 / 0.698)) ** 2 / (se24**2 - se12**2)
    assert dev["os_12"] == pytest.approx(0, abs=1e-12) and dev["os_24"] == pytest.approx(expected)


def test_se_from_a_ci_symmetric_on_the_log_scale():
    t = KmTarget(name="os_12", likelihood="km", curve="os", month=12, percent=91.2, ci95=(87.6, 95.0))
    assert t.se_log == pytest.approx((math.log(95.0) - math.log(87.6)) / (2 * 1.959964), rel=1e-5)


def test_km_landmarks_match_the_empirical_fraction_and_greenwood():
    durations = np.array([5, 10, 15, 20, 30, 40, 50, 60], float)
    s = km_landmarks(durations, np.ones(8, int), (12, 24))
    assert s[12][0] == pytest.approx(6 / 8) and s[24][0] == pytest.approx(4 / 8)
    greenwood = sum(1 / (n * (n - 1)) for n in (8, 7))
    assert s[12][1] == pytest.approx(greenwood)


def test_clopper_pearson():
    low, high = clopper_pearson(112, 228)
    assert 0.42 < low < 0.43 and 0.55 < high < 0.56
    assert clopper_pearson(0, 10)[0] == 0.0


def test_shipped_targets_file_loads(tmp_path):
    targets, digest = load_targets(TARGETS)
    assert targets.cohort_size == 228 and len(digest) == 64
    assert {t.name for t in targets.targets if not t.fit} >= {"ypcr", "metastasis_treatment"}


def _write(tmp_path: Path, data: dict, name: str) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_target_without_a_denominator_is_refused(tmp_path):
    data = yaml.safe_load(TARGETS.read_text())
    del data["targets"][1]["of"]
    with pytest.raises(InputError) as info:
        load_targets(_write(tmp_path, data, "t.yaml"))
    assert info.value.field == "targets[1].of" and "missing" in info.value.expected


def _spec(tmp_path: Path, **changes) -> Path:
    data = yaml.safe_load(SPEC.read_text())
    data["scenario"] = str(ROOT / "scenarios" / "li2021_reference.yaml")
    data["targets"] = str(TARGETS)
    data["fitted"] = str(tmp_path / "fitted" / "fit.yaml")
    data["prior"] = "uniform"  # most tests here run the optimise method, whose priors are uniform
    for key, value in changes.items():
        data[key] = value
    return _write(tmp_path, data, "spec.yaml")


@pytest.fixture
def no_simulation(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a simulation ran before the spec was checked")

    monkeypatch.setattr(evaluate_module, "run_scenario", refuse)


@pytest.mark.parametrize("param,field,needle", [
    ({"path": "parameters.disease.progresion.weibull_shape", "low": 1, "high": 2},
     "parameters[0].path", "unknown parameter path"),
    ({"path": "parameters.mdt.refusal_probability", "low": 0.0, "high": 1.5},
     "parameters[0].high", "within the domain (a probability in [0, 1])"),
    ({"path": "parameters.disease.progression.weibull_scale_months", "low": -3, "high": 20},
     "parameters[0].low", "within the domain"),
    ({"path": "parameters.mdt", "low": 0.1, "high": 0.2},
     "parameters[0].path", "not a parameter"),
])
def test_bad_spec_fails_before_any_simulation(tmp_path, no_simulation, param, field, needle):
    path = _spec(tmp_path, parameters=[param])
    with pytest.raises(InputError) as info:
        run_calibration(path, tmp_path / "out")
    assert info.value.field == field and needle in info.value.expected
    assert not (tmp_path / "out").exists()


def test_verification_seed_must_be_fresh(tmp_path):
    path = _spec(tmp_path, verification={"patients": 1000, "seed": 101})
    with pytest.raises(InputError) as info:
        load_calibration(path)
    assert "verification seed" in info.value.expected


def test_stated_priors_are_the_scenarios_distributions_in_u(tmp_path):
    # a lognormal prior on a log-scale parameter is normal in log x, and u is linear in log x:
    # the log density in u differs between two points as the normal density of log x does
    hr = "parameters.disease.progression.covariate_hazard_ratios.metastatic_site=lung_only"
    tox = "parameters.chemotherapy.toxicity.per_cycle.hematological"
    path = _spec(tmp_path, prior="stated", parameters=[
        {"path": hr, "low": 0.25, "high": 1.5, "scale": "log"}, {"path": tox, "low": 0.003, "high": 0.08}])
    # the spec's own fit is never applied to its scenario: the prior is the scenario's own
    data = yaml.safe_load(path.read_text())
    data["fitted"] = str(ROOT / "calibration" / "fitted" / "li2021.yaml")
    path.write_text(yaml.safe_dump(data))
    cal = load_calibration(path)  # loading only: nothing is written
    x = np.array([[0.3, 0.01], [0.9, 0.03]])
    lp = cal.log_prior_u(cal.x_to_u(x))
    sdlog = (math.log(1.2) - math.log(0.35)) / (2 * 1.959963984540054)  # the scenario's ci95
    normal = [-0.5 * ((math.log(v) - math.log(0.65)) / sdlog) ** 2 for v in (0.3, 0.9)]
    beta = [(3.6 - 1) * math.log(v) + (196.4 - 1) * math.log(1 - v) for v in (0.01, 0.03)]  # Beta(3.6, 196.4)
    assert lp[1] - lp[0] == pytest.approx(normal[1] - normal[0] + beta[1] - beta[0], rel=1e-9)
    low, high = cal.prior_interval(0)
    # truncated to the bounds: F(0.25) = 0.0012, F(1.5) = 0.9961, so the 2.5% and 97.5% points
    # are the untruncated quantiles 0.0261 and 0.9712: z = -1.942 and 1.899 on log x
    assert (low, high) == pytest.approx((0.3532, 1.1807), abs=1e-3)
    uniform = load_calibration(_spec(tmp_path, parameters=[{"path": tox, "low": 0.003, "high": 0.08}]))
    assert uniform.log_prior_u(np.array([[0.2], [0.7]])).tolist() == [0.0, 0.0]


def test_stated_priors_need_a_distribution_and_history_matching(tmp_path):
    free = [{"path": "parameters.disease.progression.hazard_ratio_by_state.on_treatment", "low": 0.5,
             "high": 2.0}]
    hm = {"kind": "history-matching"}
    with pytest.raises(InputError) as info:
        load_calibration(_spec(tmp_path, prior="stated", parameters=free, method=hm))
    assert info.value.field == "parameters[0].path" and "uncertainty distribution" in info.value.expected
    with pytest.raises(InputError) as info:
        load_calibration(_spec(tmp_path, prior="stated", method={"kind": "optimise"}))
    assert info.value.field == "prior" and "history-matching" in info.value.expected


def test_transforms_round_trip():
    cal = load_calibration(SPEC)
    rng = np.random.default_rng(1)
    x = cal.low + rng.random(len(cal.names)) * (cal.high - cal.low)
    assert np.allclose(cal.to_x(cal.to_z(x)), x)
    assert np.all(cal.to_x(np.full(len(cal.names), 30.0)) <= cal.high)


TINY = {"initial_samples": 10, "optimizer": {"starts": 1, "max_evaluations": 12},
        "uncertainty": {"iterations": 1, "samples_per_iteration": 10, "resample": 20,
                        "posterior": "abc-mcmc", "chains": 3, "steps": 4}}


def test_tiny_calibration_writes_outputs_and_resumes(tmp_path, monkeypatch):
    path = _spec(tmp_path, run={"patients": 150, "seed": 3},
                 verification={"patients": 300, "seed": 4}, method=TINY,
                 parameters=[
                     {"path": "parameters.disease.progression.weibull_scale_months", "low": 8, "high": 40,
                      "scale": "log"},
                     {"path": "parameters.resectability.probability", "low": 0.4, "high": 0.95},
                 ])
    out = tmp_path / "out"

    class Interrupt(Exception):
        pass

    def stop_after_five(stage, done, total):
        if stage == "initial samples" and done >= 5:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_calibration(path, out, progress=stop_after_five)
    kept = (out / "evaluations" / "evaluations.jsonl").read_text().splitlines()
    assert len(kept) == 5

    calls = []
    original = evaluate_module.Evaluator.__call__
    monkeypatch.setattr(evaluate_module.Evaluator, "__call__",
                        lambda self, x: calls.append(1) or original(self, x))
    report = run_calibration(path, out)
    # the five finished evaluations were not run again
    assert len(calls) == report["evaluations"] - 5

    fitted = yaml.safe_load((tmp_path / "fitted" / "fit.yaml").read_text())
    assert fitted["provenance"]["seed"] == 3 and len(fitted["provenance"]["targets_sha256"]) == 64
    value = fitted["parameters"]["resectability"]["probability"]["value"]
    assert 0.4 <= value <= 0.95
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert len(posterior) == 20 and "parameters.resectability.probability" in posterior
    data = json.loads((out / "report.json").read_text())
    assert {r["target"] for r in data["targets"]} >= {"os_12", "pathway.completed", "ypcr"}
    # the posterior sets all lie within the likelihood-ratio tolerance of the best fit
    assert data["uncertainty"]["method"].startswith("ABC-MCMC")
    tolerance = data["convergence"]["posterior"][0]["tolerance"]
    records = [json.loads(line) for f in (out / "evaluations").glob("*.jsonl")
               for line in f.read_text().splitlines()]
    deviance = {tuple(round(v, 12) for v in r["x"]): r["deviance"] for r in records}
    for row in posterior.drop(columns="draw").itertuples(index=False):
        key = tuple(round(v, 12) for v in row)
        assert key in deviance and deviance[key] <= tolerance + 1e-9
    assert (out / "report.html").read_text().count("<script") >= 1


def test_candidates_on_dask_match_in_process(tmp_path):
    from sim.calibrate.evaluate import Cache
    from sim.calibrate.fit import Runner

    path = _spec(tmp_path, run={"patients": 80, "seed": 3}, method=TINY, parameters=[
        {"path": "parameters.resectability.probability", "low": 0.4, "high": 0.95}])
    xs = np.array([[0.5], [0.7], [0.9]])
    results = {}
    for backend in ("serial", "dask"):
        runner = Runner(str(path), 80, 3, 2, Cache(tmp_path / backend), backend=backend)
        try:
            results[backend] = [r["deviance"] for r in runner.batch(xs, "test", None)]
        finally:
            runner.close()
    assert results["dask"] == results["serial"]


def test_validate_targets_on_a_results_directory(tmp_path, small_run):
    from sim.io.results import manifest, write_run

    result, patients, summary = small_run
    out = write_run(tmp_path / "r", result.events, patients, summary,
                    manifest(result.scenario, "x.yaml", 1.0))
    rows = validate_targets(out, TARGETS)
    assert {r["target"] for r in rows} >= {"completion", "os_36", "pathway.refused"}
    completion = next(r for r in rows if r["target"] == "completion")
    assert completion["simulated"] == pytest.approx(summary["completion_rate"])
    with pytest.raises(InputError):
        validate_targets(tmp_path, TARGETS)
