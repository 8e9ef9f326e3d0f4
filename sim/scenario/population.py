"""The ``population:`` section: where virtual patients come from.

Either the published marginals of a cohort (only marginals are published, so attributes are drawn
independently: an assumption the scenario states) or a user CSV of patients, resampled with
replacement. Continuous attributes are truncated normal or log-normal with the published median
and range; their spread is an assumption unless a source says otherwise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.scenario.params import Mix


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


METASTATIC_SITE_CATEGORIES = ("liver_only", "lung_only", "liver_and_lung", "distant_lymph_nodes", "none")

#: attributes every population has, numeric or categorical (eligibility criteria can use them)
BASE_NUMERIC = ("age_years", "n_liver_metastases", "cea_ng_ml", "ca199_u_ml",
                "largest_liver_metastasis_cm", "rectal_tumour_length_cm")
BASE_CATEGORICAL = ("sex", "kps", "t_category", "metastatic_site", "tumour_height", "differentiation")
Site = Literal["rectum", "liver", "lung", "distant_lymph_nodes"]


class Criterion(_Frozen):
    """One eligibility criterion of a protocol: a range for a number, a set for a category."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    label: str = Field(description="the criterion as the protocol words it")
    attribute: str
    min: float | None = Field(None, description="inclusive")
    max: float | None = Field(None, description="inclusive")
    allowed: list[str] | None = Field(None, alias="in", description="allowed categories")
    source: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Criterion:
        numeric = self.min is not None or self.max is not None
        if numeric == (self.allowed is not None):
            raise ValueError("expected either min/max (a number) or in (categories)")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"expected min <= max, got {self.min:g} > {self.max:g}")
        if self.allowed is not None and not self.allowed:
            raise ValueError("expected at least one allowed category")
        return self

    def passes(self, column) -> object:
        """Boolean mask of the patients meeting the criterion (``column``: a pandas Series)."""
        if self.allowed is not None:
            return column.astype(str).isin(self.allowed).to_numpy()
        values = column.to_numpy(dtype=float)
        ok = ~(values != values)  # a missing value fails a numeric criterion
        if self.min is not None:
            ok &= values >= self.min
        if self.max is not None:
            ok &= values <= self.max
        return ok


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
    attributes: dict[str, Mix | Continuous] = Field(
        {}, description="further attributes (ECOG, MMR status, RAS/BRAF, blood counts, ...), "
        "each a categorical mix or a continuous distribution, drawn independently",
    )
    eligibility: list[Criterion] = Field(
        [], description="protocol criteria: candidates are drawn until run.patients qualify",
    )
    treated_at_entry: list[Site] = Field(
        [], description="sites already treated when patients enter (a population of resected "
        "patients, for instance): counted as treated from day 0",
    )
    residual_at_entry: dict[Site, Criterion] = Field(
        {}, description="a site of treated_at_entry that stays untreated for the patients meeting "
        "the criterion: an R2 resection leaves macroscopic disease (no cure, residual hazard)",
    )

    @model_validator(mode="after")
    def _criteria_name_attributes(self) -> Population:
        base = set(BASE_NUMERIC) | set(BASE_CATEGORICAL)
        clash = sorted(set(self.attributes) & (base | {"patient_id", "candidate_id", "centre"}))
        if clash:
            raise ValueError(f"attributes: {clash[0]!r} is already a population column")
        numeric = set(BASE_NUMERIC) | {k for k, v in self.attributes.items() if isinstance(v, Continuous)}
        categorical = set(BASE_CATEGORICAL) | {k for k, v in self.attributes.items() if isinstance(v, Mix)}
        for site in self.residual_at_entry:
            if site not in self.treated_at_entry:
                raise ValueError(f"residual_at_entry.{site}: expected a site of treated_at_entry "
                                 f"{self.treated_at_entry}")
        criteria = [(f"eligibility[{i}] ({c.label})", c) for i, c in enumerate(self.eligibility)]
        criteria += [(f"residual_at_entry.{site}", c) for site, c in self.residual_at_entry.items()]
        for where, c in criteria:
            if c.attribute not in numeric | categorical:
                raise ValueError(f"{where}: unknown attribute {c.attribute!r} "
                                 f"(expected one of {sorted(numeric | categorical)})")
            if c.allowed is not None and c.attribute not in categorical:
                raise ValueError(f"{where}: {c.attribute!r} is a number: expected min/max, not in")
            if c.allowed is None and c.attribute not in numeric:
                raise ValueError(f"{where}: {c.attribute!r} is a category: expected in, not min/max")
            mix = self.attributes.get(c.attribute)
            if isinstance(mix, Mix) and c.allowed is not None:
                unknown = [a for a in c.allowed if a not in mix.categories]
                if unknown:
                    raise ValueError(f"{where}: unknown category {unknown[0]!r} "
                                     f"(expected one of {list(mix.categories)})")
        return self

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
