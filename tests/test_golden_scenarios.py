"""Every scenario file, seeded, against its stored summary and a hash of its event log and
patient table: a faster model must give exactly the outcomes of the code it replaces.

Regenerate deliberately with CRCSIM_UPDATE_GOLDEN=1 and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.execution.runner import run_scenario
from sim.io.results import json_safe
from sim.outcomes.summary import analyse
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
GOLDEN = Path(__file__).parent / "golden" / "scenarios_500_seed11.json"
PATIENTS, SEED = 500, 11


def table_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's columns, values as stored (floats bit for bit, labels as text)."""
    digest = hashlib.sha256()
    for column in frame.columns:
        digest.update(column.encode())
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object:
            digest.update("\x1f".join(map(str, values.tolist())).encode())
        else:
            digest.update(np.ascontiguousarray(values.to_numpy()).tobytes())
    return digest.hexdigest()


def fingerprint(path: Path) -> dict:
    scenario = load_scenario(path, {"run.patients": PATIENTS, "run.seed": SEED})
    result = run_scenario(scenario)
    patients, summary = analyse(result)
    return {
        "summary": json.loads(json.dumps(json_safe(summary))),
        "events_sha256": table_hash(result.events),
        "patients_sha256": table_hash(patients),
        "event_rows": len(result.events),
    }


def _golden() -> dict:
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_reproduces_its_golden_outcomes(path: Path):
    got = fingerprint(path)
    if os.environ.get("CRCSIM_UPDATE_GOLDEN") == "1":
        stored = _golden()
        stored[path.stem] = got
        GOLDEN.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    expected = _golden()[path.stem]
    assert got["summary"] == expected["summary"]
    assert got["event_rows"] == expected["event_rows"]
    assert got["events_sha256"] == expected["events_sha256"]
    assert got["patients_sha256"] == expected["patients_sha256"]
