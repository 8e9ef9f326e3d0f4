"""The only writer of run results: one immutable directory per run, written atomically.

Files are written into a hidden temporary sibling directory and renamed into place at the end, so
an interrupted or failed run leaves no half-written results, and an existing directory is only
replaced (with ``force``) once the new one is complete. A :class:`ResultsWriter` appends the event
and patient tables block by block (one Parquet row group each), so a run of any size is written in
bounded memory.

| file | content |
|---|---|
| ``events.parquet`` | the event log (see :mod:`sim.outcomes.schemas`) |
| ``patients.parquet`` | one row per patient (see :data:`sim.outcomes.schemas.PATIENT_COLUMNS`) |
| ``summary.json`` | the run summary (see :mod:`sim.outcomes.summary`) |
| ``manifest.json`` | resolved scenario, seed, package version, git commit, wall time |
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import sim
from sim.errors import InputError
from sim.io.atomic import swap_into_place

RESULTS_SCHEMA_VERSION = 1


def check_output_dir(out_dir: Path, force: bool) -> None:
    """Refuse an existing non-empty directory unless ``force`` (checked before any work)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(str(out_dir), None, "expected a directory, found a file")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InputError(
            str(out_dir), None, "expected an empty or new directory (use --force to replace it)"
        )


def git_commit() -> str | None:
    """The commit of the crcsim source tree, if it is a git checkout ('+dirty' if modified)."""
    root = Path(sim.__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
            timeout=5, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None


def manifest(scenario, scenario_path: str, wall_time_s: float, extra: dict | None = None) -> dict:
    return {
        "results_schema_version": RESULTS_SCHEMA_VERSION,
        "scenario_name": scenario.name,
        "scenario_file": str(Path(scenario_path).resolve()),
        "seed": scenario.run.seed,
        "n_patients": scenario.run.patients,
        "crcsim_version": sim.__version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time_s, 3),
        **(extra or {}),
        "scenario": scenario.model_dump(mode="json"),
    }


def json_safe(obj):
    """Plain JSON values: NaN and infinities become null, numpy scalars Python numbers."""
    import math

    import numpy as np

    if isinstance(obj, np.floating | np.integer):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def write_run(
    out_dir: Path,
    events: pd.DataFrame,
    patients: pd.DataFrame,
    summary: dict,
    manifest_data: dict,
    force: bool = False,
) -> Path:
    """Write a complete results directory at ``out_dir``, atomically."""
    out_dir = Path(out_dir)
    check_output_dir(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        events.to_parquet(tmp / "events.parquet", engine="pyarrow", index=False)
        patients.to_parquet(tmp / "patients.parquet", engine="pyarrow", index=False)
        _write_json(tmp / "summary.json", summary)
        _write_json(tmp / "manifest.json", manifest_data)
        swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _fixed_schema(table: pa.Table) -> pa.Schema:
    """The first block's schema, with 32-bit dictionary indices: later blocks, whose categories
    differ, are cast to it."""
    fields = [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type.value_type)) if pa.types.is_dictionary(f.type)
        else f
        for f in table.schema
    ]
    return pa.schema(fields, metadata=table.schema.metadata)


class ResultsWriter:
    """A results directory written as the run goes, atomically: ``append`` each block's event
    log and patient table (in patient order), then ``finish`` with the summary and manifest.
    Leaving the ``with`` block by an exception removes everything written so far."""

    def __init__(self, out_dir: Path, force: bool = False) -> None:
        self.out_dir = Path(out_dir)
        check_output_dir(self.out_dir, force)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.tmp-", dir=self.out_dir.parent))
        self._writers: dict[str, pq.ParquetWriter] = {}

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self._close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _write(self, name: str, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = self._writers.get(name)
        if writer is None:
            writer = pq.ParquetWriter(self.tmp / f"{name}.parquet", _fixed_schema(table))
            self._writers[name] = writer
        writer.write_table(table.cast(writer.schema))

    def append(self, events: pd.DataFrame, patients: pd.DataFrame) -> None:
        self._write("events", events)
        self._write("patients", patients)

    def _close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def finish(self, summary: dict, manifest_data: dict) -> Path:
        self._close()
        _write_json(self.tmp / "summary.json", summary)
        _write_json(self.tmp / "manifest.json", manifest_data)
        swap_into_place(self.tmp, self.out_dir)
        return self.out_dir
