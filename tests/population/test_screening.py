"""Population attributes, eligibility criteria and the screening report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import InputError
from sim.execution.runner import centre_ranges
from sim.population.sample import draw_candidates, sample_population
from sim.population.screening import screen
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "scenarios" / "li2021_reference.yaml"
AGE75 = ROOT / "scenarios" / "tnt_lcrt_induction_age75.yaml"

MMR = {"counts": {"pMMR": 95, "dMMR": 5}, "source": "assumption for the test"}
NEUTROPHILS = {"distribution": "truncated_lognormal", "median": 3.5, "spread": 0.4, "min": 0.5,
               "max": 15, "source": "assumption for the test"}


def _scenario(write_scenario, eligibility=(), attributes=None, patients=300, name="s.yaml"):
    data = {"extends": str(REFERENCE), "name": "screened",
            "population": {"attributes": attributes or {"mmr_status": MMR,
                                                         "neutrophils_10e9_l": NEUTROPHILS},
                           "eligibility": list(eligibility)},
            "run": {"patients": patients, "centre_size": 64}}
    return load_scenario(write_scenario(data, name))


CRITERIA = [
    {"label": "age 18-70", "attribute": "age_years", "min": 18, "max": 70},
    {"label": "pMMR/MSS", "attribute": "mmr_status", "in": ["pMMR"]},
    {"label": "ANC >= 1.5", "attribute": "neutrophils_10e9_l", "min": 1.5},
    {"label": "at most 5 liver metastases", "attribute": "n_liver_metastases", "max": 5},
]


def test_patients_meet_every_criterion_and_are_the_eligible_candidates_in_order(write_scenario):
    s = _scenario(write_scenario, CRITERIA)
    pop = sample_population(s, 0, 300)
    assert len(pop) == 300 and (pop["patient_id"] == np.arange(300)).all()
    assert pop["age_years"].between(18, 70).all() and (pop["mmr_status"] == "pMMR").all()
    assert (pop["neutrophils_10e9_l"] >= 1.5).all() and (pop["n_liver_metastases"] <= 5).all()
    assert pop["candidate_id"].is_monotonic_increasing
    # the candidates in between were all ineligible on at least one criterion
    candidates = draw_candidates(s, 0, int(pop["candidate_id"].max()) + 1)
    skipped = candidates[~candidates["candidate_id"].isin(pop["candidate_id"])]
    assert len(skipped) > 0
    fails = ((skipped["age_years"] > 70) | (skipped["mmr_status"] != "pMMR")
             | (skipped["neutrophils_10e9_l"] < 1.5) | (skipped["n_liver_metastases"] > 5))
    assert fails.all()


def test_centres_see_the_same_eligible_cohort(write_scenario):
    s = _scenario(write_scenario, CRITERIA)
    whole = sample_population(s, 0, 300)
    parts = pd.concat([sample_population(s, a, b) for _, a, b in centre_ranges(s)],
                      ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)


def test_consecutive_blocks_screen_each_candidate_once(write_scenario, monkeypatch):
    """A long run asks for its patients block after block: each block of candidates is drawn
    and screened once (the one a call ends in, twice), not again from the first candidate for
    every block of patients."""
    import sim.population.sample as population

    s = _scenario(write_scenario, CRITERIA, patients=600)
    whole = sample_population(s, 0, 600)
    monkeypatch.setattr(population, "_SCREENED", {}, raising=False)
    monkeypatch.setattr(population, "SCREEN_BLOCK", 64)
    drawn = []
    real = population.draw_candidates
    monkeypatch.setattr(population, "draw_candidates",
                        lambda sc, a, b: drawn.append((a, b)) or real(sc, a, b))
    parts = pd.concat([sample_population(s, a, a + 50) for a in range(0, 600, 50)],
                      ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)
    # only the block a call of patients ends in is screened again, by the next call
    assert len(drawn) <= len(set(drawn)) + 11
    assert max(b for _, b in drawn) <= int(whole["candidate_id"].max()) + 1 + 64


def test_without_criteria_candidates_are_patients_and_attributes_leave_the_rest_alone(write_scenario):
    plain = load_scenario(REFERENCE, {"run.patients": 200})
    extra = _scenario(write_scenario, patients=200)
    a, b = sample_population(plain, 0, 200), sample_population(extra, 0, 200)
    assert (b["candidate_id"] == b["patient_id"]).all()
    pd.testing.assert_frame_equal(a, b[a.columns])
    assert 0.02 < (draw_candidates(extra, 0, 20000)["mmr_status"] == "dMMR").mean() < 0.08


@settings(max_examples=15, deadline=None)
@given(low=st.integers(18, 60), width=st.integers(5, 40), ln=st.integers(0, 12))
def test_screen_waterfall_adds_up(tmp_path_factory, low, width, ln):
    path = tmp_path_factory.mktemp("screen") / "s.yaml"
    import yaml

    path.write_text(yaml.safe_dump({
        "extends": str(REFERENCE), "name": "screened",
        "population": {"eligibility": [
            {"label": "age", "attribute": "age_years", "min": low, "max": low + width},
            {"label": "liver", "attribute": "n_liver_metastases", "max": ln},
        ]}}))
    s = load_scenario(path)
    report = screen(s, 2000)
    rows = report["criteria"]
    assert report["candidates"] - sum(r["excluded_in_order"] for r in rows) == report["eligible"]
    assert rows[-1]["remaining"] == report["eligible"]
    c = draw_candidates(s, 0, 2000)
    assert rows[0]["failing"] == int((~c["age_years"].between(low, low + width)).sum())
    assert rows[1]["failing"] == int((c["n_liver_metastases"] > ln).sum())
    assert all(r["excluded_in_order"] <= r["failing"] for r in rows)


@pytest.mark.parametrize("criterion, needle", [
    ({"label": "x", "attribute": "ecog", "max": 1}, "unknown attribute 'ecog'"),
    ({"label": "x", "attribute": "age_years", "in": ["old"]}, "is a number"),
    ({"label": "x", "attribute": "mmr_status", "min": 1}, "is a category"),
    ({"label": "x", "attribute": "mmr_status", "in": ["MSI-H"]}, "unknown category 'MSI-H'"),
    ({"label": "x", "attribute": "age_years", "min": 70, "max": 18}, "min <= max"),
    ({"label": "x", "attribute": "age_years"}, "either min/max"),
])
def test_bad_criteria_are_refused_with_the_field(write_scenario, criterion, needle):
    with pytest.raises(InputError) as info:
        _scenario(write_scenario, [criterion])
    assert needle in info.value.expected
    assert "population" in str(info.value.field) and "eligibility" in info.value.one_line()


def test_criteria_nobody_meets_are_a_clear_error(write_scenario):
    s = _scenario(write_scenario, [{"label": "centenarians", "attribute": "age_years", "min": 100}],
                  patients=10)
    with pytest.raises(InputError) as info:
        sample_population(s, 0, 10)
    assert "none of" in info.value.expected


def test_screen_command(tmp_path):
    out = tmp_path / "screen.json"
    r = subprocess.run([sys.executable, "-m", "sim", "screen", str(AGE75), "--candidates", "3000",
                        "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "eligible:" in r.stdout and "age 18-75" in r.stdout
    report = json.loads(out.read_text())
    assert report["candidates"] == 3000 and 0.9 < report["eligible_fraction"] < 1.0
    r = subprocess.run([sys.executable, "-m", "sim", "screen", str(AGE75), "--candidates", "0"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--candidates" in r.stderr
