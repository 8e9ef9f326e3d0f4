"""``parameters.disease``: the natural history the treatments act on.

Progression is a Weibull hazard in time since first treatment, multiplied by the hazard ratio of
the state the patient is in and of their covariates; cure needs every site treated, and
(optionally) depends on how long residual micrometastatic disease grew untreated and on the
adjuvant chemotherapy given. Cancer death follows progression; background death the life table.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from sim.scenario.params import Days, Frozen, HazardRatio, Months, NonNegative, Positive, Probability

HAZARD_STATES = ("on_treatment", "partially_treated", "all_sites_treated", "palliative")
#: entries a scenario may leave out: ``untreated`` is not a state but a factor on the state's
#: hazard while sites are untreated and no course runs (waits, breaks, a pause in palliative
#: therapy, supportive care); without it the factor is 1
OPTIONAL_HAZARD_STATES = ("untreated",)
Covariate = (
    Literal["liver_metastases_gt5", "two_metastatic_organs", "kps_70_80", "ct4", "age_gt60", "male",
            "cea_gt5"]
    # or a population attribute's value, e.g. ras_braf=braf_v600e
    | Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*=[A-Za-z0-9_.+-]+$")]
)


class Micrometastases(Frozen):
    """Residual micrometastatic disease: what makes cure depend on time and on the systemic
    therapy delivered.

    A patient's residual burden, on a log10 scale relative to what local treatment alone clears,
    is a latent normal quantity (rank: the baseline cure draw), so that with no untreated time
    and no chemotherapy P(cure) is ``cure_probability_all_sites_treated``. Untreated time
    (waits, breaks, the gap from the last operation to adjuvant chemotherapy) grows it by one
    doubling every ``doubling_days``; each cycle delivered with curative intent removes
    ``adjuvant_log10_kill_per_cycle`` (log-kill: a fixed fraction of the cells, whatever their
    number): after the operations, and with ``preoperative_kill_ratio`` also before them
    (neoadjuvant, consolidation: the cells outside the visible tumours are exposed to the same
    drugs), times ``reduced_dose_kill_ratio`` once the dose has been reduced. Delay and the
    chemotherapy a strategy actually delivers (how many cycles, when, at what dose) then decide
    cures, so their effects on survival emerge rather than being set.
    """

    doubling_days: Days = Field(description="volume doubling time of untreated micrometastases")
    log10_spread: Positive = Field(
        description="SD across patients of the log10 residual burden (relative to what clears)")
    adjuvant_log10_kill_per_cycle: NonNegative = Field(
        description="log10 of the burden one cycle removes after the operations (a three-weekly "
        "equivalent at full dose; before them, times preoperative_kill_ratio)")
    preoperative_kill_ratio: NonNegative | None = Field(
        None, description="the kill of a cycle given before every site is treated, relative to an "
        "adjuvant cycle's; none: preoperative cycles do not act on micrometastases")
    reduced_dose_kill_ratio: Probability | None = Field(
        None, description="the kill of a cycle after a dose reduction, relative to a full-dose "
        "cycle's; none: the same kill")


class Progression(Frozen):
    """Progression hazard: Weibull in time since first treatment, times state and covariates."""

    weibull_shape: Positive
    weibull_scale_months: Months
    hazard_ratio_by_state: dict[
        Literal["on_treatment", "untreated", "partially_treated", "all_sites_treated",
                "palliative"],
        HazardRatio,
    ] = Field(description="on_treatment: nothing treated locally yet (the reference state); "
              "partially_treated: between staged operations; palliative: sites left untreated on "
              "the palliative pathway; untreated: a factor on any of these while no course runs")
    cure_probability_all_sites_treated: Probability = Field(
        description="P(no residual disease) once every site is treated; cured patients never "
        "progress"
    )
    left_untreated_clear_probability: Probability | None = Field(
        None, description="P(the sites an MDT leaves untreated beside treated ones, after a "
        "neoadjuvant course they did not progress through, hold no viable tumour: the disease then "
        "runs as if every site had been treated, cure included); none: such sites are palliative")
    covariate_hazard_ratios: dict[Covariate, HazardRatio] = {}
    micrometastases: Micrometastases | None = Field(
        None, description="none: cure is decided by the baseline draw alone, whatever the timing")

    @model_validator(mode="after")
    def _all_states(self) -> Progression:
        missing = [s for s in HAZARD_STATES if s not in self.hazard_ratio_by_state]
        if missing:
            raise ValueError(f"expected a hazard ratio for every state, missing {missing}")
        return self


class DeathAfterProgression(Frozen):
    """Cancer death hazard: Weibull in time since (true) progression, times covariates."""

    weibull_shape: Positive
    weibull_scale_months: Months
    supportive_care_hazard_ratio: HazardRatio = Field(
        description="death hazard under best supportive care, relative to palliative therapy"
    )
    during_treatment_hazard_ratio: HazardRatio | None = Field(
        None, description="death hazard after a progression found during treatment (disease that "
        "grew through it), relative to one found in surveillance after treatment; absent: 1"
    )
    covariate_hazard_ratios: dict[Covariate, HazardRatio] = {}


class BackgroundMortality(Frozen):
    csv: str = Field(description="life table: age_from, age_to, death_rate_per_1000_male/female")
    source: str | None = None
    note: str | None = None
    # filled by the loader from the CSV: (age_from, rate_male_per_year, rate_female_per_year)
    table: tuple[tuple[float, float, float], ...] = ()


class Disease(Frozen):
    progression: Progression
    death_after_progression: DeathAfterProgression
    symptomatic_detection_mean_days: Days = Field(
        description="mean time from true progression to symptoms that reveal it"
    )
    background_mortality: BackgroundMortality


