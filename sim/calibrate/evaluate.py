"""Evaluating candidate parameter vectors: an in-memory run per candidate, all on the same seed
(common random numbers, so the objective is a smooth function of the parameters), and a cache of
finished evaluations on disk so that an interrupted calibration resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from sim.calibrate.spec import load_calibration
from sim.calibrate.targets import deviances, load_targets, statistics_for
from sim.errors import InputError
from sim.execution.runner import run_scenario
from sim.outcomes.summary import patients_of
from sim.scenario.loader import build_scenario, load_raw


def key(x, patients: int, seed: int, fingerprint: str = "") -> str:
    text = json.dumps([repr(float(v)) for v in x] + [patients, seed, fingerprint])
    return hashlib.sha1(text.encode()).hexdigest()


#: the packages whose code decides a run's numbers: the validated inputs, the virtual patients,
#: the simpy model and the derivation of outcomes from its log. Everything else (execution,
#: writers, reports, the analyses, the CLI) only moves those numbers around.
RESULT_PACKAGES = ("scenario", "population", "model", "outcomes")


def model_fingerprint(raw: dict, targets_sha256: str) -> str:
    """What an evaluation depends on besides its parameters: the scenario as resolved, the
    targets and the code of the packages that make results. A cached evaluation of another
    model is never reused."""
    digest = hashlib.sha256()
    digest.update(json.dumps(raw, sort_keys=True, default=str).encode())
    digest.update(targets_sha256.encode())
    package = Path(__file__).resolve().parent.parent
    for name in RESULT_PACKAGES:
        for file in sorted((package / name).rglob("*.py")):
            digest.update(file.relative_to(package).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


class Evaluator:
    """Runs the calibration's scenario for a parameter vector and scores it against the targets."""

    def __init__(self, calibration_path: str, patients: int, seed: int) -> None:
        self.cal = load_calibration(calibration_path)
        self.targets, targets_sha = load_targets(self.cal.targets_path)
        self.raw, self.origins = load_raw(self.cal.scenario_path, use_calibration=self.cal.fitted_path)
        self.patients, self.seed = patients, seed
        self.fingerprint = model_fingerprint(self.raw, targets_sha)
        self.fit_names = [t.name for t in self.targets.targets if t.fit]

    def scenario(self, x, patients: int | None = None, seed: int | None = None):
        overrides = {"run.patients": patients or self.patients,
                     "run.seed": self.seed if seed is None else seed, **self.cal.overrides(x)}
        return build_scenario(self.raw, self.origins, self.cal.scenario_path, overrides)

    def __call__(self, x, seed: int | None = None) -> dict:
        """Score ``x`` on the evaluator's seed, or on ``seed`` (a draw of its own, for checks
        that want independent Monte Carlo error rather than common random numbers)."""
        x = [float(v) for v in x]
        seed = self.seed if seed is None else seed
        record = {"key": key(x, self.patients, seed, self.fingerprint), "x": x,
                  "patients": self.patients, "seed": seed}
        try:
            scenario = self.scenario(x, seed=seed)
        except InputError as exc:  # a combination the schema refuses (e.g. CR + PR > 1)
            return {**record, "deviance": math.inf, "error": exc.one_line(), "deviances": {}}
        stats = statistics_for(self.targets, patients_of(run_scenario(scenario)))
        dev = deviances(self.targets, stats)
        total = float(sum(dev[n] for n in self.fit_names))
        # the statistics in full (denominators, Kaplan-Meier landmarks with their variance): what
        # emulators and predictive checks read
        full = stats.to_json()
        return {**record, "deviance": total if math.isfinite(total) else math.inf,
                "deviances": {k: (v if math.isfinite(v) else None) for k, v in dev.items()},
                "values": stats.values, "denominators": full["denominators"], "km": full["km"]}


class Cache:
    """Finished evaluations, appended to JSON-lines files as they finish."""

    def __init__(self, directory: Path, records: dict[str, dict] | None = None) -> None:
        """Load the cache in ``directory``, or (in a worker) start from ``records`` already read."""
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.records: dict[str, dict] = {}
        if records is not None:
            self.records = dict(records)
            return
        for file in sorted(directory.glob("*.jsonl")):
            for line in file.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line cut by an interruption
                    continue
                self.records[rec["key"]] = rec

    def get(self, x, patients: int, seed: int, fingerprint: str) -> dict | None:
        return self.records.get(key(x, patients, seed, fingerprint))

    def add(self, rec: dict, file: str = "evaluations.jsonl") -> None:
        self.records[rec["key"]] = rec
        with (self.directory / file).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(_jsonable(rec)) + "\n")


def _jsonable(rec: dict) -> dict:
    out = dict(rec)
    if not math.isfinite(out.get("deviance", 0.0)):
        out["deviance"] = 1e300
    return out


def deviance_of(rec: dict) -> float:
    d = rec["deviance"]
    return math.inf if d is None or d >= 1e299 else float(d)
