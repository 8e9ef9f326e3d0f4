"""The ``population:`` section: where virtual patients come from.

Either the published marginals of a cohort (only marginals are published, so attributes are drawn
independently: an assumption the scenario states) or a user CSV of patients, resampled with
replacement. Continuous attributes are truncated normal or log-normal with the published median
and range; their spread is an assumption unless a source says otherwise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.params import Mix


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Continuous(_Frozen):
    """A continuous attribute: median, spread and the published range as truncation bounds."""

    distribution: Literal["truncated_normal", "truncated_lognormal"]
    median: float
    spread: float = Field(gt=0, description="sd (normal) or sdlog (log-normal)")
    min: float
    max: float
    source: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Continuous:
        if not self.min < self.median < self.max:
            raise ValueError(
                f"expected min < median < max, got {self.min:g}, {self.median:g}, {self.max:g}"
            )
        if self.distribution == "truncated_lognormal" and self.min <= 0:
            raise ValueError(f"expected min > 0 for a log-normal, got {self.min:g}")
        return self


class TnCategory(_Frozen):
    t: Literal["T1", "T2", "T3", "T4"]
    node_positive: bool
    count: int = Field(ge=0)


class TnMix(_Frozen):
    categories: list[TnCategory] = Field(min_length=1)
    source: str | None = None


class CountBin(_Frozen):
    low: int = Field(ge=0)
    high: int = Field(ge=0)
    count: int = Field(ge=0)
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> CountBin:
        if self.high < self.low:
            raise ValueError(f"expected low <= high, got {self.low}..{self.high}")
        return self


class LiverMetastasesCount(_Frozen):
    """Number of liver metastases among patients with liver metastases, as published bins."""

    bins: list[CountBin] = Field(min_length=1)
    source: str | None = None


METASTATIC_SITE_CATEGORIES = ("liver_only", "lung_only", "liver_and_lung", "distant_lymph_nodes")


class Population(_Frozen):
    description: str | None = None
    csv: str | None = Field(
        None, description="a CSV of patients (path relative to the scenario file), resampled"
    )
    age_years: Continuous
    sex: Mix
    kps: Mix
    clinical_tn: TnMix
    metastatic_site: Mix
    liver_metastases_count: LiverMetastasesCount
    tumour_height: Mix
    differentiation: Mix
    cea_ng_ml: Continuous
    ca199_u_ml: Continuous
    largest_liver_metastasis_cm: Continuous
    rectal_tumour_length_cm: Continuous

    @model_validator(mode="after")
    def _categories(self) -> Population:
        checks = {
            "sex": (self.sex, ("male", "female")),
            "kps": (self.kps, ("70-80", "90-100")),
            "metastatic_site": (self.metastatic_site, METASTATIC_SITE_CATEGORIES),
            "tumour_height": (self.tumour_height, ("low", "middle", "high")),
        }
        for name, (mix, allowed) in checks.items():
            unknown = [c for c in mix.categories if c not in allowed]
            if unknown:
                raise ValueError(
                    f"{name}: unknown category {unknown[0]!r} (expected one of {list(allowed)})"
                )
        return self
