"""Every shipped scenario runs, and every number in it says where it comes from."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from sim.execution.runner import run_scenario
from sim.outcomes.summary import analyse
from sim.scenario.loader import load_scenario
from sim.scenario.params import DaysRange, Mix, Param
from sim.scenario.population import Continuous

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def _walk(node, path=""):
    if isinstance(node, Param | Mix | DaysRange | Continuous):
        yield path, node
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _walk(getattr(node, name), f"{path}.{name}" if path else name)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_scenario_runs(path):
    scenario = load_scenario(path, {"run.patients": 30})
    _, summary = analyse(run_scenario(scenario))
    assert summary["n_patients"] == 30


def _sourced(node) -> bool:
    return bool(getattr(node, "source", None))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_figure_has_a_source_and_assumptions_a_range(path):
    scenario = load_scenario(path)
    unsourced, unranged = [], []
    for where, node in _walk(scenario.parameters):
        if isinstance(node, Param):
            # a parameter inside a sourced block (a regimen's odds ratios) may inherit its source
            if not _sourced(node):
                unsourced.append(where)
            text = (node.source or "").lower()
            if ("assum" in text or "first guess" in text) and (
                node.uncertainty is None
            ):
                unranged.append(where)
        elif not _sourced(node):
            unsourced.append(where)
    for where, node in _walk(scenario.population):
        if not _sourced(node):
            unsourced.append(f"population.{where}")
    assert not unsourced, f"without a source: {unsourced}"
    assert not unranged, f"assumptions without an uncertainty range: {unranged}"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_strategy_effect_is_sourced_with_a_range(path):
    """An effect is what a strategy claims over the reference: never without evidence and range."""
    effects = load_scenario(path).parameters.effects
    for name in type(effects).model_fields:
        param = getattr(effects, name)
        if param.value != 1.0 or param.uncertainty is not None:
            assert param.source and "default" not in param.source, f"{path.name}: effects.{name}"
            assert param.uncertainty is not None, f"{path.name}: effects.{name} has no range"
            low, high = param.uncertainty.support(param.value)
            assert low < param.value < high, f"{path.name}: effects.{name} range excludes its value"
