"""History matching (Craig et al. 1997; Vernon et al. 2010; Andrianakis et al. 2015): waves of
simulations that rule out the parameter space where the model cannot reproduce the targets.

Wave k: simulate a design (the first a Latin hypercube over the prior box, later ones drawn
from the space not ruled out), fit one emulator per output (:mod:`sim.calibrate.emulate`) on the
runs inside the space left by the waves before, and rule out x wherever an output's
implausibility exceeds the cut-off. The space not ruled out ("not ruled out yet", NROY) is kept
as a pool of candidates uniform on it: the survivors of the previous pool (a uniform sample of
the old space that falls in the new one is uniform on the new one), topped up by a random walk
that never leaves it (Metropolis with a uniform target: a move is accepted iff it stays inside),
which starts in its stationary distribution and so needs no burn-in. The NROY volume, as a share
of the prior box, is the product over waves of the share of the pool each wave keeps. It stops
after ``waves`` waves, or once a wave rules out less than ``min_shrink`` of what was left.

Every wave's design is written to ``<directory>/wave_<k>.json`` before it is simulated and its
runs go to the evaluation cache, so a killed calibration resumes with the same designs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import qmc
from threadpoolctl import threadpool_limits

from sim.calibrate.emulate import Wave, fit_wave
from sim.calibrate.evaluate import deviance_of
from sim.calibrate.outputs import Output, simulated_matrix, statistics_of_record
from sim.errors import InputError
from sim.io.atomic import atomic_write


@dataclass
class HistoryView:
    """Waves so far: a point is not ruled out if no wave rules it out."""

    waves: list[Wave]

    def plausible(self, u: np.ndarray, cutoff: float, rule: str) -> np.ndarray:
        u = np.atleast_2d(u)
        keep = np.ones(len(u), bool)
        for wave in self.waves:
            idx = np.flatnonzero(keep)
            if len(idx):
                keep[idx] = wave.plausible(u[idx], cutoff, rule)
        return keep


@dataclass
class HistoryResult(HistoryView):
    pool: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # uniform on the NROY space, in u
    u: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # every run, in u
    records: list[dict] = field(default_factory=list)
    log: list[dict] = field(default_factory=list)
    stopped: str = ""


def _design(directory: Path, k: int, make) -> np.ndarray:
    """Wave ``k``'s design: as written before, or made now and written first. It is made either
    way, so the random streams after it are those of an uninterrupted calibration."""
    file = directory / f"wave_{k}.json"
    u = make()
    if file.is_file():
        return np.array(json.loads(file.read_text(encoding="utf-8"))["u"], float)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(file, json.dumps({"wave": k, "u": u.tolist()}) + "\n")
    return u


def _spread(u: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct points of ``u`` chosen to fill its space: the best of a few random subsets
    by the smallest distance between two of their points (maximin)."""
    distinct = np.unique(u, axis=0)
    if len(distinct) <= n:
        return distinct
    best, best_gap = distinct[:n], -1.0
    for _ in range(20):
        pick = distinct[rng.choice(len(distinct), n, replace=False)]
        d2 = np.sum((pick[:, None, :] - pick[None, :, :]) ** 2, axis=-1)
        np.fill_diagonal(d2, np.inf)
        if d2.min() > best_gap:
            best, best_gap = pick, float(d2.min())
    return best


def refill(survivors: np.ndarray, inside, size: int, rng: np.random.Generator) -> np.ndarray:
    """A pool of ``size`` points uniform on the region ``inside`` (a function of u returning
    which rows lie in it), from ``survivors`` already uniform on it: parallel random walks, each
    proposal accepted iff it stays in the box and the region."""
    if len(survivors) >= size:
        return survivors[rng.choice(len(survivors), size, replace=False)]
    dim = survivors.shape[1]
    # 500 chains or more, from the survivors (several from one survivor where they are few: each
    # survivor is already a draw from the target, so the copies need no burn-in, they diverge)
    n_chains = max(500, min(len(survivors), 1000))
    chains = survivors[rng.choice(len(survivors), n_chains, replace=len(survivors) < n_chains)].copy()
    spread = np.cov(survivors.T) if len(survivors) > dim + 1 else np.diag(np.full(dim, 0.01))
    vals, vecs = np.linalg.eigh(np.atleast_2d(spread))
    cov = (2.38**2 / dim) * (vecs @ np.diag(np.clip(vals, 1e-6, None)) @ vecs.T)
    collected = [survivors]
    total = len(survivors)
    while total < size:
        proposal = chains + rng.multivariate_normal(np.zeros(dim), cov, size=len(chains))
        ok = np.all((proposal > 0) & (proposal < 1), axis=1)
        idx = np.flatnonzero(ok)
        if len(idx):
            ok[idx] = inside(proposal[idx])
        chains[ok] = proposal[ok]
        collected.append(chains.copy())
        total += len(chains)
    return np.vstack(collected)[-size:]


def history_match(cal, runner, outputs: list[Output], settings, seed: int, directory: Path,
                  progress=None) -> HistoryResult:
    """Run the waves; ``settings``: the spec's :class:`HistoryMatching`."""
    dim = len(cal.names)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(91,)))
    observed = np.array([o.observed for o in outputs])
    var_obs = np.array([o.var_obs for o in outputs])
    cutoff, rule = settings.cutoff, settings.implausibility
    result = HistoryResult(waves=[], pool=rng.random((settings.pool, dim)), u=np.empty((0, dim)),
                           records=[])
    volume = 1.0
    for k in range(1, settings.waves + 1):
        started = time.perf_counter()
        if k == 1:
            lhs = qmc.LatinHypercube(d=dim, seed=np.random.default_rng(
                np.random.SeedSequence(seed, spawn_key=(92,))))
            design = _design(directory, k, lambda: lhs.random(settings.design_points))  # noqa: B023
        else:
            design = _design(directory, k, lambda: _spread(result.pool, settings.design_points, rng))  # noqa: B023
        records = runner.batch(cal.u_to_x(design), f"history matching: wave {k} runs", progress,
                               require="km")
        if result.waves:
            # the previous wave's emulators against runs they were not fitted to
            new_y, _ = simulated_matrix(outputs, [statistics_of_record(r) for r in records])
            errors = np.abs(result.waves[-1].held_out_errors(design, new_y))
            result.log[-1]["held_out"] = {
                "runs": len(design), "beyond_3": float(np.nanmean(errors > 3)),
                "within_2": float(np.nanmean(errors <= 2)),
                "worst_output": outputs[int(np.nanargmax(np.nanmean(errors > 3, axis=0)))].name}
        result.u = np.vstack([result.u, design])
        result.records += records
        # train on the runs inside the space the earlier waves left, the most recent first
        inside = np.flatnonzero(result.plausible(result.u, cutoff, rule))[::-1][: settings.max_training]
        y, var_mc = simulated_matrix(outputs, [statistics_of_record(result.records[i]) for i in inside])
        if progress:
            progress(f"history matching: wave {k} emulators", 0, 1)
        wave, diagnostics = fit_wave(result.u[inside], y, var_mc, observed, var_obs,
                                     settings.discrepancy, seed + 1000 * k, runner.executor.map_unordered,
                                     np.array([o.published_n for o in outputs]))
        result.waves.append(wave)
        keep = wave.plausible(result.pool, cutoff, rule)
        share = float(keep.mean())
        volume *= share
        entry = {
            "wave": k, "runs": len(design), "training_runs": len(inside), "kept_share": share,
            "volume": volume, "emulator_sd_median": float(np.median(np.sqrt(
                wave.predict(result.pool[keep][:2000])[1]))) if keep.any() else None,
            "observation_sd_median": float(np.median(np.sqrt(var_obs))),
            "emulators": {o.name: d for o, d in zip(outputs, diagnostics, strict=True)},
            "seconds": 0.0,
        }
        result.log.append(entry)
        if not keep.any():
            result.pool = result.pool[keep]
            result.stopped = f"wave {k} ruled out the whole pool: no parameter set fits the targets"
            entry["seconds"] = time.perf_counter() - started
            break
        result.pool = refill(result.pool[keep], lambda u: result.plausible(u, cutoff, rule),
                             settings.pool, rng)
        entry["seconds"] = time.perf_counter() - started
        if progress:
            progress(f"history matching: wave {k} emulators", 1, 1)
        if k > 1 and share > 1 - settings.min_shrink:
            result.stopped = (f"wave {k} ruled out {100 * (1 - share):.1f}% of the space left "
                              f"(less than {100 * settings.min_shrink:.0f}%)")
            break
    else:
        result.stopped = f"after {settings.waves} waves"
    return result


def _finite(deviance: float) -> float:
    """A failed or empty run ranks last."""
    return deviance if np.isfinite(deviance) else np.inf


def objective(cal, record: dict) -> float:
    """What the best fit minimises: the deviance, minus twice the log prior density where the
    spec states priors (the posterior's mode on the simulator; in flat directions the prior,
    not Monte Carlo noise, decides)."""
    return _finite(deviance_of(record) + cal.prior_penalty(np.array(record["x"])))


def fit_by_history_matching(cal, runner, outputs: list[Output], seed: int, directory: Path,
                            progress=None):
    """The whole fit: waves, then the posterior on the final emulators; the best fit is the
    emulators' maximum a posteriori, run by the simulator on the calibration's seed."""
    from sim.calibrate.fit import FitResult
    from sim.calibrate.posterior import sample_posterior

    settings = cal.spec.method.history_matching
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    # the emulators' matrices are small: BLAS threads only fight the simulation workers for the
    # cores (a triangular solve measured 30 times slower with them on a busy machine)
    with threadpool_limits(limits=1):
        history = history_match(cal, runner, outputs, settings, seed, directory, progress)
    timings["history_matching_s"] = time.perf_counter() - t0
    if len(history.pool) == 0:
        # not a crash: the targets, the model and these settings leave no candidate standing
        raise InputError(str(cal.path), "method.history_matching", f"{history.stopped}; a "
                         "first wave keeps some space with implausibility: second-max, more "
                         "design_points, a larger pool or a larger discrepancy")
    if cal.priors is not None and not np.isfinite(cal.log_prior_u(history.pool)).any():
        raise InputError(str(cal.path), "prior", "expected some of the space history matching "
                         "left inside the stated priors' support, found none")
    t0 = time.perf_counter()
    if progress:
        progress("posterior (emcee on the emulators)", 0, 1)
    with threadpool_limits(limits=1):
        posterior = sample_posterior(history, settings, seed,
                                     cal.log_prior_u if cal.priors is not None else None)
    if progress:
        progress("posterior (emcee on the emulators)", 1, 1)
    timings["posterior_s"] = time.perf_counter() - t0
    best = runner.batch(cal.u_to_x(posterior.best_u[None, :]), "best fit (emulator maximum)", progress,
                        require="km")[0]
    traces: list[list[dict]] = []
    if settings.polish_evaluations:
        # the emulators' maximum is only as good as the emulators: the simulator's own deviance
        # is minimised from it and from the best runs of the waves (their CRN seed, as the waves)
        t0 = time.perf_counter()
        ranked = sorted(history.records, key=lambda r: objective(cal, r))
        starts = [cal.to_z(np.array(best["x"]))] + [
            cal.to_z(np.array(r["x"])) for r in ranked[: settings.polish_starts - 1]]
        traces = runner.optimize("powell", starts, settings.polish_evaluations, progress, tag="polish")
        best = min([best] + [r for tr in traces for r in tr], key=lambda r: objective(cal, r))
        timings["polish_s"] = time.perf_counter() - t0
    posterior_x = cal.u_to_x(posterior.u)
    d = posterior.diagnostics
    return FitResult(
        names=cal.names, evaluations=history.records + [best] + [r for tr in traces for r in tr],
        best=best, optimizer_traces=[[deviance_of(r) for r in tr] for tr in traces],
        imis=[], samples_z=cal.to_z(posterior_x), weights=np.full(len(posterior_x), 1 / len(posterior_x)),
        posterior_x=posterior_x, ess=d["ess"], local=[d], timings=timings,
        posterior_method=(f"history matching ({len(history.waves)} waves, {history.stopped}), then "
                          f"emcee on the final emulators: {d['draws']} draws, ESS {d['ess']:.0f}"),
        history={"waves": history.log, "stopped": history.stopped, "outputs": [
            {"name": o.name, "target": o.target, "scale": o.scale, "observed": o.observed,
             "var_obs": o.var_obs} for o in outputs],
            "cutoff": settings.cutoff, "implausibility": settings.implausibility,
            "discrepancy_fraction": settings.discrepancy, "posterior": d},
    )
