"""The ``strategy:`` section: a treatment pathway composed from step types, as data.

A strategy is a set of named *phases*, each a list of steps run in order. Steps are the model's
treatment building blocks (``sim/model/treatments/``); ``concurrent`` runs steps side by side (LCRT with a
chemotherapy cycle), ``branch`` jumps to another phase by the patient's radiotherapy course, the MDT's
decision or whether every tumour site is treated, and ``goto`` jumps unconditionally. When detected
progression interrupts a curative phase, the patient moves to ``on_progression``. A new strategy
(total neoadjuvant therapy, say) is a new YAML file, not new Python.

Cycle counts are in cycles of ``parameters.chemotherapy.equivalent_cycle_days`` (three-weekly), so
one schedule serves CAPOX (21-day) and FOLFOX (14-day) patients alike.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ClinicalPhase = Literal["neoadjuvant", "consolidation", "adjuvant", "watch_and_wait", "palliative"]
MDT_DECISIONS = (
    "local_treatment", "primary_only", "metastases_only", "watch_and_wait", "more_chemotherapy",
    "palliative", "best_supportive_care", "refused",
)
SITES_CASES = ("all_treated", "not_all_treated")


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChemotherapyStep(_Step):
    """Cycles of the patient's regimen, with per-cycle toxicity, delays and dose reductions."""

    step: Literal["chemotherapy"]
    phase: ClinicalPhase
    cycles: int | tuple[int, int] | None = Field(
        None, description="three-weekly-equivalent cycles, or [min, max] drawn per patient"
    )
    regimen_cycles: int | tuple[int, int] | None = Field(
        None,
        description="cycles of the patient's own regimen whatever their length (e.g. 'the 2nd "
        "cycle', with which LCRT starts), or [min, max] drawn per patient",
    )
    until_total_cycles: int | None = Field(
        None,
        ge=1,
        description="give cycles until the patient's curative-intent total (three-weekly "
        "equivalents, all earlier phases counted) reaches this number",
    )
    min_cycles: int = Field(0, ge=0, description="with until_total_cycles: at least this many")
    with_radiotherapy: bool = False
    after_radiotherapy_days: tuple[int, int] | None = Field(
        None, description="[min, max] days from the last radiotherapy fraction to the first "
        "cycle, drawn per patient (RAPIDO: 11-18); none: at once")

    @model_validator(mode="after")
    def _one_count(self) -> ChemotherapyStep:
        given = [self.cycles, self.regimen_cycles, self.until_total_cycles]
        if sum(x is not None for x in given) != 1:
            raise ValueError(
                "expected exactly one of 'cycles', 'regimen_cycles' or 'until_total_cycles'"
            )
        gap = self.after_radiotherapy_days
        if gap is not None and not 0 <= gap[0] <= gap[1]:
            raise ValueError(f"expected 0 <= min <= max after_radiotherapy_days, got {list(gap)}")
        for count in (self.cycles, self.regimen_cycles):
            if isinstance(count, tuple) and not 0 <= count[0] <= count[1]:
                raise ValueError(f"expected [min, max] with 0 <= min <= max, got {list(count)}")
            if isinstance(count, int) and count < 0:
                raise ValueError(f"expected a non-negative number of cycles, got {count}")
        return self


class RadiotherapyStep(_Step):
    """A course of weekday fractions, each in a booked linac slot."""

    step: Literal["radiotherapy"]
    course: str = Field("assigned", description="'assigned' (the patient's course) or a name")
    phase: ClinicalPhase | None = Field(
        None, description="the clinical phase the course belongs to (default: the patient's current one)"
    )
    treats_distant_lymph_nodes: bool = Field(
        True, description="the field is extended to distant nodes planned for radiotherapy"
    )
    with_chemotherapy: bool = Field(
        False,
        description="given concurrently with chemotherapy, whose cycle then carries the "
        "toxicity; otherwise the course's own toxicity applies",
    )


class ImmunotherapyStep(_Step):
    """Doses of a checkpoint inhibitor on its schedule, with immune-related adverse events."""

    step: Literal["immunotherapy"]
    phase: ClinicalPhase
    agent: str = Field(description="a key of parameters.immunotherapy.agents")
    doses: int | tuple[int, int] = Field(description="number of doses, or [min, max] per patient")

    @model_validator(mode="after")
    def _doses(self) -> ImmunotherapyStep:
        d = self.doses
        if isinstance(d, tuple) and not 1 <= d[0] <= d[1]:
            raise ValueError(f"expected [min, max] with 1 <= min <= max, got {list(d)}")
        if isinstance(d, int) and d < 1:
            raise ValueError(f"expected at least one dose, got {d}")
        return self


class RegionalTherapyStep(_Step):
    """Liver-directed sessions (hepatic arterial infusion, chemoembolization) with palliative
    intent, restaged on their schedule until progression is found."""

    step: Literal["regional_therapy"]
    procedure: str = Field("hepatic_arterial_therapy", description="name in the event log")


class ConcurrentStep(_Step):
    step: Literal["concurrent"]
    steps: list[Step] = Field(min_length=2)


class ReassessmentStep(_Step):
    """Restaging (colonoscopy, CT, MRI, CEA): detects progression or grades the response."""

    step: Literal["reassessment"]
    after_radiotherapy_days: float | None = Field(None, ge=0)
    after_last_cycle_days: float | None = Field(None, ge=0)


class MdtStep(_Step):
    """The weekly multidisciplinary team meeting decides what comes next."""

    step: Literal["mdt"]
    allow_more_chemotherapy: bool = True


class BranchStep(_Step):
    step: Literal["branch"]
    by: Literal["radiotherapy_course", "mdt_decision", "sites"]
    cases: dict[str, str]
    default: str | None = None

    @model_validator(mode="after")
    def _cases(self) -> BranchStep:
        allowed = {"mdt_decision": MDT_DECISIONS, "sites": SITES_CASES}.get(self.by)
        if allowed is not None:
            unknown = [c for c in self.cases if c not in allowed]
            if unknown:
                raise ValueError(f"unknown case {unknown[0]!r} (expected one of {list(allowed)})")
            if self.default is None:
                missing = [c for c in allowed if c not in self.cases]
                if missing:
                    raise ValueError(f"expected a case or a default for {missing}")
        return self


class LocalTreatmentStep(_Step):
    """Surgery, ablation or SBRT of the sites the MDT chose, staged or simultaneous."""

    step: Literal["local_treatment"]


class WatchAndWaitStep(_Step):
    """A clinical complete response at all sites: surveillance instead of surgery."""

    step: Literal["watch_and_wait"]


class FollowUpStep(_Step):
    step: Literal["follow_up"]


class PalliativeStep(_Step):
    """Palliative therapy (or best supportive care only), with restaging until progression."""

    step: Literal["palliative"]
    therapy: bool = Field(True, description="false: best supportive care, no anticancer therapy")


class GotoStep(_Step):
    step: Literal["goto"]
    phase: str


Step = Annotated[
    ChemotherapyStep
    | RadiotherapyStep
    | ImmunotherapyStep
    | RegionalTherapyStep
    | ConcurrentStep
    | ReassessmentStep
    | MdtStep
    | BranchStep
    | LocalTreatmentStep
    | WatchAndWaitStep
    | FollowUpStep
    | PalliativeStep
    | GotoStep,
    Field(discriminator="step"),
]
ConcurrentStep.model_rebuild()


class Completion(BaseModel):
    """What 'completed the schedule' means for this strategy (Li et al. 2021's definition)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    radiotherapy: bool = True
    all_sites_treated: bool = True
    min_cycles: dict[ClinicalPhase, int] = {}


class Strategy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    start: str
    on_progression: str
    phases: dict[str, list[Step]]
    completion: Completion

    @model_validator(mode="after")
    def _targets_exist(self) -> Strategy:
        names = set(self.phases)

        def check(target: str, where: str) -> None:
            if target not in names:
                raise ValueError(f"{where}: unknown phase {target!r} (expected one of {sorted(names)})")

        check(self.start, "start")
        check(self.on_progression, "on_progression")
        for phase, steps in self.phases.items():
            for i, step in enumerate(_walk(steps)):
                if isinstance(step, BranchStep):
                    for case, target in step.cases.items():
                        check(target, f"phases.{phase}[{i}].cases.{case}")
                    if step.default is not None:
                        check(step.default, f"phases.{phase}[{i}].default")
                elif isinstance(step, GotoStep):
                    check(step.phase, f"phases.{phase}[{i}].phase")
        return self


def _walk(steps: list) -> list:
    out = []
    for s in steps:
        out.append(s)
        if isinstance(s, ConcurrentStep):
            out.extend(_walk(s.steps))
    return out
