"""``crcsim recover``: the recovery test of a calibration method (:mod:`sim.calibrate.recovery`),
registered on :data:`sim.cli.app`."""

from __future__ import annotations

from pathlib import Path

import click

from sim.cli import _execution_options, _non_negative, _positive, app, err, out
from sim.execution.executor import usable_cores
from sim.report.console import stage_bars


@app.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--truth", "truth_file", type=click.Path(path_type=Path),
              help="YAML mapping of each free parameter's path to its true value [default: the "
                   "spec's fitted best, else the middle of each prior].")
@click.option("--seed", type=int, default=20211, show_default=True,
              help="Seed of the synthetic study.")
@_execution_options()
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Working directory [default: results/recovery/<name>]; rerunning resumes.")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def recover(spec: Path, truth_file: Path | None, seed: int, workers: int | None, backend: str,
            scheduler: str | None, out_dir: Path | None, quiet: bool) -> None:
    """Recovery test of SPEC's method: targets simulated at known parameters with the
    cohort's size, calibrated again; which parameters are recovered, which rest on their priors."""
    from sim.calibrate.recovery import run_recovery
    from sim.scenario.documents import read_yaml_mapping

    _non_negative("--seed", seed)
    _positive("--workers", workers)
    truth = ({str(k): float(v) for k, v in read_yaml_mapping(truth_file).items()}
             if truth_file is not None else None)
    out_dir = out_dir or Path("results") / "recovery" / spec.stem
    with stage_bars(err, quiet) as progress:
        result = run_recovery(spec, out_dir, truth, seed, workers or usable_cores(), backend, scheduler,
                              progress)
    if not quiet:
        for r in result["parameters"]:
            low, high = r["posterior_ci95"]
            out.print(f"{r['parameter']}: truth {r['truth']:.4g}, 95% CrI {low:.4g}-{high:.4g} "
                      f"({'inside' if r['inside'] else 'OUTSIDE'}; width {r['posterior_to_prior_width']:.2f}"
                      f" of the prior's: {'identified' if r['identified'] else 'rests on its prior'})")
        out.print(f"identified parameters recovered: {result['identified_recovered']}; "
                  f"{out_dir}/recovery.json")
