"""Calibration outputs: the fitted overlay, the posterior parameter sets and ``report.json``
(every target: published value and CI, simulated value with its Monte Carlo CI, inside or
outside; which parameters the targets pin down). Its page, ``report.html``, is drawn by
:mod:`sim.report.calibration`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.io.atomic import atomic_write
from sim.io.results import json_safe


def _nested(path: str, value: dict) -> dict:
    out: dict = {}
    node = out
    parts = path.split(".")[1:]  # below "parameters"
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _merge(a: dict, b: dict) -> dict:
    for k, v in b.items():
        a[k] = _merge(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return a


def fitted_overlay(names, best_x, posterior_x, provenance: dict) -> str:
    """The YAML overlay a scenario applies with ``calibration: <file>``."""
    params: dict = {}
    for i, name in enumerate(names):
        lo, hi = np.quantile(posterior_x[:, i], [0.025, 0.975])
        entry = {
            "value": float(f"{best_x[i]:.6g}"),
            "source": f"calibrated to {provenance['targets']} ({provenance['date'][:10]}, best fit)",
            "note": f"posterior 95% interval {lo:.4g}-{hi:.4g}; joint sets in the posterior parquet",
        }
        params = _merge(params, _nested(name, entry))
    header = (
        "# Written by `crcsim calibrate`: fitted parameters, applied on top of the scenario that\n"
        "# names this file (calibration: ...). Regenerate rather than edit by hand.\n"
    )
    body = yaml.safe_dump({"provenance": provenance, "parameters": params}, sort_keys=False,
                          width=100)
    return header + body


def posterior_frame(names, posterior_x) -> pd.DataFrame:
    df = pd.DataFrame(posterior_x, columns=names)
    df.insert(0, "draw", np.arange(len(df)))
    return df


def parameter_summary(cal, posterior_x, best_x) -> list[dict]:
    """Per parameter: best fit, posterior mean and 95% interval, the prior's 95% interval (the
    bounds', or the stated distribution's within them) and their width ratio on the
    parameter's scale: under a half, the targets pin the parameter down."""
    rows = []
    for i, name in enumerate(cal.names):
        lo, hi = cal.low[i], cal.high[i]
        p_lo, p_hi = cal.prior_interval(i)
        col = posterior_x[:, i]
        scale = np.log if cal.log[i] else (lambda v: v)
        prior_width = float(scale(p_hi) - scale(p_lo))
        post_width = float(np.subtract(*np.quantile(scale(col), [0.975, 0.025])))
        ratio = post_width / prior_width if prior_width > 0 else float("nan")
        rows.append({
            "parameter": name, "best": float(best_x[i]),
            "posterior_mean": float(np.mean(col)),
            "posterior_ci95": [float(np.quantile(col, 0.025)), float(np.quantile(col, 0.975))],
            "prior": [float(lo), float(hi)], "prior_ci95": [p_lo, p_hi],
            "prior_kind": "stated" if cal.priors is not None else "uniform",
            "scale": "log" if cal.log[i] else "linear",
            "posterior_to_prior_width": ratio,
            "pinned_down_by_targets": bool(ratio < 0.5),
        })
    return rows


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(json_safe(data), indent=2) + "\n")
