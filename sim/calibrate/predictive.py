"""Posterior predictive check: what a study of the published cohort's size would report if the
model, with its parameters drawn from the posterior, were true; against what was published.

Posterior sets are run by the real simulator (each on a seed of its own, at ``patients``
virtual patients, so the model's mean is measured closely); for each set, ``studies`` studies of
the published size are drawn around it: a binomial count of the published denominator, a
multinomial split of the published cohort, a Kaplan-Meier landmark normal on log S with the
simulated Greenwood variance scaled to the published cohort (variance x simulated / published
size, which holds for a group's curve too: both groups' sizes scale alike). The predictive
distribution thus carries parameter uncertainty and the sampling error of a study of that size;
its mean and 2.5-97.5% quantiles are set against the published value and 95% CI, for every
target, fitted or kept back.
"""

from __future__ import annotations

import math

import numpy as np

from sim.calibrate.outputs import statistics_of_record
from sim.calibrate.statistics import Statistics
from sim.calibrate.targets import BinomialTarget, MultinomialTarget, TargetsFile, published_figures


def _row(name: str, fit: bool, published: float, ci: tuple[float, float], sample: np.ndarray) -> dict:
    sample = sample[np.isfinite(sample)]
    if len(sample) == 0:
        return {"target": name, "fit": fit, "published": published, "published_ci95": list(ci),
                "predictive_mean": None, "predictive_ci95": [None, None], "covers": False,
                "mean_inside_ci": False}
    low, high = np.quantile(sample, [0.025, 0.975])
    mean = float(sample.mean())
    return {"target": name, "fit": fit, "published": published, "published_ci95": list(ci),
            "predictive_mean": mean, "predictive_ci95": [float(low), float(high)],
            "covers": bool(low <= published <= high), "mean_inside_ci": bool(ci[0] <= mean <= ci[1])}


def predictive_samples(targets: TargetsFile, stats: list[Statistics], patients: list[int], studies: int,
                       rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per published figure (a multinomial's categories as ``<target>.<category>``), the values
    ``studies`` published-size studies would report around each simulated set."""
    out: dict[str, list[np.ndarray]] = {}
    nan = np.full(studies, np.nan)
    for s, n_sim in zip(stats, patients, strict=True):
        for t in targets.targets:
            if isinstance(t, BinomialTarget):
                p = s.values.get(t.statistic, math.nan)
                draw = rng.binomial(t.of, min(max(p, 0.0), 1.0), studies) / t.of if p == p else nan
                out.setdefault(t.name, []).append(draw)
            elif isinstance(t, MultinomialTarget):
                shares = np.array([s.values.get(f"{t.statistic}.{c}", math.nan) for c in t.counts])
                if not np.all(np.isfinite(shares)):
                    for c in t.counts:
                        out.setdefault(f"{t.name}.{c}", []).append(nan)
                    continue
                shares = np.clip(shares, 0.0, 1.0)
                probs = np.append(shares, max(1.0 - shares.sum(), 0.0))
                counts = rng.multinomial(t.of, probs / probs.sum(), studies)
                for j, c in enumerate(t.counts):
                    out.setdefault(f"{t.name}.{c}", []).append(counts[:, j] / t.of)
            else:
                surv, var = s.km.get(t.key, {}).get(float(t.month), (math.nan, math.nan))
                if not (surv > 0 and var == var):
                    out.setdefault(t.name, []).append(nan)
                    continue
                sd = math.sqrt(var * n_sim / targets.cohort_size)
                out.setdefault(t.name, []).append(np.minimum(surv * np.exp(rng.normal(0, sd, studies)), 1.0))
    return {k: np.concatenate(v) for k, v in out.items()}


def predictive_rows(targets: TargetsFile, samples: dict[str, np.ndarray]) -> list[dict]:
    """One row per published figure, in the order of :func:`sim.calibrate.targets.target_rows`."""
    return [_row(f.name, f.target.fit, f.published, f.ci95, samples[f.name])
            for f in published_figures(targets)]


def predictive_check(runner, targets: TargetsFile, posterior_x: np.ndarray, settings, seed: int,
                     progress=None) -> dict:
    """Run ``settings.draws`` posterior sets (the spec's :class:`Predictive`) and compare."""
    n = min(settings.draws, len(posterior_x))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(95,)))
    picks = posterior_x[rng.choice(len(posterior_x), n, replace=False)]
    seeds = [int(v) for v in np.random.SeedSequence(seed, spawn_key=(96,)).generate_state(n) % (2**31)]
    records = runner.batch(picks, "posterior predictive check", progress, seeds=seeds, require="km",
                           patients=settings.patients)
    stats = [statistics_of_record(r) for r in records]
    samples = predictive_samples(targets, stats, [int(r["patients"]) for r in records], settings.studies, rng)
    rows = predictive_rows(targets, samples)
    fitted = [r for r in rows if r["fit"]]
    return {
        "draws": n, "patients": settings.patients, "studies_per_draw": settings.studies,
        "cohort_size": targets.cohort_size, "rows": rows,
        "covered_share": float(np.mean([r["covers"] for r in rows])),
        "fitted_means_inside": int(sum(r["mean_inside_ci"] for r in fitted)),
        "fitted_figures": len(fitted),
    }
