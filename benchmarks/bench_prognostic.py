"""Validation figures of the MDT's resectability, emergent from the model (not fit targets):
the share of liver and lung patients whose liver / lung metastases were treated, against Li 2021
(85 of 136, 31 of 84), and the PFS hazard ratio of > 5 vs <= 5 liver metastases among liver
patients (Cox, sim/calibrate/prognostic.py), against the published 1.25 (univariable) and 1.18.

    python benchmarks/bench_prognostic.py [--scenario scenarios/li2021_reference.yaml]
                                          [--patients 20000] [--seed 7] [--set path=value ...]
"""

from __future__ import annotations

import argparse
import time

import yaml

from sim.calibrate.prognostic import PUBLISHED_LIVER_GT5_PFS_HR, liver_gt5_pfs_hazard_ratio
from sim.calibrate.statistics import statistics_from_patients
from sim.execution.runner import run_scenario
from sim.outcomes.summary import patients_of
from sim.scenario.loader import load_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/li2021_reference.yaml")
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--set", nargs="*", default=[], help="overrides, path=value (YAML value)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    overrides = {"run.patients": args.patients, "run.seed": args.seed}
    for item in args.set:
        path, value = item.split("=", 1)
        overrides[path] = yaml.safe_load(value)
    started = time.perf_counter()
    patients = patients_of(run_scenario(load_scenario(args.scenario, overrides), workers=args.workers))
    s = statistics_from_patients(patients)
    hr = liver_gt5_pfs_hazard_ratio(patients)
    print(f"{args.scenario}, {args.patients:,} patients, seed {args.seed} "
          f"({time.perf_counter() - started:.0f} s)")
    for organ, published in (("liver", (85, 136)), ("lung", (31, 84))):
        key = f"{organ}_treatment_rate"
        print(f"  {organ} treated {s.values[key]:.1%} of {s.denominators[key]:,} "
              f"(Li 2021 {published[0]}/{published[1]} = {published[0] / published[1]:.1%})")
    for key in ("pathway.completed", "pathway.metastasis_treatment_only", "pathway.bowel_surgery_only",
                "pathway.palliative", "rectal_surgery_rate", "metastasis_treatment_rate"):
        print(f"  {key} {s.values[key]:.1%}")
    print(f"  rectal watch-and-wait {patients['rectal_watch_and_wait'].mean():.1%}")
    print(f"  PFS HR > 5 vs <= 5 liver metastases {hr.hazard_ratio:.3f} "
          f"(MC 95% {hr.ci95[0]:.3f}-{hr.ci95[1]:.3f}; {hr.patients:,} liver patients, "
          f"{hr.events:,} events); published {PUBLISHED_LIVER_GT5_PFS_HR}")


if __name__ == "__main__":
    main()
