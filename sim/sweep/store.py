"""Where a sweep's points go as they finish: one SQLite row per point, keyed by a hash of the
resolved point, committed at once. A killed sweep loses at most the points in flight; rerunning
with ``--resume`` skips the finished ones."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pandas as pd


def point_key(scenario_fingerprint: str, overrides: dict, patients: int, seed: int) -> str:
    text = json.dumps([scenario_fingerprint, sorted(overrides.items()), patients, seed])
    return hashlib.sha1(text.encode()).hexdigest()[:20]


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS points (key TEXT PRIMARY KEY, number INTEGER, "
                        "overrides TEXT, outputs TEXT, mc_se TEXT, error TEXT)")
        self.db.commit()

    def finished(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM points WHERE error IS NULL")}

    def add(self, key: str, number: int, overrides: dict, outputs: dict | None, mc_se: dict | None,
            error: str | None) -> None:
        self.db.execute("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?)",
                        (key, number, json.dumps(overrides, sort_keys=True),
                         json.dumps(outputs) if outputs is not None else None,
                         json.dumps(mc_se) if mc_se is not None else None, error))
        self.db.commit()

    def table(self) -> pd.DataFrame:
        """One row per point and output: point number, overrides, output, value, MC SE, error."""
        rows = []
        for key, number, overrides, outputs, mc_se, error in self.db.execute(
                "SELECT * FROM points ORDER BY number"):
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
