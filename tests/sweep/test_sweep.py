"""Sweeps: checked files, one execution layer (serial, processes, Dask), stored and resumable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.errors import InputError
from sim.execution.executor import Executor, run_tasks, usable_cores
from sim.sweep.run import run_sweep
from sim.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "scenarios" / "li2021_reference.yaml"


def _sweep(tmp_path: Path, parameters: list[dict], name: str = "s.yaml", **extra) -> Path:
    data = {"name": "test_sweep", "scenario": str(REFERENCE), "patients": 120, "seed": 5,
            "outputs": ["completion_rate", "os_36", "rmst_os_60"],
            "analysis": {"type": "one_way", "parameters": parameters}, **extra}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


SMALL = [{"path": "parameters.resectability.probability", "low": 0.4, "high": 0.7},
         {"path": "parameters.mdt.refusal_probability", "values": [0.0, 0.05]}]


def _square(x):
    if x == 3:
        raise ValueError("three is not allowed")
    return x * x


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_execution_layer_collects_results_and_errors(backend):
    out = {o.key: o for o in run_tasks(_square, [(str(i), i) for i in range(5)], backend, workers=2)}
    assert {k: o.value for k, o in out.items() if o.error is None} == {"0": 0, "1": 1, "2": 4, "4": 16}
    assert "three is not allowed" in out["3"].error


def test_default_workers_are_the_cores_this_process_may_use(monkeypatch):
    """A job limited to some cores (taskset, a batch scheduler) gets that many, not the machine's."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert usable_cores() == 3
    assert Executor("processes").workers == 3
    assert Executor("processes", workers=1).backend == "serial"


@pytest.mark.parametrize("parameters, needle", [
    ([{"path": "parameters.mdt.nonsense", "low": 0, "high": 1}], "unknown parameter path"),
    ([{"path": "parameters.mdt.refusal_probability", "low": 0.1, "high": 1.5}], "domain"),
    ([{"path": "parameters.mdt.refusal_probability", "values": []}], "at least 1"),
    ([{"path": "parameters.mdt.refusal_probability", "low": 0.3, "high": 0.1}], "low < high"),
])
def test_bad_sweep_files_fail_before_any_run(tmp_path, monkeypatch, parameters, needle):
    import sim.sweep.run as run_module

    monkeypatch.setattr(run_module, "evaluate_point", lambda task: pytest.fail("ran a point"))
    with pytest.raises(InputError) as info:
        run_sweep(_sweep(tmp_path, parameters), tmp_path / "out", backend="serial")
    assert needle in info.value.one_line()


def test_one_way_points_are_base_then_each_level(tmp_path):
    sweep = load_sweep(_sweep(tmp_path, SMALL))
    points = sweep.points()
    assert points[0] == {"": {}} and len(points) == 5
    assert points[1] == {"": {"parameters.resectability.probability.value": 0.4}}


def _final_table(out: Path) -> pd.DataFrame:
    table = pd.read_parquet(out / "results.parquet")
    return table.sort_values(["point", "output"]).reset_index(drop=True)


def test_backends_and_resume_give_the_same_table(tmp_path):
    path = _sweep(tmp_path, SMALL)
    serial = tmp_path / "serial"
    run_sweep(path, serial, backend="serial", dashboard=False)
    expected = _final_table(serial)
    assert expected["error"].isna().all() and len(expected) == 5 * 3

    processes = tmp_path / "processes"
    run_sweep(path, processes, backend="processes", workers=2, dashboard=False)
    pd.testing.assert_frame_equal(_final_table(processes), expected)

    dask = tmp_path / "dask"
    run_sweep(path, dask, backend="dask", workers=2, dashboard=False)
    pd.testing.assert_frame_equal(_final_table(dask), expected)

    # killed after two points: those are kept, and --resume runs only the rest
    killed = tmp_path / "killed"

    def stop(done, total):
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(path, killed, backend="serial", progress=stop, dashboard=False)
    import sim.sweep.run as run_module

    calls = []
    original = run_module.evaluate_point
    run_module.evaluate_point = lambda task: calls.append(1) or original(task)
    try:
        run_sweep(path, killed, backend="serial", resume=True, dashboard=False)
    finally:
        run_module.evaluate_point = original
    assert len(calls) == 3
    pd.testing.assert_frame_equal(_final_table(killed), expected)
    with pytest.raises(InputError):
        run_sweep(path, killed, backend="serial")  # not without --resume


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    # complete + partial response probabilities above 1 are refused when the point is built
    path = _sweep(tmp_path, [{"path": "parameters.response.partial_probability", "values": [0.6, 0.999]}])
    summary = run_sweep(path, tmp_path / "out", backend="serial", dashboard=False)
    table = _final_table(tmp_path / "out")
    assert summary["failed"] == 1
    failed = table[table["error"].notna()]
    assert len(failed) == 1 and "partial" in failed["error"].iloc[0]
    assert table[table["error"].isna()]["point"].nunique() == 2


def test_tornado_flags_noise_and_ranks_by_swing(tmp_path):
    summary = run_sweep(_sweep(tmp_path, SMALL), tmp_path / "out", backend="serial", dashboard=False)
    bars = summary["tornado"]["completion_rate"]["bars"]
    assert bars[0]["swing"] >= bars[1]["swing"]
    for b in bars:
        assert b["noise"] == (b["swing"] < 2 * b["mc_se"])
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["points"] == 5


def test_sweep_command(tmp_path):
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "sim", "sweep", str(_sweep(tmp_path, SMALL)), "--out",
                        str(out), "--workers", "2"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "5 points, 0 failed" in r.stdout
    r = subprocess.run([sys.executable, "-m", "sim", "sweep",
                        str(_sweep(tmp_path, [{"path": "parameters.x", "low": 0, "high": 1}], "bad.yaml"))],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown parameter path" in r.stderr


def _die_once(task):
    marker, value = task
    if value == 2 and not marker.exists():
        marker.write_text("died")
        os._exit(1)  # the worker process is killed mid-task
    return value * 10


def test_a_killed_worker_loses_only_the_tasks_in_flight(tmp_path):
    marker = tmp_path / "died"
    out = {o.key: o for o in run_tasks(_die_once, [(str(i), (marker, i)) for i in range(6)],
                                        "processes", workers=2)}
    assert marker.exists()
    assert {k: o.value for k, o in out.items()} == {str(i): i * 10 for i in range(6)}


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_sweep_files_are_valid(path):
    sweep = load_sweep(path)
    assert sweep.spec.description and sweep.output_names()
