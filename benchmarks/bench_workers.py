"""``crcsim run`` with 1 and 2 workers: the speed-up, and that the results are identical.

Runs alternate (1 worker, 2 workers, ...) in subprocesses; reported are the median wall times, the
speed-up, and whether the summaries, patient tables and event logs are the same.

    python benchmarks/bench_workers.py [--patients 100000] [--runs 3] [--scenario PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = ROOT / "scenarios" / "li2021_reference.yaml"


def _run(args, workers: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "sim", "run", str(args.scenario), "--patients", str(args.patients),
           "--seed", str(args.seed), "--workers", str(workers), "--out", str(out), "--force",
           "--quiet", "--no-dashboard"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def _table(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    return frame.astype({c: str for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def _same(a: Path, b: Path) -> dict:
    summary = [json.loads((d / "summary.json").read_text()) for d in (a, b)]
    return {
        "summary": summary[0] == summary[1],
        "patients": _table(a / "patients.parquet").equals(_table(b / "patients.parquet")),
        "events": _table(a / "events.parquet").equals(_table(b / "events.parquet")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    times: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        outs = {w: Path(tmp) / f"workers{w}" for w in times}
        for i in range(args.runs):
            for workers, out in outs.items():
                times[workers].append(_run(args, workers, out))
                print(f"run {i + 1}/{args.runs} workers={workers}: {times[workers][-1]:.1f} s", flush=True)
        same = _same(outs[1], outs[2])
    median = {w: statistics.median(t) for w, t in times.items()}
    report = {
        "patients": args.patients,
        "runs": args.runs,
        "median_s": median,
        "patients_per_s": {w: round(args.patients / s) for w, s in median.items()},
        "speed_up": round(median[1] / median[2], 3),
        "identical": same,
        "load_average": os.getloadavg(),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
