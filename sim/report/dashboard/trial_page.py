"""The virtual trial's page (``trial.html``): where each published figure falls in the
simulated sampling distribution of a study of its size, and each distribution on its own."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from sim.report.dashboard.figures import PALETTE, _errors, _rgba, figure
from sim.report.dashboard.plot_json import Figure, text
from sim.report.dashboard.shell import Panel, html_page


def _number(kind: str, x: float | None) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    if kind in ("landmark", "proportion"):
        return f"{100 * x:.1f}%"
    return f"{x:.3g}"


def percentile_figure(figures: list[dict]) -> Figure:
    """Each published figure's percentile among the replicates, with its Monte Carlo error, on
    the band of the central 95%: one scale for figures of every kind."""
    rows = [f for f in figures if f["percentile"] is not None][::-1]  # n/a: no study had it
    names = [f["statistic"] for f in rows]
    inside = [f["inside_central95"] for f in rows]
    se = [1.96 * f["percentile_mc_se"] for f in rows]
    trace = {"error_x": _errors(se, se), "mode": "markers", "name": "published figure",
             "marker": {"color": [PALETTE[0] if i else PALETTE[1] for i in inside], "size": 9,
                        "symbol": ["circle" if i else "x" for i in inside]},
             "x": [f["percentile"] for f in rows], "y": names, "type": "scatter",
             "customdata": [[_number(f["kind"], f["published"]), _number(f["kind"], f["median"])]
                            for f in rows],
             "hovertemplate": "%{y}: published %{customdata[0]}, simulated median %{customdata[1]}"
                              "<br>percentile %{x:.1f}<extra></extra>"}
    layout = {"shapes": [{"type": "rect", "xref": "x", "yref": "paper", "x0": 2.5, "x1": 97.5,
                          "y0": 0, "y1": 1, "fillcolor": _rgba(PALETTE[2], 0.12), "line": {"width": 0}}],
              "xaxis": {"title": text("percentile of the published figure among the virtual studies"),
                        "range": [0, 100]}}
    return figure([trace], "Where each published figure falls (band: central 95%)", layout,
                  height=max(320, 22 * len(rows) + 140), showlegend=False)


def distribution_figure(fig: dict, values: np.ndarray) -> Figure:
    """One statistic's replicates as a histogram, with the published figure and its CI."""
    values = values[np.isfinite(values)]
    traces = [{"type": "histogram", "x": values, "name": "virtual studies",
               "marker": {"color": _rgba(PALETTE[0], 0.6)}, "nbinsx": 40}]
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": fig["published"],
               "x1": fig["published"], "y0": 0, "y1": 1, "line": {"color": "black", "width": 2}}]
    if fig.get("published_ci95"):
        low, high = fig["published_ci95"]
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": low, "x1": high, "y0": 0,
                       "y1": 1, "fillcolor": "rgba(0,0,0,0.08)", "line": {"width": 0}})
    xaxis: dict = {"title": text(fig["statistic"])}
    if fig["kind"] in ("landmark", "proportion"):
        xaxis["tickformat"] = ".0%"
    layout = {"shapes": shapes, "xaxis": xaxis, "yaxis": {"title": text("virtual studies")}}
    return figure(traces, f"{fig['statistic']}: published (black line, grey: its 95% CI) against "
                  "the virtual studies", layout, height=380, showlegend=False)


def _table(figures: list[dict]) -> str:
    head = ("<tr><th>figure</th><th>arm</th><th>published</th><th>published 95% CI</th>"
            "<th>simulated median</th><th>central 95% of studies</th><th>percentile</th><th></th></tr>")
    body = []
    for f in figures:
        ci = f.get("published_ci95")
        low, high = f["central95"]
        verdict = {True: "inside", False: "OUTSIDE", None: "n/a"}[f["inside_central95"]]
        if f.get("not_reached"):
            verdict += f" ({f['not_reached']} studies did not reach it)"
        pct = ("–" if f["percentile"] is None
               else f"{f['percentile']:.1f} ± {1.96 * f['percentile_mc_se']:.1f}")
        published_ci = "–" if not ci else f"{_number(f['kind'], ci[0])}–{_number(f['kind'], ci[1])}"
        body.append(
            f"<tr><td>{html.escape(f['statistic'])}</td><td>{html.escape(str(f['arm']))}</td>"
            f"<td class='v'>{_number(f['kind'], f['published'])}</td>"
            f"<td class='v'>{published_ci}</td>"
            f"<td class='v'>{_number(f['kind'], f['median'])}</td>"
            f"<td class='v'>{_number(f['kind'], low)}–{_number(f['kind'], high)}</td>"
            f"<td class='v'>{pct}</td><td>{verdict}</td></tr>")
    return f"<table class='stats' id='trial-table'>{head}{''.join(body)}</table>"


def render_trial(result: dict, table: pd.DataFrame) -> str:
    figures = result["figures"]
    by_stat = {k: g["value"].to_numpy(float) for k, g in table.groupby("statistic", sort=False)}
    alternatives = {f["statistic"]: distribution_figure(f, by_stat.get(f["statistic"], np.array([])))
                    for f in figures}
    arms = "; ".join(f"{html.escape(a)}: {s['patients']} patients" for a, s in result["arms"].items())
    low, high = result["potential_follow_up_months"]
    header = (f"<span class='note'>{arms}; {result['replicates']} virtual studies, seed "
              f"{result['seed']}; potential follow-up {low:.1f}–{high:.1f} months</span>")
    how = (f"<p class='how'>Each virtual study re-runs the trial at its published size and "
           f"calendar and is analysed as the paper did. Interval: {html.escape(result['interval'])}. "
           f"{result['inside_central95']} of {len(figures)} published figures fall inside the "
           "central 95%. A percentile's ± is its Monte Carlo error (95%, over the studies)."
           + (f" {result['failed_replicates']} studies failed and are left out."
              if result.get("failed_replicates") else "") + "</p>")
    panels: list[Panel] = [
        ("percentiles", "1. Published figures against the virtual studies", percentile_figure(figures),
         how + _table(figures)),
        ("distributions", "2. One figure's distribution", alternatives or None, ""),
    ]
    footer = ("Made by crcsim from the virtual studies' event logs; source: "
              f"{html.escape(result.get('source') or 'not given')}.")
    return html_page(f"crcsim virtual trial: {result['name']}", header, panels, footer)
