"""The calibration spec (``calibration/*.yaml``): what is free, within which bounds, against
which targets, and how the fit is run. Checked against the scenario before any simulation.

Each free parameter has a prior uniform on ``[low, high]`` (``scale: linear``) or on
``[log low, log high]`` (``scale: log``, for rates, scales and ratios). The fit works on an
unbounded scale z = logit of the position within the bounds, so no optimiser step can leave the
parameter's domain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from sim.errors import InputError
from sim.scenario.documents import read_yaml_mapping, validate_document
from sim.scenario.loader import load_scenario
from sim.scenario.params import Param


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FreeParameter(_Frozen):
    path: str = Field(description="dotted path of a parameter, e.g. parameters.mdt.refusal_probability")
    low: float
    high: float
    scale: Literal["linear", "log"] = "linear"
    note: str | None = None

    @model_validator(mode="after")
    def _bounds(self) -> FreeParameter:
        if not self.low < self.high:
            raise ValueError(f"expected low < high, got low={self.low:g}, high={self.high:g}")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"expected low > 0 on a log scale, got {self.low:g}")
        return self


class RunSettings(_Frozen):
    patients: int = Field(ge=50, description="virtual patients per candidate evaluation")
    seed: int = Field(ge=0, description="one seed for every candidate: common random numbers")


class Optimizer(_Frozen):
    method: Literal["nelder-mead", "powell"] = "nelder-mead"
    starts: int = Field(2, ge=1, description="from the best initial samples")
    max_evaluations: int = Field(300, ge=10)
    polish_evaluations: int = Field(
        0, ge=0, description="a last optimizer run from the best points found by the uncertainty "
        "step (0: none)",
    )
    polish_method: Literal["nelder-mead", "powell"] = Field(
        "powell", description="Powell's line searches fix parameters that act on one target each"
    )


class Uncertainty(_Frozen):
    method: Literal["imis"] = "imis"
    iterations: int = Field(4, ge=1)
    samples_per_iteration: int = Field(300, ge=10)
    resample: int = Field(500, ge=10, description="parameter sets kept for probabilistic analysis")
    posterior: Literal["imis", "abc-mcmc"] = Field(
        "imis", description="imis: the IMIS sample is the posterior; abc-mcmc: chains around the "
        "polished best fit sample the sets whose deviance is within the likelihood-ratio 95% "
        "region (best + chi-square 95% quantile on the free parameters)",
    )
    chains: int = Field(20, ge=2, description="abc-mcmc: chains run side by side")
    steps: int = Field(40, ge=4, description="abc-mcmc: steps per chain; the second half is kept")


class HistoryMatching(_Frozen):
    """History matching with Gaussian-process emulators, then a posterior on the emulators
    (:mod:`sim.calibrate.history`, :mod:`sim.calibrate.posterior`)."""

    waves: int = Field(5, ge=1, description="at most this many waves")
    design_points: int = Field(150, ge=10, description="simulations per wave (the first: a Latin "
                               "hypercube over the prior box; later ones: drawn from the space not "
                               "yet ruled out)")
    cutoff: float = Field(3.0, gt=0, description="a point is ruled out where the implausibility "
                          "exceeds this (Pukelsheim's three-sigma rule)")
    implausibility: Literal["max", "second-max"] = Field(
        "max", description="max: every output must be plausible; second-max: one may not be")
    discrepancy: float = Field(
        0.1, ge=0, description="model discrepancy variance as a fraction of each output's "
        "observation variance (assumption: the model's structure is wrong by about a third of a "
        "standard error of the published figure)")
    pool: int = Field(20000, ge=500, description="candidates kept uniform on the space not ruled "
                      "out: designs and the volume estimate are drawn from them")
    min_shrink: float = Field(0.2, ge=0, lt=1, description="stop once a wave rules out less than "
                              "this share of the space that was left")
    max_training: int = Field(400, ge=20, description="at most this many runs train an emulator "
                              "(the most recent, within the space not ruled out)")
    walkers: int = Field(100, ge=4, description="posterior: emcee walkers (at least twice the "
                         "number of free parameters; many walkers amortise each emulator call)")
    steps: int = Field(1500, ge=50, description="posterior: steps per walker; the first quarter "
                       "is burn-in")
    draws: int = Field(1000, ge=10, description="posterior parameter sets kept (thinned chain)")
    polish_evaluations: int = Field(
        0, ge=0, description="best fit: simulator runs of a Powell search from the emulators' "
        "maximum and the best simulated runs (0: the emulators' maximum is the best fit)")
    polish_starts: int = Field(2, ge=1, description="best fit: Powell searches side by side")


class Predictive(_Frozen):
    """Posterior predictive check: posterior sets run by the real simulator, each with the
    sampling error of a study of the published size added (:mod:`sim.calibrate.predictive`)."""

    draws: int = Field(0, ge=0, description="posterior sets simulated (0: no check)")
    patients: int = Field(2000, ge=50, description="virtual patients per posterior set")
    studies: int = Field(200, ge=1, description="published-size studies drawn per set")


class Method(_Frozen):
    kind: Literal["optimise", "history-matching"] = Field(
        "optimise", description="optimise: Latin hypercube, optimizer, IMIS (and ABC-MCMC); "
        "history-matching: emulator waves, then a likelihood-weighted posterior on the emulators")
    initial_samples: int = Field(300, ge=10, description="Latin hypercube over the priors")
    optimizer: Optimizer = Optimizer()
    uncertainty: Uncertainty = Uncertainty()
    history_matching: HistoryMatching = HistoryMatching()
    predictive: Predictive = Predictive()


class CalibrationSpec(_Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str | None = None
    scenario: str
    targets: str
    fitted: str = Field(description="where the best fit is written, as a scenario overlay")
    run: RunSettings
    verification: RunSettings = Field(description="a larger run on a seed the fit did not use")
    parameters: list[FreeParameter] = Field(min_length=1)
    method: Method = Method()
    prior: Literal["uniform", "stated"] = Field(
        "uniform", description="uniform: each parameter uniform within its bounds (on its scale); "
        "stated: each parameter's uncertainty distribution in the scenario, truncated to its "
        "bounds (history matching only: the posterior and the best fit's polish weigh it)")

    @field_validator("prior")
    @classmethod
    def _prior_needs_history_matching(cls, prior: str, info: ValidationInfo) -> str:
        method = info.data.get("method")
        if prior == "stated" and method is not None and method.kind != "history-matching":
            raise ValueError("expected method kind history-matching with prior: stated (the "
                             "optimise method's priors are uniform)")
        return prior

    @model_validator(mode="after")
    def _distinct(self) -> CalibrationSpec:
        paths = [p.path for p in self.parameters]
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        if dupes:
            raise ValueError(f"parameter {dupes[0]!r} is listed twice")
        if self.verification.seed == self.run.seed:
            raise ValueError("expected a verification seed that the fit does not use")
        return self


class Calibration:
    """A validated spec with its files resolved and its parameters checked against the scenario."""

    def __init__(self, spec: CalibrationSpec, path: Path) -> None:
        self.spec = spec
        self.path = path
        base = path.parent
        self.scenario_path = (base / spec.scenario).resolve()
        self.targets_path = (base / spec.targets).resolve()
        self.fitted_path = (base / spec.fitted).resolve()
        self.names = [p.path for p in spec.parameters]
        self.low = np.array([p.low for p in spec.parameters], float)
        self.high = np.array([p.high for p in spec.parameters], float)
        self.log = np.array([p.scale == "log" for p in spec.parameters])
        #: with ``prior: stated``, each parameter's scipy distribution (set by load_calibration)
        self.priors: list | None = None

    # z (unbounded) <-> x (parameter values)
    def _scaled(self, x: np.ndarray) -> np.ndarray:
        """Values on each parameter's own scale (log where ``scale: log``); a linear parameter
        may have a bound of 0, whose log is never taken."""
        return np.where(self.log, np.log(np.where(self.log, x, 1.0)), x)

    def to_x(self, z: np.ndarray) -> np.ndarray:
        u = 1.0 / (1.0 + np.exp(-np.asarray(z, float)))
        lo, hi = self._scaled(self.low), self._scaled(self.high)
        v = lo + u * (hi - lo)
        return np.where(self.log, np.exp(v), v)

    def to_z(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        lo, hi = self._scaled(self.low), self._scaled(self.high)
        v = self._scaled(x)
        u = np.clip((v - lo) / (hi - lo), 1e-9, 1 - 1e-9)
        return np.log(u / (1 - u))

    @staticmethod
    def log_prior_z(z: np.ndarray) -> np.ndarray:
        """Log density, in z, of priors uniform within the bounds (on their scale)."""
        z = np.atleast_2d(z)
        return np.sum(-np.logaddexp(0, z) - np.logaddexp(0, -z), axis=1)

    # u (position in the prior box, on each parameter's scale, in (0, 1)) <-> x
    def u_to_x(self, u: np.ndarray) -> np.ndarray:
        u = np.clip(np.asarray(u, float), 1e-12, 1 - 1e-12)
        return self.to_x(np.log(u / (1 - u)))

    def x_to_u(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.to_z(x)))

    def log_prior_u(self, u: np.ndarray) -> np.ndarray:
        """Log prior density in u (up to a constant), per row: 0 for uniform priors; for stated
        ones the density of x times the Jacobian dx/du (x itself on a log scale)."""
        u = np.atleast_2d(np.asarray(u, float))
        if self.priors is None:
            return np.zeros(len(u))
        x = self.u_to_x(u)
        with np.errstate(divide="ignore"):
            dens = [dist.logpdf(x[:, i]) + (np.log(x[:, i]) if self.log[i] else 0.0)
                    for i, dist in enumerate(self.priors)]
        return np.sum(dens, axis=0)

    def prior_penalty(self, x: np.ndarray) -> float:
        """Minus twice the log prior at one parameter vector: what the best fit adds to the
        deviance (0 with uniform priors)."""
        return 0.0 if self.priors is None else -2.0 * float(self.log_prior_u(self.x_to_u(x))[0])

    def prior_interval(self, i: int) -> tuple[float, float]:
        """The prior's central 95% interval: the bounds' central 95% (on the parameter's scale)
        if uniform, else the stated distribution's truncated to the bounds."""
        lo, hi = float(self.low[i]), float(self.high[i])
        if self.priors is None:
            ends = self.u_to_x(np.array([[0.025] * len(self.names), [0.975] * len(self.names)]))
            return float(ends[0, i]), float(ends[1, i])
        dist = self.priors[i]
        a, b = dist.cdf(lo), dist.cdf(hi)
        return float(dist.ppf(a + 0.025 * (b - a))), float(dist.ppf(a + 0.975 * (b - a)))

    def overrides(self, x: np.ndarray) -> dict[str, float]:
        return {f"{name}.value": float(v) for name, v in zip(self.names, x, strict=True)}


def _resolve_param(scenario, path: str) -> Param:
    node = scenario
    walked: list[str] = []
    for part in path.split("."):
        if isinstance(node, dict):
            if part not in node:
                raise KeyError(f"no key {part!r} in {'.'.join(walked) or 'the scenario'}")
            node = node[part]
        elif isinstance(node, BaseModel):
            if part not in type(node).model_fields:
                raise KeyError(f"no key {part!r} in {'.'.join(walked) or 'the scenario'}")
            node = getattr(node, part)
        else:
            raise KeyError(f"{'.'.join(walked)} is not a section")
        walked.append(part)
    if not isinstance(node, Param):
        raise KeyError(f"{path} is not a parameter with a value")
    return node


def load_calibration(path: str | Path) -> Calibration:
    """Read and check a calibration spec, its targets and its scenario; raise InputError."""
    from sim.calibrate.targets import load_targets

    path = Path(path)
    raw = read_yaml_mapping(path)
    spec = validate_document(CalibrationSpec, raw, path)
    cal = Calibration(spec, path)
    for field, file in (("scenario", cal.scenario_path), ("targets", cal.targets_path)):
        if not file.is_file():
            raise InputError(str(path), field, f"expected an existing file, got {getattr(spec, field)!r}")
    load_targets(cal.targets_path)
    scenario = load_scenario(cal.scenario_path, use_calibration=cal.fitted_path)
    priors: list = []
    for i, free in enumerate(spec.parameters):
        field = f"parameters[{i}]"
        try:
            param = _resolve_param(scenario, free.path)
        except KeyError as exc:
            raise InputError(str(path), f"{field}.path", f"unknown parameter path ({exc.args[0]})") from None
        for bound in ("low", "high"):
            value = getattr(free, bound)
            if not type(param).in_domain(value):
                raise InputError(
                    str(path), f"{field}.{bound}",
                    f"expected a bound within the domain ({type(param).domain[4]}), got {value:g}",
                )
        if spec.prior == "stated":
            if param.uncertainty is None:
                raise InputError(str(path), f"{field}.path", "prior: stated needs an uncertainty "
                                 "distribution on this parameter in the scenario, found none")
            frozen = param.uncertainty.frozen(param.value)
            if not frozen.cdf(free.high) - frozen.cdf(free.low) > 1e-6:
                raise InputError(str(path), f"{field}", "expected bounds that hold some of the "
                                 "parameter's stated prior, found none of it between them")
            priors.append(frozen)
    if spec.prior == "stated":
        cal.priors = priors
    return cal
