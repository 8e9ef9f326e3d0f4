"""The command line, through a subprocess, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "scenarios" / "li2021_reference.yaml"


def crcsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
    )


def test_run_writes_results(tmp_path):
    out = tmp_path / "run"
    r = crcsim("run", str(REFERENCE), "--patients", "80", "--seed", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} == {
        "events.parquet", "patients.parquet", "summary.json", "manifest.json", "dashboard.html",
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "li2021_reference"
    assert summary["n_patients"] == 80 and summary["seed"] == 3
    for key in ("completion_rate", "pathway", "grade34_toxicity_rate", "grade34_toxicity_by_type",
                "surgical_complication_rate", "rectal_surgery_rate", "os", "pfs", "by_group",
                "resources"):
        assert key in summary
    assert set(summary["os"]) >= {"12", "24", "36", "median", "ci95"}
    assert set(summary["resources"]) == {"linac", "theatre", "mdt"}
    assert abs(sum(summary["pathway"].values()) - 1.0) < 1e-6
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["scenario"]["run"]["patients"] == 80
    assert manifest["crcsim_version"] and manifest["wall_time_s"] > 0
    patients = pd.read_parquet(out / "patients.parquet")
    assert len(patients) == 80
    events = pd.read_parquet(out / "events.parquet")
    assert list(events.columns) == ["patient_id", "day", "event", "phase", "detail", "value"]
    assert "completed the schedule" in r.stdout


def test_default_output_dir_is_results_name(tmp_path):
    r = crcsim("run", str(REFERENCE), "--patients", "20", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "results" / "li2021_reference" / "summary.json").is_file()


def test_same_seed_same_summary(tmp_path):
    for name in ("a", "b"):
        r = crcsim("run", str(REFERENCE), "--patients", "60", "--seed", "11", "--quiet",
                   "--out", str(tmp_path / name))
        assert r.returncode == 0, r.stderr
    a = (tmp_path / "a" / "summary.json").read_text()
    b = (tmp_path / "b" / "summary.json").read_text()
    assert a == b


def test_workers_do_not_change_results(tmp_path):
    for name, workers in (("one", "1"), ("two", "2")):
        r = crcsim("run", str(REFERENCE), "--patients", "500", "--seed", "4", "--quiet",
                   "--workers", workers, "--out", str(tmp_path / name))
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "one" / "summary.json").read_text() == (
        tmp_path / "two" / "summary.json").read_text()


def test_existing_dir_refused_without_force(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = crcsim("run", str(REFERENCE), "--patients", "20", "--out", str(out))
    assert r.returncode == 2
    assert "--force" in r.stderr
    assert (out / "keep.txt").read_text() == "mine"
    r = crcsim("run", str(REFERENCE), "--patients", "20", "--quiet", "--out", str(out), "--force")
    assert r.returncode == 0, r.stderr
    assert not (out / "keep.txt").exists() and (out / "summary.json").is_file()


def test_validate_ok():
    r = crcsim("validate", str(REFERENCE))
    assert r.returncode == 0 and "valid scenario 'li2021_reference'" in r.stdout


def test_version_and_help():
    assert crcsim("--version").stdout.startswith("crcsim")
    r = crcsim()
    assert r.returncode == 0 and "run" in r.stdout and "validate" in r.stdout


def _child(tmp_path: Path, body: dict | str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    if isinstance(body, str):
        path.write_text(body)
    else:
        path.write_text(yaml.safe_dump({"extends": str(REFERENCE), **body}))
    return path


BAD_INPUTS = {
    "missing file": (lambda t: t / "absent.yaml", ["absent.yaml", "file not found"]),
    "invalid yaml": (lambda t: _child(t, "name: [oops\nrun: {"), ["bad.yaml", "invalid YAML"]),
    "unknown key": (lambda t: _child(t, {"run": {"pateints": 5}}), ["run.pateints", "unknown key"]),
    "wrong type": (lambda t: _child(t, {"run": {"horizon_months": "long"}}),
                   ["run.horizon_months", "expected a number"]),
    "probability > 1": (
        lambda t: _child(t, {"parameters": {"response": {"complete_probability": 1.5}}}),
        ["parameters.response.complete_probability", "probability in [0, 1]"],
    ),
    "negative duration": (
        lambda t: _child(t, {"parameters": {"disease": {"symptomatic_detection_mean_days": -1}}}),
        ["symptomatic_detection_mean_days", "non-negative duration"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, case, command):
    make, needles = BAD_INPUTS[case]
    path = make(tmp_path)
    out = tmp_path / "out"
    args = [command, str(path)] + (["--out", str(out)] if command == "run" else [])
    r = crcsim(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for needle in needles:
        assert needle in lines[0]
    assert not out.exists()


def test_extends_cycle_cli(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    r = crcsim("run", str(tmp_path / "a.yaml"), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert "extends" in r.stderr and "cycle" in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag,value", [("--patients", "0"), ("--patients", "-4"), ("--seed", "-1"),
                                        ("--patients", "many")])
def test_bad_options(tmp_path, flag, value):
    r = crcsim("run", str(REFERENCE), flag, value, "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert flag in r.stderr
    assert not (tmp_path / "out").exists()


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "crcsim"
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "crcsim" in r.stdout


def test_validate_targets_command(tmp_path):
    out = tmp_path / "run"
    assert crcsim("run", str(REFERENCE), "--patients", "300", "--quiet", "--out", str(out)).returncode == 0
    r = crcsim("validate-targets", str(out), str(ROOT / "calibration" / "li2021_targets.yaml"))
    assert r.returncode == 0, r.stderr
    assert "os_36" in r.stdout and "inside their 95% CI" in r.stdout


def test_bad_calibration_spec_one_line(tmp_path):
    spec = yaml.safe_load((ROOT / "calibration" / "li2021.yaml").read_text())
    spec["scenario"] = str(REFERENCE)
    spec["targets"] = str(ROOT / "calibration" / "li2021_targets.yaml")
    spec["parameters"][0]["path"] = "parameters.disease.nowhere"
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    r = crcsim("calibrate", str(path), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "parameters[0].path" in r.stderr and "unknown parameter path" in r.stderr
    assert not (tmp_path / "out").exists()


def test_recover_refuses_a_bad_spec_or_truth_in_one_line(tmp_path):
    spec = yaml.safe_load((ROOT / "calibration" / "li2021.yaml").read_text())
    spec["scenario"] = str(REFERENCE)
    spec["targets"] = str(ROOT / "calibration" / "li2021_targets.yaml")
    spec["fitted"] = str(tmp_path / "fit.yaml")
    good = tmp_path / "spec.yaml"
    good.write_text(yaml.safe_dump(spec))
    truth = tmp_path / "truth.yaml"
    truth.write_text(yaml.safe_dump({"parameters.mdt.nowhere": 0.5}))
    r = crcsim("recover", str(good), "--truth", str(truth), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "--truth" in r.stderr and "every free parameter" in r.stderr
    spec["parameters"][0]["path"] = "parameters.disease.nowhere"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    r = crcsim("recover", str(bad), "--out", str(tmp_path / "out2"))
    assert r.returncode == 2 and "unknown parameter path" in r.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()
