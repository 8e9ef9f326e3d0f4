"""Run a scenario: population -> per-centre simulations -> one event log. Writes no results.

Centres are independent, so they can run in any order or in parallel and the event log is the
same: rows are sorted by patient and time at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from sim.execution.engine import Engine
from sim.execution.executor import Executor
from sim.execution.gc_pause import gc_paused
from sim.model.centre import compile_params, simulate_centre
from sim.model.context import CompiledParams
from sim.model.inputs import PatientAttributes, PatientInputs
from sim.outcomes.schemas import concat_events, events_frame
from sim.population.sample import (
    covariate_flags,
    covariate_hazard_ratio,
    sample_population,
    sites_of,
    treated_at_entry,
)
from sim.scenario.loader import Scenario

Progress = Callable[[int], None]
#: consecutive centres: (centre, first patient, last patient + 1) each
Ranges = list[tuple[int, int, int]]


@dataclass(frozen=True)
class SimulationResult:
    scenario: Scenario
    population: pd.DataFrame
    events: pd.DataFrame


def _centre_inputs(pop: pd.DataFrame, scenario: Scenario) -> PatientInputs:
    """The model's inputs of these patients, read from the population table once, in columns."""
    disease = scenario.parameters.disease
    flags = covariate_flags(pop)
    prog_hr = covariate_hazard_ratio(flags, disease.progression.covariate_hazard_ratios, pop)
    death_hr = covariate_hazard_ratio(flags, disease.death_after_progression.covariate_hazard_ratios, pop)
    by = scenario.parameters.response.partial_odds_ratio_by
    response_or = np.ones(len(pop))
    if by is not None:
        values = pop[by.attribute].astype(str).to_numpy()
        for value, ratio in by.odds_ratios.items():
            response_or[values == value] = ratio.value
    attrs = []
    columns = zip(
        pop["metastatic_site"].tolist(), pop["regimen"].tolist(),
        pop["radiotherapy_course"].tolist(), pop["sequence"].tolist(),
        pop["n_liver_metastases"].tolist(), pop["liver_modality"].tolist(),
        pop["lung_modality"].tolist(), pop["distant_lymph_nodes_modality"].tolist(),
        pop["tumour_height"].tolist(),
        strict=True,
    )
    for (site, regimen, course, sequence, n_liver, liver, lung, nodes, height), r_or in zip(
            columns, response_or.tolist(), strict=True):
        sites = sites_of(site)
        # the fields in their order (response_odds_ratio, regimen, radiotherapy_course, sequence,
        # sites, has_liver, has_lung, n_liver_metastases, tumour_height, modality): by keyword,
        # a NamedTuple costs more than twice a dict to build
        attrs.append(PatientAttributes(
            r_or, regimen, course, sequence, sites, "liver" in sites, "lung" in sites,
            int(n_liver), height, {"liver": liver, "lung": lung, "distant_lymph_nodes": nodes},
        ))
    return PatientInputs(
        patient_id=pop["patient_id"].tolist(),
        attrs=attrs,
        age_years=pop["age_years"].tolist(),
        male=(pop["sex"] == "male").tolist(),
        progression_hr=prog_hr.tolist(),
        death_hr=death_hr.tolist(),
        treated_at_entry=treated_at_entry(scenario.population, pop),
    )


def centre_ranges(scenario: Scenario) -> Ranges:
    """(centre, first patient, last patient + 1) for every centre of the run."""
    size, n = scenario.run.centre_size, scenario.run.patients
    return [(c, s, min(s + size, n)) for c, s in enumerate(range(0, n, size))]


def _with_centres(pop: pd.DataFrame, ranges: Ranges) -> pd.DataFrame:
    """The population with each patient's centre (second column)."""
    pop = pop.reset_index(drop=True)
    centre = np.repeat(np.array([c for c, _, _ in ranges], dtype=np.int64),
                       [stop - start for _, start, stop in ranges])
    pop.insert(1, "centre", centre)
    return pop


def _simulate_centre(scenario: Scenario, compiled: CompiledParams, centre: int,
                     inputs: PatientInputs) -> list:
    """One centre's flat event log, simulated by the leaner engine (the same events as simpy's
    environment)."""
    return simulate_centre(scenario, compiled, centre, inputs, Engine)


def run_centre(
    scenario: Scenario, centre: int, start: int, stop: int, compiled: CompiledParams | None = None,
    population: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[Any]]:
    """Population and flat event log of one centre."""
    compiled = compiled if compiled is not None else compile_params(scenario)
    pop = population if population is not None else sample_population(scenario, start, stop)
    pop = _with_centres(pop, [(centre, start, stop)])
    with gc_paused():
        rows = _simulate_centre(scenario, compiled, centre, _centre_inputs(pop, scenario))
    return pop, rows


def simulate_block(scenario: Scenario, ranges: Ranges,
                   compiled: CompiledParams | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Population and event log of consecutive centres (the unit of parallel and chunked work).

    The block's model inputs are built once, in whole columns, and sliced per centre.

    The garbage collector is paused from the first centre to the event table: the flat log and
    the columns cut from it (millions of references, no cycle) are freed before it comes back,
    so that no pass walks them (a young pass over them took 50-70 ms each). What a run leaves
    in cycles meanwhile is a few objects a centre (its environment)."""
    compiled = compiled if compiled is not None else compile_params(scenario)
    first, last = ranges[0][1], ranges[-1][2]
    population = _with_centres(sample_population(scenario, first, last), ranges)
    inputs = _centre_inputs(population, scenario)
    with gc_paused():
        events = events_frame(_block_log(scenario, compiled, ranges, inputs, first))
    return population, events


def _block_log(scenario: Scenario, compiled: CompiledParams, ranges: Ranges,
               inputs: PatientInputs, first: int) -> list[Any]:
    """The flat event log of consecutive centres (``first``: the block's first patient)."""
    rows: list[Any] = []
    for centre, start, stop in ranges:
        rows.extend(_simulate_centre(scenario, compiled, centre,
                                     inputs.slice(start - first, stop - first)))
    return rows


def blocks(scenario: Scenario, block_patients: int | None, tail_patients: int = 0) -> list[Ranges]:
    """The run's centres in consecutive groups of at least ``block_patients`` patients (all in
    one group if None); the last ``tail_patients`` patients in groups of an eighth of that size.

    Parallel runs taper the tail: when the last large blocks end at different times, a worker
    with nothing left would wait for the slowest one; small final blocks keep every worker busy
    nearly to the end (results do not depend on the grouping: centres stay whole and in order).
    """
    ranges = centre_ranges(scenario)
    if block_patients is None:
        return [ranges]
    tail_start = scenario.run.patients - tail_patients
    small = max(1, block_patients // 8)
    groups: list[Ranges] = [[]]
    for r in ranges:
        group = groups[-1]
        if group:
            first = group[0][1]
            size = small if first >= tail_start else block_patients
            if group[-1][2] - first >= size or first < tail_start <= r[1]:
                groups.append([])
        groups[-1].append(r)
    return groups


def iter_blocks(
    scenario: Scenario, block_patients: int | None, workers: int = 1,
    progress: Progress | None = None, task: Callable[..., Any] = simulate_block,
) -> Iterator[Any]:
    """``task(scenario, ranges, compiled)`` of each block of centres, in patient order; by
    default the block's (population, events).

    With ``workers`` > 1, ``workers - 1`` helper processes and this one share the blocks in
    :meth:`Executor.ordered` (``task`` must then be a module's function); the result is identical,
    because every centre draws only from its own patients' streams.
    """
    tail = 2 * workers * block_patients if workers > 1 and block_patients else 0
    groups = blocks(scenario, block_patients, tail)
    compiled = compile_params(scenario)
    sizes = [group[-1][2] - group[0][1] for group in groups]

    def local(group: Ranges) -> Any:  # with the parameters compiled once
        return task(scenario, group, compiled)

    # helpers fork (on Linux): they start at once, with the model imported
    parallel = workers if workers > 1 and len(groups) > 1 else 1
    with Executor("processes", parallel, start="fork", with_caller=True) as executor:
        results = executor.ordered(partial(task, scenario), groups, sizes, local)
        for size, result in zip(sizes, results, strict=True):
            if progress is not None:
                progress(size)
            yield result


def run_scenario(
    scenario: Scenario, progress: Progress | None = None, workers: int = 1
) -> SimulationResult:
    """Simulate every patient of the scenario; ``progress(n)`` is told of finished patients.

    With ``workers`` > 1, blocks of centres run in several processes (eight blocks a worker,
    to balance the load); the result is identical to a serial run.
    """
    n = scenario.run.patients
    block_patients = None if workers <= 1 else max(1, n // (8 * workers))
    parts = list(iter_blocks(scenario, block_patients, workers, progress))
    if len(parts) == 1:
        population, events = parts[0]
    else:
        population = pd.concat([pop for pop, _ in parts], ignore_index=True)
        events = concat_events([e for _, e in parts])
    assert np.all(np.diff(population["patient_id"].to_numpy()) > 0)
    return SimulationResult(scenario, population, events)
