"""Runs written block by block equal runs held in memory: the same summary, event log and
patient table, whatever the block size or the number of workers; nothing is left on failure."""

from __future__ import annotations

import json
import tempfile

import pandas as pd
import pytest

from sim.execution.runner import blocks, run_scenario
from sim.execution.streamed import PARALLEL_FROM, block_size, default_workers, run_to_directory
from sim.io.results import write_run
from sim.outcomes.summary import analyse
from sim.scenario.loader import load_scenario


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as text: blocks of a streamed file carry their own categories."""
    return frame.astype({c: str for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def _read(run_dir):
    return (json.loads((run_dir / "summary.json").read_text()),
            _plain(pd.read_parquet(run_dir / "events.parquet")),
            _plain(pd.read_parquet(run_dir / "patients.parquet")))


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory, reference_path):
    scenario = load_scenario(reference_path, {"run.patients": 400, "run.seed": 3, "run.centre_size": 60})
    result = run_scenario(scenario)
    patients, summary = analyse(result)
    out = write_run(tmp_path_factory.mktemp("memory") / "run", result.events, patients, summary, {})
    return scenario, _read(out)


@pytest.mark.parametrize("block_patients,workers", [(100, 1), (1_000, 1), (100, 2)])
def test_streamed_run_equals_in_memory_run(in_memory, reference_path, tmp_path, block_patients, workers):
    scenario, (summary, events, patients) = in_memory
    out = tmp_path / "run"
    streamed_summary, _ = run_to_directory(scenario, str(reference_path), out,
                                           workers=workers, block_patients=block_patients)
    got_summary, got_events, got_patients = _read(out)
    assert streamed_summary == summary == got_summary
    pd.testing.assert_frame_equal(got_events, events)
    pd.testing.assert_frame_equal(got_patients, patients)
    assert json.loads((out / "manifest.json").read_text())["n_patients"] == 400


def test_parallel_run_leaves_no_spooled_blocks(in_memory, reference_path, tmp_path, monkeypatch):
    """Helpers hand their blocks back as files in a temporary directory: all gone at the end."""
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    scenario, (summary, _, _) = in_memory
    got, _ = run_to_directory(scenario, str(reference_path), tmp_path / "run", workers=2,
                              block_patients=60)
    assert got == summary
    assert list(spool.iterdir()) == []


def test_blocks_are_whole_centres_in_order(in_memory):
    scenario, _ = in_memory
    groups = blocks(scenario, 100)
    assert [len(g) for g in groups] == [2, 2, 2, 1]  # centres of 60 patients: 120, 120, 120, 40
    flat = [r for g in groups for r in g]
    assert [r[1] for r in flat] == list(range(0, 400, 60))
    assert block_size(1_000_000, 1) == 20_000 and block_size(100_000, 2) == 6_250


def test_large_runs_use_every_core_by_default(monkeypatch):
    monkeypatch.setattr("sim.execution.streamed.usable_cores", lambda: 6)
    assert default_workers(PARALLEL_FROM - 1) == 1  # a helper's start-up would cost more
    assert default_workers(PARALLEL_FROM) == 6


def test_parallel_runs_end_on_small_blocks(in_memory):
    """The last patients come in blocks an eighth of the size (whole centres, in order), so
    workers finish together instead of waiting for the slowest large block."""
    scenario, _ = in_memory  # 400 patients in centres of 60
    groups = blocks(scenario, 100, tail_patients=200)
    sizes = [g[-1][2] - g[0][1] for g in groups]
    assert sizes == [120, 120, 60, 60, 40]  # the tail: centres from the first at or after 200
    assert [r for g in groups for r in g] == [r for g in blocks(scenario, 100) for r in g]


def test_failed_streamed_run_leaves_nothing(in_memory, reference_path, tmp_path, monkeypatch):
    scenario, _ = in_memory

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("sim.execution.streamed.summary_of", broken)
    with pytest.raises(RuntimeError):
        run_to_directory(scenario, str(reference_path), tmp_path / "run", block_patients=100)
    assert list(tmp_path.iterdir()) == []
