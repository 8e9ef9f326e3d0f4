"""What waiting does: the OS hazard ratio per 4 weeks of delayed surgery or adjuvant chemotherapy
that emerges from the model (sim/compare/delay.py), against the meta-analyses.

    python benchmarks/bench_delay.py [--scenario scenarios/li2021_reference.yaml]
                                     [--patients 20000] [--seed 7] [--set PATH=VALUE ...]

``--set`` changes a parameter in every arm alike (e.g. the residual micrometastases' doubling
time at an end of its prior range: the emergent effect across the mechanism's uncertainty).
"""

from __future__ import annotations

import argparse
import time

import yaml

from sim.compare.delay import TARGETS, delay_effect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/li2021_reference.yaml")
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="PATH=VALUE",
                        help="a parameter changed in every arm (repeatable)")
    parser.add_argument("--target", choices=TARGETS, action="append",
                        help="only this step (repeatable; default: every step)")
    args = parser.parse_args()
    settings = {}
    for item in args.settings:
        path, _, value = item.partition("=")
        settings[path] = yaml.safe_load(value)
    print(f"{args.scenario}, {args.patients:,} patients, seed {args.seed}; delays 0, 4, 8 weeks "
          "(common random numbers); interval: Monte Carlo error of the virtual cohort")
    if settings:
        print("set in every arm: " + ", ".join(f"{k} = {v}" for k, v in settings.items()))
    for target in args.target or TARGETS:
        started = time.perf_counter()
        e = delay_effect(args.scenario, target, args.patients, args.seed, settings)
        low, high = e.published["range"]
        os36 = ", ".join(f"{w} wk {v:.1%}" for w, v in e.os_36_by_delay.items())
        print(f"{target:9s} n={e.patients_analysed:,}  HR per 4 weeks {e.hazard_ratio_per_4_weeks:.3f} "
              f"(MC 95% {e.mc_interval95[0]:.3f}-{e.mc_interval95[1]:.3f})  published {low}-{high}: "
              f"{'inside' if e.inside_published_range else 'OUTSIDE'}  3-year OS {os36}  "
              f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
