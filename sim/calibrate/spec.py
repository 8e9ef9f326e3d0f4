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
from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class Method(_Frozen):
    initial_samples: int = Field(300, ge=10, description="Latin hypercube over the priors")
    optimizer: Optimizer = Optimizer()
    uncertainty: Uncertainty = Uncertainty()


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
    return cal
