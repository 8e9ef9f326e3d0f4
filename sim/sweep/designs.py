"""The points of probabilistic and global analyses: draws from the parameters' uncertainty
distributions and the calibration posteriors (PSA), and SALib's Saltelli and Morris designs.

Every draw is keyed by (sweep seed, draw number, parameter path), never by the order parameters
are visited, so adding a parameter to a scenario does not change the others' draws, and a
parameter that several arms share gets the same value in all of them.
"""

from __future__ import annotations

import zlib
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from sim.errors import InputError
from sim.scenario.documents import read_yaml_mapping
from sim.scenario.params import Param
from sim.sweep.spec import GlobalSensitivity, Psa, Sweep


def uncertain_parameters(node, prefix: tuple = ()) -> dict[str, Param]:
    """Every parameter of a scenario with an uncertainty distribution, by dotted path."""
    out: dict[str, Param] = {}
    if isinstance(node, Param):
        if node.uncertainty is not None:
            out[".".join(prefix)] = node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            out.update(uncertain_parameters(getattr(node, name), (*prefix, name)))
    elif isinstance(node, dict):
        for key, value in node.items():
            out.update(uncertain_parameters(value, (*prefix, str(key))))
    return out


@cache
def _is_fitted_file(file: str) -> bool:
    """A fitted overlay written by ``crcsim calibrate`` (it carries its provenance)."""
    try:
        return "provenance" in read_yaml_mapping(file)
    except InputError:
        return False


def fitted(sweep: Sweep, arm: str) -> tuple[set[str], list[str]]:
    """The arm's fitted parameter paths (their stated uncertainty is the calibration's prior,
    not a statement about the value) and the fitted files that have a posterior sample."""
    _, origins = sweep.raw[arm]
    paths, files = set(), set()
    for loc, file in origins.items():
        if loc and loc[-1] == "value" and _is_fitted_file(file):
            paths.add(".".join(loc[:-1]))
            files.add(file)
    posteriors = sorted(f for f in files if _posterior(f).is_file())
    return paths, posteriors


def _posterior(fitted_file: str) -> Path:
    p = Path(fitted_file)
    return p.with_name(f"{p.stem}_posterior.parquet")


def _stream(seed: int, draw: int, label: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), draw, zlib.crc32(label.encode())]))


def psa_paths(sweep: Sweep) -> dict[str, dict[str, Param]]:
    """Per arm, the parameters a PSA draws from their own distributions."""
    analysis = sweep.spec.analysis
    assert isinstance(analysis, Psa)
    out = {}
    for arm in sweep.arms:
        params = uncertain_parameters(sweep.scenario(arm))
        fitted_paths, _ = fitted(sweep, arm)
        chosen = {p: v for p, v in params.items() if p not in fitted_paths}
        if analysis.parameters != "all":
            chosen = {p: v for p, v in chosen.items() if p in analysis.parameters}
        out[arm] = chosen
    return out


def check_psa_parameters(sweep: Sweep) -> None:
    analysis = sweep.spec.analysis
    assert isinstance(analysis, Psa)
    drawn = psa_paths(sweep)
    if analysis.parameters != "all":
        for i, path in enumerate(analysis.parameters):
            if not any(path in d for d in drawn.values()):
                raise InputError(str(sweep.path), f"analysis.parameters[{i}]",
                                 f"expected a parameter with an uncertainty distribution that is not "
                                 f"fitted by a calibration, got {path!r}")
    if not any(drawn.values()) and not (analysis.posterior and any(fitted(sweep, a)[1] for a in sweep.arms)):
        raise InputError(str(sweep.path), "analysis", "expected something uncertain to draw: no "
                         "parameter has an uncertainty distribution and no calibration posterior applies")


def psa_points(sweep: Sweep) -> list[dict]:
    """Per draw, per arm, the override keys and values."""
    analysis = sweep.spec.analysis
    assert isinstance(analysis, Psa)
    seed = sweep.spec.seed
    drawn = psa_paths(sweep)
    posteriors = {arm: fitted(sweep, arm)[1] for arm in sweep.arms} if analysis.posterior else {}
    tables = {f: pd.read_parquet(_posterior(f)) for files in posteriors.values() for f in files}
    points = []
    for d in range(analysis.draws):
        point: dict[str, dict[str, float]] = {arm: {} for arm in sweep.arms}
        for arm in sweep.arms:
            for file in posteriors.get(arm, []):
                table = tables[file]
                # keyed by the file's name, not its path: the same draws wherever the project is
                row = table.iloc[int(_stream(seed, d, Path(file).name).integers(len(table)))]
                point[arm].update({f"{c}.value": float(row[c]) for c in table.columns if c != "draw"})
            for path, param in drawn[arm].items():
                assert param.uncertainty is not None  # psa_paths keeps uncertain parameters only
                value = param.uncertainty.sample(_stream(seed, d, path), param.value)
                point[arm][f"{path}.value"] = float(value)
        points.append(point)
    return points


def salib_problem(sweep: Sweep) -> dict:
    analysis = sweep.spec.analysis
    assert isinstance(analysis, GlobalSensitivity)
    return {"num_vars": len(analysis.parameters),
            "names": [v.path for v in analysis.parameters],
            "bounds": [[v.low, v.high] for v in analysis.parameters]}


def salib_design(sweep: Sweep) -> np.ndarray:
    """The Saltelli (Sobol) or Morris design matrix: one row per point, one column per parameter."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    analysis = sweep.spec.analysis
    assert isinstance(analysis, GlobalSensitivity)
    problem = salib_problem(sweep)
    if analysis.type == "sobol":
        return sobol_sample.sample(problem, analysis.samples, calc_second_order=False,
                                   seed=sweep.spec.seed)
    return morris_sample.sample(problem, analysis.samples, num_levels=analysis.levels,
                                seed=sweep.spec.seed)


def salib_points(sweep: Sweep) -> list[dict]:
    analysis = sweep.spec.analysis
    assert isinstance(analysis, GlobalSensitivity)
    arm_of = {v.path: v.arms for v in analysis.parameters}
    integer = {v.path for v in analysis.parameters
               if any(not sweep.keys[a][v.path].endswith(".value") and
                      isinstance(_number(sweep, a, v.path), int) for a in (v.arms or sweep.arms))}
    points = []
    for row in salib_design(sweep):
        values = {path: (round(float(x)) if path in integer else float(x))
                  for path, x in zip(arm_of, row, strict=True)}
        points.append(sweep.overrides(values, arm_of))
    return points


def _number(sweep: Sweep, arm: str, path: str):
    from sim.sweep.spec import _resolve

    return _resolve(sweep.scenario(arm), path)[1]
