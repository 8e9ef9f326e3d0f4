"""Uncertainty distributions of scenario parameters: the seed of PSA and sweeps.

A parameter has one *value* (what a single run uses) and, optionally, a distribution describing how
uncertain that value is. The distribution is validated against the parameter's domain when the
scenario is loaded, so a probability can never be drawn outside [0, 1] later.

Parameterisations (all documented with the scipy names they map to):

- ``beta``: ``alpha``, ``beta`` (shape parameters); support [0, 1]; mean alpha / (alpha + beta).
- ``gamma``: ``shape`` (k), ``scale`` (theta); support [0, inf); mean k * theta.
- ``lognormal``: ``ci95: [low, high]`` around the parameter's value taken as the median;
  sdlog = (ln high - ln low) / (2 * 1.96); the usual way a published hazard ratio's CI is encoded.
- ``normal``: ``sd`` around the parameter's value (mean); support the real line.
- ``uniform``: ``low``, ``high``.
- ``triangular``: ``low``, ``high``, with the parameter's value as the mode.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

_Z975 = 1.959963984540054


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def support(self, value: float) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, value: float, size: int | None = None):
        raise NotImplementedError  # pragma: no cover - abstract

    def frozen(self, value: float):  # pragma: no cover - abstract
        """The distribution as scipy's frozen object (densities and quantiles for a
        calibration's prior); scipy.stats is imported only here, never by a plain run."""
        raise NotImplementedError


class BetaDist(_Dist):
    distribution: Literal["beta"]
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)

    def support(self, value: float) -> tuple[float, float]:
        return (0.0, 1.0)

    def mean(self, value: float) -> float:
        return self.alpha / (self.alpha + self.beta)

    def frozen(self, value: float):
        from scipy import stats
        return stats.beta(self.alpha, self.beta)

    def sample(self, rng, value, size=None):
        return rng.beta(self.alpha, self.beta, size)


class GammaDist(_Dist):
    distribution: Literal["gamma"]
    shape: float = Field(gt=0)
    scale: float = Field(gt=0)

    def support(self, value: float) -> tuple[float, float]:
        return (0.0, math.inf)

    def mean(self, value: float) -> float:
        return self.shape * self.scale

    def frozen(self, value: float):
        from scipy import stats
        return stats.gamma(self.shape, scale=self.scale)

    def sample(self, rng, value, size=None):
        return rng.gamma(self.shape, self.scale, size)


class LognormalDist(_Dist):
    distribution: Literal["lognormal"]
    ci95: tuple[float, float]

    @model_validator(mode="after")
    def _check(self) -> LognormalDist:
        low, high = self.ci95
        if not 0 < low < high:
            raise ValueError(f"expected 0 < ci95 low < ci95 high, got {list(self.ci95)}")
        return self

    @property
    def sdlog(self) -> float:
        low, high = self.ci95
        return (math.log(high) - math.log(low)) / (2 * _Z975)

    def support(self, value: float) -> tuple[float, float]:
        return (0.0, math.inf)

    def mean(self, value: float) -> float:
        return value * math.exp(self.sdlog**2 / 2)

    def frozen(self, value: float):
        from scipy import stats
        return stats.lognorm(s=self.sdlog, scale=value)

    def sample(self, rng, value, size=None):
        return rng.lognormal(math.log(value), self.sdlog, size)


class NormalDist(_Dist):
    distribution: Literal["normal"]
    sd: float = Field(gt=0)

    def support(self, value: float) -> tuple[float, float]:
        return (-math.inf, math.inf)

    def mean(self, value: float) -> float:
        return value

    def frozen(self, value: float):
        from scipy import stats
        return stats.norm(value, self.sd)

    def sample(self, rng, value, size=None):
        return rng.normal(value, self.sd, size)


class UniformDist(_Dist):
    distribution: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _check(self) -> UniformDist:
        if not self.low < self.high:
            raise ValueError(f"expected low < high, got low={self.low}, high={self.high}")
        return self

    def support(self, value: float) -> tuple[float, float]:
        return (self.low, self.high)

    def mean(self, value: float) -> float:
        return (self.low + self.high) / 2

    def frozen(self, value: float):
        from scipy import stats
        return stats.uniform(self.low, self.high - self.low)

    def sample(self, rng, value, size=None):
        return rng.uniform(self.low, self.high, size)


class TriangularDist(_Dist):
    distribution: Literal["triangular"]
    low: float
    high: float

    @model_validator(mode="after")
    def _check(self) -> TriangularDist:
        if not self.low < self.high:
            raise ValueError(f"expected low < high, got low={self.low}, high={self.high}")
        return self

    def support(self, value: float) -> tuple[float, float]:
        return (self.low, self.high)

    def mean(self, value: float) -> float:
        return (self.low + self.high + value) / 3

    def frozen(self, value: float):
        from scipy import stats
        return stats.triang((value - self.low) / (self.high - self.low), loc=self.low,
                            scale=self.high - self.low)

    def sample(self, rng, value, size=None):
        return rng.triangular(self.low, value, self.high, size)


Uncertainty = Annotated[
    BetaDist | GammaDist | LognormalDist | NormalDist | UniformDist | TriangularDist,
    Field(discriminator="distribution"),
]
