"""The calibration report's figures and page (``report.html``): published against simulated
targets, the fit's convergence, simulated against published survival, and what the targets pin
down (posterior against prior width). Renders numbers the calibration derived; derives none.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sim.io.atomic import atomic_write
from sim.outcomes.survival import kaplan_meier

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


def _interval(values: list) -> np.ndarray:
    return np.array([[np.nan, np.nan] if None in v else v for v in values], float)


def _against_published(rows: list[dict], names: list[str], estimate: np.ndarray, interval: np.ndarray,
                       label: str, colour: str, title: str) -> go.Figure:
    """Published values and CIs beside an estimate and its interval, one row a target."""
    pub = np.array([r["published"] for r in rows], float)
    pci = np.array([r["published_ci95"] for r in rows], float)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=pub, y=names, mode="markers", name="published (95% CI)", marker={"color": PALETTE[0], "size": 9},
        error_x={"type": "data", "symmetric": False, "array": pci[:, 1] - pub, "arrayminus": pub - pci[:, 0]},
    ))
    fig.add_trace(go.Scatter(
        x=estimate, y=names, mode="markers", name=label,
        marker={"color": colour, "size": 9, "symbol": "diamond"},
        error_x={"type": "data", "symmetric": False, "array": interval[:, 1] - estimate,
                 "arrayminus": estimate - interval[:, 0]},
    ))
    fig.update_layout(title=title, xaxis_title="proportion of patients (0-1)",
                      height=30 * len(rows) + 160, legend={"orientation": "h", "y": -0.08})
    return fig


def targets_figure(rows: list[dict]) -> go.Figure:
    rows = rows[::-1]
    sim = np.array([np.nan if r["simulated"] is None else r["simulated"] for r in rows], float)
    return _against_published(rows, [r["target"] for r in rows], sim,
                              _interval([r["simulated_mc_ci95"] for r in rows]),
                              "simulated (Monte Carlo 95% CI)", PALETTE[1],
                              "Every target: published against simulated (verification run)")


def predictive_figure(predictive: dict) -> go.Figure:
    """Published value and CI against the posterior predictive mean and 95% interval at the
    cohort's size."""
    rows = predictive["rows"][::-1]
    mean = np.array([np.nan if r["predictive_mean"] is None else r["predictive_mean"] for r in rows], float)
    return _against_published(
        rows, [r["target"] + ("" if r["fit"] else " (kept back)") for r in rows], mean,
        _interval([r["predictive_ci95"] for r in rows]),
        "posterior predictive mean (95% interval)", PALETTE[2],
        f"Posterior predictive check: studies of {predictive['cohort_size']} patients "
        f"({predictive['draws']} posterior sets); intervals cover "
        f"{100 * predictive['covered_share']:.0f}% of published values")


def _history_html(history: dict) -> str:
    lines = [f"<h2>History matching</h2><p>Cut-off {history['cutoff']:g} on the "
             f"{history['implausibility']} implausibility; discrepancy variance "
             f"{history['discrepancy_fraction']:g} x the observation's. Stopped {history['stopped']}.</p>",
             "<table><tr><th>wave</th><th>runs</th><th>training runs</th><th>share kept</th>"
             "<th>volume left</th><th>next wave's runs within 2 sd / beyond 3 sd of its emulators"
             "</th><th>seconds</th></tr>"]
    for w in history["waves"]:
        held = w.get("held_out")
        check = f"{held['within_2']:.2f} / {held['beyond_3']:.2f}" if held else "-"
        lines.append(f"<tr><td>{w['wave']}</td><td>{w['runs']}</td><td>{w['training_runs']}</td>"
                     f"<td>{w['kept_share']:.3f}</td><td>{w['volume']:.2e}</td><td>{check}</td>"
                     f"<td>{w['seconds']:.0f}</td></tr>")
    d = history["posterior"]
    lines.append(f"</table><p>Posterior: {d['sampler']}, {d['walkers']} walkers x {d['steps']} steps, "
                 f"acceptance {d['acceptance']:.2f}; {d['draws']} draws, {d['distinct']} distinct; "
                 f"effective sample size {d['ess']:.0f} ({d['ess_method']}).</p>")
    return "\n".join(lines)


def convergence_figure(traces: list[list[float]], method: str) -> go.Figure:
    fig = go.Figure()
    for k, trace in enumerate(traces):
        best = np.minimum.accumulate(np.where(np.isfinite(trace), trace, np.nan))
        fig.add_trace(go.Scatter(y=best, mode="lines", name=f"{method} start {k + 1}",
                                 line={"color": PALETTE[k % len(PALETTE)]}))
    fig.update_layout(title="Convergence: best total deviance so far", xaxis_title="evaluation",
                      yaxis_title="total deviance of fitted targets", yaxis_type="log")
    return fig


def survival_figure(patients: pd.DataFrame, km_targets: list) -> go.Figure:
    fig = go.Figure()
    for k, (curve, label) in enumerate((("os", "overall survival"), ("pfs", "progression-free survival"))):
        fit = kaplan_meier(patients[f"{curve}_months"], patients[f"{curve}_event"])
        keep = fit.timeline <= 72
        fig.add_trace(go.Scatter(x=fit.timeline[keep], y=fit.survival[keep], mode="lines", line_shape="hv",
                                 name=f"simulated {label}", line={"color": PALETTE[k]}))
        marks = [t for t in km_targets if t.curve == curve and t.group is None]  # the whole cohort's
        fig.add_trace(go.Scatter(
            x=[t.month for t in marks], y=[t.percent / 100 for t in marks], mode="markers",
            name=f"published {label} (95% CI)", marker={"color": PALETTE[k], "size": 10, "symbol": "square"},
            error_y={"type": "data", "symmetric": False,
                     "array": [(t.interval[1] - t.percent) / 100 for t in marks],
                     "arrayminus": [(t.percent - t.interval[0]) / 100 for t in marks]},
        ))
    fig.update_layout(title="Survival: simulated Kaplan-Meier curves and published landmarks",
                      xaxis_title="months from first treatment", yaxis_title="survival probability",
                      yaxis_range=[0, 1.02])
    return fig


def identifiability_figure(rows: list[dict]) -> go.Figure:
    names = [r["parameter"].split(".", 1)[1] for r in rows]
    fig = go.Figure(go.Bar(
        x=[r["posterior_to_prior_width"] for r in rows], y=names, orientation="h",
        marker={"color": [PALETTE[2] if r["pinned_down_by_targets"] else PALETTE[4] for r in rows]},
    ))
    fig.update_layout(title="What the targets pin down: posterior 95% width / prior width",
                      xaxis_title="width ratio (below 0.5: pinned down by the targets; "
                                  "near 1: rests on the prior)",
                      height=28 * len(rows) + 160)
    return fig


def _table_html(rows: list[dict]) -> str:
    def pct(v):
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"

    lines = ["<table><tr><th>target</th><th>fitted</th><th>published (95% CI)</th>"
             "<th>simulated (MC 95% CI)</th><th>inside</th><th>deviance</th></tr>"]
    for r in rows:
        lo, hi = r["published_ci95"]
        slo, shi = r["simulated_mc_ci95"]
        dev = r["deviance"]
        lines.append(
            f"<tr class={'ok' if r['inside'] else 'out'}><td>{r['target']}</td>"
            f"<td>{'yes' if r['fit'] else 'validation'}</td>"
            f"<td>{pct(r['published'])} ({pct(lo)}-{pct(hi)})</td>"
            f"<td>{pct(r['simulated'])} ({pct(slo)}-{pct(shi)})</td>"
            f"<td>{'yes' if r['inside'] else 'NO'}</td>"
            f"<td>{'-' if dev is None else f'{dev:.2f}'}</td></tr>"
        )
    lines.append("</table>")
    return "\n".join(lines)


def write_html(path: Path, report: dict, figures: list[go.Figure]) -> None:
    parts = []
    for i, fig in enumerate(figures):
        fig.update_layout(template="plotly_white", font={"size": 13})
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"responsive": True}))
    inside = sum(r["inside"] for r in report["targets"])
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>crcsim calibration: {report['name']}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{padding:3px 9px;border-bottom:1px solid #ddd;text-align:left}}
tr.out td{{color:#b00}}</style></head><body>
<h1>Calibration {report['name']}</h1>
<p>Targets: {report['provenance']['targets']} (sha256 {report['provenance']['targets_sha256'][:12]}).
Fit on {report['provenance']['patients_per_evaluation']:,} patients per evaluation, seed
{report['provenance']['seed']}; {report['evaluations']:,} evaluations in
{report['wall_time_s'] / 60:.1f} minutes. Best total deviance {report['best']['deviance']:.2f}
over {report['fitted_targets']} fitted targets. Verification on
{report['verification']['patients']:,} patients with seed {report['verification']['seed']}:
{inside} of {len(report['targets'])} published figures inside their 95% CI. Effective sample size of
the importance sample: {report['uncertainty']['ess']:.0f}.</p>
{_table_html(report['targets'])}
{_history_html(report['history_matching']) if 'history_matching' in report else ''}
{''.join(parts)}
</body></html>
"""
    atomic_write(path, html)
