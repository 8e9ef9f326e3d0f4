"""What a sweep's stored points say: tornado, grid surfaces, probabilistic summaries, Sobol and
Morris indices, and the threshold. Pure functions of the results table (one row per point and
output: point, overrides, output, value, mc_se, error)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from scipy import stats

from sim.outcomes.metrics import VOCABULARY, Metric
from sim.sweep.spec import GlobalSensitivity, Sweep, Threshold


def _values(table: pd.DataFrame, output: str, points: int) -> tuple[np.ndarray, np.ndarray]:
    """An output's value and MC SE by point number (NaN where the point failed)."""
    rows = table[(table["output"] == output) & table["error"].isna()]
    value = np.full(points, np.nan)
    se = np.full(points, np.nan)
    idx = rows["point"].to_numpy(dtype=int)
    value[idx] = rows["value"].to_numpy(dtype=float)
    se[idx] = rows["mc_se"].to_numpy(dtype=float)
    return value, se


def _paired_se(replicates: dict[int, dict[str, list]], a: int, b: int, output: str) -> float | None:
    """Bootstrap error of (point b - point a): both points resampled the same patients."""
    ra, rb = replicates.get(a, {}).get(output), replicates.get(b, {}).get(output)
    if ra is None or rb is None or len(ra) != len(rb):
        return None
    d = np.array([np.nan if x is None or y is None else y - x for x, y in zip(ra, rb, strict=True)])
    d = d[np.isfinite(d)]
    return float(d.std(ddof=1)) if len(d) > 1 else None


def tornado(sweep: Sweep, table: pd.DataFrame, points: int,
            replicates: dict[int, dict[str, list]] | None = None) -> dict:
    """Per output and parameter: base, low and high values, the swing, and whether the swing is
    smaller than twice its Monte Carlo error (noise rather than an effect). The error is that of
    the paired difference between the two ends (same patients, same random numbers) when the
    points kept their bootstrap replicates, else the independent-runs bound."""
    out: dict = {}
    for output in sweep.output_names():
        value, se = _values(table, output, points)
        if not np.isfinite(value[0]):
            continue
        bars: list[dict] = []
        number = 1
        for v in sweep.varied():
            levels = v.levels()
            vals = value[number:number + len(levels)]
            ses = se[number:number + len(levels)]
            number += len(levels)
            finite = vals[np.isfinite(vals)]
            swing = float(finite.max() - finite.min()) if len(finite) else math.nan
            # the independent-runs bound (root of the summed variances): conservative, because
            # common random numbers make the two ends' errors move together
            bound = float(math.sqrt(np.nansum([ses[0] ** 2, ses[-1] ** 2])))
            paired = None
            if len(finite) and replicates:
                first = number - len(levels)
                hi, lo = (first + int(np.nanargmax(vals)), first + int(np.nanargmin(vals)))
                paired = _paired_se(replicates, lo, hi, output)
            noise_se = paired if paired is not None else bound
            bars.append({"parameter": v.path, "arms": v.arms, "levels": levels,
                         "values": [float(x) for x in vals], "swing": swing, "mc_se": noise_se,
                         "mc_se_method": "paired bootstrap" if paired is not None else
                         "independent-runs bound", "independent_bound": bound,
                         "noise": bool(swing < 2 * noise_se)})
        bars.sort(key=lambda b: -b["swing"] if math.isfinite(b["swing"]) else 0.0)
        out[output] = {"base": float(value[0]), "base_mc_se": float(se[0]), "bars": bars}
    return out


def grid(sweep: Sweep, table: pd.DataFrame, points: int) -> dict:
    """Every output over the grid, in the order of ``itertools.product`` of the levels."""
    params = sweep.varied()
    design = sweep.design_points()
    block: dict = {"parameters": [v.path for v in params], "levels": [v.levels() for v in params],
             "points": [[p[v.path] for v in params] for p in design], "outputs": {}}
    for output in sweep.output_names():
        value, se = _values(table, output, points)
        block["outputs"][output] = {"values": [_num(x) for x in value], "mc_se": [_num(x) for x in se]}
    return block


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def drawn_values(table: pd.DataFrame, points: int) -> pd.DataFrame:
    """The parameter values of each point (one column per override key, the arms' shared draw)."""
    first = table.drop_duplicates("point").set_index("point")["overrides"]
    rows = []
    for p in range(points):
        per_arm = json.loads(first[p]) if p in first.index else {}
        row: dict[str, float] = {}
        for overrides in per_arm.values():
            for key, value in overrides.items():
                row.setdefault(key.removesuffix(".value"), value)
        rows.append(row)
    return pd.DataFrame(rows, index=range(points))


def psa(sweep: Sweep, table: pd.DataFrame, points: int, top: int = 8) -> dict:
    """Distribution of each output over the draws, the share of its variance that is Monte Carlo
    noise, P(difference > 0), the probability each arm is best, and the drawn parameters that
    move each difference most (Spearman's rho)."""
    outputs: dict = {}
    drawn = drawn_values(table, points)
    for metric in sweep.metrics():
        output = str(metric)
        value, se = _values(table, output, points)
        ok = np.isfinite(value)
        x = value[ok]
        if len(x) < 2:
            continue
        var = float(x.var(ddof=1))
        block = {"draws": int(len(x)), "mean": float(x.mean()), "sd": float(math.sqrt(var)),
                 "interval95": [float(q) for q in np.quantile(x, [0.025, 0.975])],
                 "mean_mc_se": float(np.nanmean(se[ok])),
                 "mc_share_of_variance": float(min(1.0, np.nanmean(se[ok] ** 2) / var)) if var > 0 else None,
                 "values": [_num(v) for v in value]}
        if metric.is_difference:
            block["probability_positive"] = float((x > 0).mean())
            block["drivers"] = _drivers(drawn[ok], x, top)
        outputs[output] = block
    out = {"outputs": outputs}
    if sweep.comparison:
        out["probability_best"] = probability_best(sweep, table, points)
    return out


def _drivers(drawn: pd.DataFrame, y: np.ndarray, top: int) -> list[dict]:
    found: list[dict] = []
    for name in drawn.columns:
        x = drawn[name].to_numpy(dtype=float)
        if not np.isfinite(x).all() or np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        rho = float(stats.spearmanr(x, y).statistic)
        if math.isfinite(rho):
            found.append({"parameter": name, "spearman_rho": rho})
    found.sort(key=lambda d: -abs(d["spearman_rho"]))
    return found[:top]


def probability_best(sweep: Sweep, table: pd.DataFrame, points: int) -> dict:
    """Per output, the share of draws in which each arm does best (lower is better for toxicity,
    complications and waits; ties share the draw)."""
    out = {}
    for metric in sweep.spec.outputs:
        matrix = np.column_stack([_values(table, str(Metric(metric, a)), points)[0] for a in sweep.arms])
        ok = np.isfinite(matrix).all(axis=1)
        if not ok.any():
            continue
        m = -matrix[ok] if VOCABULARY[metric].lower_is_better else matrix[ok]
        best = m == m.max(axis=1, keepdims=True)
        share = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
        out[metric] = {a: float(s) for a, s in zip(sweep.arms, share, strict=True)}
    return out


def salib_indices(sweep: Sweep, table: pd.DataFrame, points: int, design: np.ndarray) -> dict:
    """Sobol first-order and total indices, or Morris mu* and sigma, with confidence intervals,
    per output (SALib). An output with a failed point cannot be analysed and says so."""
    from SALib.analyze import morris, sobol

    from sim.sweep.designs import salib_problem

    problem = salib_problem(sweep)
    analysis = sweep.spec.analysis
    assert isinstance(analysis, GlobalSensitivity)
    out: dict = {}
    for output in sweep.output_names():
        y, se = _values(table, output, points)
        if not np.isfinite(y).all():
            out[output] = {"error": f"{int((~np.isfinite(y)).sum())} points failed or undefined"}
            continue
        # an output that did not change makes SALib divide 0 by 0 (its indices are then 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            if analysis.type == "sobol":
                res = sobol.analyze(problem, y, calc_second_order=False, seed=sweep.spec.seed)
                keys = ("S1", "S1_conf", "ST", "ST_conf")
            else:
                res = morris.analyze(problem, design, y, num_levels=analysis.levels, seed=sweep.spec.seed)
                keys = ("mu", "mu_star", "mu_star_conf", "sigma")
        out[output] = {"parameters": problem["names"], "variance": float(np.var(y, ddof=1)),
                       "mean_mc_variance": float(np.nanmean(se ** 2)),
                       **{k: [_num(float(v)) for v in res[k]] for k in keys}}
    return out


def threshold_result(sweep: Sweep, evaluated: list[tuple[float, float, float]]) -> dict:
    """Where the paired difference crosses the target: the narrowest bracket found, the root by
    linear interpolation in it, and an interval from the Monte Carlo error at the bracket
    divided by the local slope of the difference."""
    analysis = sweep.spec.analysis
    assert isinstance(analysis, Threshold)
    pts = sorted((x, y, s) for x, y, s in evaluated if y is not None and math.isfinite(y))
    block = {"parameter": analysis.parameter.path, "output": analysis.output,
             "target": analysis.target, "target_source": analysis.target_source,
             "evaluated": [{"value": x, "difference": y, "mc_se": s} for x, y, s in pts]}
    above = [(x, y - analysis.target, s) for x, y, s in pts]
    brackets = [(a, b) for a, b in zip(above, above[1:], strict=False) if a[1] == 0 or a[1] * b[1] < 0]
    if not brackets:
        sign = ("above" if all(y > 0 for _, y, _ in above)
                else "below" if all(y < 0 for _, y, _ in above) else "at")
        block.update(found=False, threshold=None,
                     note=f"the difference stays {sign} the target over "
                          f"[{analysis.parameter.low:g}, {analysis.parameter.high:g}]")
        return block
    (x0, y0, s0), (x1, y1, s1) = min(brackets, key=lambda b: b[1][0] - b[0][0])
    root = x0 if y0 == 0 else x0 - y0 * (x1 - x0) / (y1 - y0)
    slope = _local_slope(pts, root)
    ses = [v for v in (s0, s1) if v is not None and math.isfinite(v)]
    se = max(ses) if ses else math.nan
    half = 1.959964 * se / abs(slope) if slope and math.isfinite(se) else math.nan
    block.update(found=True, threshold=float(root), bracket=[x0, x1],
                 slope_per_unit=slope, mc_se_of_difference=se,
                 interval95=[float(root - half), float(root + half)] if math.isfinite(half) else None,
                 crossings=len(brackets))
    return block


def _local_slope(pts: list[tuple[float, float, float]], at: float) -> float | None:
    """Least-squares slope of the difference over the (up to) five evaluated points nearest the
    root, a steadier guide than the two bracket ends alone."""
    near = sorted(pts, key=lambda p: abs(p[0] - at))[:5]
    xs = np.array([p[0] for p in near])
    if np.ptp(xs) == 0:
        return None
    return float(np.polyfit(xs, np.array([p[1] for p in near]), 1)[0])
