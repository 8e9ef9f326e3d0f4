"""The fit: initial Latin-hypercube samples, an optimizer from the best of them, then incremental
mixture importance sampling (IMIS, as in the DARTH calibration tutorials) for the set of parameter
vectors consistent with the targets.

Everything runs on z, the unbounded scale of the priors. Candidates are evaluated in parallel on
the execution layer (:mod:`sim.execution.executor`: ``workers`` local processes or a Dask cluster), each
finished evaluation is written to the cache at once, and every stage is deterministic given the
seed, so rerunning an interrupted calibration replays the same candidates and takes the finished
ones from the cache.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.stats import chi2, multivariate_normal, qmc

from sim.calibrate.evaluate import Cache, Evaluator, deviance_of
from sim.execution.executor import Executor

Progress = Callable[[str, int, int], None]

@lru_cache(maxsize=4)
def _evaluator(path: str, patients: int, seed: int) -> Evaluator:
    """One evaluator per worker process (loading the scenario and targets once), whatever the
    backend: a local pool, a Dask worker or this process."""
    return Evaluator(path, patients, seed)


def _evaluate(task: tuple) -> dict:
    path, patients, seed, x, *own_seed = task
    return _evaluator(path, patients, seed)(x, *own_seed)


def _optimize(method: str, z0, max_evaluations: int, cached: dict, log_name: str,
              directory: str, evaluator: tuple[str, int, int]) -> list[dict]:
    """One optimizer run in a worker; its evaluations go to its own cache file as they finish."""
    worker = _evaluator(*evaluator)
    cal = worker.cal
    cache = Cache(Path(directory), cached)
    trace: list[dict] = []

    def f(z):
        x = cal.to_x(z)
        rec = cache.get(x, worker.patients, worker.seed, worker.fingerprint)
        if rec is None:
            rec = worker(x)
            cache.add(rec, log_name)
        trace.append(rec)
        # stated priors: the posterior's mode, not the likelihood's
        value = deviance_of(rec) + cal.prior_penalty(x)
        return value if math.isfinite(value) else 1e12

    if method == "powell":
        # line searches along each direction in turn: suits targets that depend mostly on a few
        # parameters each (toxicity types, response, decisions, disease)
        minimize(f, np.asarray(z0, float), method="Powell",
                 options={"maxfev": max_evaluations, "xtol": 1e-2, "ftol": 1e-3})
    else:
        minimize(f, np.asarray(z0, float), method="Nelder-Mead",
                 options={"maxfev": max_evaluations, "xatol": 1e-3, "fatol": 1e-3, "adaptive": True})
    return trace


@dataclass
class FitResult:
    names: list[str]
    evaluations: list[dict]
    best: dict
    optimizer_traces: list[list[float]]
    imis: list[dict]
    samples_z: np.ndarray
    weights: np.ndarray
    posterior_x: np.ndarray
    ess: float
    posterior_method: str = "IMIS"
    local: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)  # history matching: waves, posterior diagnostics


class Runner:
    """Evaluates batches on the execution layer (local processes, Dask, or in-process with one
    worker) through the cache."""

    def __init__(self, cal_path: str, patients: int, seed: int, workers: int, cache: Cache,
                 backend: str = "processes", scheduler: str | None = None) -> None:
        self.patients, self.seed, self.workers, self.cache = patients, seed, workers, cache
        self.spec = (cal_path, patients, seed)
        self.batches = 0
        self.local = Evaluator(cal_path, patients, seed)
        self.executor = Executor(backend, workers, scheduler).__enter__()

    def close(self) -> None:
        self.executor.__exit__(None, None, None)

    def batch(self, xs: np.ndarray, stage: str, progress: Progress | None,
              seeds: list[int] | None = None, require: str | None = None,
              patients: int | None = None) -> list[dict]:
        """Evaluate ``xs`` (on the runner's seed and cohort, or each on its own of ``seeds`` and
        with ``patients``); a cached record lacking the field ``require`` (written by an older
        version) is evaluated again."""
        fp = self.local.fingerprint
        size = self.patients if patients is None else patients
        own = [self.seed] * len(xs) if seeds is None else [int(s) for s in seeds]
        out: list[dict | None] = [self.cache.get(x, size, s, fp) for x, s in zip(xs, own, strict=True)]
        if require is not None:
            out = [r if r is not None and require in r else None for r in out]
        todo = [i for i, r in enumerate(out) if r is None]
        done = len(xs) - len(todo)
        if progress:
            progress(stage, done, len(xs))
        spec = (self.spec[0], size, self.seed)
        # keys unique to this batch: a Dask scheduler still releasing the futures of the last
        # job under the same keys cancels the new ones (measured: a wave's runs, then its
        # emulator fits)
        self.batches += 1
        tasks = [(f"batch{self.batches}.{i}", (*spec, xs[i]) if seeds is None else (*spec, xs[i], own[i]))
                 for i in todo]
        for outcome in self.executor.map_unordered(_evaluate, tasks):
            if outcome.error is not None:
                raise RuntimeError(f"a calibration candidate failed: {outcome.error}")
            i = int(outcome.key.rsplit(".", 1)[1])
            out[i] = outcome.value
            self.cache.add(outcome.value)
            done += 1
            if progress:
                progress(stage, done, len(xs))
        return out  # type: ignore[return-value]

    def optimize(self, method: str, starts: list[np.ndarray], max_evaluations: int,
                 progress: Progress | None, tag: str = "fit") -> list[list[dict]]:
        snapshot = dict(self.cache.records)
        names = [f"{method}-{tag}-{k}.jsonl" for k in range(len(starts))]
        directory = str(self.cache.directory)
        stage = f"best fit ({method}, {len(starts)} starts)" if tag == "fit" else f"{tag} ({method})"
        if progress:
            progress(stage, 0, len(starts))
        futures = [self.executor.submit(_optimize, method, z, max_evaluations, snapshot, n, directory,
                                        self.spec)
                   for z, n in zip(starts, names, strict=True)]
        traces = [f.result() for f in futures]
        for trace in traces:
            for rec in trace:
                self.cache.records[rec["key"]] = rec
        if progress:
            progress(stage, len(starts), len(starts))
        return traces


def _log_weights(z, dev, cal, components, n_prior: int, n_per_component: int) -> np.ndarray:
    """IMIS importance weights: prior x likelihood / mixture proposal, on the log scale."""
    log_lik = -0.5 * dev
    log_prior = cal.log_prior_z(z)
    total = n_prior + n_per_component * len(components)
    parts = [np.log(n_prior / total) + log_prior]
    for mean, cov in components:
        parts.append(np.log(n_per_component / total)
                     + multivariate_normal(mean, cov, allow_singular=True).logpdf(z))
    log_q = np.logaddexp.reduce(np.vstack(parts), axis=0)
    return np.where(np.isfinite(log_lik), log_lik + log_prior - log_q, -np.inf)


def _ess(log_w: np.ndarray) -> tuple[np.ndarray, float]:
    finite = np.isfinite(log_w)
    w = np.zeros_like(log_w)
    if finite.any():
        w[finite] = np.exp(log_w[finite] - log_w[finite].max())
        w /= w.sum()
    return w, (1.0 / np.sum(w * w)) if w.sum() > 0 else 0.0


def _near_optimum_covariance(z: np.ndarray, dev: np.ndarray) -> np.ndarray:
    """Spread of the points whose deviance is within 2 x dimension of the best one."""
    dim = z.shape[1]
    ok = np.isfinite(dev)
    near = ok & (dev <= np.min(dev[ok]) + 2 * dim)
    if near.sum() < dim + 5:
        near = np.zeros_like(ok)
        near[np.argsort(np.where(ok, dev, np.inf))[: dim + 5]] = True
    cov = np.cov(z[near].T) if near.sum() > 1 else np.eye(dim)
    return _regularise(np.atleast_2d(cov))


def _weighted_covariance(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    mean = w @ z
    diff = z - mean
    return _regularise((w[:, None] * diff).T @ diff)


def _regularise(cov: np.ndarray) -> np.ndarray:
    """Symmetric, and every direction at least a little wide (0.05 on the logit scale)."""
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    vals = np.clip(vals, 0.05**2, 3.3)
    return vecs @ np.diag(vals) @ vecs.T


def abc_mcmc(cal, runner: Runner, z_known: np.ndarray, dev_known: np.ndarray, tolerance: float,
             chains: int, steps: int, rng: np.random.Generator, progress: Progress | None = None
             ) -> tuple[np.ndarray, dict, list[dict], list[dict]]:
    """ABC Markov chain Monte Carlo (Marjoram et al. 2003) with a fixed tolerance.

    The target is the prior restricted to the sets whose deviance is within ``tolerance``. Each
    chain proposes a Gaussian step (scaled 2.38 / sqrt(dim) on the covariance of the region, as
    adaptive Metropolis does) and moves if the proposal is inside the tolerance and passes the
    prior ratio. Importance sampling was tried first: in 18 dimensions its weights collapse onto
    a handful of sets whatever the proposal; a chain has no weights to collapse. The chains start
    from distinct sets already evaluated inside the tolerance and run side by side, one batch of
    proposals per step, so they use every worker. The covariance is re-estimated from the chains
    halfway; the second half of every chain is the sample.
    Returns the kept states (z), diagnostics (acceptance, R-hat, effective size), the log and the
    records.
    """
    dim = z_known.shape[1]
    inside = np.flatnonzero(np.isfinite(dev_known) & (dev_known <= tolerance))
    if len(inside) < 2:
        inside = np.argsort(np.where(np.isfinite(dev_known), dev_known, np.inf))[: max(2, chains)]
    region = z_known[inside]
    start = inside[rng.choice(len(inside), size=chains, replace=len(inside) < chains)]
    state, state_lp = z_known[start].copy(), cal.log_prior_z(z_known[start])
    scale = 2.38**2 / dim
    cov = _regularise(scale * np.atleast_2d(np.cov(region.T)))
    trace = np.empty((steps, chains, dim))
    accepted, records = 0, []
    for k in range(steps):
        if k == steps // 2 and k > 0:
            cov = _regularise(scale * np.atleast_2d(np.cov(trace[:k].reshape(-1, dim).T)))
        proposal = state + rng.multivariate_normal(np.zeros(dim), cov, size=chains, method="cholesky")
        new = runner.batch(cal.to_x(proposal), f"posterior (ABC-MCMC step {k + 1}/{steps})", progress)
        records += new
        dev = np.array([deviance_of(r) for r in new])
        lp = cal.log_prior_z(proposal)
        move = (np.isfinite(dev) & (dev <= tolerance)
                & (np.log(rng.random(chains)) < lp - state_lp))
        state[move], state_lp[move] = proposal[move], lp[move]
        accepted += int(move.sum())
        trace[k] = state
    kept = trace[steps // 2:]
    diagnostics = {"chains": chains, "steps": steps, "acceptance": accepted / (chains * steps),
                   **_chain_diagnostics(kept)}
    log = [{"method": "ABC-MCMC", "tolerance": tolerance, **diagnostics}]
    return kept.reshape(-1, dim), diagnostics, log + [{"records": len(records)}], records


def _chain_diagnostics(kept: np.ndarray) -> dict:
    """Worst-parameter split R-hat (Gelman-Rubin) and effective sample size of the kept states."""
    n, m, dim = kept.shape
    if n < 4 or m < 2:
        return {"rhat_max": None, "ess_min": float(n * m)}
    half = n // 2
    split = np.concatenate([kept[:half], kept[half:2 * half]], axis=1)  # (half, 2m, dim)
    means, variances = split.mean(axis=0), split.var(axis=0, ddof=1)
    b = half * means.var(axis=0, ddof=1)
    w = variances.mean(axis=0)
    var_plus = (half - 1) / half * w + b / half
    rhat = np.sqrt(np.where(w > 0, var_plus / np.where(w > 0, w, 1), 1.0))
    ess = []
    for d in range(dim):
        x = kept[:, :, d] - kept[:, :, d].mean(axis=0)
        denom = np.sum(x * x)
        rho_sum = 0.0
        for lag in range(1, n):
            rho = float(np.sum(x[lag:] * x[:-lag]) / denom) if denom > 0 else 0.0
            if rho <= 0:
                break
            rho_sum += rho
        ess.append(n * m / (1 + 2 * rho_sum))
    return {"rhat_max": float(np.max(rhat)), "ess_min": float(np.min(ess)),
            "ess_median": float(np.median(ess))}


def fit(cal, runner: Runner, seed: int, progress: Progress | None = None) -> FitResult:
    spec = cal.spec.method
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(77,)))
    dim = len(cal.names)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    u = qmc.LatinHypercube(d=dim, seed=np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(78,)))
                           ).random(spec.initial_samples)
    z0 = np.log(u / (1 - u))
    initial = runner.batch(cal.to_x(z0), "initial samples", progress)
    timings["initial_samples_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    dev0 = np.array([deviance_of(r) for r in initial])
    starts = [z0[i] for i in np.argsort(dev0)[: spec.optimizer.starts]]
    traces = runner.optimize(spec.optimizer.method, starts, spec.optimizer.max_evaluations, progress)
    timings["optimizer_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    z = np.vstack([z0] + [cal.to_z(np.array([r["x"] for r in tr])) for tr in traces])
    records = list(initial) + [r for tr in traces for r in tr]
    dev = np.array([deviance_of(r) for r in records])
    # IMIS: importance sampling from a mixture of the prior (the initial samples) and Gaussian
    # components, each added at the heaviest point so far. The first is centred on the optimum
    # with the spread of the points that fit almost as well; each later one takes the importance-
    # weighted covariance of the samples so far, so the proposal shrinks onto the posterior.
    components: list[tuple[np.ndarray, np.ndarray]] = []
    n_prior, per = spec.initial_samples, spec.uncertainty.samples_per_iteration
    sample_z, sample_dev = z0.copy(), dev0.copy()
    imis_log: list[dict[str, object]] = []  # per iteration, then the final weights
    for it in range(spec.uncertainty.iterations):
        log_w = _log_weights(sample_z, sample_dev, cal, components, n_prior, per)
        w, ess = _ess(log_w)
        if it == 0:
            centre, cov = z[int(np.argmin(dev))], _near_optimum_covariance(z, dev)
        else:
            centre, cov = sample_z[int(np.argmax(w))], _weighted_covariance(sample_z, w)
        components.append((centre, cov))
        new_z = rng.multivariate_normal(centre, cov, size=per, method="cholesky")
        new = runner.batch(cal.to_x(new_z), f"uncertainty (IMIS {it + 1}/{spec.uncertainty.iterations})",
                           progress)
        sample_z = np.vstack([sample_z, new_z])
        sample_dev = np.concatenate([sample_dev, [deviance_of(r) for r in new]])
        z = np.vstack([z, new_z])
        dev = np.concatenate([dev, [deviance_of(r) for r in new]])
        records += new
        imis_log.append({"iteration": it + 1, "ess_before": ess, "samples": len(sample_z),
                         "best_deviance": float(np.nanmin(sample_dev))})
    log_w = _log_weights(sample_z, sample_dev, cal, components, n_prior, per)
    w, ess = _ess(log_w)
    imis_log.append({"iteration": "final", "ess": ess, "samples": len(sample_z)})
    pick = rng.choice(len(sample_z), size=spec.uncertainty.resample, replace=True, p=w)
    timings["uncertainty_s"] = time.perf_counter() - t0

    if spec.optimizer.polish_evaluations:
        # the uncertainty step often finds better points than the first optimizer run did:
        # polish the best of them
        t0 = time.perf_counter()
        order = np.argsort(np.where(np.isfinite(dev), dev, np.inf))
        polish_starts = [z[i] for i in order[: spec.optimizer.starts]]
        polished = runner.optimize(spec.optimizer.polish_method, polish_starts,
                                   spec.optimizer.polish_evaluations, progress, tag="polish")
        traces += polished
        records += [r for tr in polished for r in tr]
        z = np.vstack([z] + [cal.to_z(np.array([r["x"] for r in tr])) for tr in polished])
        dev = np.concatenate([dev, [deviance_of(r) for tr in polished for r in tr]])
        timings["polish_s"] = time.perf_counter() - t0

    posterior_method = "IMIS"
    local_log: list[dict] = []
    if spec.uncertainty.posterior == "abc-mcmc":
        # IMIS explores; the posterior itself is sampled around the polished best fit, where the
        # exploration's proposals were never centred
        t0 = time.perf_counter()
        local_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(79,)))
        ok = np.isfinite(dev)
        tolerance = float(np.min(dev[ok]) + chi2.ppf(0.95, dim))  # likelihood-ratio 95% region
        sample_z, diagnostics, local_log, local_records = abc_mcmc(
            cal, runner, z, dev, tolerance, spec.uncertainty.chains, spec.uncertainty.steps,
            local_rng, progress)
        records += local_records
        w = np.full(len(sample_z), 1.0 / len(sample_z))
        ess = diagnostics["ess_min"]
        posterior_method = ("ABC-MCMC: sets within the likelihood-ratio 95% region of the best fit "
                            f"(deviance <= {tolerance:.1f})")
        pick = local_rng.choice(len(sample_z), size=spec.uncertainty.resample, replace=True)
        timings["posterior_s"] = time.perf_counter() - t0

    all_dev = np.array([deviance_of(r) for r in records])
    best = records[int(np.argmin(all_dev))]
    optimizer_traces = [[deviance_of(r) for r in tr] for tr in traces]
    return FitResult(
        names=cal.names, evaluations=records, best=best, optimizer_traces=optimizer_traces,
        imis=imis_log, samples_z=sample_z, weights=w, posterior_x=cal.to_x(sample_z[pick]),
        ess=ess, timings=timings, posterior_method=posterior_method, local=local_log,
    )
