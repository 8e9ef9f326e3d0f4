"""A run of 1,000,000 patients through ``crcsim run``: wall time and peak memory.

``crcsim run`` simulates, analyses and writes blocks of centres in turn (see sim/execution/streamed.py), so
its memory depends on the block size, not on the number of patients. This runs it in a
subprocess and reports the wall time, patients per second, the peak resident memory of the run
(the largest of its processes) and the size of the results. With ``--dashboard`` the run also
writes its dashboard, as ``crcsim run`` does by default.

    python benchmarks/bench_million.py [--patients 1000000] [--workers 1] [--dashboard]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = ROOT / "scenarios" / "li2021_reference.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dashboard", action="store_true", help="also write dashboard.html")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "sim", "run", str(args.scenario), "--patients", str(args.patients),
               "--seed", str(args.seed), "--workers", str(args.workers), "--out", str(out),
               "--quiet", *([] if args.dashboard else ["--no-dashboard"])]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        events = pq.ParquetFile(out / "events.parquet").metadata
        report = {
            "patients": args.patients,
            "workers": args.workers,
            "dashboard": args.dashboard,
            "wall_s": round(wall, 1),
            "patients_per_s": round(args.patients / wall),
            "peak_rss_mb": round(peak_mb),
            "event_rows": events.num_rows,
            "row_groups": events.num_row_groups,
            "events_mb": round((out / "events.parquet").stat().st_size / 2**20),
            "patients_mb": round((out / "patients.parquet").stat().st_size / 2**20),
            "completion_rate": json.loads((out / "summary.json").read_text())["completion_rate"],
        }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
