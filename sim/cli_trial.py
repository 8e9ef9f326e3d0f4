"""``crcsim virtual-trial``: a published study re-run on virtual patients
(:mod:`sim.trial.run`), registered on :data:`sim.cli.app`."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sim.cli import _execution_options, _positive, app, err, out
from sim.execution.executor import usable_cores


def _shown(kind: str, x: float | None) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.1f}%" if kind in ("landmark", "proportion") else f"{x:.3g}"


@app.command("virtual-trial")
@click.argument("design", type=click.Path(path_type=Path))
@click.option("--replicates", type=int, help="Virtual studies [default: the design's].")
@click.option("--parameter-uncertainty", is_flag=True,
              help="Draw each study's parameters too (posterior sets, uncertain effects): a "
                   "predictive distribution instead of the sampling distribution at fixed values.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Results directory [default: results/trial-<name>].")
@_execution_options()
@click.option("--force", is_flag=True, help="Replace a non-empty results directory.")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def virtual_trial(design: Path, replicates: int | None, parameter_uncertainty: bool,
                  out_dir: Path | None, workers: int | None, backend: str, scheduler: str | None,
                  force: bool, quiet: bool) -> None:
    """Re-run the study of DESIGN many times at its published size and calendar, analyse each
    virtual study as the paper did, and show where each published figure falls."""
    from sim.trial.run import run_trial

    _positive("--replicates", replicates)
    _positive("--workers", workers)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("virtual studies"), TimeRemainingColumn(), console=err, transient=True,
        disable=quiet or not err.is_terminal,
    ) as bar:
        from sim.trial.spec import load_trial

        total = replicates if replicates is not None else load_trial(design).design.replicates
        task = bar.add_task("virtual trial", total=total)
        result, target = run_trial(design, out_dir, replicates, parameter_uncertainty,
                                   workers or usable_cores(), backend, scheduler, force,
                                   lambda: bar.advance(task, 1))
    if quiet:
        return
    table = Table(title=f"virtual trial {result['name']}: {result['replicates']} studies",
                  caption=result["interval"])
    for column in ("figure", "published", "simulated median", "central 95%", "percentile", ""):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for f in result["figures"]:
        low, high = f["central95"]
        table.add_row(f["statistic"], _shown(f["kind"], f["published"]), _shown(f["kind"], f["median"]),
                      f"{_shown(f['kind'], low)}-{_shown(f['kind'], high)}",
                      "-" if f["percentile"] is None else f"{f['percentile']:.1f}",
                      {True: "inside", False: "OUTSIDE", None: "n/a"}[f["inside_central95"]])
    out.print(table)
    if result["failed_replicates"]:
        out.print(f"{result['failed_replicates']} of {result['replicates']} virtual studies failed "
                  f"and are left out: {'; '.join(result['failed_replicate_errors'])}")
    out.print(f"{result['inside_central95']} of {len(result['figures'])} published figures inside "
              f"the central 95%; {target}/trial.html")
