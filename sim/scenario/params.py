"""Parameter value types: a value, its domain, an optional uncertainty distribution and a source.

Every number the model uses comes through one of these types, so the loader can refuse a
probability of 1.3 or a negative duration with a message that names the field, and so sweeps and
probabilistic analysis know each parameter's domain and distribution. A bare number in YAML is
shorthand for ``{value: number}``.

Effect types are distinct on purpose: a :class:`HazardRatio` multiplies a hazard, an
:class:`OddsRatio` acts on the odds of a probability (p' = OR p / (1 - p + OR p)); neither ever
rescales an event time.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.scenario.distributions import Uncertainty


class Frozen(BaseModel):
    """A section of the scenario: unknown keys are errors, and nothing changes once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Param(BaseModel):
    """A real-valued parameter: value, optional uncertainty, source and note."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float
    uncertainty: Uncertainty | None = None
    source: str | None = None
    note: str | None = None

    domain: ClassVar[tuple[float, float, bool, bool, str]] = (
        -math.inf,
        math.inf,
        True,
        True,
        "a number",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"value": data}
        return data

    @classmethod
    def in_domain(cls, x: float) -> bool:
        low, high, low_closed, high_closed, _ = cls.domain
        above = x >= low if low_closed else x > low
        below = x <= high if high_closed else x < high
        return above and below

    @model_validator(mode="after")
    def _check_domain(self) -> Param:
        what = self.domain[4]
        if not self.in_domain(self.value):
            raise ValueError(f"expected {what}, got {self.value:g}")
        if self.uncertainty is not None:
            low, high = self.uncertainty.support(self.value)
            if low < self.domain[0] or high > self.domain[1]:
                raise ValueError(
                    f"expected an uncertainty distribution within {what}, "
                    f"got support [{low:g}, {high:g}]"
                )
        return self

    def __float__(self) -> float:
        return self.value


class Probability(Param):
    domain = (0.0, 1.0, True, True, "a probability in [0, 1]")


class NonNegative(Param):
    domain = (0.0, math.inf, True, True, "a non-negative number")


class Days(NonNegative):
    """A duration in days (never negative)."""

    domain = (0.0, math.inf, True, True, "a non-negative duration in days")


class Months(NonNegative):
    domain = (0.0, math.inf, False, True, "a positive duration in months")


class Positive(Param):
    domain = (0.0, math.inf, False, True, "a positive number")


class HazardRatio(Positive):
    """Multiplies a hazard (proportional hazards); never an event time."""

    domain = (0.0, math.inf, False, True, "a positive hazard ratio")


class OddsRatio(Positive):
    """Multiplies the odds of a probability: p' = OR p / (1 - p + OR p)."""

    domain = (0.0, math.inf, False, True, "a positive odds ratio")


def apply_odds_ratio(p: float, odds_ratio: float) -> float:
    """Probability after multiplying its odds by ``odds_ratio``."""
    if p >= 1.0:
        return 1.0
    if odds_ratio == 1.0:
        return p  # exactly: no effect must not move a probability by rounding
    return odds_ratio * p / (1.0 - p + odds_ratio * p)


class Mix(BaseModel):
    """A categorical distribution, from published counts or from probabilities.

    Counts keep the information a Dirichlet uncertainty needs later; probabilities must sum to 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    counts: dict[str, int] | None = None
    probabilities: dict[str, float] | None = None
    source: str | None = None
    note: str | None = None

    @field_validator("counts")
    @classmethod
    def _counts_ok(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        if v is not None:
            bad = {k: n for k, n in v.items() if n < 0}
            if bad:
                raise ValueError(f"expected non-negative counts, got {bad}")
            if sum(v.values()) <= 0:
                raise ValueError("expected at least one positive count")
        return v

    @field_validator("probabilities")
    @classmethod
    def _probs_ok(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None:
            bad = {k: p for k, p in v.items() if not 0.0 <= p <= 1.0}
            if bad:
                raise ValueError(f"expected probabilities in [0, 1], got {bad}")
            if not math.isclose(sum(v.values()), 1.0, abs_tol=1e-6):
                raise ValueError(f"expected probabilities summing to 1, got {sum(v.values()):g}")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> Mix:
        if (self.counts is None) == (self.probabilities is None):
            raise ValueError("expected exactly one of 'counts' or 'probabilities'")
        return self

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple((self.counts or self.probabilities or {}).keys())

    @property
    def probs(self) -> tuple[float, ...]:
        if self.counts is not None:
            total = sum(self.counts.values())
            return tuple(n / total for n in self.counts.values())
        return tuple((self.probabilities or {}).values())

    def cumulative(self) -> tuple[float, ...]:
        """Cumulative probabilities, for inverse-CDF draws from one uniform."""
        acc, out = 0.0, []
        for p in self.probs:
            acc += p
            out.append(acc)
        out[-1] = 1.0
        return tuple(out)


class DaysRange(BaseModel):
    """Between-patient variability of a duration, in days: uniform on [low, high]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float = Field(ge=0)
    high: float = Field(ge=0)
    source: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DaysRange:
        if self.high < self.low:
            raise ValueError(f"expected low <= high, got low={self.low:g}, high={self.high:g}")
        return self
