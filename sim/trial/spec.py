"""Virtual-trial design files: the arms, the study's size and calendar, and what the paper
reported, all checked before any run.

    name: eortc_40983
    source: "Nordlinger B et al., Lancet 2008; Lancet Oncol 2013"
    replicates: 200                 # virtual studies
    seed: 40983                     # each study and arm draws its own patients from it
    accrual: {start: 2000-10-10, end: 2004-07-05}
    data_cutoff: 2011-03-01         # administrative censoring
    loss_to_follow_up: {per_year: 0.01}
    arms:
      perioperative: {scenario: ../crlm_resectable_neoadjuvant.yaml, patients: 182,
                      targets: ../../calibration/crlm_resectable_neoadjuvant_targets.yaml}
      surgery_alone: {scenario: ../crlm_resectable_upfront.yaml, patients: 182}
    statistics:
      - {name: pfs_hr, kind: hazard_ratio, endpoint: pfs, arm: perioperative, versus: surgery_alone,
         published: 0.79, ci95: [0.62, 1.02], source: "..."}
      - {name: resected, kind: proportion, column: metastasis_treatment, arm: surgery_alone,
         published: 0.835, source: "..."}

An arm's ``targets`` file (a calibration's) adds every published figure in it, each computed
as calibration computes it (:func:`sim.calibrate.statistics.statistics_from_patients`), on the
virtual study's censored data. ``statistics`` are analysed as papers do: Kaplan-Meier landmarks
and medians, Cox hazard ratios and log-rank tests (lifelines), proportions of a patient-table
column; ``group`` restricts one to patients for whom a column is true (``not_<column>``: false).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.calibrate.targets import TargetsFile, load_targets, published_figures
from sim.errors import InputError
from sim.scenario.documents import read_yaml_mapping, validate_document
from sim.scenario.loader import load_scenario

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
DAYS_PER_MONTH = 365.25 / 12


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arm(_Frozen):
    scenario: str = Field(description="the arm's scenario file, relative to the design file")
    patients: int = Field(ge=2, description="patients randomised or enrolled to the arm")
    targets: str | None = Field(None, description="a targets file whose figures this arm reports")


class Accrual(_Frozen):
    start: dt.date
    end: dt.date
    source: str | None = None


class LossToFollowUp(_Frozen):
    per_year: float = Field(ge=0, lt=5, description="hazard of loss to follow-up, per year")
    source: str | None = None


Kind = Literal["landmark", "median", "hazard_ratio", "logrank_p", "proportion"]


class Statistic(_Frozen):
    name: str
    kind: Kind
    arm: str | None = Field(None, description="[default: the only arm]")
    versus: str | None = Field(None, description="the comparator arm (hazard_ratio, logrank_p)")
    endpoint: Literal["os", "pfs"] | None = None
    month: float | None = Field(None, gt=0, description="the landmark's month")
    column: str | None = Field(None, description="a true/false column of the patient table")
    group: str | None = Field(None, description="only patients for whom this column is true "
                              "(not_<column>: false)")
    data_cutoff: dt.date | None = Field(
        None, description="an earlier report's cut-off for this figure [default: the design's]")
    published: float
    ci95: tuple[float, float] | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _fields(self) -> Statistic:
        if not NAME.fullmatch(self.name):
            raise ValueError(f"expected a name of letters, digits and _, got {self.name!r}")
        needs = {"landmark": ("endpoint", "month"), "median": ("endpoint",),
                 "hazard_ratio": ("endpoint", "versus"), "logrank_p": ("endpoint", "versus"),
                 "proportion": ("column",)}[self.kind]
        missing = [f for f in needs if getattr(self, f) is None]
        if missing:
            raise ValueError(f"expected {' and '.join(missing)} for a {self.kind}")
        if self.ci95 is not None and not self.ci95[0] <= self.published <= self.ci95[1]:
            raise ValueError(f"expected ci95 low <= published <= high, got {list(self.ci95)}")
        return self


class Design(_Frozen):
    name: str
    description: str | None = None
    source: str | None = None
    replicates: int = Field(200, ge=20, le=100_000)
    seed: int = Field(ge=0)
    accrual: Accrual
    data_cutoff: dt.date
    loss_to_follow_up: LossToFollowUp | None = None
    arms: dict[str, Arm] = Field(min_length=1)
    statistics: list[Statistic] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Design:
        if not NAME.fullmatch(self.name):
            raise ValueError(f"expected a name of letters, digits and _, got {self.name!r}")
        if not self.accrual.start <= self.accrual.end < self.data_cutoff:
            raise ValueError("expected accrual start <= end < data_cutoff")
        for s in self.statistics:
            if s.data_cutoff is not None and not self.accrual.end < s.data_cutoff <= self.data_cutoff:
                raise ValueError(f"expected {s.name}'s data_cutoff after the accrual's end and "
                                 "no later than the design's")
        for arm in self.arms:
            if not NAME.fullmatch(arm):
                raise ValueError(f"expected arm names of letters, digits and _, got {arm!r}")
        names = [s.name for s in self.statistics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"expected unique statistic names, {dupes[0]!r} is repeated")
        return self

    def overrides(self, arm: str, seed: int) -> dict[str, float]:
        """An arm's run in one virtual study: its size, the study's seed, and follow-up as long
        as the study's longest (nothing later can be seen)."""
        return {"run.patients": self.arms[arm].patients, "run.seed": seed,
                "run.horizon_months": float(math.ceil(self.follow_up_months()[1]))}

    def follow_up_months(self) -> tuple[float, float]:
        """Shortest and longest potential follow-up: last and first patient to the cut-off."""
        return ((self.data_cutoff - self.accrual.end).days / DAYS_PER_MONTH,
                (self.data_cutoff - self.accrual.start).days / DAYS_PER_MONTH)

    def earlier_by_months(self, cutoff: dt.date | None) -> float:
        """How much earlier than the design's a statistic's own cut-off is, in months."""
        return 0.0 if cutoff is None else (self.data_cutoff - cutoff).days / DAYS_PER_MONTH


class Trial:
    """A checked design: its arms' scenario paths and targets, ready to run."""

    def __init__(self, design: Design, path: Path) -> None:
        self.design = design
        self.path = path
        self.scenario_paths = {a: (path.parent / arm.scenario) for a, arm in design.arms.items()}
        self.targets: dict[str, TargetsFile] = {}
        self.statistics = [s if s.arm is not None else s.model_copy(update={"arm": self.only_arm})
                           for s in design.statistics]

    @property
    def only_arm(self) -> str | None:
        return next(iter(self.design.arms)) if len(self.design.arms) == 1 else None

    def prefix(self, arm: str) -> str:
        """What an arm's targets-file figures are named by: nothing in a one-arm design."""
        return "" if len(self.design.arms) == 1 else f"{arm}."

    def figures(self) -> list[dict]:
        """Every published figure the study reports, with its CI and source, in the design's
        order (each arm's targets, then the statistics)."""
        rows = [{"statistic": self.prefix(arm) + f.name, "arm": arm, "kind": f.kind,
                 "published": f.published, "published_ci95": list(f.ci95), "source": f.target.source}
                for arm, targets in self.targets.items() for f in published_figures(targets)]
        rows.extend({"statistic": s.name, "arm": s.arm, "kind": s.kind, "published": s.published,
                     "published_ci95": list(s.ci95) if s.ci95 else None, "source": s.source}
                    for s in self.statistics)
        return rows


def load_trial(path: str | Path) -> Trial:
    """Read and check a design file; every problem is an InputError before anything runs."""
    path = Path(path)
    design = validate_document(Design, read_yaml_mapping(path), path)
    trial = Trial(design, path)
    for arm, spec in design.arms.items():
        file = trial.scenario_paths[arm]
        if not file.is_file():
            raise InputError(str(path), f"arms.{arm}.scenario",
                             f"expected an existing file, got {spec.scenario!r}")
        load_scenario(file)  # a bad scenario is reported as its own file's problem
        if spec.targets is not None:
            targets = path.parent / spec.targets
            if not targets.is_file():
                raise InputError(str(path), f"arms.{arm}.targets",
                                 f"expected an existing file, got {spec.targets!r}")
            trial.targets[arm] = load_targets(targets)[0]
    names = [f["statistic"] for f in trial.figures()]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise InputError(str(path), "statistics", f"expected names apart from the targets' figures, "
                         f"{clash[0]!r} is both")
    for i, s in enumerate(trial.statistics):
        field = f"statistics[{i}]"
        if s.arm is None:
            raise InputError(str(path), f"{field}.arm", "expected an arm (the design has several)")
        for key, arm in (("arm", s.arm), ("versus", s.versus)):
            if arm is not None and arm not in design.arms:
                raise InputError(str(path), f"{field}.{key}",
                                 f"expected one of {sorted(design.arms)}, got {arm!r}")
        if s.versus == s.arm:
            raise InputError(str(path), f"{field}.versus", "expected another arm than arm")
    return trial
