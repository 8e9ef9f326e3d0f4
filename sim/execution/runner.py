"""Run a scenario: population -> per-centre simulations -> one event log. Writes no results
(helper processes of a parallel run hand their blocks back through temporary files only).

Centres are independent, so they can run in any order or in parallel and the event log is the
same: rows are sorted by patient and time at the end.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.execution.gc_pause import gc_paused
from sim.model.centre import compile_params, simulate_centre
from sim.model.context import CompiledParams
from sim.model.inputs import PatientAttributes, PatientInputs
from sim.outcomes.schemas import concat_events, events_frame
from sim.population.sample import covariate_flags, covariate_hazard_ratio, sample_population, sites_of
from sim.scenario.loader import Scenario

Progress = Callable[[int], None]

#: how helper processes start. On Linux a forked helper has the model already imported and starts
#: at once; a spawned one first imports it (about 0.9 s, during which only this process works).
#: Helpers only simulate, and a forked child keeps only the forking thread; a run's other threads
#: (OpenBLAS's idle pools in numpy and scipy, Arrow's jemalloc background thread) belong to
#: libraries that prepare for a fork. Python 3.12+ still warns that forking a process with
#: threads can deadlock (a DeprecationWarning, hidden by default).
#: Elsewhere fork is unsafe (macOS) or absent (Windows). Results are the same either way.
_START_METHOD = "fork" if sys.platform == "linux" else "spawn"


@dataclass(frozen=True)
class SimulationResult:
    scenario: object
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
    )


def centre_ranges(scenario) -> list[tuple[int, int, int]]:
    """(centre, first patient, last patient + 1) for every centre of the run."""
    size, n = scenario.run.centre_size, scenario.run.patients
    return [(c, s, min(s + size, n)) for c, s in enumerate(range(0, n, size))]


def _with_centres(pop: pd.DataFrame, ranges: list[tuple[int, int, int]]) -> pd.DataFrame:
    """The population with each patient's centre (second column)."""
    pop = pop.reset_index(drop=True)
    centre = np.repeat(np.array([c for c, _, _ in ranges], dtype=np.int64),
                       [stop - start for _, start, stop in ranges])
    pop.insert(1, "centre", centre)
    return pop


def _simulate_centre(scenario: Scenario, compiled: CompiledParams, centre: int,
                     inputs: PatientInputs) -> list:
    """One centre's flat event log, simulated with the garbage collector paused. Paused per
    centre, not around a block of centres: a block's log, grown during a pause, would be young
    when the collector comes back, and its next pass would walk through all of it."""
    with gc_paused():
        return simulate_centre(scenario, compiled, centre, inputs)


def run_centre(
    scenario, centre: int, start: int, stop: int, compiled=None, population=None
) -> tuple[pd.DataFrame, list]:
    """Population and flat event log of one centre."""
    compiled = compiled if compiled is not None else compile_params(scenario)
    pop = population if population is not None else sample_population(scenario, start, stop)
    pop = _with_centres(pop, [(centre, start, stop)])
    rows = _simulate_centre(scenario, compiled, centre, _centre_inputs(pop, scenario))
    return pop, rows


def simulate_block(scenario, ranges: list[tuple[int, int, int]],
                   compiled=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Population and event log of consecutive centres (the unit of parallel and chunked work).

    The block's model inputs are built once, in whole columns, and sliced per centre."""
    compiled = compiled if compiled is not None else compile_params(scenario)
    first, last = ranges[0][1], ranges[-1][2]
    population = _with_centres(sample_population(scenario, first, last), ranges)
    inputs = _centre_inputs(population, scenario)
    rows: list = []
    for centre, start, stop in ranges:
        rows.extend(_simulate_centre(scenario, compiled, centre,
                                     inputs.slice(start - first, stop - first)))
    return population, events_frame(rows)


def _block_task(args: tuple) -> str:
    """A helper's block, handed back as a file in ``spool`` (its path goes through the pipe).

    Sent through the pool's pipe, a block's 10 MB is read 64 kB at a time by a thread of the
    main process that must win the GIL from the simulating main thread for every read, while
    the helper waits on the full pipe; from a file it is one read."""
    task, scenario, ranges, spool = args
    result = task(scenario, ranges)
    with tempfile.NamedTemporaryFile(dir=spool, suffix=".pickle", delete=False) as file:
        pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
    return file.name


def _unspool(path: str):
    """A helper's block back from its file, which is then removed."""
    with open(path, "rb") as file:
        result = pickle.load(file)
    os.unlink(path)
    return result


def blocks(scenario, block_patients: int | None,
           tail_patients: int = 0) -> list[list[tuple[int, int, int]]]:
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
    groups: list[list[tuple[int, int, int]]] = [[]]
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
    scenario, block_patients: int | None, workers: int = 1, progress: Progress | None = None,
    task: Callable = simulate_block,
) -> Iterator:
    """``task(scenario, ranges, compiled)`` of each block of centres, in patient order; by
    default the block's (population, events).

    With ``workers`` > 1, ``workers - 1`` helper processes and this one share the blocks (``task``
    must then be a module's function); the result is identical, because every centre draws only
    from its own patients' streams.
    """
    tail = 2 * workers * block_patients if workers > 1 and block_patients else 0
    groups = blocks(scenario, block_patients, tail)
    compiled = compile_params(scenario)
    if workers <= 1 or len(groups) == 1:
        results = (task(scenario, group, compiled) for group in groups)
    else:
        results = _shared_blocks(scenario, groups, workers, task, compiled)
    for group, result in zip(groups, results, strict=True):
        if progress is not None:
            progress(group[-1][2] - group[0][1])
        yield result


def _shared_blocks(scenario, groups: list, workers: int, task: Callable, compiled) -> Iterator:
    """The blocks' results in order, computed by ``workers - 1`` helper processes and this one.

    This process takes the next block itself whenever the one it must hand on is not ready: it
    needs no start-up and keeps the machine's cores busy while the consumer writes. At most
    ``4 * workers`` largest blocks' worth of patients are begun and not yet handed on, so a run
    of any size keeps a bounded number of patients in memory (counted in patients, not blocks:
    when the small final blocks begin, this process can go on through several of them while a
    helper ends a large one).
    """
    starts = [group[0][1] for group in groups] + [groups[-1][-1][2]]  # patient bounds of blocks
    window = 4 * workers * max(b - a for a, b in itertools.pairwise(starts))
    context = multiprocessing.get_context(_START_METHOD)
    with (tempfile.TemporaryDirectory(prefix="crcsim-blocks-") as spool,
          ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool):
        futures: dict = {}
        done: dict = {}
        begun = 0
        for i in range(len(groups)):
            while i not in done:
                while (begun < len(groups) and starts[begun] - starts[i] < window
                       and len(futures) < 2 * (workers - 1)):
                    futures[begun] = pool.submit(_block_task, (task, scenario, groups[begun], spool))
                    begun += 1
                if i in futures and futures[i].done():
                    done[i] = _unspool(futures.pop(i).result())
                elif begun < len(groups) and starts[begun] - starts[i] < window:
                    done[begun] = task(scenario, groups[begun], compiled)
                    begun += 1
                else:
                    done[i] = _unspool(futures.pop(i).result())
            yield done.pop(i)


def run_scenario(
    scenario, progress: Progress | None = None, workers: int = 1
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
