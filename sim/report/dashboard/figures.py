"""Dashboard figures: pure functions from reduced data to plotly figures.

Every trace that belongs to a strategy carries ``meta={"strategy": name}`` (and the swimmer plot's
``"pathway"``), which is what the page's selectors filter on. Colours are the Okabe-Ito palette
(safe for the common colour-vision deficiencies); every axis says its unit; every title says what
is shown. Figures are plain data (:class:`~sim.report.dashboard.plot_json.Figure`), written as
plotly.py would write them, without its graph objects (see :mod:`sim.report.dashboard.plot_json`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sim.outcomes.metrics import ENDPOINTS, LANDMARKS, landmark_name
from sim.report.dashboard.plot_json import Figure, axes, axis, axis_names, grid, hline, text, vline
from sim.report.dashboard.plot_json import template as plotly_template

if TYPE_CHECKING:
    import pandas as pd

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
SYMBOLS = {
    "chemotherapy cycle": "circle", "radiotherapy fraction": "line-ns-open",
    "surgery / ablation": "diamond", "grade 3-4 toxicity": "x", "progression detected": "triangle-up",
    "death": "square", "immunotherapy dose": "star", "regional liver therapy": "hexagon",
    "MDT": "circle-open", "end of follow-up": "line-ew-open", "treatment break": "hourglass",
}
TEMPLATE = "plotly_white"
STYLE: dict[str, Any] = {"font": {"size": 13}, "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}
#: the same look for plotly.py figures (``fig.update_layout(**LAYOUT)``: the sweep dashboard's)
LAYOUT: dict[str, Any] = {"template": TEMPLATE, **STYLE}


def figure(traces: list[dict], title: str, layout: dict | None = None, **style) -> Figure:
    """A figure on the dashboard's template and style (``style`` overrides it: margins, height)."""
    return Figure(traces, {"template": plotly_template(TEMPLATE), **(layout or {}), **STYLE,
                           "title": text(title), **style})


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _errors(high: list, low: list) -> dict:
    """Asymmetric error bars: distances up and down."""
    return {"array": high, "arrayminus": low, "symmetric": False, "type": "data"}


def km_figure(curves: dict[str, dict], endpoint: str, targets: list[dict] | None = None) -> Figure:
    """Kaplan-Meier curves per strategy with 95% bands; published landmarks with their CIs."""
    label = {"os": "Overall survival", "pfs": "Progression-free survival"}[endpoint]
    traces = []
    for i, (name, c) in enumerate(curves.items()):
        meta = {"strategy": name}
        traces.append({"fill": "toself", "fillcolor": _rgba(colour(i), 0.15), "hoverinfo": "skip",
                       "legendgroup": name, "line": {"width": 0}, "meta": meta,
                       "name": f"{name} 95% CI", "showlegend": False,
                       "x": c["months"] + c["months"][::-1], "y": c["high"] + c["low"][::-1],
                       "type": "scatter"})
        traces.append({"hovertemplate": "%{x:.1f} months: %{y:.1%}<extra>" + name + "</extra>",
                       "legendgroup": name, "line": {"color": colour(i), "width": 2, "shape": "hv"},
                       "meta": meta, "mode": "lines", "name": name, "x": c["months"],
                       "y": c["survival"], "type": "scatter"})
    if targets:
        traces.append({"error_y": _errors([t["high"] - t["value"] for t in targets],
                                          [t["value"] - t["low"] for t in targets]),
                       "marker": {"color": "black", "size": 9, "symbol": "diamond"}, "mode": "markers",
                       "name": "published (95% CI)", "x": [t["month"] for t in targets],
                       "y": [t["value"] for t in targets], "type": "scatter"})
    return figure(traces, f"{label}: Kaplan-Meier estimate with 95% band, by strategy",
                  xaxis={"title": text("months from first treatment")},
                  yaxis={"title": text(f"{label} (probability)"), "range": [0, 1.02],
                         "tickformat": ".0%"}, hovermode="x unified")


def at_risk_figure(curves: dict[str, dict], endpoint: str) -> Figure:
    """Numbers at risk under the Kaplan-Meier plot."""
    months = sorted({m for c in curves.values() for m in c["at_risk"]})
    header = ["strategy"] + [f"{m} months" for m in months]
    cells = [list(curves)] + [[c["at_risk"].get(m, "") for c in curves.values()] for m in months]
    table = {"cells": {"values": cells}, "header": {"fill": {"color": "#eeeeee"}, "values": header},
             "type": "table"}
    label = {"os": "overall survival", "pfs": "progression-free survival"}[endpoint]
    return figure([table], f"Numbers at risk ({label})",
                  margin={"l": 10, "r": 10, "t": 40, "b": 10}, height=90 + 30 * len(curves))


def sankey_figure(flows: dict[str, list[tuple[str, str, int]]]) -> Figure:
    """Where patients go: first MDT decision, local treatment, how they left the schedule.
    One Sankey per strategy; the page shows the selected one."""
    traces = []
    for i, (name, links) in enumerate(flows.items()):
        nodes = sorted({a for a, _, _ in links} | {b for _, b, _ in links},
                       key=lambda s: (not s.startswith("start"), not s.startswith("MDT"),
                                      not s.startswith("local") and not s.startswith("no local"), s))
        index = {n: k for k, n in enumerate(nodes)}
        traces.append({
            "link": {"color": _rgba(colour(i), 0.3),
                     "hovertemplate": "%{source.label} -> %{target.label}: %{value} patients<extra></extra>",
                     "source": [index[a] for a, _, _ in links], "target": [index[b] for _, b, _ in links],
                     "value": [n for _, _, n in links]},
            "meta": {"strategy": name, "exclusive": True}, "name": name,
            "node": {"color": colour(i), "label": nodes, "pad": 12}, "visible": i == 0, "type": "sankey"})
    return figure(traces, "The pathway: MDT decision, local treatment and outcome "
                  "(patients; the selected strategy)", height=520)


def rates_figure(rates: dict[str, dict[str, dict]], title: str, xaxis: str) -> Figure:
    """Grouped bars of rates with 95% intervals, one group per category, a bar per strategy."""
    traces = []
    for i, (name, by) in enumerate(rates.items()):
        cats = list(by)
        traces.append({
            "customdata": [[by[c]["count"], by[c]["n"]] for c in cats],
            "error_y": _errors([by[c]["high"] - by[c]["rate"] for c in cats],
                               [by[c]["rate"] - by[c]["low"] for c in cats]),
            "hovertemplate": "%{x}: %{y:.1%} (%{customdata[0]} of %{customdata[1]})<extra>" + name
                             + "</extra>",
            "legendgroup": name, "marker": {"color": colour(i)}, "meta": {"strategy": name},
            "name": name, "x": cats, "y": [by[c]["rate"] for c in cats], "type": "bar"})
    return figure(traces, title, barmode="group", xaxis={"title": text(xaxis)},
                  yaxis={"title": text("patients (share, 95% interval)"), "tickformat": ".0%"})


def swimmer_figure(rows: dict[str, pd.DataFrame]) -> Figure:
    """A sample of patients' timelines: what happened to whom and when."""
    traces = []
    shown_legend = set()
    for i, (name, frame) in enumerate(rows.items()):
        labels = {pid: f"{name[:18]} #{pid}" for pid in sorted(frame["patient_id"].unique())}
        for (event, pathway), g in frame.groupby(["what", "pathway"], sort=True):
            what = str(event)
            traces.append({
                "customdata": np.stack([g["detail"].astype(str), g["pathway"]], axis=1).tolist(),
                "hovertemplate": "%{y}: " + what + " at %{x:.1f} months (%{customdata[0]}), "
                                 "pathway %{customdata[1]}<extra></extra>",
                "legendgroup": what,
                "marker": {"color": colour(i), "size": 8, "symbol": SYMBOLS.get(what, "circle")},
                "meta": {"strategy": name, "pathway": pathway}, "mode": "markers", "name": what,
                "showlegend": what not in shown_legend, "x": g["months"].tolist(),
                "y": g["patient_id"].map(labels).tolist(), "type": "scatter"})
            shown_legend.add(what)
    return figure(traces, "Patient timelines: a sample of patients from every pathway category "
                  "(filter by strategy and pathway above)",
                  xaxis={"title": text("months from first treatment")},
                  yaxis={"title": text("patient"), "automargin": True}, height=700)


def _weekly_figure(series: dict[str, dict[str, pd.DataFrame]], column: str, titles: list[str],
                   hover: str) -> tuple[list[dict], dict]:
    """Three stacked plots sharing the week axis (linac, theatre, MDT), a line per strategy."""
    layout = grid(3, 1, titles, vertical_spacing=0.06, shared_xaxes=True)
    traces = []
    for i, (strategy, by) in enumerate(series.items()):
        for n, res in enumerate(["linac", "theatre", "MDT"], start=1):
            frame = by[res]
            x, y = axis_names(n)
            traces.append({"hovertemplate": hover + "<extra>" + strategy + "</extra>",
                           "legendgroup": strategy, "line": {"color": colour(i), "width": 1.5},
                           "meta": {"strategy": strategy}, "mode": "lines", "name": strategy,
                           "showlegend": n == 1, "x": frame["week"].tolist(),
                           "y": frame[column].tolist(), "type": "scatter", "xaxis": x, "yaxis": y})
    return traces, layout


def resources_figure(weekly: dict[str, dict[str, pd.DataFrame]], capacity: dict[str, float],
                     centres: str = "all centres") -> Figure:
    """Use of the linac, theatre and MDT per week and per centre (the mean over ``centres``),
    against the weekly capacity of one centre."""
    units = {"linac": "fractions per week", "theatre": "operation sessions per week",
             "MDT": "cases per week"}
    traces, layout = _weekly_figure(weekly, "uses", [f"{n}: {u}" for n, u in units.items()],
                                    "week %{x}: %{y}")
    for n, res in enumerate(units, start=1):
        if res in capacity:
            hline(layout, capacity[res], n, "capacity of one centre")
        axis(layout, axis_names(n)[1])["title"] = text(units[res])
    layout["xaxis3"]["title"] = text(f"week of each centre's simulation (mean over {centres})")
    return figure(traces, "Resources: weekly use of linac, theatre and MDT, per centre", layout,
                  height=700)


def queues_figure(queues: dict[str, dict[str, pd.DataFrame]], centres: str = "all centres") -> Figure:
    """Mean number of patients waiting for the linac, an operation and an MDT place, per week and
    per centre (the mean over ``centres``)."""
    titles = ["waiting for the linac", "waiting for an operation", "waiting for the MDT"]
    traces, layout = _weekly_figure(queues, "waiting", titles, "week %{x}: %{y:.1f} waiting")
    for yaxis in axes(layout, "y"):
        yaxis["title"] = text("patients waiting")
    layout["xaxis3"]["title"] = text(f"week of each centre's simulation (mean over {centres})")
    return figure(traces, "Queues: mean number of patients waiting per week, per centre", layout,
                  height=650)


def waits_figure(waits: dict[str, dict[str, np.ndarray]]) -> Figure:
    """Distribution of waiting times for a linac start, an operation and an MDT place."""
    traces = []
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
        traces.append({"legendgroup": strategy, "lowerfence": q[:, 0].tolist(),
                       "marker": {"color": colour(i)}, "median": q[:, 2].tolist(),
                       "meta": {"strategy": strategy}, "name": strategy, "q1": q[:, 1].tolist(),
                       "q3": q[:, 3].tolist(), "upperfence": q[:, 4].tolist(), "x": cats,
                       "type": "box"})
    return figure(traces, "Waiting times by resource and strategy (box: quartiles, whiskers: "
                  "5th-95th percentiles)", boxmode="group", xaxis={"title": text("resource")},
                  yaxis={"title": text("wait (days)")})


def differences_figure(pairs: dict) -> Figure:
    """Paired OS and PFS differences at 12/24/36 months with 95% intervals, per pair."""
    layout = grid(1, 2, ["overall survival", "progression-free survival"])
    traces = []
    for i, (pair, block) in enumerate(pairs.items()):
        diffs = block["differences"]
        for n, endpoint in enumerate(ENDPOINTS, start=1):
            months = list(LANDMARKS)
            keys = [landmark_name(endpoint, m) for m in months]
            mean = [diffs[k]["mean"] for k in keys]
            ci = [diffs[k]["ci95"] or [diffs[k]["mean"]] * 2 for k in keys]
            x, y = axis_names(n)
            traces.append({
                "error_y": _errors([c[1] - m for c, m in zip(ci, mean, strict=True)],
                                   [m - c[0] for c, m in zip(ci, mean, strict=True)]),
                "hovertemplate": "%{x} months: %{y:+.1%}<extra>" + pair + "</extra>",
                "legendgroup": pair, "line": {"color": colour(i + 1)}, "meta": {"strategy": block["arm"]},
                "mode": "lines+markers", "name": pair, "showlegend": n == 1, "x": months, "y": mean,
                "type": "scatter", "xaxis": x, "yaxis": y})
        for n in (1, 2):
            hline(layout, 0, n)
    for yaxis in axes(layout, "y"):
        yaxis |= {"title": text("difference (percentage points)"), "tickformat": "+.0%"}
    for xaxis in axes(layout, "x"):
        xaxis |= {"title": text("months from first treatment"), "tickvals": [12, 24, 36]}
    return figure(traces, "Differences between strategies (arm - reference, same patients) with "
                  "95% intervals", layout)


def forest_figure(pairs: dict) -> Figure:
    """Hazard ratios (log scale) and RMST differences with 95% intervals, per pair."""
    layout = grid(1, 2, ["hazard ratio (Cox)", "RMST difference (months)"], column_widths=[0.5, 0.5])
    rows = [("hazard_ratio_os", "OS"), ("hazard_ratio_pfs", "PFS")]
    rmst = [("rmst_os_36", "OS to 36 months"), ("rmst_os_60", "OS to 60 months"),
            ("rmst_pfs_36", "PFS to 36 months"), ("rmst_pfs_60", "PFS to 60 months")]
    traces = []
    for i, (pair, block) in enumerate(pairs.items()):
        diffs = block["differences"]
        for n, items in ((1, rows), (2, rmst)):
            ok = [(k, lab) for k, lab in items if diffs.get(k, {}).get("mean") is not None]
            means = [diffs[k]["mean"] for k, _ in ok]
            cis = [diffs[k]["ci95"] or [diffs[k]["mean"]] * 2 for k, _ in ok]
            x, y = axis_names(n)
            traces.append({
                "error_x": _errors([c[1] - m for c, m in zip(cis, means, strict=True)],
                                   [m - c[0] for c, m in zip(cis, means, strict=True)]),
                "legendgroup": pair, "marker": {"color": colour(i + 1), "size": 10, "symbol": "square"},
                "meta": {"strategy": block["arm"]}, "mode": "markers", "name": pair,
                "showlegend": n == 1, "x": means, "y": [f"{lab}<br>{pair}" for _, lab in ok],
                "type": "scatter", "xaxis": x, "yaxis": y})
    vline(layout, 1, 1)
    vline(layout, 0, 2)
    layout["xaxis"] |= {"title": text("hazard ratio (arm vs reference)"), "type": "log"}
    layout["xaxis2"]["title"] = text("months gained (arm - reference)")
    return figure(traces, "Hazard ratios and restricted mean survival time, with 95% intervals",
                  layout, height=420)


def calibration_figure(rows: list[dict]) -> Figure:
    """Simulated against published figures of a calibration's targets, with both intervals."""
    names = [r["target"] for r in rows][::-1]
    rows = rows[::-1]
    published = {
        "error_x": _errors([r["published_ci95"][1] - r["published"] for r in rows],
                           [r["published"] - r["published_ci95"][0] for r in rows]),
        "marker": {"color": "black", "size": 9, "symbol": "diamond"}, "mode": "markers",
        "name": "published (95% CI)", "x": [r["published"] for r in rows], "y": names,
        "type": "scatter"}
    simulated = {"marker": {"color": PALETTE[0], "size": 8}, "mode": "markers", "name": "simulated",
                 "x": [r["simulated"] for r in rows], "y": names, "type": "scatter"}
    return figure([published, simulated], "Calibration: simulated vs published figures",
                  xaxis={"title": text("proportion"), "tickformat": ".0%"},
                  height=max(300, 22 * len(rows) + 120))
