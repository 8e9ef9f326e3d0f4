"""Runs of any size in bounded memory: blocks of centres simulated, analysed and written in turn.

Each block's event log and patient table are appended to the results' Parquet files as soon as
the block is done (see :class:`sim.io.results.ResultsWriter`). What the summary needs is kept
small: a few columns of the patient table per patient, and resource use per centre. Memory then
depends on the block size, not on the number of patients, and the summary is the one an
in-memory run of the same scenario gives (the tests hold the two equal).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from sim.execution.executor import usable_cores
from sim.execution.runner import Progress, Ranges, iter_blocks, simulate_block
from sim.io.results import ResultsWriter, manifest
from sim.model.context import CompiledParams
from sim.outcomes.resources import ResourceUse, combine_records, resource_records, resource_summary
from sim.outcomes.summary import SUMMARY_COLUMNS, patient_table_of, summary_of
from sim.scenario.loader import Scenario

#: patients per block: about 50 MB of event log in memory at a time
BLOCK_PATIENTS = 20_000


#: from this many patients a run uses every core by default: below it, starting a helper process
#: (about a second, importing the model) costs more than it saves
PARALLEL_FROM = 20_000


def default_workers(patients: int) -> int:
    """Workers for a run when the user names none: all cores for large runs, else one."""
    return usable_cores() if patients >= PARALLEL_FROM else 1


def block_size(patients: int, workers: int, largest: int = BLOCK_PATIENTS) -> int:
    """Blocks small enough to give every worker eight of them (an even load), at most ``largest``."""
    return max(1, min(largest, -(-patients // (8 * workers)) if workers > 1 else largest))


def analysed_block(
    scenario: Scenario, ranges: Ranges, compiled: CompiledParams | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, ResourceUse]]:
    """A block's event log, patient table and resource use: with workers, all of it is done in
    the worker, and the writer only writes."""
    population, events = simulate_block(scenario, ranges, compiled)
    patients = patient_table_of(scenario, population, events)
    return events, patients, resource_records(events, patients)


def run_to_directory(
    scenario: Scenario, scenario_path: str, out_dir: Path, *, force: bool = False, workers: int = 1,
    progress: Progress | None = None, block_patients: int | None = None,
) -> tuple[dict, float]:
    """Simulate the scenario into the results directory ``out_dir``; returns (summary, wall s)."""
    started = time.perf_counter()
    size = block_patients or block_size(scenario.run.patients, workers)
    with ResultsWriter(out_dir, force) as writer:
        columns, records = [], []
        for events, patients, use in iter_blocks(scenario, size, workers, progress, analysed_block):
            writer.append(events, patients)
            columns.append(patients[list(SUMMARY_COLUMNS)])
            records.append(use)
        patients = pd.concat(columns, ignore_index=True) if len(columns) > 1 else columns[0]
        resources = resource_summary(combine_records(records), scenario.resources)
        summary = summary_of(scenario, patients, resources)
        wall = time.perf_counter() - started
        writer.finish(summary, manifest(scenario, scenario_path, wall, {"workers": workers}))
    return summary, wall
