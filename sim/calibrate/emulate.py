"""Gaussian-process emulators of the simulator's outputs, and the implausibility of a parameter
set given them.

An emulator of one output is a linear trend in u (the position in the prior box, on each
parameter's scale) plus a Gaussian process on the residuals: squared-exponential kernel with
one length scale per parameter (a length scale at its upper bound: the output does not depend on
that parameter) and a white-noise term (scikit-learn's ``GaussianProcessRegressor``, hyper-
parameters by maximum marginal likelihood). Runs share one seed (common random numbers), so the
function emulated is the simulator at that seed; the white noise absorbs what is jagged in it
and the Monte Carlo error of the seed itself enters the implausibility as ``V_mc``.

Implausibility (Craig et al. 1997; Vernon et al. 2010) of x for output j::

    I_j(x) = |z_j - E[f_j(x)]| / sqrt(V_obs,j + V_em,j(x) + V_disc,j + V_mc,j)

with V_em the emulator's variance of the smooth function (its white noise excluded: that is
Monte Carlo error, counted in V_mc).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import cho_solve, solve_triangular
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel


@dataclass
class Emulator:
    """One output's emulator: ``predict`` gives the mean and variance of the smooth function."""

    beta: np.ndarray
    scale: float
    gp: GaussianProcessRegressor
    noise: float  # white-noise variance, on the output's scale

    @classmethod
    def fit(cls, u: np.ndarray, y: np.ndarray, seed: int, restarts: int = 1) -> Emulator:
        """Fit to runs at ``u`` (n x d, in [0, 1]) with outputs ``y`` (n)."""
        u, y = np.asarray(u, float), np.asarray(y, float)
        design = np.column_stack([np.ones(len(u)), u])
        beta = np.linalg.lstsq(design, y, rcond=None)[0]
        resid = y - design @ beta
        scale = float(resid.std()) or 1.0
        dim = u.shape[1]
        kernel = (ConstantKernel(1.0, (1e-3, 1e2)) * RBF(np.full(dim, 0.5), (0.03, 30.0))
                  + WhiteKernel(0.1, (1e-6, 2.0)))
        gp = GaussianProcessRegressor(kernel, n_restarts_optimizer=restarts, random_state=seed)
        with warnings.catch_warnings():
            # a length scale at its bound is an answer (the output ignores that parameter)
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(u, resid / scale)
        noise = float(gp.kernel_.k2.noise_level) * scale**2
        return cls(beta=beta, scale=scale, gp=gp, noise=noise)

    def predict(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of the emulated function at ``u`` (m x d), white noise excluded.

        The fitted process's own formulas in plain numpy (scikit-learn's ``predict`` checks its
        input and walks the kernel objects at every call: most of the time of the thousands of
        small batches an MCMC asks for); the tests hold them equal to scikit-learn's."""
        u = np.atleast_2d(u)
        kernel = self.gp.kernel_.k1
        amplitude = float(kernel.k1.constant_value)
        scaled_train = self.gp.X_train_ / kernel.k2.length_scale
        scaled = u / kernel.k2.length_scale
        d2 = (np.sum(scaled**2, axis=1)[:, None] + np.sum(scaled_train**2, axis=1)[None, :]
              - 2 * scaled @ scaled_train.T)
        cross = amplitude * np.exp(-0.5 * np.maximum(d2, 0.0))
        mean = cross @ self.gp.alpha_
        v = solve_triangular(self.gp.L_, cross.T, lower=True, check_finite=False)
        var = np.maximum(amplitude - np.sum(v * v, axis=0), 1e-12) * self.scale**2
        trend = self.beta[0] + u @ self.beta[1:]
        return trend + mean * self.scale, var

    def loo_errors(self) -> np.ndarray:
        """Leave-one-out standardised errors of the training runs (Rasmussen and Williams 2006,
        eq. 5.12, at the fitted hyperparameters): about N(0, 1) for a trustworthy emulator."""
        inv = cho_solve((self.gp.L_, True), np.eye(len(self.gp.L_)))
        alpha = self.gp.alpha_
        diag = np.diag(inv)
        return alpha / np.sqrt(diag)

    @property
    def length_scales(self) -> np.ndarray:
        return np.atleast_1d(self.gp.kernel_.k1.k2.length_scale)


def implausibility(observed: np.ndarray, mean: np.ndarray, var_em: np.ndarray, var_obs: np.ndarray,
                   var_disc: np.ndarray, var_mc: np.ndarray) -> np.ndarray:
    """I = |z - E[f(x)]| / sqrt(V_obs + V_em(x) + V_disc + V_mc), elementwise (broadcasts)."""
    return np.abs(observed - mean) / np.sqrt(var_obs + var_em + var_disc + var_mc)


def ruled_out(implausibilities: np.ndarray, cutoff: float, rule: str = "max") -> np.ndarray:
    """Per row (a parameter set), whether its largest (``max``) or second largest
    (``second-max``) implausibility over the outputs exceeds ``cutoff``."""
    exceed = np.sum(implausibilities > cutoff, axis=1)
    return exceed >= (2 if rule == "second-max" else 1)


@dataclass
class Wave:
    """One wave's emulators, one per output, with the variances the implausibility adds."""

    emulators: list[Emulator]
    observed: np.ndarray
    var_obs: np.ndarray
    var_disc: np.ndarray
    var_mc: np.ndarray
    published_n: np.ndarray | None = None  # per output, a logit's published denominator, else NaN

    def predict(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means and variances (m x outputs)."""
        pairs = [e.predict(u) for e in self.emulators]
        return np.column_stack([p[0] for p in pairs]), np.column_stack([p[1] for p in pairs])

    def plausible(self, u: np.ndarray, cutoff: float, rule: str) -> np.ndarray:
        """Which rows of ``u`` this wave does not rule out. Output by output, a row already
        ruled out is not predicted again (most of the pool goes after a few outputs)."""
        u = np.atleast_2d(u)
        allowed = 2 if rule == "second-max" else 1
        exceed = np.zeros(len(u), int)
        alive = np.arange(len(u))
        for j, emulator in enumerate(self.emulators):
            if len(alive) == 0:
                break
            mean, var = emulator.predict(u[alive])
            imp = implausibility(self.observed[j], mean, var, self.var_obs[j], self.var_disc[j],
                                 self.var_mc[j])
            exceed[alive] += imp > cutoff
            alive = alive[exceed[alive] < allowed]
        keep = np.zeros(len(u), bool)
        keep[alive] = True
        return keep

    def held_out_errors(self, u: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Standardised errors of runs the wave was not fitted to (n x outputs): the run's
        output against the emulator's mean, over the emulator's variance plus its white noise
        (a run carries that noise; the smooth function does not). NaN where a run has none."""
        mean, var = self.predict(u)
        noise = np.array([e.noise for e in self.emulators])
        return (y - mean) / np.sqrt(var + noise)

    def implausibilities(self, mean: np.ndarray, var_em: np.ndarray) -> np.ndarray:
        """Per row and output, from this wave's predictions (:meth:`predict`)."""
        return implausibility(self.observed, mean, var_em, self.var_obs, self.var_disc, self.var_mc)

    def log_likelihood(self, mean: np.ndarray, var_em: np.ndarray) -> np.ndarray:
        """Gaussian log-likelihood of the observed outputs given this wave's predictions, the
        emulator's variance (and the discrepancy's and Monte Carlo error's) added to the
        observation's. A count's sampling variance is the binomial one at the model's
        proportion (the empirical logit's, 1/(np + 1/2) + 1/(n(1-p) + 1/2), p the emulated
        proportion), as the binomial likelihood has it: the variance at the observed count
        would make a study that happened to see a high count surer of it than of a low one."""
        var_obs = self.var_obs
        if self.published_n is not None and np.isfinite(self.published_n).any():
            n = self.published_n
            p = 1.0 / (1.0 + np.exp(-mean))
            at_model = 1.0 / (n * p + 0.5) + 1.0 / (n * (1 - p) + 0.5)
            var_obs = np.where(np.isfinite(n), at_model, self.var_obs)
        var = var_obs + self.var_disc + self.var_mc + var_em
        return -0.5 * np.sum((self.observed - mean) ** 2 / var + np.log(2 * np.pi * var), axis=1)


def _fit_one(task: tuple[np.ndarray, np.ndarray, int, int]) -> Emulator:
    return Emulator.fit(*task)


def fit_wave(u: np.ndarray, y: np.ndarray, var_mc: np.ndarray, observed: np.ndarray,
             var_obs: np.ndarray, discrepancy: float, seed: int,
             mapper: Callable[..., Iterator[Any]] | None = None,
             published_n: np.ndarray | None = None) -> tuple[Wave, list[dict]]:
    """Emulators for every output from runs at ``u`` (n x d) with outputs ``y`` (n x outputs;
    NaN where a run has no value, left out of that output's fit) and their Monte Carlo
    variances. ``mapper``: an executor's ``map_unordered``, to fit the outputs' emulators in
    parallel (each is independent of the others). Returns the wave and, per output, its
    diagnostics."""
    tasks = []
    for j in range(y.shape[1]):
        ok = np.isfinite(y[:, j])
        if ok.sum() < 5:
            raise ValueError(f"output {j} has a value in only {int(ok.sum())} runs")
        # a random restart of the hyperparameter search where it is cheap (measured in 18
        # dimensions: 0.8 s at 150 runs, 27 s at 600, where it changed no prediction)
        tasks.append((f"emulator{seed}.{j}", (u[ok], y[ok, j], seed + j, 1 if ok.sum() <= 150 else 0)))
    fitted: dict[int, Emulator] = {}
    if mapper is None:
        fitted = {j: _fit_one(task) for j, (_, task) in enumerate(tasks)}
    else:
        for outcome in mapper(_fit_one, tasks):
            if outcome.error is not None:
                raise RuntimeError(f"an emulator fit failed: {outcome.error}")
            fitted[int(outcome.key.rsplit(".", 1)[1])] = outcome.value
    emulators, diagnostics, mc = [fitted[j] for j in range(y.shape[1])], [], []
    for j, emulator in enumerate(emulators):
        ok = np.isfinite(y[:, j])
        mc.append(float(np.nanmedian(var_mc[ok, j])) if np.isfinite(var_mc[ok, j]).any() else 0.0)
        loo = emulator.loo_errors()
        diagnostics.append({
            "runs": int(ok.sum()),
            "loo_beyond_3": float(np.mean(np.abs(loo) > 3)),
            "loo_within_2": float(np.mean(np.abs(loo) <= 2)),
            "noise_sd": float(np.sqrt(emulator.noise)),
            "shortest_length_scale": float(emulator.length_scales.min()),
        })
    wave = Wave(emulators, np.asarray(observed, float), np.asarray(var_obs, float),
                discrepancy * np.asarray(var_obs, float), np.asarray(mc, float),
                None if published_n is None else np.asarray(published_n, float))
    return wave, diagnostics
