"""Sweep dashboard figures: pure functions from a sweep's summary blocks to plotly figures.

Output names, units and formats come from :mod:`sim.report.dashboard.sweep_labels`; colours, layout and
the rule that every axis says its unit follow :mod:`sim.report.dashboard.figures`.
"""

from __future__ import annotations

import math
from typing import TypeGuard

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim.outcomes.metrics import Metric
from sim.report.dashboard.figures import LAYOUT, _rgba, colour
from sim.report.dashboard.sweep_labels import (
    axis_title,
    hoverformat,
    is_difference,
    label,
    short,
    short_names,
    tickformat,
    unit,
    value_text,
)

NOISE_NOTE = "faded: swing < 2 MC SE, not distinguishable from Monte Carlo noise"


def _layout(fig: go.Figure, title: str, **kw) -> None:
    """The shared look; room above the plot for the notes (the title's subtitle) if any."""
    note = fig.layout.title.subtitle.text
    heading: dict = {"text": title}
    margin = {**LAYOUT["margin"], **kw.pop("margin", {})}
    if note:
        heading.update(subtitle={"text": note, "font": {"size": 12, "color": "#555"}},
                       y=0.98, yanchor="top")
        margin["t"] = 85 + 16 * note.count("<br>")
    fig.update_layout(**{**LAYOUT, **kw, "title": heading, "margin": margin})
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)


def _note(fig: go.Figure, text: str) -> None:
    """A line under the title: what the reader must know to read the figure right."""
    old = fig.layout.title.subtitle.text
    fig.update_layout(title_subtitle_text=f"{old}<br>{text}" if old else text)


def _finite(x: float | None) -> TypeGuard[float]:
    return x is not None and math.isfinite(x)


def tornado_figure(output: str, block: dict) -> go.Figure:
    """Bars from the base value to the output at each end of every parameter's range, the widest
    swing at the top; swings under twice their MC SE faded and labelled as noise."""
    base = block["base"]
    bars = sorted(block["bars"], key=lambda b: -b["swing"] if _finite(b["swing"]) else math.inf)
    names = []
    for b, name in zip(bars, short_names([b["parameter"] for b in bars]), strict=True):
        levels = b["levels"]
        arms = f" [{', '.join(b['arms'])}]" if b.get("arms") else ""
        names.append(f"{name}{arms} ({levels[0]:g} to {levels[-1]:g})"
                     + (" · noise" if b["noise"] else ""))
    fig, fmt = go.Figure(), hoverformat(output)
    for end, (k, what) in enumerate(((0, "low end of the range"), (-1, "high end of the range"))):
        xs = [b["values"][k] - base if _finite(b["values"][k]) else None for b in bars]
        fig.add_trace(go.Bar(
            y=names, x=xs, base=base, orientation="h", name=what,
            marker={"color": [_rgba(colour(end), 0.25 if b["noise"] else 1.0) for b in bars],
                    "line": {"color": colour(end), "width": 1}},
            customdata=[[b["levels"][k], b["values"][k], b["swing"], b["mc_se"], b["parameter"]]
                        for b in bars],
            meta={"noise": [b["noise"] for b in bars]},
            hovertemplate=f"%{{customdata[4]}} = %{{customdata[0]:g}}: %{{customdata[1]:{fmt}}}"
                          f"<br>swing %{{customdata[2]:{fmt}}}, MC SE of the swing "
                          f"%{{customdata[3]:{fmt}}}<extra>{what}</extra>"))
    middle = [(names[i], v, lv) for i, b in enumerate(bars)
              for lv, v in zip(b["levels"][1:-1], b["values"][1:-1], strict=True) if _finite(v)]
    if middle:
        fig.add_trace(go.Scatter(y=[m[0] for m in middle], x=[m[1] for m in middle], mode="markers",
                                 name="levels in between", customdata=[m[2] for m in middle],
                                 marker={"color": "black", "symbol": "diamond", "size": 8},
                                 hovertemplate=f"level %{{customdata:g}}: %{{x:{hoverformat(output)}}}"
                                               "<extra></extra>"))
    fig.add_vline(x=base, line_color="grey", line_dash="dot")
    at_base = (f"dotted line: base {value_text(output, base)}, "
               f"MC SE {value_text(output, block.get('base_mc_se'))}")
    if any(b["noise"] for b in bars):
        _note(fig, NOISE_NOTE)
    _layout(fig, barmode="overlay",
            title=f"Tornado: {label(output)} at each end of every parameter's range",
            xaxis={"title": f"{axis_title(output)}; {at_base}", "tickformat": tickformat(output)},
            yaxis={"title": "parameter (range)", "categoryorder": "array",
                   "categoryarray": names[::-1], "automargin": True},
            height=max(320, 55 * len(bars) + 200))
    return fig


def _key(values) -> tuple:
    return tuple(round(float(v), 12) for v in values)


def grid_figure(block: dict, output: str, fixed: dict[int, float] | None = None) -> go.Figure:
    """The output over the first two grid parameters (a facet per level of the third, the rest
    held at ``fixed``: parameter index -> level), each cell annotated."""
    params, levels, fixed = block["parameters"], block["levels"], fixed or {}
    index = {_key(p): i for i, p in enumerate(block["points"])}
    values, ses = block["outputs"][output]["values"], block["outputs"][output]["mc_se"]
    held = "".join(f", {short(params[i])} = {v:g}" for i, v in sorted(fixed.items()))
    if len(params) == 1:
        rows = [index[_key([x])] for x in levels[0]]
        fig = go.Figure(go.Scatter(
            x=levels[0], y=[values[i] for i in rows], mode="lines+markers", name=label(output),
            marker={"color": colour(0)}, error_y={"type": "data", "array": [1.96 * (ses[i] or 0)
                                                                            for i in rows]}))
        _layout(fig, title=f"{label(output)} over {short(params[0])} (±1.96 MC SE)",
                xaxis_title=f"{short(params[0])} (value)",
                yaxis={"title": axis_title(output), "tickformat": tickformat(output)})
        return fig
    facets = levels[2] if len(params) > 2 else [None]
    fig = make_subplots(rows=1, cols=len(facets), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[f"{short(params[2])} = {v:g}" if v is not None else ""
                                        for v in facets])
    fmt = hoverformat(output)
    for col, facet in enumerate(facets, start=1):
        z, se = [], []
        rest = ([facet] if facet is not None else []) + [fixed[i] for i in range(3, len(params))]
        for y in levels[1]:
            cells = [index.get(_key([x, y, *rest])) for x in levels[0]]
            z.append([values[i] if i is not None else None for i in cells])
            se.append([ses[i] if i is not None else None for i in cells])
        fig.add_trace(go.Heatmap(
            x=[f"{x:g}" for x in levels[0]], y=[f"{y:g}" for y in levels[1]], z=z, customdata=se,
            coloraxis="coloraxis", texttemplate=f"%{{z:{fmt}}}", name=label(output),
            hovertemplate=f"{short(params[0])} = %{{x}}, {short(params[1])} = %{{y}}: %{{z:{fmt}}} "
                          f"(MC SE %{{customdata:{fmt}}})<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text=f"{short(params[0])} (value)", type="category", row=1, col=col)
    fig.update_yaxes(title_text=f"{short(params[1])} (value)", type="category", row=1, col=1)
    diverging = {"colorscale": "RdBu", "cmid": 0} if is_difference(output) else {"colorscale": "Viridis"}
    _layout(fig, title=f"{label(output)} over the grid{held}",
            coloraxis={**diverging, "colorbar": {"title": axis_title(output, " "), "tickformat": fmt}},
            height=460)
    return fig


def psa_histogram(output: str, block: dict) -> go.Figure:
    """The output over the draws, its 95% interval and (for a difference) P(difference > 0)."""
    xs = [v for v in block["values"] if _finite(v)]
    lo, hi = block["interval95"]
    fig = go.Figure(go.Histogram(x=xs, name="draws", marker_color=colour(0), opacity=0.8,
                                 hovertemplate=f"%{{x:{hoverformat(output)}}}: %{{y}} draws<extra></extra>"))
    fig.add_vrect(x0=lo, x1=hi, fillcolor="grey", opacity=0.12, line_width=0,
                  annotation_text="95% interval", annotation_position="top left")
    fig.add_vline(x=block["mean"], line_color=colour(1), annotation_text="mean",
                  annotation_position="top right")
    text = (f"mean {value_text(output, block['mean'])}, 95% interval {value_text(output, lo)} to "
            f"{value_text(output, hi)}")
    if "probability_positive" in block:
        fig.add_vline(x=0, line_color="black", line_dash="dot")
        text += f"; P(difference > 0) = {100 * block['probability_positive']:.0f}%"
    share = block.get("mc_share_of_variance")
    if _finite(share):
        text += f"; Monte Carlo noise ≈ {100 * share:.0f}% of the spread"
    _note(fig, text)
    _layout(fig, title=f"{label(output)}: distribution over {block['draws']} draws",
            xaxis={"title": axis_title(output), "tickformat": tickformat(output)},
            yaxis_title="draws (count)", bargap=0.05)
    return fig


def psa_scatter(x_out: str, x_block: dict, y_out: str, y_block: dict) -> go.Figure:
    """Each draw's pair of values (a cost-effectiveness-plane-like cloud), with the share of draws
    in each quadrant when both are differences."""
    pairs = [(x, y) for x, y in zip(x_block["values"], y_block["values"], strict=True)
             if _finite(x) and _finite(y)]
    fig = go.Figure(go.Scatter(
        x=[p[0] for p in pairs], y=[p[1] for p in pairs], mode="markers", name="draws",
        marker={"color": _rgba(colour(0), 0.6), "size": 8},
        hovertemplate=f"%{{x:{hoverformat(x_out)}}}, %{{y:{hoverformat(y_out)}}}<extra>draw</extra>"))
    fig.add_trace(go.Scatter(x=[x_block["mean"]], y=[y_block["mean"]], mode="markers", name="mean",
                             marker={"color": colour(1), "size": 13, "symbol": "x"}))
    if is_difference(x_out) and is_difference(y_out) and pairs:
        fig.add_hline(y=0, line_color="grey", line_dash="dot")
        fig.add_vline(x=0, line_color="grey", line_dash="dot")
        for sx, sy, xa, ya in ((1, 1, "right", "top"), (-1, 1, "left", "top"),
                               (-1, -1, "left", "bottom"), (1, -1, "right", "bottom")):
            n = sum(1 for x, y in pairs if x * sx > 0 and y * sy > 0)
            fig.add_annotation(text=f"{100 * n / len(pairs):.0f}% of draws", xref="x domain",
                               yref="y domain", x=1 if sx > 0 else 0, y=1 if sy > 0 else 0,
                               xanchor=xa, yanchor=ya, showarrow=False, font={"color": "#555"})
    _layout(fig, title=f"Per draw: {label(x_out)} against {label(y_out)}",
            xaxis={"title": axis_title(x_out), "tickformat": tickformat(x_out)},
            yaxis={"title": axis_title(y_out), "tickformat": tickformat(y_out)}, height=520)
    return fig


def probability_best_figure(best: dict[str, dict[str, float]]) -> go.Figure:
    """Stacked bars: per output, the share of draws in which each arm does best (sums to 1)."""
    metrics = list(best)
    arms = list(dict.fromkeys(a for by in best.values() for a in by))
    fig = go.Figure()
    for i, arm in enumerate(arms):
        ys = [best[m].get(arm, 0.0) for m in metrics]
        fig.add_trace(go.Bar(x=[label(m) for m in metrics], y=ys, name=arm, marker_color=colour(i),
                             text=[f"{100 * y:.0f}%" for y in ys], textposition="inside",
                             hovertemplate="%{x}: %{y:.0%} of draws<extra>" + arm + "</extra>"))
    _layout(fig, barmode="stack", title="Probability each strategy is best, per output "
            "(lower is better for toxicity, complications and waits)",
            xaxis_title="output", yaxis={"title": "share of draws (%)", "tickformat": ".0%",
                                         "range": [0, 1]})
    return fig


def drivers_figure(output: str, drivers: list[dict]) -> go.Figure:
    """The drawn parameters most rank-correlated with a difference, strongest at the top."""
    rows = sorted(drivers, key=lambda r: -abs(r["spearman_rho"]))
    names = short_names([r["parameter"] for r in rows])
    rho = [r["spearman_rho"] for r in rows]
    fig = go.Figure(go.Bar(
        y=names, x=rho, orientation="h", name="Spearman rho",
        marker_color=[colour(0) if r > 0 else colour(1) for r in rho],
        customdata=[r["parameter"] for r in rows],
        hovertemplate="%{customdata}: rho %{x:+.2f}<extra></extra>"))
    fig.add_vline(x=0, line_color="grey")
    _layout(fig, title=f"What drives {label(output)}: rank correlation with the drawn "
            "parameters (blue: raises it, orange: lowers it)",
            xaxis={"title": "Spearman rank correlation (rho, -1 to 1)", "range": [-1, 1]},
            yaxis={"title": "drawn parameter", "categoryorder": "array",
                   "categoryarray": names[::-1], "automargin": True},
            height=max(300, 40 * len(rows) + 160))
    return fig


def _noise_share(block: dict) -> float | None:
    v, mc = block.get("variance"), block.get("mean_mc_variance")
    return mc / v if _finite(v) and _finite(mc) and v > 0 else None


def _unanalysed(output: str, block: dict, what: str) -> go.Figure:
    fig = go.Figure()
    _note(fig, f"{label(output)} could not be analysed: {block['error']}")
    _layout(fig, title=f"{what}: {label(output)}", xaxis={"visible": False},
            yaxis={"visible": False}, height=260)
    return fig


def sobol_figure(output: str, block: dict) -> go.Figure:
    """First-order and total Sobol indices per parameter with their 95% confidence intervals."""
    if "error" in block:
        return _unanalysed(output, block, "Sobol indices")
    names = short_names(block["parameters"])
    fig = go.Figure()
    for i, (key, what) in enumerate((("S1", "first-order (alone)"), ("ST", "total (with interactions)"))):
        fig.add_trace(go.Bar(x=names, y=block[key], name=what, marker_color=colour(i),
                             error_y={"type": "data", "array": block[f"{key}_conf"]},
                             customdata=block["parameters"],
                             hovertemplate="%{customdata}: %{y:.2f}<extra>" + what + "</extra>"))
    share = _noise_share(block)
    if block.get("variance") == 0:
        _note(fig, "the output did not change over the points: there is no variance to apportion")
    elif share is not None:
        _note(fig, f"Monte Carlo noise variance is {100 * share:.0f}% of the output's variance over "
                   "the points" + (": the indices mostly measure noise" if share > 0.5 else ""))
    _layout(fig, barmode="group", title=f"Sobol indices: share of the variance of "
            f"{label(output)} due to each parameter (95% CI)",
            xaxis_title="parameter", yaxis_title="share of output variance (index, 0-1)")
    return fig


def morris_figure(output: str, block: dict) -> go.Figure:
    """Morris screening: mean absolute elementary effect (mu*) against its spread (sigma)."""
    if "error" in block:
        return _unanalysed(output, block, "Morris screening")
    u = "percentage points" if unit(output) == "share" else unit(output)
    scale = 100.0 if unit(output) == "share" else 1.0
    mu = [v * scale for v in block["mu_star"]]
    sigma = [v * scale for v in block["sigma"]]
    fig = go.Figure(go.Scatter(
        x=mu, y=sigma, mode="markers+text", text=short_names(block["parameters"]),
        textposition="top center", name="parameter", marker={"color": colour(0), "size": 11},
        error_x={"type": "data", "array": [v * scale for v in block["mu_star_conf"]]},
        customdata=block["parameters"],
        hovertemplate="%{customdata}: mu* %{x:.2f}, sigma %{y:.2f}<extra></extra>"))
    top = max([*mu, *sigma, 1e-9]) * 1.15
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="sigma = mu*",
                             line={"color": "grey", "dash": "dot"}, hoverinfo="skip"))
    _layout(fig, title=f"Morris screening of {label(output)}: mean absolute effect "
            "(mu*, 95% CI) and its spread (sigma)",
            xaxis={"title": f"mu*: mean absolute elementary effect ({u} over the range)",
                   "rangemode": "tozero"},
            yaxis={"title": f"sigma: spread of the effects ({u} over the range)", "rangemode": "tozero"})
    return fig


def threshold_figure(block: dict) -> go.Figure:
    """The paired difference at each value evaluated (±1.96 MC SE), the target, and the threshold
    with its 95% interval, or a note when the difference does not cross the target."""
    output = Metric(block["output"], block.get("arm", "arm"), block.get("reference", "reference"))
    pts = [p for p in block["evaluated"] if _finite(p["difference"])]
    fig = go.Figure(go.Scatter(
        x=[p["value"] for p in pts], y=[p["difference"] for p in pts], mode="lines+markers",
        name="paired difference (±1.96 MC SE)", marker={"color": colour(0), "size": 8},
        error_y={"type": "data", "array": [1.96 * p["mc_se"] if _finite(p["mc_se"]) else 0 for p in pts]},
        hovertemplate=f"%{{x:.4g}}: %{{y:{hoverformat(output)}}}<extra></extra>"))
    fig.add_hline(y=block["target"], line_color=colour(1), line_dash="dash",
                  annotation_text=f"target {value_text(output, block['target'])}",
                  annotation_position="bottom left")
    if block.get("found"):
        t = block["threshold"]
        interval = block.get("interval95")
        if interval:
            fig.add_vrect(x0=interval[0], x1=interval[1], fillcolor=colour(2), opacity=0.15,
                          line_width=0)
        ci = f" (95% interval {interval[0]:.3g} to {interval[1]:.3g})" if interval else ""
        fig.add_trace(go.Scatter(x=[t], y=[block["target"]], mode="markers", name=f"threshold{ci}",
                                 marker={"color": colour(2), "size": 16, "symbol": "star",
                                         "line": {"color": "black", "width": 1}},
                                 hovertemplate=f"threshold %{{x:.4g}}{ci}<extra></extra>"))
        fig.add_vline(x=t, line_color=colour(2), annotation_text=f"threshold {t:.3g}",
                      annotation_position="top")
        if block.get("crossings", 1) > 1:
            _note(fig, f"the difference crosses the target {block['crossings']} times; the narrowest "
                       "bracket is shown")
    else:
        _note(fig, f"No threshold in the range: {block.get('note', 'no crossing found')}")
    _layout(fig, title=f"Threshold: {short(block['parameter'])} at which "
            f"{label(output)} reaches the target",
            xaxis_title=f"{short(block['parameter'])} (value evaluated)",
            yaxis={"title": axis_title(output), "tickformat": tickformat(output)},
            legend={"orientation": "h", "y": -0.2, "yanchor": "top"}, margin={**LAYOUT["margin"], "b": 120},
            height=500)
    return fig
