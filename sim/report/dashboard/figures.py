"""Dashboard figures: pure functions from reduced data to plotly figures.

Every trace that belongs to a strategy carries ``meta={"strategy": name}`` (and the swimmer plot's
``"pathway"``), which is what the page's selectors filter on. Colours are the Okabe-Ito palette
(safe for the common colour-vision deficiencies); every axis says its unit; every title says what
is shown.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
SYMBOLS = {
    "chemotherapy cycle": "circle", "radiotherapy fraction": "line-ns-open",
    "surgery / ablation": "diamond", "grade 3-4 toxicity": "x", "progression detected": "triangle-up",
    "death": "square", "immunotherapy dose": "star", "regional liver therapy": "hexagon",
    "MDT": "circle-open", "end of follow-up": "line-ew-open",
}
LAYOUT: dict[str, Any] = {"template": "plotly_white", "font": {"size": 13},
                          "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def km_figure(curves: dict[str, dict], endpoint: str, targets: list[dict] | None = None) -> go.Figure:
    """Kaplan-Meier curves per strategy with 95% bands; published landmarks with their CIs."""
    label = {"os": "Overall survival", "pfs": "Progression-free survival"}[endpoint]
    fig = go.Figure()
    for i, (name, c) in enumerate(curves.items()):
        meta = {"strategy": name}
        fig.add_trace(go.Scatter(x=c["months"] + c["months"][::-1], y=c["high"] + c["low"][::-1],
                                 fill="toself", fillcolor=_rgba(colour(i), 0.15), line={"width": 0},
                                 hoverinfo="skip", showlegend=False, legendgroup=name, meta=meta,
                                 name=f"{name} 95% CI"))
        fig.add_trace(go.Scatter(x=c["months"], y=c["survival"], mode="lines", line_shape="hv",
                                 line={"color": colour(i), "width": 2}, name=name, legendgroup=name,
                                 meta=meta,
                                 hovertemplate="%{x:.1f} months: %{y:.1%}<extra>" + name + "</extra>"))
    if targets:
        fig.add_trace(go.Scatter(
            x=[t["month"] for t in targets], y=[t["value"] for t in targets], mode="markers",
            marker={"color": "black", "size": 9, "symbol": "diamond"}, name="published (95% CI)",
            error_y={"type": "data", "symmetric": False,
                     "array": [t["high"] - t["value"] for t in targets],
                     "arrayminus": [t["value"] - t["low"] for t in targets]}))
    fig.update_layout(**LAYOUT, title=f"{label}: Kaplan-Meier estimate with 95% band, by strategy",
                      xaxis_title="months from first treatment", yaxis_title=f"{label} (probability)",
                      yaxis={"range": [0, 1.02], "tickformat": ".0%"}, hovermode="x unified")
    return fig


def at_risk_figure(curves: dict[str, dict], endpoint: str) -> go.Figure:
    """Numbers at risk under the Kaplan-Meier plot."""
    months = sorted({m for c in curves.values() for m in c["at_risk"]})
    header = ["strategy"] + [f"{m} months" for m in months]
    cells = [list(curves)] + [[c["at_risk"].get(m, "") for c in curves.values()] for m in months]
    fig = go.Figure(go.Table(header={"values": header, "fill_color": "#eeeeee"},
                             cells={"values": cells}))
    label = {"os": "overall survival", "pfs": "progression-free survival"}[endpoint]
    fig.update_layout(**{**LAYOUT, "margin": {"l": 10, "r": 10, "t": 40, "b": 10}},
                      title=f"Numbers at risk ({label})", height=90 + 30 * len(curves))
    return fig


def sankey_figure(flows: dict[str, list[tuple[str, str, int]]]) -> go.Figure:
    """Where patients go: first MDT decision, local treatment, how they left the schedule.
    One Sankey per strategy; the page shows the selected one."""
    fig = go.Figure()
    for i, (name, links) in enumerate(flows.items()):
        nodes = sorted({a for a, _, _ in links} | {b for _, b, _ in links},
                       key=lambda s: (not s.startswith("start"), not s.startswith("MDT"),
                                      not s.startswith("local") and not s.startswith("no local"), s))
        index = {n: k for k, n in enumerate(nodes)}
        fig.add_trace(go.Sankey(
            visible=i == 0, meta={"strategy": name, "exclusive": True}, name=name,
            node={"label": nodes, "pad": 12, "color": colour(i)},
            link={"source": [index[a] for a, _, _ in links], "target": [index[b] for _, b, _ in links],
                  "value": [n for _, _, n in links], "color": _rgba(colour(i), 0.3),
                  "hovertemplate": "%{source.label} -> %{target.label}: %{value} patients<extra></extra>"},
        ))
    fig.update_layout(**LAYOUT, title="The pathway: MDT decision, local treatment and outcome "
                      "(patients; the selected strategy)", height=520)
    return fig


def rates_figure(rates: dict[str, dict[str, dict]], title: str, xaxis: str) -> go.Figure:
    """Grouped bars of rates with 95% intervals, one group per category, a bar per strategy."""
    fig = go.Figure()
    for i, (name, by) in enumerate(rates.items()):
        cats = list(by)
        fig.add_trace(go.Bar(
            x=cats, y=[by[c]["rate"] for c in cats], name=name, marker_color=colour(i),
            legendgroup=name, meta={"strategy": name},
            error_y={"type": "data", "symmetric": False,
                     "array": [by[c]["high"] - by[c]["rate"] for c in cats],
                     "arrayminus": [by[c]["rate"] - by[c]["low"] for c in cats]},
            customdata=[[by[c]["count"], by[c]["n"]] for c in cats],
            hovertemplate="%{x}: %{y:.1%} (%{customdata[0]} of %{customdata[1]})<extra>" + name + "</extra>"))
    fig.update_layout(**LAYOUT, title=title, barmode="group", xaxis_title=xaxis,
                      yaxis_title="patients (share, 95% interval)", yaxis_tickformat=".0%")
    return fig


def swimmer_figure(rows: dict[str, pd.DataFrame]) -> go.Figure:
    """A sample of patients' timelines: what happened to whom and when."""
    fig = go.Figure()
    shown_legend = set()
    for i, (name, frame) in enumerate(rows.items()):
        labels = {pid: f"{name[:18]} #{pid}" for pid in sorted(frame["patient_id"].unique())}
        for (what, pathway), g in frame.groupby(["what", "pathway"], sort=True):
            what = str(what)
            fig.add_trace(go.Scatter(
                x=g["months"], y=g["patient_id"].map(labels), mode="markers", name=what,
                legendgroup=what, showlegend=what not in shown_legend,
                marker={"symbol": SYMBOLS.get(what, "circle"), "size": 8, "color": colour(i)},
                meta={"strategy": name, "pathway": pathway},
                customdata=np.stack([g["detail"].astype(str), g["pathway"]], axis=1),
                hovertemplate="%{y}: " + what + " at %{x:.1f} months (%{customdata[0]}), "
                              "pathway %{customdata[1]}<extra></extra>"))
            shown_legend.add(what)
    fig.update_layout(**LAYOUT, title="Patient timelines: a sample of patients from every pathway "
                      "category (filter by strategy and pathway above)",
                      xaxis_title="months from first treatment", yaxis_title="patient",
                      height=700, yaxis={"automargin": True})
    return fig


def resources_figure(weekly: dict[str, dict[str, pd.DataFrame]], capacity: dict[str, float],
                     centres: str = "all centres") -> go.Figure:
    """Use of the linac, theatre and MDT per week and per centre (the mean over ``centres``),
    against the weekly capacity of one centre."""
    names = ["linac", "theatre", "MDT"]
    units = {"linac": "fractions per week", "theatre": "operation sessions per week",
             "MDT": "cases per week"}
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[f"{n}: {units[n]}" for n in names])
    for i, (strategy, by) in enumerate(weekly.items()):
        for row, res in enumerate(names, start=1):
            frame = by[res]
            fig.add_trace(go.Scatter(x=frame["week"], y=frame["uses"], mode="lines", name=strategy,
                                     legendgroup=strategy, showlegend=row == 1,
                                     line={"color": colour(i), "width": 1.5},
                                     meta={"strategy": strategy},
                                     hovertemplate="week %{x}: %{y}<extra>" + strategy + "</extra>"),
                          row=row, col=1)
    for row, res in enumerate(names, start=1):
        if res in capacity:
            fig.add_hline(y=capacity[res], line_dash="dot", line_color="grey", row=row, col=1,
                          annotation_text="capacity of one centre", annotation_position="top left")
        fig.update_yaxes(title_text=units[res], row=row, col=1)
    fig.update_xaxes(title_text=f"week of each centre's simulation (mean over {centres})", row=3, col=1)
    fig.update_layout(**LAYOUT, title="Resources: weekly use of linac, theatre and MDT, per centre",
                      height=700)
    return fig


def queues_figure(queues: dict[str, dict[str, pd.DataFrame]], centres: str = "all centres") -> go.Figure:
    """Mean number of patients waiting for the linac, an operation and an MDT place, per week and
    per centre (the mean over ``centres``)."""
    names = ["linac", "theatre", "MDT"]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[f"waiting for the {n}" if n != "theatre" else
                                        "waiting for an operation" for n in names])
    for i, (strategy, by) in enumerate(queues.items()):
        for row, res in enumerate(names, start=1):
            frame = by[res]
            fig.add_trace(go.Scatter(x=frame["week"], y=frame["waiting"], mode="lines", name=strategy,
                                     legendgroup=strategy, showlegend=row == 1,
                                     line={"color": colour(i), "width": 1.5}, meta={"strategy": strategy},
                                     hovertemplate="week %{x}: %{y:.1f} waiting<extra>" + strategy
                                     + "</extra>"),
                          row=row, col=1)
            fig.update_yaxes(title_text="patients waiting", row=row, col=1)
    fig.update_xaxes(title_text=f"week of each centre's simulation (mean over {centres})", row=3, col=1)
    fig.update_layout(**LAYOUT, title="Queues: mean number of patients waiting per week, per centre",
                      height=650)
    return fig


def waits_figure(waits: dict[str, dict[str, np.ndarray]]) -> go.Figure:
    """Distribution of waiting times for a linac start, an operation and an MDT place."""
    fig = go.Figure()
    for i, (strategy, by) in enumerate(waits.items()):
        # quartiles and 5th/95th percentiles computed here: the page carries five numbers per box,
        # not every wait
        cats, stats = [], []
        for res, values in by.items():
            values = np.asarray(values, float)
            if len(values):
                cats.append(res)
                stats.append(np.percentile(values, [5, 25, 50, 75, 95]))
        if not cats:
            continue
        q = np.array(stats)
        fig.add_trace(go.Box(x=cats, lowerfence=q[:, 0], q1=q[:, 1], median=q[:, 2], q3=q[:, 3],
                             upperfence=q[:, 4], name=strategy, legendgroup=strategy,
                             marker_color=colour(i), meta={"strategy": strategy}))
    fig.update_layout(**LAYOUT, title="Waiting times by resource and strategy (box: quartiles, "
                      "whiskers: 5th-95th percentiles)", boxmode="group",
                      xaxis_title="resource", yaxis_title="wait (days)")
    return fig


def differences_figure(pairs: dict) -> go.Figure:
    """Paired OS and PFS differences at 12/24/36 months with 95% intervals, per pair."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["overall survival", "progression-free survival"])
    for i, (pair, block) in enumerate(pairs.items()):
        diffs = block["differences"]
        for col, endpoint in enumerate(("os", "pfs"), start=1):
            months = [12, 24, 36]
            keys = [f"{endpoint}_{m}" for m in months]
            mean = [diffs[k]["mean"] for k in keys]
            ci = [diffs[k]["ci95"] or [diffs[k]["mean"]] * 2 for k in keys]
            fig.add_trace(go.Scatter(
                x=months, y=mean, mode="lines+markers", name=pair, legendgroup=pair,
                showlegend=col == 1, line={"color": colour(i + 1)}, meta={"strategy": block["arm"]},
                error_y={"type": "data", "symmetric": False,
                         "array": [c[1] - m for c, m in zip(ci, mean, strict=True)],
                         "arrayminus": [m - c[0] for c, m in zip(ci, mean, strict=True)]},
                hovertemplate="%{x} months: %{y:+.1%}<extra>" + pair + "</extra>"), row=1, col=col)
        fig.add_hline(y=0, line_color="grey", line_dash="dot")
    fig.update_yaxes(title_text="difference (percentage points)", tickformat="+.0%")
    fig.update_xaxes(title_text="months from first treatment", tickvals=[12, 24, 36])
    fig.update_layout(**LAYOUT, title="Differences between strategies (arm - reference, same "
                      "patients) with 95% intervals")
    return fig


def forest_figure(pairs: dict) -> go.Figure:
    """Hazard ratios (log scale) and RMST differences with 95% intervals, per pair."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.5, 0.5],
                        subplot_titles=["hazard ratio (Cox)", "RMST difference (months)"])
    rows = [("hazard_ratio_os", "OS"), ("hazard_ratio_pfs", "PFS")]
    rmst = [("rmst_os_36", "OS to 36 months"), ("rmst_os_60", "OS to 60 months"),
            ("rmst_pfs_36", "PFS to 36 months"), ("rmst_pfs_60", "PFS to 60 months")]
    for i, (pair, block) in enumerate(pairs.items()):
        diffs = block["differences"]
        for col, items in ((1, rows), (2, rmst)):
            ok = [(k, lab) for k, lab in items if diffs.get(k, {}).get("mean") is not None]
            means = [diffs[k]["mean"] for k, _ in ok]
            cis = [diffs[k]["ci95"] or [diffs[k]["mean"]] * 2 for k, _ in ok]
            fig.add_trace(go.Scatter(
                x=means, y=[f"{lab}<br>{pair}" for _, lab in ok], mode="markers",
                marker={"color": colour(i + 1), "size": 10, "symbol": "square"}, name=pair,
                legendgroup=pair, showlegend=col == 1, meta={"strategy": block["arm"]},
                error_x={"type": "data", "symmetric": False,
                         "array": [c[1] - m for c, m in zip(cis, means, strict=True)],
                         "arrayminus": [m - c[0] for c, m in zip(cis, means, strict=True)]}),
                row=1, col=col)
    fig.add_vline(x=1, line_dash="dot", line_color="grey", row=1, col=1)
    fig.add_vline(x=0, line_dash="dot", line_color="grey", row=1, col=2)
    fig.update_xaxes(type="log", title_text="hazard ratio (arm vs reference)", row=1, col=1)
    fig.update_xaxes(title_text="months gained (arm - reference)", row=1, col=2)
    fig.update_layout(**LAYOUT, title="Hazard ratios and restricted mean survival time, with 95% "
                      "intervals", height=420)
    return fig


def calibration_figure(rows: list[dict]) -> go.Figure:
    """Simulated against published figures of a calibration's targets, with both intervals."""
    names = [r["target"] for r in rows][::-1]
    rows = rows[::-1]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[r["published"] for r in rows], y=names, mode="markers", name="published (95% CI)",
        marker={"color": "black", "symbol": "diamond", "size": 9},
        error_x={"type": "data", "symmetric": False,
                 "array": [r["published_ci95"][1] - r["published"] for r in rows],
                 "arrayminus": [r["published"] - r["published_ci95"][0] for r in rows]}))
    fig.add_trace(go.Scatter(
        x=[r["simulated"] for r in rows], y=names, mode="markers", name="simulated",
        marker={"color": PALETTE[0], "size": 8}))
    fig.update_layout(**LAYOUT, title="Calibration: simulated vs published figures",
                      xaxis_title="proportion", xaxis_tickformat=".0%",
                      height=max(300, 22 * len(rows) + 120))
    return fig
