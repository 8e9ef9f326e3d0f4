"""The posterior on the space history matching left: a likelihood-weighted sample, drawn by
MCMC on the final wave's emulators.

Target: prior (uniform on the box, on each parameter's scale: uniform in u; or each parameter's
stated distribution, ``prior: stated``) times the Gaussian
likelihood of every fitted output, whose variance adds the emulator's own, the discrepancy's and
the Monte Carlo error's to the observation's (:meth:`sim.calibrate.emulate.Wave.log_likelihood`),
restricted to the space no wave ruled out (its mass outside is negligible by construction, and
there the emulators extrapolate).

Sampler: emcee's ensemble sampler (Foreman-Mackey et al. 2013) with differential-evolution
moves. Why emcee rather than importance resampling of the pool: the pool is uniform on a space
that in many dimensions is far wider than the posterior, so importance weights collapse (the
ABC-MCMC this replaces measured exactly that); an ensemble sampler adapts to the posterior's
scales and correlations by construction (affine invariance) and needs no proposal tuning.
Walkers start from distinct pool points. The emulator costs milliseconds per batch, so the
chain can be long. Diagnostics: integrated autocorrelation time per parameter (Sokal's
windowed estimate, emcee.autocorr), effective sample size = samples after burn-in / tau, its
minimum over the parameters (at most the draws kept), whether the chain is longer than 50 tau
(emcee's advice for trusting tau), acceptance, split R-hat across walkers.
"""

from __future__ import annotations

from dataclasses import dataclass

import emcee
import numpy as np

from sim.calibrate.emulate import ruled_out
from sim.calibrate.fit import _chain_diagnostics
from sim.calibrate.history import HistoryView


@dataclass
class Posterior:
    u: np.ndarray  # draws (n x d), in u
    log_prob: np.ndarray
    best_u: np.ndarray  # the emulator's maximum a posteriori among the chain's states
    diagnostics: dict


def _ess(chain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per parameter, the autocorrelation time and effective size of a (steps, walkers, d) chain."""
    tau = np.maximum(emcee.autocorr.integrated_time(chain, tol=0, quiet=True), 1.0)
    return tau, chain.shape[0] * chain.shape[1] / tau


def sample_posterior(history, settings, seed: int, log_prior=None) -> Posterior:
    """emcee on the final wave's emulators within the NROY space of ``history``
    (:class:`sim.calibrate.history.HistoryResult`); ``settings``: :class:`HistoryMatching`;
    ``log_prior(u)``: the prior's log density in u (None: uniform on the box)."""
    final = history.waves[-1]
    cutoff, rule = settings.cutoff, settings.implausibility
    dim = history.pool.shape[1]
    walkers = max(settings.walkers, 2 * dim + 2)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(93,)))

    earlier = HistoryView(history.waves[:-1])

    def log_prob(u: np.ndarray) -> np.ndarray:
        out = np.full(len(u), -np.inf)
        idx = np.flatnonzero(np.all((u > 0) & (u < 1), axis=1))
        if len(idx) == 0:
            return out
        # the final wave's predictions serve its implausibility and the likelihood; the earlier
        # waves are asked only about the points it keeps
        mean, var = final.predict(u[idx])
        keep = ~ruled_out(final.implausibilities(mean, var), cutoff, rule)
        keep[keep] = earlier.plausible(u[idx[keep]], cutoff, rule)
        out[idx[keep]] = final.log_likelihood(mean[keep], var[keep])
        if log_prior is not None and keep.any():
            out[idx[keep]] += log_prior(u[idx[keep]])
        return out

    pool = np.unique(history.pool, axis=0)
    if log_prior is not None:  # walkers start where the stated prior has mass, never at -inf
        pool = pool[np.isfinite(log_prior(pool))]
    start = pool[rng.choice(len(pool), walkers, replace=len(pool) < walkers)]
    start = start + rng.normal(0, 1e-6, start.shape)  # distinct walkers even from a tiny pool
    start = np.clip(start, 1e-9, 1 - 1e-9)
    sampler = emcee.EnsembleSampler(walkers, dim, log_prob, vectorize=True, moves=[
        (emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)])
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()
    sampler.run_mcmc(start, settings.steps, progress=False)

    burn = settings.steps // 4
    chain = sampler.get_chain(discard=burn)  # (steps, walkers, d)
    lp = sampler.get_log_prob(discard=burn)
    tau, ess = _ess(chain)
    thin = max(1, (chain.shape[0] * walkers) // settings.draws)
    thinned, thinned_lp = chain[::thin], lp[::thin]
    flat, flat_lp = thinned.reshape(-1, dim), thinned_lp.reshape(-1)
    best = np.unravel_index(int(np.argmax(lp)), lp.shape)
    diagnostics = {
        "sampler": "emcee ensemble (DE 0.8, DE snooker 0.2)", "walkers": walkers,
        "steps": settings.steps, "burn_in": burn, "thin": thin,
        "acceptance": float(np.mean(sampler.acceptance_fraction)),
        "tau_max": float(tau.max()), "chain_over_50_tau": bool(chain.shape[0] > 50 * tau.max()),
        "ess_chain_min": float(ess.min()), "ess_per_parameter": ess.tolist(),
        "ess": float(min(ess.min(), len(flat))),
        "draws": int(len(flat)), "distinct": int(len(np.unique(flat, axis=0))),
        "ess_method": "samples after burn-in / integrated autocorrelation time (emcee.autocorr, "
                      "Sokal's window c=5), smallest over the parameters, at most the draws kept "
                      "(thinning to them adds no information)",
        **{f"walkers_{k}": v for k, v in _chain_diagnostics(chain).items()},
    }
    return Posterior(u=flat, log_prob=flat_lp, best_u=chain[best], diagnostics=diagnostics)
