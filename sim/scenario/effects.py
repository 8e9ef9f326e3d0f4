"""``parameters.effects``: what a strategy is assumed to do beyond what the model's mechanisms
make of it (``crcsim compare`` reports every contrast with these at 1 beside the full one)."""

from __future__ import annotations

from pydantic import Field

from sim.scenario.params import Frozen, HazardRatio, OddsRatio

_NO_EFFECT = "no effect: the calibrated reference strategy (default)"


class Effects(Frozen):
    """A strategy's effects relative to the calibrated reference, where the model's mechanisms
    (more cycles, another course, other timing) do not already produce them.

    All default to 1 (no effect), so the reference needs none; a strategy file sets each one with
    its source and, because trial populations differ from this one, as an assumption with a range.
    """

    progression_hazard_ratio: HazardRatio = Field(
        HazardRatio(value=1.0, source=_NO_EFFECT),
        description="multiplies the progression hazard in the curative-intent states (on "
        "treatment, partially and fully treated), not under palliative therapy",
    )
    complete_response_odds_ratio: OddsRatio = Field(
        OddsRatio(value=1.0, source=_NO_EFFECT),
        description="on P(clinical complete response) at reassessment",
    )
    rectal_complete_response_odds_ratio: OddsRatio = Field(
        OddsRatio(value=1.0, source=_NO_EFFECT),
        description="on P(clinical complete response of the rectum) when the metastases are "
        "treatable (mdt.rectal_watch_and_wait): organ preservation of the primary alone",
    )
    pcr_odds_ratio: OddsRatio = Field(
        OddsRatio(value=1.0, source=_NO_EFFECT), description="on P(ypCR) at TME, every course"
    )
    chemotherapy_toxicity_odds_ratio: OddsRatio = Field(
        OddsRatio(value=1.0, source=_NO_EFFECT), description="on the per-cycle P(grade 3-4) of every type"
    )
