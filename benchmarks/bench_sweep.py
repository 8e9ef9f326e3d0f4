"""Sweep throughput: the same grid sweep serially and on a Dask LocalCluster of 2 workers.

    python benchmarks/bench_sweep.py [--points 200] [--patients 2000] [--backends serial,dask,processes]

The sweep is a grid over the resectability probability and the cure probability (points spread
evenly), every point at the same seed. Prints each backend's wall time (cluster start-up
included), its speed-up over serial and whether the result tables are identical. The bar: 200
points at 2,000 patients, a 2-worker Dask LocalCluster at least 1.7x faster than serial.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--backends", default="serial,dask")
    args = parser.parse_args()
    backends = args.backends.split(",")
    from sim.sweep.run import run_sweep

    side = math.ceil(math.sqrt(args.points))
    other = math.ceil(args.points / side)
    with tempfile.TemporaryDirectory() as tmp:
        spec = {
            "name": "bench_grid", "scenario": str(ROOT / "scenarios" / "li2021_reference.yaml"),
            "patients": args.patients, "seed": 3, "outputs": ["completion_rate", "os_36", "pfs_36"],
            "analysis": {"type": "grid", "parameters": [
                {"path": "parameters.resectability.probability",
                 "values": [round(0.35 + 0.4 * i / max(side - 1, 1), 4) for i in range(side)]},
                {"path": "parameters.disease.progression.cure_probability_all_sites_treated",
                 "values": [round(0.1 + 0.4 * i / max(other - 1, 1), 4) for i in range(other)]},
            ]},
        }
        path = Path(tmp) / "grid.yaml"
        path.write_text(yaml.safe_dump(spec))
        times, tables = {}, {}
        for backend in backends:
            out = Path(tmp) / backend
            t0 = time.perf_counter()
            summary = run_sweep(path, out, backend=backend, workers=2, dashboard=False)
            times[backend] = time.perf_counter() - t0
            tables[backend] = pd.read_parquet(out / "results.parquet").sort_values(
                ["point", "output"]).reset_index(drop=True)
            print(f"{backend:7s} {summary['points']} points x {args.patients:,} patients: "
                  f"{times[backend]:.1f} s")
    base = backends[0]
    for backend in backends[1:]:
        same = tables[base].equals(tables[backend])
        print(f"speed-up of {backend} (2 workers) over {base}: {times[base] / times[backend]:.2f}x; "
              f"identical tables: {same}")


if __name__ == "__main__":
    main()
