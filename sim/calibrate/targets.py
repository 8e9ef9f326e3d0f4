"""Calibration targets: the published figures and how each is compared with the model.

Likelihoods (MODELLING.md): counts are binomial, a partition of the cohort is one multinomial,
Kaplan-Meier landmarks are normal on log S with the standard error derived from the published CI
(symmetric on the log scale), using increments between the landmarks of one curve so correlated
landmarks are not counted as independent. A landmark printed without a CI (``binomial_n``) gets
the interval percent +/- 1.96 binomial standard errors at that n, then is treated as a printed
one. A landmark may be of a group's curve (``group: completed``), the whole cohort's otherwise.
Monte Carlo error of the simulated figure is added: a binomial or multinomial term is
down-weighted by 1 / (1 + n_published / n_simulated), which is the variance inflation of
comparing two proportions, and the Greenwood variance of the simulated log S is added to the
published one.

Each term is a *deviance* (2 x log-likelihood ratio against a perfect fit), so 0 is a perfect fit
and the sum is comparable to a chi-square with about as many degrees of freedom as targets.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import betaincinv  # beta quantiles: scipy.stats.beta.ppf computes the same

from sim.calibrate.statistics import PARTITIONS, KmGroup, Statistics, km_key, statistics_from_patients
from sim.scenario.documents import read_yaml_mapping, validate_document
from sim.scenario.parameters import TOXICITY_TYPES

Z95 = 1.959963984540054
STATISTICS = (
    "completion_rate", "grade34_toxicity_rate", "rectal_surgery_rate", "surgical_complication_rate",
    "metastasis_treatment_rate", "liver_treatment_rate", "lung_treatment_rate",
    "watch_and_wait_rate", "partial_response_rate",
    "ypcr_rate_of_rectal_surgery",
    *(f"grade34_toxicity_by_type.{t}" for t in TOXICITY_TYPES),
    *(f"{name}.{category}" for name, categories in PARTITIONS.items() for category in categories),
)


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    fit: bool = True
    source: str | None = None


class BinomialTarget(_Target):
    likelihood: Literal["binomial"]
    statistic: str
    count: int = Field(ge=0)
    of: int = Field(ge=1, description="the denominator (patients, or procedures)")

    @model_validator(mode="after")
    def _check(self) -> BinomialTarget:
        if self.statistic not in STATISTICS:
            raise ValueError(f"unknown statistic {self.statistic!r} (expected one of {list(STATISTICS)})")
        if self.count > self.of:
            raise ValueError(f"expected count <= of, got {self.count} of {self.of}")
        return self


class MultinomialTarget(_Target):
    likelihood: Literal["multinomial"]
    statistic: Literal["pathway", "progression_timing", "chemotherapy_duration"]
    counts: dict[str, int] = Field(min_length=1)
    of: int = Field(ge=1)

    @model_validator(mode="after")
    def _check(self) -> MultinomialTarget:
        categories = PARTITIONS[self.statistic]
        unknown = [c for c in self.counts if c not in categories]
        if unknown:
            raise ValueError(f"unknown category {unknown[0]!r} (expected one of {list(categories)})")
        if any(k < 0 for k in self.counts.values()) or sum(self.counts.values()) > self.of:
            raise ValueError(f"expected non-negative counts summing to at most {self.of}")
        return self


class KmTarget(_Target):
    likelihood: Literal["km"]
    curve: Literal["os", "pfs"]
    group: KmGroup | None = Field(
        None, description="the curve of these patients only (default: the whole cohort)")
    month: float = Field(gt=0)
    percent: float = Field(gt=0, le=100)
    ci95: tuple[float, float] | None = None
    binomial_n: int | None = Field(
        None, ge=1, description="no CI printed: patients behind the figure, for a binomial interval")

    @model_validator(mode="after")
    def _check(self) -> KmTarget:
        if (self.ci95 is None) == (self.binomial_n is None):
            raise ValueError("expected either ci95 (printed) or binomial_n (no CI printed), not "
                             + ("both" if self.ci95 else "neither"))
        if self.binomial_n is not None and self.percent >= 100:
            raise ValueError(f"expected percent < 100 with binomial_n, got {self.percent}")
        low, high = self.interval
        if not 0 < low <= self.percent <= high <= 100:
            raise ValueError(f"expected 0 < ci95 low <= percent <= ci95 high <= 100, got {[low, high]}")
        return self

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% CI in percent: as printed, or percent +/- 1.96 binomial SE at ``binomial_n``."""
        if self.ci95 is not None:
            return self.ci95
        p, n = self.percent / 100, self.binomial_n or 1
        half = Z95 * math.sqrt(p * (1 - p) / n)
        return (100 * max(p - half, 1e-6), 100 * min(p + half, 1.0))

    @property
    def key(self) -> str:
        """The curve in :attr:`Statistics.km`."""
        return km_key(self.curve, self.group)

    @property
    def se_log(self) -> float:
        low, high = self.interval
        return (math.log(high) - math.log(low)) / (2 * Z95)


Target = Annotated[BinomialTarget | MultinomialTarget | KmTarget, Field(discriminator="likelihood")]


class TargetsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    source: str | None = None
    cohort_size: int = Field(ge=1)
    follow_up_months: tuple[float, float] | None = Field(
        None, description="the cohort's shortest and longest potential follow-up from first "
        "treatment (accrual to a common closing date), for counts observed within follow-up")
    targets: list[Target] = Field(min_length=1)

    @property
    def km_months(self) -> tuple[float, ...]:
        """The months of the Kaplan-Meier landmarks the targets need, with the usual 12/24/36."""
        months = {12.0, 24.0, 36.0} | {float(t.month) for t in self.targets if isinstance(t, KmTarget)}
        return tuple(sorted(months))

    @model_validator(mode="after")
    def _unique(self) -> TargetsFile:
        names = [t.name for t in self.targets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"expected unique target names, {dupes[0]!r} is repeated")
        if not any(t.fit for t in self.targets):
            raise ValueError("expected at least one target with fit: true")
        window = self.follow_up_months
        if window is not None and not 0 < window[0] <= window[1]:
            raise ValueError(f"expected 0 < shortest <= longest follow_up_months, got {list(window)}")
        return self


def statistics_for(targets: TargetsFile, patients: pd.DataFrame) -> Statistics:
    """The statistics of a patient table that these targets are compared with."""
    return statistics_from_patients(patients, targets.km_months, targets.follow_up_months)


def load_targets(path: str | Path) -> tuple[TargetsFile, str]:
    """The validated targets file and the SHA-256 of its bytes (for provenance)."""
    path = Path(path)
    raw = read_yaml_mapping(path)
    targets = validate_document(TargetsFile, raw, path)
    return targets, hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------- likelihoods

def _clip(p: float) -> float:
    return min(max(p, 1e-6), 1 - 1e-6)


def _weight(n_published: int, n_simulated: int) -> float:
    return 1.0 / (1.0 + n_published / max(n_simulated, 1))


def binomial_deviance(t: BinomialTarget, stats: Statistics) -> float:
    p = stats.values.get(t.statistic, float("nan"))
    if math.isnan(p):
        return math.inf
    p, k, n = _clip(p), t.count, t.of
    dev = (k * math.log(k / (n * p)) if k else 0.0) + (
        (n - k) * math.log((n - k) / (n * (1 - p))) if n - k else 0.0
    )
    return 2.0 * _weight(n, stats.denominators.get(t.statistic, 0)) * dev


def multinomial_deviance(t: MultinomialTarget, stats: Statistics) -> float:
    n = t.of
    dev = 0.0
    for cat, k in t.counts.items():
        if k:
            p = _clip(stats.values.get(f"{t.statistic}.{cat}", 0.0))
            dev += k * math.log(k / (n * p))
    rest = n - sum(t.counts.values())
    if rest:
        p_rest = _clip(1.0 - sum(stats.values.get(f"{t.statistic}.{c}", 0.0) for c in t.counts))
        dev += rest * math.log(rest / (n * p_rest))
    first = f"{t.statistic}.{next(iter(t.counts))}"
    return 2.0 * _weight(n, stats.denominators.get(first, 0)) * dev


def km_deviances(targets: list[KmTarget], stats: Statistics) -> dict[str, float]:
    """Per landmark, the squared standardised difference of its increment in log S (increments
    along each curve: the whole cohort's, or a group's)."""
    out: dict[str, float] = {}
    for curve in dict.fromkeys(t.key for t in targets):
        marks = sorted((t for t in targets if t.key == curve), key=lambda t: t.month)
        prev_obs = prev_sim = prev_var_obs = prev_var_sim = 0.0
        for t in marks:
            s_sim, var_sim = stats.km.get(curve, {}).get(t.month, (float("nan"), float("nan")))
            if not (s_sim > 0):
                out[t.name] = math.inf
                continue
            obs, sim = math.log(t.percent / 100), math.log(s_sim)
            var_obs = t.se_log**2
            inc_var_obs = max(var_obs - prev_var_obs, 0.25 * var_obs)
            inc_var_sim = max(var_sim - prev_var_sim, 0.0)
            diff = (obs - prev_obs) - (sim - prev_sim)
            out[t.name] = diff * diff / (inc_var_obs + inc_var_sim)
            prev_obs, prev_sim, prev_var_obs, prev_var_sim = obs, sim, var_obs, var_sim
    return out


def deviances(targets: TargetsFile, stats: Statistics) -> dict[str, float]:
    """Deviance of every target (fitted or not) for these statistics."""
    out: dict[str, float] = {}
    km = [t for t in targets.targets if isinstance(t, KmTarget)]
    for t in targets.targets:
        if isinstance(t, BinomialTarget):
            out[t.name] = binomial_deviance(t, stats)
        elif isinstance(t, MultinomialTarget):
            out[t.name] = multinomial_deviance(t, stats)
    out.update(km_deviances(km, stats))
    return out


def objective(targets: TargetsFile, stats: Statistics) -> float:
    """Total deviance of the fitted targets (lower is better)."""
    dev = deviances(targets, stats)
    return float(sum(dev[t.name] for t in targets.targets if t.fit))


# ---------------------------------------------------------------------------- target table

def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    low = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, 0.025))
    high = 1.0 if k == n else float(betaincinv(k + 1, n - k, 0.975))
    return low, high


@dataclass(frozen=True)
class PublishedFigure:
    """One published figure of a targets file: a binomial or KM target, or one category of a
    multinomial (``<target>.<category>``), with its value and 95% CI as proportions."""

    name: str
    target: Target
    published: float
    ci95: tuple[float, float]
    kind: Literal["proportion", "landmark"]
    key: str
    """where its simulated value is: a statistic's name, or (landmarks) a curve of Statistics.km"""

    def simulated(self, stats: Statistics) -> float:
        if self.kind == "proportion":
            return stats.values.get(self.key, math.nan)
        assert isinstance(self.target, KmTarget)
        return stats.km.get(self.key, {}).get(float(self.target.month), (math.nan,))[0]


def published_figures(targets: TargetsFile) -> list[PublishedFigure]:
    """Every figure of a targets file, in its order: what the predictive check and a virtual
    trial set simulated values against."""
    out: list[PublishedFigure] = []
    for t in targets.targets:
        if isinstance(t, BinomialTarget):
            out.append(PublishedFigure(t.name, t, t.count / t.of, clopper_pearson(t.count, t.of),
                                       "proportion", t.statistic))
        elif isinstance(t, MultinomialTarget):
            out.extend(PublishedFigure(f"{t.name}.{c}", t, k / t.of, clopper_pearson(k, t.of),
                                       "proportion", f"{t.statistic}.{c}") for c, k in t.counts.items())
        else:
            low, high = t.interval
            out.append(PublishedFigure(t.name, t, t.percent / 100, (low / 100, high / 100),
                                       "landmark", t.key))
    return out


def _wilson(p: float, n: int) -> tuple[float, float]:
    if n <= 0 or math.isnan(p):
        return (float("nan"), float("nan"))
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def target_rows(targets: TargetsFile, stats: Statistics) -> list[dict]:
    """One row per published figure: published value and 95% CI, simulated value with its
    Monte Carlo 95% CI, whether the simulated value lies inside the published CI."""
    dev = deviances(targets, stats)
    rows = []

    def add(name, target, published, ci, simulated, mc_ci, deviance):
        inside = ci[0] <= simulated <= ci[1] if not math.isnan(simulated) else False
        rows.append({
            "target": name, "fit": target.fit, "likelihood": target.likelihood,
            "published": published, "published_ci95": list(ci),
            "simulated": simulated, "simulated_mc_ci95": list(mc_ci),
            "inside": bool(inside), "deviance": deviance, "source": target.source,
        })

    for t in targets.targets:
        if isinstance(t, BinomialTarget):
            sim = stats.values.get(t.statistic, float("nan"))
            add(t.name, t, t.count / t.of, clopper_pearson(t.count, t.of), sim,
                _wilson(sim, stats.denominators.get(t.statistic, 0)), dev[t.name])
        elif isinstance(t, MultinomialTarget):
            for cat, k in t.counts.items():
                key = f"{t.statistic}.{cat}"
                sim = stats.values.get(key, float("nan"))
                add(f"{t.name}.{cat}", t, k / t.of, clopper_pearson(k, t.of), sim,
                    _wilson(sim, stats.denominators.get(key, 0)), dev[t.name])
        else:
            s, var = stats.km.get(t.key, {}).get(t.month, (float("nan"), float("nan")))
            half = Z95 * math.sqrt(var) if var == var else float("nan")
            mc = (s * math.exp(-half), min(1.0, s * math.exp(half))) if s == s else (s, s)
            low, high = t.interval
            add(t.name, t, t.percent / 100, (low / 100, high / 100), s, mc, dev[t.name])
            rows[-1].update({"curve": t.curve, "month": t.month})
            if t.group is not None:
                rows[-1]["group"] = t.group
    return rows
