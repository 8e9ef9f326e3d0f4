"""The dashboard of a sweep's results directory (``crcsim sweep``): one self-contained HTML page
with the sweep's facts and the panels of its analysis (tornado, grid, PSA, Sobol, Morris or
threshold), each with a line on how to read it. Built from ``summary.json`` alone."""

from __future__ import annotations

import html
import itertools
from pathlib import Path

import plotly.graph_objects as go

from sim.errors import InputError
from sim.report.dashboard import sweep_figures as sf
from sim.report.dashboard import sweep_labels as sl
from sim.report.dashboard.shell import Panel, html_page, read_summary

ANALYSES = {"one_way": ("tornado", "one-way sensitivity (tornado)"), "grid": ("grid", "grid"),
            "psa": ("psa", "probabilistic sensitivity analysis"),
            "sobol": ("sobol", "global sensitivity (Sobol indices)"),
            "morris": ("morris", "screening (Morris elementary effects)"),
            "threshold": ("threshold", "threshold search")}
EXPECTED = "expected a sweep results directory (the summary.json written by crcsim sweep)"


def _mc(patients: object) -> str:
    return (f" MC SE (Monte Carlo standard error): how far a value would move if rerun with other "
            f"random numbers, because only {patients} patients are simulated per point; a change "
            "smaller than about 2 MC SE cannot be told from noise.")


def load_summary(result_dir: Path) -> dict:
    """The sweep's summary.json, checked enough to draw: one-line InputError otherwise."""
    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        raise InputError(str(result_dir), None, EXPECTED)
    path = result_dir / "summary.json"
    if not path.is_file():
        raise InputError(str(result_dir), None, EXPECTED)
    data = read_summary(result_dir)
    if data is None:
        raise InputError(str(path), None, "expected a readable JSON object (the sweep's summary)")
    kind = data.get("analysis")
    if kind not in ANALYSES:
        raise InputError(str(path), "analysis", f"expected one of {', '.join(ANALYSES)}, got {kind!r}")
    key = ANALYSES[kind][0]
    if not isinstance(data.get(key), dict):
        raise InputError(str(path), key, f"expected the results of the {kind} analysis")
    return data


def _one_or_choice(figures: dict[str, go.Figure]) -> go.Figure | dict[str, go.Figure]:
    return next(iter(figures.values())) if len(figures) == 1 else figures


def _how(text: str) -> str:
    return f"<p class='how'><b>How to read this.</b> {html.escape(text)}</p>"


def _tornado(s: dict, mc: str) -> list[Panel]:
    figures = {sl.label(o): sf.tornado_figure(o, b) for o, b in s["tornado"].items()}
    return [("tornado", "Tornado", _one_or_choice(figures) if figures else None, _how(
        "Each bar runs from the output at the base scenario (dotted line) to its value with one "
        "parameter at the low (blue) or high (orange) end of its range, all else at base; the widest "
        "swing is at the top. Faded bars marked 'noise' swing less than 2 MC SE." + mc))]


def _grid(s: dict, mc: str) -> list[Panel]:
    g = s["grid"]
    params, levels = g["parameters"], g["levels"]
    figures = {}
    for output in g["outputs"]:
        for rest in itertools.product(*levels[3:]):
            fixed = dict(enumerate(rest, start=3))
            held = "".join(f" | {sl.short(params[i])} = {v:g}" for i, v in fixed.items())
            figures[sl.label(output) + held] = sf.grid_figure(g, output, fixed)
    if len(params) == 1:
        how = (f"The output at each level of {sl.short(params[0])}, with ±1.96 MC SE; choose the "
               "output above.")
    else:
        facet = f", a panel per level of {sl.short(params[2])}" if len(params) > 2 else ""
        how = (f"Each cell is the output with {sl.short(params[0])} (across) and "
               f"{sl.short(params[1])} (up) at the levels shown{facet}; choose the output above; "
               "hover for the cell's MC SE.")
    return [("grid", "Grid", _one_or_choice(figures), _how(how + mc))]


def _stats_table(outputs: dict) -> str:
    head = ("<tr><th>output</th><th>mean</th><th>95% interval</th><th>P(difference &gt; 0)</th>"
            "<th>mean MC SE</th><th>MC noise share of variance</th></tr>")
    rows = []
    for o, b in outputs.items():
        lo, hi = b["interval95"]
        p = f"{100 * b['probability_positive']:.0f}%" if "probability_positive" in b else ""
        share = b.get("mc_share_of_variance")
        cells = [sl.value_text(o, b["mean"]), f"{sl.value_text(o, lo)} to {sl.value_text(o, hi)}", p,
                 sl.value_text(o, b.get("mean_mc_se"), signed=False),
                 "-" if share is None else f"{100 * share:.0f}%"]
        rows.append(f"<tr><td>{html.escape(sl.label(o))}</td>"
                    + "".join(f"<td class='v'>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f"<table class='stats'>{head}{''.join(rows)}</table>"


def _psa(s: dict, mc: str) -> list[Panel]:
    outputs = s["psa"]["outputs"]
    diffs = [o for o in outputs if sl.is_difference(o)]
    shown = diffs or list(outputs)
    panels: list[Panel] = [("psa-table", "Probabilistic sensitivity analysis", None, _how(
        "Every draw takes one set of uncertain parameters (the same in every arm) and runs the "
        "model; the spread over draws is the uncertainty in the result. The MC noise share is the "
        "part of that spread due to simulating finitely many patients, not to the parameters."
        + mc) + _stats_table(outputs))]
    panels.append(("psa-hist", "", _one_or_choice(
        {sl.label(o): sf.psa_histogram(o, outputs[o]) for o in shown}), _how(
        "The distribution of each " + ("difference (arm - reference, same patients)" if diffs else
                                       "output") + " over the draws; the shaded band holds 95% of them.")))
    pairs = list(itertools.combinations(shown, 2))[:6]
    if pairs:
        panels.append(("psa-scatter", "", _one_or_choice(
            {f"{sl.label(x)} vs {sl.label(y)}": sf.psa_scatter(x, outputs[x], y, outputs[y])
             for x, y in pairs}), _how(
            "One dot per draw: how the two results move together (for differences, the quadrants "
            "say how often the arm gains on one and loses on the other, as on a cost-effectiveness "
            "plane).")))
    best = s["psa"].get("probability_best")
    if best:
        panels.append(("psa-best", "", sf.probability_best_figure(best), _how(
            "The share of draws in which each strategy has the best value of each output; a tie "
            "shares the draw.")))
    drivers = {sl.label(o): sf.drivers_figure(o, outputs[o]["drivers"]) for o in diffs
               if outputs[o].get("drivers")}
    if drivers:
        panels.append(("psa-drivers", "", _one_or_choice(drivers), _how(
            "The drawn parameters whose values rank-correlate most with the difference: the "
            "uncertainties worth narrowing first.")))
    return panels


def _sobol(s: dict, mc: str) -> list[Panel]:
    figures = {sl.label(o): sf.sobol_figure(o, b) for o, b in s["sobol"].items()}
    return [("sobol", "Sobol indices", _one_or_choice(figures) if figures else None, _how(
        "First-order index: the share of the output's variance due to the parameter alone; total "
        "index: including its interactions with the others. Error bars are the 95% bootstrap "
        "confidence intervals; with few samples they are wide, and Monte Carlo noise inflates the "
        "indices when it is a large part of the variance (noted under the plot)." + mc))]


def _morris(s: dict, mc: str) -> list[Panel]:
    figures = {sl.label(o): sf.morris_figure(o, b) for o, b in s["morris"].items()}
    return [("morris", "Morris screening", _one_or_choice(figures) if figures else None, _how(
        "mu* (across) is how much the output changes, on average, for a step of the parameter "
        "(scaled to its whole range); sigma (up) how much that change varies from point to point, "
        "a sign of non-linearity or interactions. "
        "Parameters near the origin can be left fixed." + mc))]


def _threshold(s: dict, mc: str) -> list[Panel]:
    return [("threshold", "Threshold", sf.threshold_figure(s["threshold"]), _how(
        "The paired difference (arm - reference, same patients) at each value of the parameter "
        "tried: a bracketing grid, then points added where it crosses the target. The star marks "
        "the value at which it reaches the target, the band its 95% interval from the MC SE and "
        "the local slope." + mc))]


_PANELS = {"one_way": _tornado, "grid": _grid, "psa": _psa, "sobol": _sobol, "morris": _morris,
           "threshold": _threshold}


def build_panels(summary: dict) -> list[Panel]:
    """The analysis' panels in page order."""
    facts = ("overview", "The sweep", None, _facts(summary))
    return [facts, *_PANELS[summary["analysis"]](summary, _mc(summary.get("patients", "a few")))]


def _facts(s: dict) -> str:
    arms = s.get("arms") or {}
    if "scenario" in arms and len(arms) == 1:
        setting = f"scenario {html.escape(str(arms['scenario']))}"
    else:
        setting = "arms " + ", ".join(
            f"<b>{html.escape(a)}</b>{' (reference)' if a == s.get('reference') else ''}: "
            f"{html.escape(str(p))}" for a, p in arms.items())
    rows = [("analysis", html.escape(ANALYSES[s["analysis"]][1])),
            ("patients per point", f"{s.get('patients', '-')}" + (" per arm" if len(arms) > 1 else "")),
            ("seed", f"{s.get('seed', '-')} (the same for every point and arm)"),
            ("compared", setting),
            ("points", f"{s.get('points', '-')}, failed {s.get('failed', 0)}")]
    description = f"<p class='note'>{html.escape(s['description'])}</p>" if s.get("description") else ""
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f"{description}<table class='facts'>{body}</table>"


def render_sweep(summary: dict, title: str | None = None) -> str:
    title = title or f"crcsim sweep: {summary.get('name', 'sweep')}"
    footer = ("Made by crcsim from a sweep's summary.json. Every point runs the same seed (common "
              "random numbers), so differences between points and arms are paired.")
    line = (f"{ANALYSES[summary['analysis']][1]}; {summary.get('patients', '-')} patients per point; "
            f"seed {summary.get('seed', '-')}; {summary.get('points', '-')} points, "
            f"{summary.get('failed', 0)} failed")
    return html_page(title, f"<span class='note'>{html.escape(line)}</span>", build_panels(summary),
                     footer)


def write_sweep_dashboard(result_dir: Path, out: Path | None = None,
                          title: str | None = None) -> tuple[Path, int]:
    """Render a sweep's dashboard and write it atomically (default ``result_dir/dashboard.html``);
    returns the path and its size in bytes."""
    from sim.io.atomic import atomic_write

    summary = load_summary(Path(result_dir))
    text = render_sweep(summary, title)
    path = Path(out) if out is not None else Path(result_dir) / "dashboard.html"
    atomic_write(path, text)
    return path, len(text.encode("utf-8"))
