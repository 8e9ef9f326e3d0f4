"""The ``parameters:`` section of a scenario: every rate, probability and delay the model uses.

Units are in the key names (``_days``, ``_months``, ``_gy``) or stated here. Values in the shipped
scenarios are first guesses from the literature unless their ``source`` says otherwise; the
calibration fits the ones it lists.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.disease import (  # noqa: F401  (re-exported: the parameters' vocabulary)
    HAZARD_STATES,
    OPTIONAL_HAZARD_STATES,
    Covariate,
    Disease,
)
from sim.scenario.effects import Effects
from sim.scenario.palliative import PalliativeTherapy
from sim.scenario.params import (
    DaysRange,
    Frozen,
    Mix,
    OddsRatio,
    Probability,
)

TOXICITY_TYPES = ("hematological", "gastrointestinal", "neurological", "dermatological")
SITES = ("rectum", "liver", "lung", "distant_lymph_nodes")
METASTATIC_SITES = SITES[1:]
class ByToxicity(Frozen):
    """One probability per CTCAE toxicity type."""

    hematological: Probability
    gastrointestinal: Probability
    neurological: Probability
    dermatological: Probability


class OddsRatioByToxicity(Frozen):
    hematological: OddsRatio
    gastrointestinal: OddsRatio
    neurological: OddsRatio
    dermatological: OddsRatio


class Regimen(Frozen):
    """A chemotherapy regimen: cycle length and how its toxicity differs from CAPOX."""

    cycle_days: int = Field(ge=1, description="days from one cycle's start to the next")
    toxicity_odds_ratio: OddsRatioByToxicity
    source: str | None = None


class Toxicity(Frozen):
    per_cycle: ByToxicity = Field(
        description="P(grade 3-4 event of each type) in one CAPOX cycle without radiotherapy"
    )
    with_radiotherapy_odds_ratio: OddsRatioByToxicity = Field(
        description="odds ratio for a cycle given concurrently with pelvic radiotherapy"
    )
    after_dose_reduction_odds_ratio: OddsRatio
    grade4_fraction: ByToxicity = Field(description="share of grade 3-4 events that are grade 4")
    delay_days: DaysRange = Field(description="delay of the next cycle after a grade 3-4 event")
    dose_reduction_probability: Probability
    discontinuation_probability: Probability = Field(
        description="P(stopping the current chemotherapy phase) after a grade 3-4 event"
    )


class Chemotherapy(Frozen):
    equivalent_cycle_days: int = Field(
        21,
        ge=1,
        description="cycle counts in strategy steps are in cycles of this length; a regimen "
        "with shorter cycles gives proportionally more (8 three-weekly = 12 two-weekly)",
    )
    regimens: dict[str, Regimen]
    toxicity: Toxicity
    adjuvant_discontinuation_per_cycle: Probability = Field(
        description="P(stopping adjuvant chemotherapy early) before each adjuvant cycle, "
        "for reasons other than grade 3-4 toxicity"
    )


class RadiotherapyCourse(Frozen):
    fractions: int = Field(ge=1)
    dose_gy: float = Field(gt=0)
    target: Literal["pelvis", "metastasis"] = Field(
        "pelvis", description="a pelvic course counts as the strategy's radiotherapy and times TME"
    )
    source: str | None = None


class Radiotherapy(Frozen):
    courses: dict[str, RadiotherapyCourse]
    toxicity_per_course: ByToxicity = Field(
        description="P(grade 3-4 event) in a pelvic course given without concurrent chemotherapy"
    )
    metastasis_toxicity_per_course: ByToxicity | None = Field(
        None, description="the same for a course to a metastasis (SBRT), whose field spares the "
        "bowel and perineum; required when a course targets a metastasis",
    )

    @model_validator(mode="after")
    def _toxicity_by_target(self) -> Radiotherapy:
        to_metastasis = [k for k, c in self.courses.items() if c.target == "metastasis"]
        if to_metastasis and self.metastasis_toxicity_per_course is None:
            raise ValueError(f"metastasis_toxicity_per_course: required, since course "
                             f"'{to_metastasis[0]}' targets a metastasis")
        return self


class ByAttribute(Frozen):
    """Odds ratios by the value of a population attribute (values not listed: 1)."""

    attribute: str
    odds_ratios: dict[str, OddsRatio]


class Response(Frozen):
    """Clinical response at reassessment, among patients without detected progression."""

    complete_probability: Probability
    partial_probability: Probability
    partial_odds_ratio_by: ByAttribute | None = Field(
        None, description="e.g. a lower chance of response with a BRAF V600E mutation"
    )

    @model_validator(mode="after")
    def _sum(self) -> Response:
        if self.complete_probability.value + self.partial_probability.value > 1.0:
            raise ValueError("expected complete + partial response probabilities <= 1")
        return self


class Resectability(Frozen):
    """P(the MDT judges every metastasis treatable by resection, ablation or SBRT).

    Organ-blind (no ``lung_probability``): one draw decides for every liver and lung metastasis,
    with ``probability`` for stable disease, at most 5 liver metastases and one organ.
    Per organ (``lung_probability`` given): the liver's metastases are treatable with
    ``probability`` (times the response and > 5 lesions odds ratios), the lung's with
    ``lung_probability`` (times the response odds ratio), each on its own keyed uniform; local
    treatment needs every organ treatable, so two organs already multiply two chances and
    ``two_organs_odds_ratio`` is not applied."""

    probability: Probability = Field(
        description="for stable disease, at most 5 liver metastases and one metastatic organ "
        "(organ-blind); per organ: the liver's"
    )
    lung_probability: Probability | None = Field(
        None, description="P(every lung metastasis judged treatable), for stable disease; "
        "given: treatability is decided per organ (absent: organ-blind, one draw)",
    )
    partial_response_odds_ratio: OddsRatio
    liver_metastases_gt5_odds_ratio: OddsRatio
    two_organs_odds_ratio: OddsRatio = Field(
        description="organ-blind rule only: liver and lung metastases together"
    )
    pelvic_probability: Probability = Field(
        Probability(value=1.0, source="default: the pelvic tumour is resectable (Li 2021 primaries)"),
        description="P(an unresectable pelvic tumour, e.g. a locally recurrent one, becomes "
        "resectable), for stable disease; response raises it like the metastases'",
    )


class RectalWatchAndWait(Frozen):
    """At an MDT after pelvic chemoradiotherapy that finds the metastases treatable, the rectal
    primary may show a clinical complete response: the rectum is watched (no TME) while the
    metastases are treated. Not every site had a cCR, so the patient does not complete the
    schedule (Li 2021's definition) and counts as metastasis treatment only."""

    complete_response_probability: Probability = Field(
        description="P(clinical complete response of the rectum, managed by watch-and-wait), "
        "among patients with an untreated primary after pelvic radiotherapy"
    )
    regrowth_probability: Probability = Field(
        description="P(the rectum regrows under watch-and-wait): residual tumour, so the "
        "patient cannot be cured by treating the other sites"
    )


class StomaRefusal(Frozen):
    """A low tumour (0-5 cm) that needs an abdominoperineal resection (a permanent stoma): some
    patients refuse it, and only the metastases are treated."""

    apr_needed_low_tumour_probability: Probability = Field(
        description="P(an abdominoperineal resection is needed) for a low tumour"
    )
    refusal_probability: Probability = Field(
        description="P(the patient refuses it) once the metastases are treatable"
    )


class Mdt(Frozen):
    refusal_probability: Probability
    more_chemotherapy_probability: Probability = Field(
        description="when metastases are not treatable and the strategy allows a second look"
    )
    primary_resection_probability: Probability = Field(
        description="when metastases are not treatable: resect the rectum alone"
    )
    best_supportive_care_probability: Probability = Field(
        description="progression found during curative treatment: best supportive care rather "
        "than palliative therapy (too unwell for it, or the patient's choice)"
    )
    tme_declined_low_tumour_probability: Probability = Field(
        Probability(value=0.0, source="default: no patient declines TME"),
        description="a low rectal tumour (0-5 cm, often needing a permanent stoma): the patient "
        "declines TME and only the metastases are treated (a single knob; "
        "``stoma_refusal`` is the mechanism that replaces it)",
    )
    rectal_watch_and_wait: RectalWatchAndWait | None = Field(
        None, description="a clinical complete response of the rectum alone after "
        "chemoradiotherapy, watched while the metastases are treated (absent: none)",
    )
    stoma_refusal: StomaRefusal | None = Field(
        None, description="a low tumour needing an abdominoperineal resection, refused by the "
        "patient (absent: none)",
    )
    sequence: Mix = Field(description="bowel_first / metastases_first / simultaneous")


class Complication(Frozen):
    """A surgical complication of Clavien-Dindo grade >= III and its consequences."""

    probability: Probability
    grade4_fraction: Probability
    reoperation_probability: Probability
    adjuvant_delay_days: DaysRange
    prevents_adjuvant_probability: Probability


class LocalTreatment(Frozen):
    tme_after_radiotherapy_days: dict[str, DaysRange] = Field(
        description="days from the last fraction to total mesorectal excision, by course"
    )
    metastases_first_after_mdt_days: DaysRange
    stage_interval_days: DaysRange = Field(description="between staged operations")
    recovery_before_adjuvant_days: DaysRange
    modality: dict[Literal["liver", "lung", "distant_lymph_nodes"], Mix]
    rectal_complications: dict[str, Complication]
    metastasis_complications: dict[str, Complication] = Field(
        description="per metastasis procedure family: resection, rfa, sbrt"
    )
    pcr_probability: dict[str, Probability] = Field(
        description="P(ypT0N0 at TME) by radiotherapy course, over all clinical responses (the "
        "published rate); a responder's odds are pcr_partial_response_odds_ratio times a "
        "non-responder's"
    )
    pcr_partial_response_odds_ratio: OddsRatio
    trg_if_residual: Mix = Field(description="Mandard tumour regression grade 2-4")
    unresectable_at_exploration_probability: Probability | None = Field(
        None, description="P(a planned liver resection finds the disease unresectable at "
        "laparotomy: an exploration only, the liver left untreated); none: never")


class FollowUpInterval(Frozen):
    until_month: float = Field(gt=0)
    every_months: float = Field(gt=0)


class FollowUp(Frozen):
    schedule: list[FollowUpInterval] = Field(
        description="visit intervals, in months since the end of treatment"
    )
    palliative_restaging_every_weeks: float = Field(gt=0)
    adjuvant_restaging_every_months: float | None = Field(
        None, gt=0, description="imaging during adjuvant chemotherapy, from its first cycle "
        "(none: the first scan is the first follow-up visit)")
    source: str | None = None


class RegimenBy(Frozen):
    """The regimen mix by the value of a population attribute (RAS/BRAF status, say); patients
    with a value not listed get ``assignment.regimen``."""

    attribute: str
    mixes: dict[str, Mix]


class Assignment(Frozen):
    """Treatment choices sampled per patient (practice patterns of the centre)."""

    regimen: Mix
    regimen_by: RegimenBy | None = None
    bevacizumab_probability: dict[str, Probability] = Field(
        description="P(bevacizumab added), by regimen"
    )
    radiotherapy_course: Mix


class ImmunotherapyAgent(Frozen):
    """A checkpoint inhibitor schedule, e.g. sintilimab 200 mg every 3 weeks."""

    every_days: int = Field(ge=1, description="days between doses")
    dose: str | None = Field(None, description="as the protocol gives it, e.g. '200 mg d1'")
    source: str | None = None


class Immunotherapy(Frozen):
    agents: dict[str, ImmunotherapyAgent]
    immune_related_grade34_per_dose: Probability = Field(
        description="P(a grade 3-4 immune-related adverse event) after one dose"
    )
    grade4_fraction: Probability = Field(description="share of grade 3-4 irAEs that are grade 4")
    discontinuation_after_grade34: Probability = Field(
        description="P(stopping the checkpoint inhibitor) after a grade 3-4 irAE"
    )


class RegionalTherapy(Frozen):
    """Hepatic arterial chemoinfusion or chemoembolization (TACE) sessions for liver metastases."""

    session_every_days: DaysRange = Field(description="between sessions")
    max_sessions: int = Field(ge=1)
    restaging_every_weeks: float = Field(gt=0, description="RECIST restaging while on therapy")
    complication_probability: Probability = Field(
        description="P(a Clavien-Dindo >= III complication) after a session"
    )
    source: str | None = None


class Parameters(Frozen):
    assignment: Assignment
    chemotherapy: Chemotherapy
    radiotherapy: Radiotherapy
    response: Response
    resectability: Resectability
    mdt: Mdt
    local_treatment: LocalTreatment
    disease: Disease
    follow_up: FollowUp
    effects: Effects = Effects()
    immunotherapy: Immunotherapy | None = None
    regional_therapy: RegionalTherapy | None = None
    palliative_therapy: PalliativeTherapy | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Parameters:
        regimens = set(self.chemotherapy.regimens)
        mixes = [self.assignment.regimen]
        if self.assignment.regimen_by is not None:
            mixes += list(self.assignment.regimen_by.mixes.values())
        for name in (c for mix in mixes for c in mix.categories):
            if name not in regimens:
                raise ValueError(
                    f"assignment.regimen: unknown regimen '{name}' "
                    f"(expected one of {sorted(regimens)})"
                )
        courses = set(self.radiotherapy.courses)
        for name in self.assignment.radiotherapy_course.categories:
            if name not in courses:
                raise ValueError(
                    f"assignment.radiotherapy_course: unknown course '{name}' "
                    f"(expected one of {sorted(courses)})"
                )
            if name not in self.local_treatment.tme_after_radiotherapy_days:
                raise ValueError(
                    f"local_treatment.tme_after_radiotherapy_days: missing course '{name}'"
                )
            if name not in self.local_treatment.pcr_probability:
                raise ValueError(f"local_treatment.pcr_probability: missing course '{name}'")
        return self


