"""What waiting does: the OS hazard ratio per 4 weeks of delayed surgery or adjuvant chemotherapy
that emerges from the model (sim/compare/delay.py), against the meta-analyses.

    python benchmarks/bench_delay.py [--scenario scenarios/li2021_reference.yaml]
                                     [--patients 20000] [--seed 7]
"""

from __future__ import annotations

import argparse
import time

from sim.compare.delay import TARGETS, delay_effect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/li2021_reference.yaml")
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"{args.scenario}, {args.patients:,} patients, seed {args.seed}; delays 0, 4, 8 weeks "
          "(common random numbers); interval: Monte Carlo error of the virtual cohort")
    for target in TARGETS:
        started = time.perf_counter()
        e = delay_effect(args.scenario, target, args.patients, args.seed)
        low, high = e.published["range"]
        os36 = ", ".join(f"{w} wk {v:.1%}" for w, v in e.os_36_by_delay.items())
        print(f"{target:9s} n={e.patients_analysed:,}  HR per 4 weeks {e.hazard_ratio_per_4_weeks:.3f} "
              f"(MC 95% {e.mc_interval95[0]:.3f}-{e.mc_interval95[1]:.3f})  published {low}-{high}: "
              f"{'inside' if e.inside_published_range else 'OUTSIDE'}  3-year OS {os36}  "
              f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
