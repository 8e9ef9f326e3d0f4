"""The disease clock: true progression, cancer death and background death of one patient.

Each competing event has a unit-exponential budget drawn once from the patient's ``disease``
stream. Progression happens when the cumulative hazard, which integrates the hazard of whatever
state the patient is in (on treatment, partially treated, all sites treated, palliative; times
the untreated factor while nothing runs against untreated sites), reaches its budget. Treatment
changes the hazard from that moment on, never the budget, so time-varying hazards are handled
exactly (closed form per piece, no time steps) and the same virtual patient has the same luck
under every strategy.

Progression hazard: h(t) = HR_state * HR_covariates * h0(t), h0 Weibull in time since first
treatment. A patient whose every site is treated may be cured (no residual disease, never
progresses), decided by a uniform drawn at baseline: with a fixed probability, or (with
``micrometastases``) by where the patient's residual burden, grown by untreated time and
reduced by the cycles delivered (after the operations, and before them), falls against what
clears (a probit threshold, see
:class:`sim.scenario.disease.Micrometastases`).
Cancer death: Weibull in time since true progression, times covariate hazard ratios.
Background death: the life table by age and sex, piecewise constant by age band.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

from sim.model.hazards import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    life_table_death_age,
    weibull_cumhaz,
    weibull_inverse_cumhaz,
)

if TYPE_CHECKING:
    from sim.scenario.parameters import Disease

INF = math.inf


@dataclass(frozen=True, slots=True)
class DiseaseParams:
    """Disease parameters in model units (days), compiled once per run."""

    progression_shape: float
    progression_scale_days: float
    state_hazard_ratio: dict[str, float]
    cure_probability: float
    death_shape: float
    death_scale_days: float
    supportive_care_hazard_ratio: float
    symptomatic_mean_days: float
    bands_male: tuple[tuple[float, float], ...]
    bands_female: tuple[tuple[float, float], ...]
    #: the life table's ages, the same for both sexes (empty: read every band)
    band_starts: tuple[float, ...] = ()
    #: micrometastases (0, 0: off): probit of the cure threshold lost per untreated day, and
    #: gained per adjuvant cycle (a three-weekly equivalent at full dose)
    growth_probit_per_day: float = 0.0
    kill_probit_per_cycle: float = 0.0
    preoperative_kill_probit_per_cycle: float = 0.0
    """the same for a cycle given before every site is treated"""
    reduced_dose_kill_ratio: float = 1.0
    """a reduced-dose cycle's kill relative to a full-dose one's (see cycles_equivalent)"""
    cure_probit: float = 0.0
    """the probit of ``cure_probability``: the threshold with no untreated time, no adjuvant"""
    untreated_factor: float = 1.0
    """multiplies the state's hazard while sites are untreated and nothing runs against them"""
    during_treatment_death_hr: float = 1.0
    """multiplies the cancer death hazard from a progression found during treatment on"""
    left_clear_probability: float = 0.0
    """P(sites left untreated by an MDT decision after a course they held through are clear)"""


class DiseaseClock:
    """Latent disease course of one patient; times are absolute simulation days."""

    __slots__ = (
        "p", "arrival", "progression_budget", "death_budget", "symptom_delay", "cured_if_treated",
        "progression_covariate_hr", "death_covariate_hr", "_hazard_so_far", "_since", "_multiplier",
        "state", "cured", "t_progression", "t_cancer_death", "t_background_death",
        "cure_z", "untreated_days", "_entered", "all_treated_at", "_growing",
        "_death_ratio", "_death_used", "_death_since", "t_death", "t_symptoms", "left_clear",
        "killed",
    )

    def __init__(
        self,
        params: DiseaseParams,
        arrival: float,
        draws: Sequence[float],
        age_years: float,
        male: bool,
        progression_covariate_hr: float,
        death_covariate_hr: float,
    ) -> None:
        self.p = params
        self.arrival = arrival
        self.progression_budget = -math.log1p(-draws[0])
        self.death_budget = -math.log1p(-draws[1])
        background_budget = -math.log1p(-draws[2])
        self.symptom_delay = -math.log1p(-draws[3]) * params.symptomatic_mean_days
        self.cured_if_treated = draws[4] < params.cure_probability
        # whether sites left untreated by choice hold no viable tumour (see Patient.enter_palliative)
        self.left_clear = params.left_clear_probability > 0 and draws[5] < params.left_clear_probability
        # the residual burden's rank, on the probit scale of the cure threshold (infinite: residual
        # tumour is known to remain, see exclude_cure)
        self.cure_z = (
            NormalDist().inv_cdf(min(max(draws[4], 1e-12), 1.0 - 1e-12))
            if params.growth_probit_per_day or params.kill_probit_per_cycle else 0.0
        )
        self.untreated_days = 0.0  # with sites untreated and no course running
        self.killed = 0.0  # probit of the cure threshold gained by cycles before every site was treated
        self._entered = arrival
        self._growing = False
        self.all_treated_at = INF
        self.progression_covariate_hr = progression_covariate_hr
        self.death_covariate_hr = death_covariate_hr
        bands = params.bands_male if male else params.bands_female
        first = max(0, bisect_right(params.band_starts, age_years) - 1)
        death_age = life_table_death_age(age_years, background_budget, bands, first)
        self.t_background_death = arrival + (death_age - age_years) * DAYS_PER_YEAR
        self._hazard_so_far = 0.0
        self._since = 0.0
        self.state = "on_treatment"
        self.cured = False
        self._multiplier = params.state_hazard_ratio["on_treatment"] * progression_covariate_hr
        self.t_progression = INF
        self.t_cancer_death = INF
        self._predict()

    def _predict(self) -> None:
        p = self.p
        if self._multiplier <= 0:
            self.t_progression = INF
        else:
            base = weibull_cumhaz(self._since, p.progression_shape, p.progression_scale_days)
            target = base + (self.progression_budget - self._hazard_so_far) / self._multiplier
            self.t_progression = self.arrival + weibull_inverse_cumhaz(
                target, p.progression_shape, p.progression_scale_days
            )
        # the death hazard after progression runs at the covariates' ratio until a change
        self._death_ratio, self._death_used, self._death_since = self.death_covariate_hr, 0.0, 0.0
        if self.t_progression == INF:
            self.t_cancer_death = INF
        else:
            after = weibull_inverse_cumhaz(
                self.death_budget / self.death_covariate_hr, p.death_shape, p.death_scale_days
            )
            self.t_cancer_death = self.t_progression + after
        self._derive()

    def change_death_hazard(self, now: float, hazard_ratio: float) -> None:
        """After (true) progression, the cancer death hazard is multiplied by ``hazard_ratio``
        from ``now`` on (e.g. best supportive care instead of palliative therapy); changes
        compose: the hazard used so far is banked at the ratio that ran."""
        if not (self.t_progression <= now < self.t_cancer_death):
            return
        p = self.p
        elapsed = now - self.t_progression
        cumhaz_now = weibull_cumhaz(elapsed, p.death_shape, p.death_scale_days)
        self._death_used += self._death_ratio * (
            cumhaz_now - weibull_cumhaz(self._death_since, p.death_shape, p.death_scale_days))
        self._death_since = elapsed
        self._death_ratio *= hazard_ratio
        target = cumhaz_now + (self.death_budget - self._death_used) / self._death_ratio
        self.t_cancer_death = self.t_progression + weibull_inverse_cumhaz(
            target, p.death_shape, p.death_scale_days
        )
        self._derive()

    def _advance(self, now: float) -> None:
        """Bank the hazard accumulated up to ``now`` under the current multiplier."""
        p = self.p
        since = now - self.arrival
        self._hazard_so_far += self._multiplier * (
            weibull_cumhaz(since, p.progression_shape, p.progression_scale_days)
            - weibull_cumhaz(self._since, p.progression_shape, p.progression_scale_days)
        )
        self._since = since

    def _state_multiplier(self, state: str, growing: bool) -> float:
        p = self.p
        ratio = p.state_hazard_ratio[state] * (p.untreated_factor if growing else 1.0)
        return ratio * self.progression_covariate_hr

    def set_state(self, now: float, state: str, growing: bool = False) -> None:
        """The patient enters ``state`` at ``now``; the future progression hazard changes.
        ``growing``: sites are left untreated with nothing running against them from now (a
        wait, a break, a pause): the state's hazard is multiplied by the untreated factor, and
        residual micrometastases grow."""
        was_growing = self._growing
        if was_growing:
            self.untreated_days += now - self._entered
        self._entered = now
        self._growing = growing
        if (state == self.state and growing == was_growing) or self.t_progression <= now:
            self.state = state
            return
        if state != "all_sites_treated" and not self.cured:
            if self._state_multiplier(state, growing) == self._multiplier:
                self.state = state  # the same hazard: the prediction stands as it is
                return
        self._advance(now)
        self.state = state
        if state == "all_sites_treated":
            self.all_treated_at = min(self.all_treated_at, now)
            if self._clears(0.0, 0):
                self.cured = True  # no residual disease: whatever comes next, it never progresses
        self._multiplier = 0.0 if self.cured else self._state_multiplier(state, growing)
        self._predict()

    def _clears(self, extra_untreated_days: float, adjuvant_cycles: float) -> bool:
        p = self.p
        if not (p.growth_probit_per_day or p.kill_probit_per_cycle):
            return self.cured_if_treated
        threshold = (p.cure_probit - p.growth_probit_per_day * (self.untreated_days + extra_untreated_days)
                     + self.killed + p.kill_probit_per_cycle * adjuvant_cycles)
        return self.cure_z < threshold

    def preoperative_given(self, now: float, cycles: float) -> None:
        """``cycles`` (full-dose equivalents) given with curative intent before every site is
        treated: what they removed counts when the last site is treated. Not after a progression
        (the disease grew through them) nor once every site is treated (adjuvant_given)."""
        if (self.p.preoperative_kill_probit_per_cycle and cycles > 0 and not self.cured
                and self.t_progression > now and self.state != "all_sites_treated"):
            self.killed += self.p.preoperative_kill_probit_per_cycle * cycles

    def exclude_cure(self) -> None:
        """Residual tumour is known to remain (a regrowth): treating the other sites cannot cure."""
        self.cured_if_treated = False
        self.cure_z = INF

    def adjuvant_given(self, now: float, cycles: float, first_cycle: float) -> None:
        """``cycles`` of adjuvant chemotherapy (full-dose equivalents) ended at ``now``, the first
        at ``first_cycle``:
        they clear the residual micrometastases if the burden, grown from the last operation to
        the first cycle, falls under what they remove. Only once every site is treated: cycles
        given beside a site left untreated (an R2 resection's residual tumour) cure nothing."""
        if (self.cured or cycles <= 0 or self.t_progression <= now or not self.p.kill_probit_per_cycle
                or self.state != "all_sites_treated"):
            return
        gap = max(0.0, first_cycle - self.all_treated_at)
        if self._clears(gap, cycles):
            self._advance(now)
            self.cured = True
            self._multiplier = 0.0
            self._predict()

    def _derive(self) -> None:
        """Bring the derived times up to date after ``t_progression`` or ``t_cancer_death``
        changed: attributes, not properties, because the patient reads them at every wait (a
        property is a function call on each read)."""
        cancer, background = self.t_cancer_death, self.t_background_death
        self.t_death = background if background < cancer else cancer  # the earlier, as min()
        # when symptoms reveal a progression that imaging has not found yet
        self.t_symptoms = self.t_progression + self.symptom_delay

    def death_cause(self) -> str:
        return "cancer" if self.t_cancer_death <= self.t_background_death else "other"


def _state_ratios(ratios: Mapping[str, float], strategy_hr: float) -> dict[str, float]:
    """The strategy acts where it treats, not in palliative care; ``untreated`` is not a state
    but a factor on whichever state the patient is in (see ``untreated_factor``)."""
    return {k: v * (strategy_hr if k != "palliative" else 1.0)
            for k, v in ratios.items() if k != "untreated"}


def compile_disease(disease: Disease, strategy_hr: float = 1.0) -> DiseaseParams:
    """Model-unit parameters from the validated ``parameters.disease`` section; ``strategy_hr``
    is the strategy's effect on progression in the curative-intent states."""
    prog, death = disease.progression, disease.death_after_progression
    micro = prog.micrometastases
    kill = 0.0 if micro is None else micro.adjuvant_log10_kill_per_cycle.value / micro.log10_spread.value
    table = disease.background_mortality.table
    ratios: dict[str, float] = {k: v.value for k, v in prog.hazard_ratio_by_state.items()}
    return DiseaseParams(
        progression_shape=prog.weibull_shape.value,
        progression_scale_days=prog.weibull_scale_months.value * DAYS_PER_MONTH,
        state_hazard_ratio=_state_ratios(ratios, strategy_hr),
        untreated_factor=ratios.get("untreated", 1.0),
        cure_probability=prog.cure_probability_all_sites_treated.value,
        death_shape=death.weibull_shape.value,
        death_scale_days=death.weibull_scale_months.value * DAYS_PER_MONTH,
        supportive_care_hazard_ratio=death.supportive_care_hazard_ratio.value,
        during_treatment_death_hr=1.0 if death.during_treatment_hazard_ratio is None
        else death.during_treatment_hazard_ratio.value,
        left_clear_probability=0.0 if prog.left_untreated_clear_probability is None
        else prog.left_untreated_clear_probability.value,
        symptomatic_mean_days=disease.symptomatic_detection_mean_days.value,
        bands_male=tuple((age, male) for age, male, _ in table),
        bands_female=tuple((age, female) for age, _, female in table),
        band_starts=tuple(age for age, _, _ in table),
        cure_probit=NormalDist().inv_cdf(min(max(prog.cure_probability_all_sites_treated.value,
                                                 1e-12), 1.0 - 1e-12)),
        growth_probit_per_day=0.0 if micro is None else
        math.log10(2.0) / (micro.doubling_days.value * micro.log10_spread.value),
        kill_probit_per_cycle=kill,
        preoperative_kill_probit_per_cycle=0.0 if micro is None or micro.preoperative_kill_ratio is None
        else micro.preoperative_kill_ratio.value * kill,
        reduced_dose_kill_ratio=1.0 if micro is None or micro.reduced_dose_kill_ratio is None
        else micro.reduced_dose_kill_ratio.value,
    )
