"""Where a sweep's points go as they finish: one SQLite row per point, keyed by a hash of the
resolved point, committed at once. A killed sweep loses at most the points in flight; rerunning
with ``--resume`` skips the finished ones."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pandas as pd


def point_key(fingerprint: str, overrides: dict, patients: int, seed: int, extra: object = None) -> str:
    """A hash of everything a point's result depends on (the model and scenarios through
    ``fingerprint``; ``extra``: the outputs asked for and how their errors are estimated)."""
    text = json.dumps([fingerprint, overrides, patients, seed, extra], sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:20]


class Store:
    """Results by point key (a design may hold the same point twice: it runs once), and which
    key each point number of the design is."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS points (key TEXT PRIMARY KEY, overrides TEXT, "
                        "outputs TEXT, mc_se TEXT, error TEXT, replicates TEXT)")
        self.db.execute("CREATE TABLE IF NOT EXISTS numbers (number INTEGER PRIMARY KEY, key TEXT)")
        self.db.commit()

    def finished(self) -> dict[str, dict]:
        """Points that finished without error: key -> {"outputs", "mc_se"}."""
        return {k: {"outputs": json.loads(o), "mc_se": json.loads(s)} for k, o, s in
                self.db.execute("SELECT key, outputs, mc_se FROM points WHERE error IS NULL")}

    def replicates(self) -> dict[int, dict[str, list]]:
        """Per point number, the bootstrap replicates of its outputs (where they were kept)."""
        return {n: json.loads(r) for n, r in self.db.execute(
            "SELECT n.number, p.replicates FROM numbers n JOIN points p ON n.key = p.key "
            "WHERE p.replicates IS NOT NULL")}

    def number(self, number: int, key: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO numbers VALUES (?, ?)", (number, key))
        self.db.commit()

    def add(self, key: str, numbers: list[int], overrides: dict, outputs: dict | None,
            mc_se: dict | None, error: str | None, replicates: dict | None = None) -> None:
        self.db.execute("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?)",
                        (key, json.dumps(overrides, sort_keys=True),
                         json.dumps(outputs) if outputs is not None else None,
                         json.dumps(mc_se) if mc_se is not None else None, error,
                         json.dumps(replicates) if replicates is not None else None))
        self.db.executemany("INSERT OR REPLACE INTO numbers VALUES (?, ?)", [(n, key) for n in numbers])
        self.db.commit()

    def table(self) -> pd.DataFrame:
        """One row per point and output: point number, overrides, output, value, MC SE, error."""
        rows = []
        for number, key, overrides, outputs, mc_se, error in self.db.execute(
                "SELECT n.number, p.key, p.overrides, p.outputs, p.mc_se, p.error "
                "FROM numbers n JOIN points p ON n.key = p.key ORDER BY n.number"):
            values = json.loads(outputs) if outputs else {}
            ses = json.loads(mc_se) if mc_se else {}
            if error is not None:
                rows.append({"point": number, "key": key, "overrides": overrides, "output": None,
                             "value": None, "mc_se": None, "error": error})
            for name, value in values.items():
                rows.append({"point": number, "key": key, "overrides": overrides, "output": name,
                             "value": value, "mc_se": ses.get(name), "error": None})
        return pd.DataFrame(rows, columns=["point", "key", "overrides", "output", "value", "mc_se",
                                           "error"])

    def close(self) -> None:
        self.db.close()
