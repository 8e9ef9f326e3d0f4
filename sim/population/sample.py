"""Virtual patients: drawn from a cohort's published marginals, or resampled from a user CSV.

Patient *i*'s attributes come from row *i* of the ``population`` stream and its treatment
assignment (regimen, bevacizumab, radiotherapy course, local-treatment sequence and modalities)
from row *i* of the ``assignment`` stream, so the same seed gives the same patients under every
strategy and however the cohort is split. Only marginals are published: attributes are drawn
independently, an assumption stated in the scenario.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from sim.errors import InputError
from sim.model.rng import attribute_rows, uniform_rows
from sim.scenario.params import Mix
from sim.scenario.population import METASTATIC_SITE_CATEGORIES, Continuous

#: columns a user CSV must have, and the values allowed for categorical ones
CSV_REQUIRED = ("age_years", "sex", "kps", "t_category", "node_positive", "metastatic_site",
                "n_liver_metastases")
CSV_CATEGORIES = {
    "sex": ("male", "female"),
    "kps": ("70-80", "90-100"),
    "t_category": ("T1", "T2", "T3", "T4"),
    "metastatic_site": METASTATIC_SITE_CATEGORIES,
    "tumour_height": ("low", "middle", "high"),
}


def _categorical(mix, u: np.ndarray) -> np.ndarray:
    cats = np.array(mix.categories, dtype=object)
    idx = np.searchsorted(np.array(mix.cumulative()), u, side="right")
    return cats[np.minimum(idx, len(cats) - 1)]


def _continuous(spec: Continuous, u: np.ndarray) -> np.ndarray:
    log = spec.distribution == "truncated_lognormal"
    centre = math.log(spec.median) if log else spec.median
    low = math.log(spec.min) if log else spec.min
    high = math.log(spec.max) if log else spec.max
    a, b = ndtr((low - centre) / spec.spread), ndtr((high - centre) / spec.spread)
    x = centre + spec.spread * ndtri(a + u * (b - a))
    x = np.clip(x, low, high)
    # The C library's exp, not numpy's: numpy picks an AVX-512 or AVX2 kernel by CPU, and
    # they differ in the last bit, so the same seed gave different patients on other machines.
    return np.fromiter(map(math.exp, x.tolist()), dtype=np.float64, count=len(x)) if log else x


def sample_population(scenario, start: int, stop: int) -> pd.DataFrame:
    """Patients ``start .. stop-1`` of the scenario's cohort, one row each.

    Without eligibility criteria patient *i* is candidate *i* of the source population; with
    them, the patients are the eligible candidates in order (``candidate_id`` says which).
    """
    if not scenario.population.eligibility:
        df = draw_candidates(scenario, start, stop)
    else:
        df = _eligible(scenario, start, stop)
    df.insert(0, "patient_id", np.arange(start, stop, dtype=np.int64))
    _assign_treatment(df, scenario.parameters, uniform_rows(scenario.run.seed, "assignment", start, stop))
    return df


#: candidates screened per block when looking for eligible patients
SCREEN_BLOCK = 4096
#: give up when this many candidates yield no eligible patient
SCREEN_LIMIT = 100_000


def eligible_mask(population, candidates: pd.DataFrame) -> np.ndarray:
    ok = np.ones(len(candidates), dtype=bool)
    for criterion in population.eligibility:
        ok &= criterion.passes(candidates[criterion.attribute])
    return ok


#: eligible candidates in each screened block, per source population and seed: a run of many
#: blocks of patients screens each candidate block once, not again from the first for every block
_SCREENED: dict[str, list[int]] = {}
_SCREENED_KEEP = 16


def _screened_counts(scenario) -> list[int]:
    key = f"{scenario.run.seed}:{scenario.population.model_dump_json()}"
    counts = _SCREENED.get(key)
    if counts is None:
        if len(_SCREENED) >= _SCREENED_KEEP:
            _SCREENED.pop(next(iter(_SCREENED)))
        counts = _SCREENED[key] = []
    return counts


def _eligible(scenario, start: int, stop: int) -> pd.DataFrame:
    """Eligible candidates number ``start .. stop-1``: the candidate blocks are screened in order,
    starting from the first block not known to end before eligible candidate ``start``."""
    counts = _screened_counts(scenario)
    first, before = 0, 0
    while first < len(counts) and before + counts[first] <= start:
        before += counts[first]
        first += 1
    found: list[pd.DataFrame] = []
    count, b = before, first
    while count < stop or not found:
        c0 = b * SCREEN_BLOCK
        block = draw_candidates(scenario, c0, c0 + SCREEN_BLOCK)
        keep = block[eligible_mask(scenario.population, block)]
        if b == len(counts):
            counts.append(len(keep))
        found.append(keep)
        count += len(keep)
        b += 1
        if count == 0 and b * SCREEN_BLOCK >= SCREEN_LIMIT:
            raise InputError(
                "population", "eligibility",
                f"expected criteria some candidates meet, none of {SCREEN_LIMIT:,} did",
            )
    rows = pd.concat(found, ignore_index=True) if len(found) > 1 else found[0]
    return rows.iloc[start - before : stop - before].reset_index(drop=True)


def draw_candidates(scenario, start: int, stop: int) -> pd.DataFrame:
    """Candidates ``start .. stop-1`` of the source population (before eligibility), one row each."""
    pop = scenario.population
    seed = scenario.run.seed
    u = uniform_rows(seed, "population", start, stop)
    n = stop - start
    df = pd.DataFrame({"candidate_id": np.arange(start, stop, dtype=np.int64)})
    df["age_years"] = _continuous(pop.age_years, u[:, 0])
    df["sex"] = _categorical(pop.sex, u[:, 1])
    df["kps"] = _categorical(pop.kps, u[:, 2])
    tn_counts = np.array([c.count for c in pop.clinical_tn.categories], dtype=float)
    tn_idx = np.minimum(
        np.searchsorted(np.cumsum(tn_counts) / tn_counts.sum(), u[:, 3], side="right"),
        len(tn_counts) - 1,
    )
    df["t_category"] = np.array([c.t for c in pop.clinical_tn.categories], dtype=object)[tn_idx]
    df["node_positive"] = np.array([c.node_positive for c in pop.clinical_tn.categories])[tn_idx]
    df["metastatic_site"] = _categorical(pop.metastatic_site, u[:, 4])
    bins = pop.liver_metastases_count.bins
    bin_counts = np.array([b.count for b in bins], dtype=float)
    b_idx = np.minimum(
        np.searchsorted(np.cumsum(bin_counts) / bin_counts.sum(), u[:, 5], side="right"),
        len(bins) - 1,
    )
    lows = np.array([b.low for b in bins])[b_idx]
    highs = np.array([b.high for b in bins])[b_idx]
    n_liver = lows + np.minimum((u[:, 6] * (highs - lows + 1)).astype(int), highs - lows)
    df["n_liver_metastases"] = n_liver
    df["tumour_height"] = _categorical(pop.tumour_height, u[:, 7])
    df["differentiation"] = _categorical(pop.differentiation, u[:, 8])
    df["cea_ng_ml"] = _continuous(pop.cea_ng_ml, u[:, 9])
    df["ca199_u_ml"] = _continuous(pop.ca199_u_ml, u[:, 10])
    df["largest_liver_metastasis_cm"] = _continuous(pop.largest_liver_metastasis_cm, u[:, 11])
    df["rectal_tumour_length_cm"] = _continuous(pop.rectal_tumour_length_cm, u[:, 12])
    if pop.csv is not None:
        df = _resample_csv(df, pop.csv, u[:, 15])
    has_liver = df["metastatic_site"].isin(["liver_only", "liver_and_lung"]).to_numpy()
    df["n_liver_metastases"] = np.where(has_liver, df["n_liver_metastases"], 0).astype(np.int64)
    df["largest_liver_metastasis_cm"] = np.where(
        has_liver, df["largest_liver_metastasis_cm"], np.nan
    )
    for name, spec in pop.attributes.items():
        v = attribute_rows(seed, name, start, stop)
        df[name] = _categorical(spec, v) if isinstance(spec, Mix) else _continuous(spec, v)
    assert len(df) == n
    return df


def _assign_treatment(df: pd.DataFrame, params, a: np.ndarray) -> None:
    asg = params.assignment
    df["regimen"] = _categorical(asg.regimen, a[:, 0])
    if asg.regimen_by is not None:
        values = df[asg.regimen_by.attribute].astype(str).to_numpy()
        for value, mix in asg.regimen_by.mixes.items():
            chosen = values == value
            df.loc[chosen, "regimen"] = _categorical(mix, a[chosen, 0])
    bev_p = df["regimen"].map({k: v.value for k, v in asg.bevacizumab_probability.items()})
    df["bevacizumab"] = a[:, 1] < bev_p.fillna(0.0).to_numpy()
    df["radiotherapy_course"] = _categorical(asg.radiotherapy_course, a[:, 2])
    df["sequence"] = _categorical(params.mdt.sequence, a[:, 3])
    modality = params.local_treatment.modality
    for col, site in ((4, "liver"), (5, "lung"), (6, "distant_lymph_nodes")):
        df[f"{site}_modality"] = _categorical(modality[site], a[:, col]) if site in modality else ""


def _resample_csv(df: pd.DataFrame, path: str, u: np.ndarray) -> pd.DataFrame:
    """Replace drawn attributes by those of CSV patients, resampled with replacement."""
    try:
        user = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot be read as CSV ({exc.__class__.__name__})") from None
    missing = [c for c in CSV_REQUIRED if c not in user.columns]
    if missing:
        raise InputError(path, missing[0], f"missing column (required: {', '.join(CSV_REQUIRED)})")
    if user.empty:
        raise InputError(path, None, "expected at least one patient row")
    for col, allowed in CSV_CATEGORIES.items():
        if col in user.columns:
            bad = ~user[col].isin(allowed)
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
                raise InputError(
                    path, f"line {row}, column {col}",
                    f"expected one of {list(allowed)}, got {user[col].iloc[row - 2]!r}",
                )
    for col in ("age_years", "n_liver_metastases"):
        values = pd.to_numeric(user[col], errors="coerce")
        bad = values.isna() | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise InputError(path, f"line {row}, column {col}", "expected a non-negative number")
        user[col] = values
    rows = np.minimum((u * len(user)).astype(int), len(user) - 1)
    picked = user.iloc[rows].reset_index(drop=True)
    out = df.copy()
    for col in picked.columns:
        if col in out.columns and col not in ("patient_id", "candidate_id"):
            out[col] = picked[col].to_numpy()
    out["node_positive"] = out["node_positive"].astype(str).str.lower().isin(["true", "1", "yes"])
    return out


def covariate_flags(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean covariates that hazard ratios in the scenario can refer to."""
    return {
        "liver_metastases_gt5": (df["n_liver_metastases"] > 5).to_numpy(),
        "two_metastatic_organs": (df["metastatic_site"] == "liver_and_lung").to_numpy(),
        "kps_70_80": (df["kps"] == "70-80").to_numpy(),
        "ct4": (df["t_category"] == "T4").to_numpy(),
        "age_gt60": (df["age_years"] > 60).to_numpy(),
        "male": (df["sex"] == "male").to_numpy(),
        "cea_gt5": (df["cea_ng_ml"] > 5).to_numpy(),
    }


def covariate_hazard_ratio(flags: dict[str, np.ndarray], ratios: dict,
                           df: pd.DataFrame | None = None) -> np.ndarray:
    """Product of the hazard ratios of the covariates each patient has; ``attribute=value``
    covariates are read from the population ``df``."""
    n = len(next(iter(flags.values())))
    hr = np.ones(n)
    for name, ratio in ratios.items():
        if name in flags:
            has = flags[name]
        else:
            if df is None:
                raise ValueError(f"the covariate {name!r} is read from the population's attributes")
            attribute, value = name.split("=", 1)
            has = (df[attribute].astype(str) == value).to_numpy()
        hr = np.where(has, hr * ratio.value, hr)
    return hr


def sites_of(metastatic_site: str) -> tuple[str, ...]:
    """Tumour sites to treat: the rectum plus the metastatic organs."""
    return {
        "liver_only": ("rectum", "liver"),
        "lung_only": ("rectum", "lung"),
        "liver_and_lung": ("rectum", "liver", "lung"),
        "distant_lymph_nodes": ("rectum", "distant_lymph_nodes"),
        "none": ("rectum",),
    }[metastatic_site]


def treated_at_entry(population, df: pd.DataFrame) -> list[tuple[str, ...]]:
    """Per patient, the sites of ``treated_at_entry`` that are treated: not those the patient's
    attributes leave with macroscopic residual disease (``residual_at_entry``, e.g. R2)."""
    sites = list(population.treated_at_entry)
    residual = {site: c.passes(df[c.attribute]) for site, c in population.residual_at_entry.items()}
    if not residual:
        return [tuple(sites)] * len(df)
    return [tuple(s for s in sites if not (s in residual and residual[s][i])) for i in range(len(df))]
