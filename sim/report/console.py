"""Terminal tables of a run's summary, a comparison and calibration targets (the CLI prints
them; the numbers come from the summaries written to disk)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console, JustifyMethod
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from sim.outcomes.metrics import DEPENDENCE_METRICS, ENDPOINTS, VOCABULARY, hr_name


@contextmanager
def stage_bars(console: Console, quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar per stage of a many-runs job: yields ``progress(stage, done, total)``."""
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, disable=quiet, transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress


def print_targets(out: Console, rows: list[dict], title: str) -> None:
    table = Table(title=title)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("target", "left"), ("fitted", "left"), ("published (95% CI)", "right"),
        ("simulated (MC 95% CI)", "right"), ("inside", "left"))
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for r in rows:
        lo, hi = r["published_ci95"]
        slo, shi = r["simulated_mc_ci95"]
        table.add_row(
            r["target"], "yes" if r["fit"] else "validation",
            f"{pct(r['published'])} ({pct(lo)}-{pct(hi)})",
            f"{pct(r['simulated'])} ({pct(slo)}-{pct(shi)})",
            "yes" if r["inside"] else "[bold red]NO[/]",
        )
    out.print(table)
    inside = sum(r["inside"] for r in rows)
    out.print(f"{inside} of {len(rows)} published figures inside their 95% CI")


def pct(x) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f}%"


def print_summary(out: Console, s: dict, target: Path, wall: float) -> None:
    table = Table(title=f"{s['scenario']}: {s['n_patients']:,} patients, seed {s['seed']}")
    table.add_column("outcome")
    table.add_column("value", justify="right")
    table.add_row(VOCABULARY["completion_rate"].short, pct(s["completion_rate"]))
    for name, frac in s["pathway"].items():
        if name != "completed" and frac > 0:
            table.add_row(f"  {name.replace('_', ' ')}", pct(frac))
    table.add_row(VOCABULARY["grade34_toxicity_rate"].short, pct(s["grade34_toxicity_rate"]))
    table.add_row("rectal surgery", pct(s["rectal_surgery_rate"]))
    table.add_row(VOCABULARY["surgical_complication_rate"].short, pct(s["surgical_complication_rate"]))
    for key, label in (("os", "OS"), ("pfs", "PFS")):
        block = s[key]
        marks = " / ".join(pct(block.get(m)) for m in ("12", "24", "36"))
        median = block.get("median")
        table.add_row(f"{label} 1/2/3 years", marks)
        table.add_row(f"{label} median (months)", "-" if median is None else f"{median:.1f}")
    for name, r in s["resources"].items():
        table.add_row(
            f"{name}: utilisation, mean wait",
            f"{pct(r['utilisation'])}, {r['mean_wait_days']:.1f} d",
        )
    out.print(table)
    out.print(f"results in {target}/ ({wall:.1f} s)")


#: the rows of the comparison table (names, labels and units from the vocabulary)
_COMPARED = ("completion_rate", "grade34_toxicity_rate", "grade34_toxicity_any_phase_rate",
             "surgical_complication_rate", "os_12", "os_24", "os_36", "pfs_12", "pfs_24", "pfs_36",
             "rmst_os_36", "rmst_os_60", "rmst_pfs_36")


def _fmt(x, unit: str, signed: bool = False) -> str:
    if x is None or x != x:
        return "-"
    if unit == "proportion":
        return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}%"
    if unit == "ratio":
        return f"{x:.2f}"
    return f"{x:+.1f}" if signed else f"{x:.1f}"


_MECHANISM_ROWS = ("os_36", "pfs_36", "hazard_ratio_os", "hazard_ratio_pfs")


def _print_mechanisms(out: Console, result: dict) -> None:
    """Each pair's contrast as the strategies state it, beside the same with every assumed
    effect at 1: what the mechanisms make of the strategy, and what is assumption."""
    mech = result["mechanisms_only"]
    table = Table(title="How much is mechanism: the contrasts with every assumed strategy effect "
                        "at 1 (same patients, same replications)")
    table.add_column("pair")
    table.add_column("outcome")
    table.add_column("with the assumed effects", justify="right")
    table.add_column("mechanisms only", justify="right")
    for name, full in result["pairs"].items():
        only = mech["pairs"][name]["differences"]
        for key in _MECHANISM_ROWS:
            u = VOCABULARY[key].unit
            cells = []
            for block in (full["differences"][key], only[key]):
                ci = block.get("ci95")
                text = _fmt(block["mean"], u, u != "ratio")
                if ci:
                    text += f" ({_fmt(ci[0], u, u != 'ratio')} to {_fmt(ci[1], u, u != 'ratio')})"
                cells.append(text)
            table.add_row(name, VOCABULARY[key].short, *cells)
    out.print(table)
    for arm, effects in mech["effects_set_to_one"].items():
        if effects:
            out.print(f"{arm}: set to 1: " + ", ".join(e.removeprefix("parameters.effects.")
                                                        .removesuffix(".value") for e in effects))


def print_comparison(out: Console, result: dict, target: Path) -> None:
    arms = list(result["arms"])
    reps = result["replications"]
    table = Table(title=f"{len(arms)} arms, {result['patients_per_arm']:,} patients each, {reps} "
                        f"replication{'s' if reps > 1 else ''}, common random numbers")
    table.add_column("outcome")
    for name in arms:
        table.add_column(name, justify="right")
    pairs = [p for p in result["pairs"].values() if p["reference"] == arms[0]]
    for p in pairs:
        table.add_column(f"{p['arm']} - {arms[0]} (95% CI)", justify="right")
    for key in _COMPARED:
        u = VOCABULARY[key].unit
        row = [VOCABULARY[key].short] + [_fmt(result["arms"][a][key]["mean"], u) for a in arms]
        for p in pairs:
            d = p["differences"][key]
            ci = d.get("ci95")
            suffix = " pts" if u == "proportion" else " mo"
            row.append(_fmt(d["mean"], u, True) + suffix
                       + (f" ({_fmt(ci[0], u, True)} to {_fmt(ci[1], u, True)})" if ci else ""))
        table.add_row(*row)
    for endpoint in ENDPOINTS:
        hr = VOCABULARY[hr_name(endpoint)]
        row = [hr.short] + ["" for _ in arms]
        for p in pairs:
            block = p["differences"][hr.name]
            ci = block.get("ci95")
            row.append(_fmt(block["mean"], hr.unit) + (f" ({ci[0]:.2f}-{ci[1]:.2f})" if ci else ""))
        table.add_row(*row)
    out.print(table)
    for p in result["pairs"].values():
        for note in p.get("notes", []):
            out.print(f"{p['arm']} vs {p['reference']}: {note}")
    if result.get("mechanisms_only"):
        _print_mechanisms(out, result)
    for pair, params in result.get("dependence", {}).items():
        if not params:
            continue
        dep = Table(title=f"{pair}: how the differences move with each drawn parameter "
                          "(Spearman correlation over replications)")
        dep.add_column("parameter")
        for m in DEPENDENCE_METRICS:
            dep.add_column(VOCABULARY[m].short, justify="right")
        for name, block in params.items():
            dep.add_row(name.removeprefix("parameters."), *(
                f"{block[m]['spearman_rho']:+.2f}" if m in block else "-" for m in DEPENDENCE_METRICS))
        out.print(dep)
    out.print("intervals: Monte Carlo error of the mean over replications"
              + (" and parameter uncertainty" if result["parameter_uncertainty"] else ""))
    out.print(f"results in {target}/ (comparison.json, one run directory per arm)")
