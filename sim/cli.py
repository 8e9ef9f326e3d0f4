"""The ``crcsim`` command: thin, it parses arguments, calls the library and maps errors to exit
codes (0 success, 2 bad input with a one-line message, 130 interrupted)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console, JustifyMethod
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

import sim
from sim.errors import InputError
from sim.execution.executor import usable_cores
from sim.report.console import pct, print_comparison, print_summary, print_targets, stage_bars

out = Console()
err = Console(stderr=True)


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise InputError(name, None, f"expected an integer >= 1, got {value}")


def _non_negative(name: str, value: int | None) -> None:
    if value is not None and value < 0:
        raise InputError(name, None, f"expected an integer >= 0, got {value}")


@contextmanager
def _long_lived() -> Iterator[None]:
    """For what lives until the command ends (imported modules, the loaded scenario): no
    collection while it is made (imports and YAML loading made the collector walk every object
    of pandas again and again), and none of it walked by later collections (``gc.freeze``)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def _overrides(patients: int | None, seed: int | None) -> dict:
    o: dict = {}
    if patients is not None:
        o["run.patients"] = patients
    if seed is not None:
        o["run.seed"] = seed
    return o


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(sim.__version__, prog_name="crcsim")
def app() -> None:
    """crcsim: discrete-event simulation of stage IV rectal cancer treatment pathways."""


def _execution_options():
    """--workers, --backend and --scheduler: where a many-runs job runs (sim.execution.executor)."""
    def decorate(fn):
        fn = click.option("--scheduler", help="An existing Dask scheduler, e.g. tcp://host:8786 "
                          "(means --backend dask).")(fn)
        fn = click.option("--backend", type=click.Choice(["processes", "dask", "serial"]),
                          default="processes", show_default=True,
                          help="Local processes, a Dask cluster, or this process.")(fn)
        return click.option("--workers", type=int, default=None,
                            help="Parallel workers [default: all cores].")(fn)
    return decorate


@app.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--patients", type=int, help="Number of patients (overrides the file).")
@click.option("--seed", type=int, help="Random seed (overrides the file).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Results directory [default: results/<scenario name>].")
@click.option("--workers", type=int, default=None,
              help="Processes to run centres in parallel (results do not depend on it) "
                   "[default: all cores from 20,000 patients, else 1].")
@click.option("--force", is_flag=True, help="Replace a non-empty results directory.")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
@click.option("--no-dashboard", is_flag=True, help="Do not write dashboard.html.")
def run(scenario: Path, patients: int | None, seed: int | None, out_dir: Path | None,
        workers: int | None, force: bool, quiet: bool, no_dashboard: bool) -> None:
    """Simulate SCENARIO and write its results directory (in blocks of patients: any size runs
    in bounded memory)."""
    _positive("--patients", patients)
    _non_negative("--seed", seed)
    _positive("--workers", workers)
    with _long_lived():
        from sim.execution.streamed import default_workers, run_to_directory
        from sim.io.results import check_output_dir
        from sim.scenario.loader import load_scenario

        loaded = load_scenario(scenario, _overrides(patients, seed))
    workers = workers or default_workers(loaded.run.patients)
    target = out_dir if out_dir is not None else Path("results") / loaded.name
    check_output_dir(target, force)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("patients"), TimeRemainingColumn(), console=err, transient=True,
        disable=quiet or not err.is_terminal,  # off a terminal it draws nothing, yet re-renders
    ) as bar:
        task = bar.add_task(f"simulating {loaded.name}", total=loaded.run.patients)
        summary, wall = run_to_directory(loaded, str(scenario), target, force=force, workers=workers,
                                         progress=lambda n: bar.advance(task, n))
    if not no_dashboard:
        with _long_lived():
            from sim.report.dashboard.page import write_dashboard
        write_dashboard([target], target / "dashboard.html")
    if not quiet:
        print_summary(out, summary, target, wall)


@app.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--patients", type=int, help="Patients per arm (overrides the files).")
@click.option("--seed", type=int, help="Seed of the first replication [default: the first file's].")
@click.option("--replications", type=int, default=5, show_default=True,
              help="Runs of every arm on fresh seeds: their spread is the Monte Carlo error.")
@click.option("--parameter-uncertainty", is_flag=True,
              help="Each replication also draws a calibration posterior set and the strategy "
                   "effects from their ranges (the same draw for every arm).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Results directory [default: results/compare-<arm>-...].")
@_execution_options()
@click.option("--allow-different-populations", is_flag=True,
              help="Compare arms whose populations differ (the difference is then not paired).")
@click.option("--force", is_flag=True, help="Replace a non-empty results directory.")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
@click.option("--no-dashboard", is_flag=True, help="Do not write dashboard.html.")
def compare(scenarios: tuple[Path, ...], patients: int | None, seed: int | None, replications: int,
            parameter_uncertainty: bool, out_dir: Path | None, workers: int | None, backend: str,
            scheduler: str | None, allow_different_populations: bool, force: bool, quiet: bool,
            no_dashboard: bool) -> None:
    """Compare strategies (SCENARIOS, the first is the reference) on the same virtual patients."""
    _positive("--patients", patients)
    _non_negative("--seed", seed)
    _positive("--replications", replications)
    _positive("--workers", workers)
    workers = workers or usable_cores()
    if len(scenarios) < 2:
        raise InputError("SCENARIOS", None, f"expected at least two scenario files, got {len(scenarios)}")
    with _long_lived():
        from sim.compare.run import execute, prepare

        plan = prepare(list(scenarios), patients, seed, out_dir, allow_different_populations, force)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("arm runs"), TimeRemainingColumn(), console=err, transient=True,
        disable=quiet or not err.is_terminal,  # off a terminal it draws nothing, yet re-renders
    ) as bar:
        task = bar.add_task("comparing", total=plan.runs(replications, parameter_uncertainty))
        result, target = execute(plan, replications, parameter_uncertainty, workers,
                                 lambda: bar.advance(task, 1), backend, scheduler)
    if not no_dashboard:
        with _long_lived():
            from sim.report.dashboard.page import write_dashboard
        write_dashboard([target], target / "dashboard.html")
    if not quiet:
        print_comparison(out, result, target)


@app.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--candidates", type=int, default=10000, show_default=True,
              help="Candidates drawn from the source population.")
@click.option("--seed", type=int, help="Random seed (overrides the file).")
@click.option("--json", "json_path", type=click.Path(path_type=Path),
              help="Also write the screening table as JSON.")
def screen(scenario: Path, candidates: int, seed: int | None, json_path: Path | None) -> None:
    """Apply SCENARIO's eligibility criteria to its source population: who qualifies, who not, why."""
    from sim.io.atomic import atomic_write
    from sim.population.screening import screen as run_screen
    from sim.scenario.loader import load_scenario

    _positive("--candidates", candidates)
    _non_negative("--seed", seed)
    loaded = load_scenario(scenario, _overrides(None, seed))
    report = run_screen(loaded, candidates)
    table = Table(title=f"{report['scenario']}: eligibility of {report['candidates']:,} candidates "
                        f"(seed {report['seed']})")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("criterion", "left"), ("rule", "left"), ("failing it", "right"),
        ("excluded in order", "right"), ("remaining", "right"))
    for name, justify in columns:
        table.add_column(name, justify=justify)
    table.add_row("source population", "", "", "", f"{report['candidates']:,}")
    for r in report["criteria"]:
        table.add_row(r["criterion"], r["rule"], f"{r['failing']:,} ({pct(r['failing_fraction'])})",
                      f"{r['excluded_in_order']:,}", f"{r['remaining']:,}")
    out.print(table)
    out.print(f"eligible: {report['eligible']:,} of {report['candidates']:,} "
              f"({pct(report['eligible_fraction'])})")
    if json_path is not None:
        import json

        atomic_write(json_path, json.dumps(report, indent=2) + "\n")


@app.command()
@click.argument("result_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_file", type=click.Path(path_type=Path), default=Path("dashboard.html"),
              show_default=True, help="The HTML file to write (self-contained, opens offline).")
@click.option("--title", help="Page title [default: the strategies' names].")
def dashboard(result_dirs: tuple[Path, ...], out_file: Path, title: str | None) -> None:
    """Interactive dashboard of RESULT_DIRS (crcsim run or compare directories, or one sweep's)."""
    from sim.report.dashboard.page import write_dashboard

    path, size = write_dashboard(list(result_dirs), out_file, title)
    out.print(f"dashboard: {path} ({size / 1e6:.1f} MB)")


class _Rate(ProgressColumn):
    """Points per minute, once there is a rate to show."""

    def render(self, task) -> Text:
        return Text(f"{task.speed * 60:.1f}/min" if task.speed else "")


@app.command()
@click.argument("sweep_file", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Results directory [default: results/sweeps/<name>].")
@_execution_options()
@click.option("--resume", is_flag=True, help="Continue a sweep: finished points are not run again.")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def sweep(sweep_file: Path, out_dir: Path | None, workers: int | None, backend: str,
          scheduler: str | None, resume: bool, quiet: bool) -> None:
    """Run a sensitivity sweep (SWEEP_FILE): every point stored as it finishes, resumable."""
    from sim.sweep.run import run_sweep
    from sim.sweep.spec import load_sweep

    _positive("--workers", workers)
    spec = load_sweep(sweep_file).spec
    target = out_dir if out_dir is not None else Path("results") / "sweeps" / spec.name
    if scheduler:
        backend = "dask"
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("points"),
        _Rate(), TimeRemainingColumn(), console=err, disable=quiet, transient=True,
    ) as bar:
        task = bar.add_task(f"sweep {spec.name}", total=None)
        try:
            summary = run_sweep(sweep_file, target, backend, workers, scheduler, resume,
                                lambda done, total: bar.update(task, completed=done, total=total))
        except KeyboardInterrupt:
            err.print(f"crcsim: interrupted; finished points are kept in {target}: rerun with "
                      "--resume to continue", markup=False, highlight=False)
            sys.exit(130)
    if not quiet:
        from sim.report.sweep_console import print_summary

        print_summary(out, summary, target)


@app.command()
@click.argument("scenario", type=click.Path(path_type=Path))
def validate(scenario: Path) -> None:
    """Check SCENARIO (and what it extends) without running it."""
    from sim.scenario.loader import load_scenario

    loaded = load_scenario(scenario)
    click.echo(
        f"{scenario}: valid scenario '{loaded.name}' ({loaded.run.patients} patients, "
        f"seed {loaded.run.seed}, {len(loaded.strategy.phases)} phases)"
    )


@app.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--patients", type=int, help="Patients per candidate evaluation (overrides the spec).")
@click.option("--seed", type=int, help="Seed of every candidate evaluation (overrides the spec).")
@_execution_options()
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Working directory (evaluations, report) [default: results/calibration/<name>]; "
                   "rerunning with the same directory resumes.")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def calibrate(spec: Path, patients: int | None, seed: int | None, workers: int | None, backend: str,
              scheduler: str | None, out_dir: Path | None, quiet: bool) -> None:
    """Fit the scenario's free parameters to the targets of SPEC (a calibration YAML)."""
    from sim.calibrate.run import run_calibration

    _positive("--patients", patients)
    _non_negative("--seed", seed)
    _positive("--workers", workers)
    workers = workers or usable_cores()
    with stage_bars(err, quiet) as progress:
        try:
            report = run_calibration(spec, out_dir, patients, seed, workers, progress, backend, scheduler)
        except KeyboardInterrupt:
            where = out_dir if out_dir is not None else "results/calibration/<name>"
            err.print(f"crcsim: interrupted; finished evaluations are kept in {where}/evaluations: "
                      "run the same command again to resume", markup=False, highlight=False)
            sys.exit(130)
    if not quiet:
        verify = report["verification"]
        print_targets(out, report["targets"], f"calibration {report['name']}: verification run of "
                       f"{verify['patients']:,} patients, seed {verify['seed']}")
        out.print(f"best total deviance {report['best']['deviance']:.2f}; "
                  f"{report['evaluations']:,} evaluations in {report['wall_time_s'] / 60:.1f} min; "
                  f"effective sample size {report['uncertainty']['ess']:.0f}")
        out.print(f"fitted parameters: {report['fitted_file']}; report: {report['out_dir']}/report.html")


@app.command("validate-targets")
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.argument("targets", type=click.Path(path_type=Path))
def validate_targets_command(result_dir: Path, targets: Path) -> None:
    """Compare a results directory (from crcsim run) with a targets file."""
    from sim.calibrate.run import validate_targets

    rows = validate_targets(result_dir, targets)
    print_targets(out, rows, f"{result_dir} against {targets}")


# register `crcsim recover` and `crcsim virtual-trial` on the app above
from sim import cli_calibration, cli_trial  # noqa: E402,F401

#: commands after which the process ends at once (see :func:`_end_process`)
QUICK_EXIT = frozenset({"run", "compare", "dashboard"})


def main(argv: list[str] | None = None) -> None:
    """The ``crcsim`` command. Called without ``argv`` it is the process itself (the installed
    script, ``python -m sim``), which a successful run, compare or dashboard then ends without
    the interpreter's teardown; called with ``argv`` (as tests do, in their own process) it
    always leaves by ``SystemExit``."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        click.echo(app.get_help(click.Context(app, info_name="crcsim")))
        sys.exit(0)
    try:
        app.main(args=args, prog_name="crcsim", standalone_mode=False)
    except InputError as exc:
        _fail(f"crcsim: error: {exc.one_line()}", 2)
    except click.UsageError as exc:
        _fail(f"crcsim: error: {exc.format_message()}", 2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        _fail("crcsim: interrupted; nothing was written", 130)
    if argv is None and args[0] in QUICK_EXIT:
        _end_process()
    sys.exit(0)


def _end_process() -> None:
    """Exit with 0 now, skipping the interpreter's teardown, which frees every object and module
    one by one (0.3-0.9 s after a large run, for nothing: the process ends). Safe here: every
    results file was written, closed and renamed into place by the command; what the process
    would still do at exit is done first: exit handlers run (pool and temporary-file clean-up)
    and the console streams are flushed. Returns (for a normal exit) while another thread runs,
    and under a profiler or tracer, which writes its report after the program returns."""
    import atexit
    import os
    import threading

    if sys.getprofile() is not None or sys.gettrace() is not None:
        return
    if any(t.is_alive() and not t.daemon for t in threading.enumerate()
           if t is not threading.main_thread()):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(0)


def _fail(message: str, code: int) -> None:
    click.echo(message.replace("\n", " "), err=True)
    sys.exit(code)
