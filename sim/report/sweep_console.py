"""The sweep's summary as terminal tables (``crcsim sweep`` prints them at the end)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _f(x, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _short(path: str) -> str:
    return escape(path.removeprefix("parameters."))


def tables(summary: dict) -> list[Table]:
    """One or more rich tables for the sweep's analysis."""
    name = summary["name"]
    out: list[Table] = []
    for output, block in summary.get("tornado", {}).items():
        t = Table(title=escape(f"{name}: {output} (base {block['base']:.4g})"))
        for col in ("parameter", "low -> value", "high -> value", "swing", "2 x MC SE", ""):
            t.add_column(col)
        for b in block["bars"]:
            t.add_row(_short(b["parameter"]), f"{b['levels'][0]:g} -> {_f(b['values'][0])}",
                      f"{b['levels'][-1]:g} -> {_f(b['values'][-1])}", _f(b["swing"]),
                      _f(2 * b["mc_se"], 3), "noise" if b["noise"] else "")
        out.append(t)
    if "grid" in summary:
        g = summary["grid"]
        t = Table(title=f"{name}: grid")
        for p in g["parameters"]:
            t.add_column(_short(p))
        outputs = list(g["outputs"])
        for o in outputs:
            t.add_column(escape(f"{o} (± MC SE)"))
        for i, point in enumerate(g["points"]):
            cells = [f"{x:g}" for x in point]
            for o in outputs:
                v, s = g["outputs"][o]["values"][i], g["outputs"][o]["mc_se"][i]
                cells.append(f"{_f(v)} ± {_f(s, 2)}")
            t.add_row(*cells)
        out.append(t)
    if "psa" in summary:
        p = summary["psa"]
        t = Table(title=f"{name}: probabilistic analysis")
        for col in ("output", "mean", "95% interval", "P(> 0)", "MC share of variance"):
            t.add_column(col)
        for o, b in p["outputs"].items():
            lo, hi = b["interval95"]
            t.add_row(escape(o), _f(b["mean"]), f"{_f(lo)} to {_f(hi)}",
                      _f(b.get("probability_positive"), 3),
                      _f(b["mc_share_of_variance"], 2))
        out.append(t)
        if p.get("probability_best"):
            arms = list(next(iter(p["probability_best"].values())))
            t = Table(title=f"{name}: probability that each strategy is best")
            t.add_column("output")
            for a in arms:
                t.add_column(a)
            for o, shares in p["probability_best"].items():
                t.add_row(o, *(f"{shares[a]:.2f}" for a in arms))
            out.append(t)
    for kind, cols in (("sobol", ("S1", "S1_conf", "ST", "ST_conf")),
                       ("morris", ("mu_star", "mu_star_conf", "sigma"))):
        for o, b in summary.get(kind, {}).items():
            t = Table(title=escape(f"{name}: {kind} indices of {o}"))
            t.add_column("parameter")
            if "error" in b:
                t.add_row(b["error"])
                out.append(t)
                continue
            for c in cols:
                t.add_column(c)
            for i, param in enumerate(b["parameters"]):
                t.add_row(_short(param), *(_f(b[c][i], 3) for c in cols))
            out.append(t)
    if "threshold" in summary:
        th = summary["threshold"]
        t = Table(title=f"{name}: {th['output']} of {th['arm']} minus {th['reference']} against "
                        f"{_short(th['parameter'])} (target {th['target']:g})")
        for col in ("value", "difference", "MC SE"):
            t.add_column(col)
        for e in th["evaluated"]:
            t.add_row(f"{e['value']:.4g}", _f(e["difference"]), _f(e["mc_se"], 2))
        out.append(t)
    return out


def threshold_line(th: dict) -> str:
    if not th["found"]:
        return f"no threshold: {th['note']}"
    ci = th.get("interval95")
    interval = f" (95% {ci[0]:.3g} to {ci[1]:.3g})" if ci else ""
    return (f"threshold {_short(th['parameter'])} = {th['threshold']:.3g}{interval}: where "
            f"{th['arm']} - {th['reference']} on {th['output']} crosses {th['target']:g}")


def print_summary(console: Console, summary: dict, target: Path) -> None:
    for t in tables(summary):
        console.print(t)
    if "threshold" in summary:
        console.print(escape(threshold_line(summary["threshold"])))
    console.print(f"{summary['points']} points, {summary['failed']} failed; results in {target}/ "
                  "(points.sqlite, results.parquet, summary.json, dashboard.html)")
