"""The results writer: complete directories or nothing, and no overwrite without --force."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.errors import InputError
from sim.io.results import manifest, write_run


@pytest.fixture
def outputs(small_run):
    result, patients, summary = small_run
    return result, patients, summary, manifest(result.scenario, "x.yaml", 1.0)


def test_writes_all_files(tmp_path, outputs):
    result, patients, summary, meta = outputs
    out = write_run(tmp_path / "r", result.events, patients, summary, meta)
    assert json.loads((out / "summary.json").read_text()) == summary
    pd.testing.assert_frame_equal(pd.read_parquet(out / "events.parquet"), result.events)
    assert json.loads((out / "manifest.json").read_text())["seed"] == result.scenario.run.seed
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temporary directory left


def test_failure_midway_leaves_nothing(tmp_path, outputs, monkeypatch):
    result, patients, summary, meta = outputs

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(OSError):
        write_run(tmp_path / "r", result.events, patients, summary, meta)
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_results(tmp_path, outputs, monkeypatch):
    result, patients, summary, meta = outputs
    out = tmp_path / "r"
    out.mkdir()
    (out / "summary.json").write_text("previous")
    monkeypatch.setattr(json, "dumps", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_run(out, result.events, patients, summary, meta, force=True)
    assert (out / "summary.json").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_refuses_non_empty_without_force(tmp_path, outputs):
    result, patients, summary, meta = outputs
    out = tmp_path / "r"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(InputError):
        write_run(out, result.events, patients, summary, meta)
    assert (out / "mine.txt").read_text() == "keep"
