"""The model's inputs read from the population table (sim/execution/runner.py::_centre_inputs):
every patient's attributes under their own names."""

from __future__ import annotations

from pathlib import Path

from sim.execution.runner import _centre_inputs
from sim.population.sample import sample_population, sites_of
from sim.scenario.loader import load_scenario

SCENARIO = Path(__file__).parents[2] / "scenarios" / "crlm_resectable_neoadjuvant.yaml"


def test_attributes_are_the_patients_columns():
    scenario = load_scenario(SCENARIO, {"run.patients": 300, "run.seed": 4})
    pop = sample_population(scenario, 0, 300)
    inputs = _centre_inputs(pop, scenario)
    by = scenario.parameters.response.partial_odds_ratio_by
    assert by is not None  # this scenario's response depends on an attribute
    ratios = {value: r.value for value, r in by.odds_ratios.items()}
    assert len(inputs) == 300 and inputs.patient_id == pop["patient_id"].tolist()
    for attrs, (_, row) in zip(inputs.attrs, pop.iterrows(), strict=True):
        assert attrs.response_odds_ratio == ratios.get(str(row[by.attribute]), 1.0)
        assert (attrs.regimen, attrs.radiotherapy_course, attrs.sequence, attrs.tumour_height) == (
            row["regimen"], row["radiotherapy_course"], row["sequence"], row["tumour_height"])
        assert attrs.sites == sites_of(row["metastatic_site"])
        assert (attrs.has_liver, attrs.has_lung) == ("liver" in attrs.sites, "lung" in attrs.sites)
        assert attrs.n_liver_metastases == row["n_liver_metastases"]
        assert attrs.modality == {"liver": row["liver_modality"], "lung": row["lung_modality"],
                                  "distant_lymph_nodes": row["distant_lymph_nodes_modality"]}
    # the attribute-dependent odds ratio is not 1 for everyone, nor for no one
    assert 0 < sum(a.response_odds_ratio != 1.0 for a in inputs.attrs) < 300
    assert inputs.male == (pop["sex"] == "male").tolist()
    assert inputs.age_years == pop["age_years"].tolist()
