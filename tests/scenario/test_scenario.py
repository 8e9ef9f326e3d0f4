"""The scenario loader: validation, extends, overrides and one-line errors."""

from __future__ import annotations

import copy

import pytest
from conftest import REFERENCE
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sim.errors import InputError
from sim.scenario.loader import _resolve, load_scenario, set_by_path, validate_raw


def test_reference_loads_and_is_frozen(reference):
    assert reference.name == "li2021_reference"
    assert reference.run.patients == 228
    with pytest.raises(ValidationError):
        reference.run.patients = 5  # frozen


def test_overrides_apply(reference_path):
    s = load_scenario(reference_path, {"run.patients": 50, "run.seed": 3})
    assert (s.run.patients, s.run.seed) == (50, 3)


def test_extends_inherits_and_overrides(write_scenario, reference_path):
    path = write_scenario({
        "extends": str(reference_path),
        "name": "child",
        "parameters": {"mdt": {"refusal_probability": {"value": 0.1, "source": "test"}}},
    })
    s = load_scenario(path)
    assert s.name == "child"
    assert s.parameters.mdt.refusal_probability.value == 0.1
    # untouched siblings are inherited
    assert s.parameters.mdt.sequence.counts["bowel_first"] == 100
    # the life table path is relative to the file that names it
    assert len(s.parameters.disease.background_mortality.table) == 13


def test_bare_number_is_a_value(write_scenario, reference_path):
    path = write_scenario({
        "extends": str(reference_path),
        "parameters": {"response": {"complete_probability": 0.02}},
    })
    assert load_scenario(path).parameters.response.complete_probability.value == 0.02


def _error(path) -> InputError:
    with pytest.raises(InputError) as info:
        load_scenario(path)
    return info.value


def test_missing_file(tmp_path):
    e = _error(tmp_path / "nope.yaml")
    assert "nope.yaml" in e.one_line() and "file not found" in e.one_line()


def test_invalid_yaml(write_scenario):
    e = _error(write_scenario("name: [unclosed\n"))
    assert "invalid YAML" in e.expected and "line" in e.expected


def test_unknown_key_names_field_and_allowed_keys(write_scenario, reference_path):
    e = _error(write_scenario({"extends": str(reference_path), "run": {"patinets": 10}}))
    assert e.field == "run.patinets"
    assert "unknown key" in e.expected and "patients" in e.expected
    assert e.source.endswith("scenario.yaml")


def test_wrong_type(write_scenario, reference_path):
    e = _error(write_scenario({"extends": str(reference_path), "run": {"seed": "abc"}}))
    assert e.field == "run.seed" and "integer" in e.expected


def test_probability_out_of_range(write_scenario, reference_path):
    e = _error(write_scenario({
        "extends": str(reference_path),
        "parameters": {"mdt": {"refusal_probability": {"value": 1.3}}},
    }))
    assert e.field == "parameters.mdt.refusal_probability"
    assert "probability in [0, 1]" in e.expected and "1.3" in e.expected


def test_uncertainty_outside_domain(write_scenario, reference_path):
    e = _error(write_scenario({
        "extends": str(reference_path),
        "parameters": {"mdt": {"refusal_probability": {
            "value": 0.1, "uncertainty": {"distribution": "normal", "sd": 0.1}}}},
    }))
    assert "uncertainty distribution within a probability" in e.expected


def test_negative_duration(write_scenario, reference_path):
    e = _error(write_scenario({
        "extends": str(reference_path),
        "parameters": {"disease": {"symptomatic_detection_mean_days": -3}},
    }))
    assert e.field == "parameters.disease.symptomatic_detection_mean_days"
    assert "non-negative duration" in e.expected


def test_extends_cycle(write_scenario, tmp_path):
    write_scenario({"extends": "b.yaml", "name": "a"}, "a.yaml")
    write_scenario({"extends": "a.yaml", "name": "b"}, "b.yaml")
    e = _error(tmp_path / "a.yaml")
    assert e.field == "extends" and "cycle" in e.expected


def test_error_in_base_file_names_the_base(write_scenario, tmp_path, reference_path):
    base = write_scenario({
        "extends": str(reference_path),
        "parameters": {"response": {"partial_probability": 2}},
    }, "base.yaml")
    child = write_scenario({"extends": base.name, "name": "child"}, "child.yaml")
    e = _error(child)
    assert e.source.endswith("base.yaml")


def test_unknown_phase_target(write_scenario, reference_path):
    e = _error(write_scenario({
        "extends": str(reference_path),
        "strategy": {"on_progression": "nowhere"},
    }))
    assert "unknown phase 'nowhere'" in e.expected


def test_unknown_step_type(write_scenario, reference_path):
    e = _error(write_scenario({
        "extends": str(reference_path),
        "strategy": {"phases": {"palliative": [{"step": "teleport"}]}},
    }))
    assert e.field.startswith("strategy.phases.palliative[0]")
    assert "teleport" in e.expected


# ---------------------------------------------------------------- property-based schema tests

_ORIGINS: dict = {}
_RAW = _resolve(REFERENCE, (), _ORIGINS)
_RAW["parameters"]["disease"]["background_mortality"]["table"] = ((25.0, 0.001, 0.001),)

PROBABILITIES = [
    "parameters.mdt.refusal_probability",
    "parameters.response.complete_probability",
    "parameters.chemotherapy.toxicity.per_cycle.neurological",
    "parameters.disease.progression.cure_probability_all_sites_treated",
    "parameters.local_treatment.pcr_probability.LCRT",
]
DURATIONS = [
    "parameters.disease.symptomatic_detection_mean_days",
]
RATIOS = [
    "parameters.disease.progression.hazard_ratio_by_state.palliative",
    "parameters.resectability.partial_response_odds_ratio",
]


def _with(path: str, value) -> dict:
    raw = copy.deepcopy(_RAW)
    set_by_path(raw, path, value)
    return raw


def _outcome(raw):
    try:
        return validate_raw(raw, _ORIGINS, REFERENCE), None
    except InputError as exc:
        return None, exc


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PROBABILITIES), st.floats(-2, 3, allow_nan=False))
def test_probabilities_accepted_exactly_in_unit_interval(path, value):
    raw = _with(path, value)
    if path.endswith("complete_probability"):  # complete + partial must stay <= 1
        set_by_path(raw, "parameters.response.partial_probability", 0.0)
    scenario, error = _outcome(raw)
    if 0.0 <= value <= 1.0:
        assert error is None
    else:
        assert scenario is None
        assert error.field == path and "probability in [0, 1]" in error.expected


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(DURATIONS + RATIOS), st.floats(-50, 50, allow_nan=False))
def test_durations_and_ratios_refuse_impossible_values(path, value):
    scenario, error = _outcome(_with(path, value))
    allowed = value >= 0 if path in DURATIONS else value > 0
    assert (error is None) == allowed
    if error is not None:
        assert error.field == path


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["run", "parameters.mdt", "resources.linac", "population", "strategy"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12),
)
def test_unknown_keys_are_refused_with_their_path(section, key):
    raw = copy.deepcopy(_RAW)
    node = raw
    for part in section.split("."):
        node = node[part]
    if key in node:
        return
    node[key] = 1
    _, error = _outcome(raw)
    assert error is not None
    assert error.field == f"{section}.{key}" and "unknown key" in error.expected


def test_a_strategy_with_a_start_replaces_the_parents(write_scenario, reference_path):
    """A new pathway does not inherit phases it never reaches; a tweak (no start) merges."""
    new = write_scenario({
        "extends": str(reference_path), "name": "minimal",
        "strategy": {"start": "only", "on_progression": "only",
                     "completion": {"radiotherapy": False},
                     "phases": {"only": [{"step": "palliative"}]}},
    }, "new.yaml")
    assert set(load_scenario(new).strategy.phases) == {"only"}
    tweak = write_scenario({
        "extends": str(reference_path), "name": "tweak",
        "strategy": {"on_progression": "palliative"},
    }, "tweak.yaml")
    loaded = load_scenario(tweak)
    assert loaded.strategy.on_progression == "palliative" and "adjuvant" in loaded.strategy.phases
