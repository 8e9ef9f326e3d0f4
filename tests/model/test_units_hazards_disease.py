"""Unit tests of the closed-form hazard pieces (sim/model/hazards.py) and the disease clock
(sim/model/disease.py).

Every expected value is computed by hand from the formulas in the module docstrings.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import weibull_min

from sim.model.disease import DiseaseClock, DiseaseParams
from sim.model.hazards import (
    DAYS_PER_YEAR,
    life_table_death_age,
    weibull_cumhaz,
    weibull_inverse_cumhaz,
    weibull_median,
)

# ----------------------------------------------------------------------------- helpers

STATE_HR = {"on_treatment": 1.0, "partially_treated": 2.0, "all_sites_treated": 0.5, "palliative": 1.6}


def make_params(
    shape: float = 1.0,
    scale: float = 100.0,
    state_hr: dict[str, float] | None = None,
    cure: float = 0.0,
    death_shape: float = 1.0,
    death_scale: float = 60.0,
    symptomatic_mean: float = 30.0,
    bands_male: tuple[tuple[float, float], ...] = ((0.0, 0.05),),
    bands_female: tuple[tuple[float, float], ...] = ((0.0, 0.02),),
) -> DiseaseParams:
    return DiseaseParams(
        progression_shape=shape,
        progression_scale_days=scale,
        state_hazard_ratio=dict(STATE_HR if state_hr is None else state_hr),
        cure_probability=cure,
        death_shape=death_shape,
        death_scale_days=death_scale,
        supportive_care_hazard_ratio=3.0,
        symptomatic_mean_days=symptomatic_mean,
        bands_male=bands_male,
        bands_female=bands_female,
    )


def u_for(budget: float) -> float:
    """The uniform whose unit-exponential budget -log(1 - u) is ``budget``."""
    return -math.expm1(-budget)


def make_clock(
    params: DiseaseParams,
    *,
    arrival: float = 0.0,
    progression_budget: float = 1.0,
    death_budget: float = 1.0,
    background_budget: float = 5.0,
    symptom_budget: float = 1.0,
    cure_draw: float = 0.99,
    age: float = 60.0,
    male: bool = True,
    prog_hr: float = 1.0,
    death_hr: float = 1.0,
) -> DiseaseClock:
    draws = [
        u_for(progression_budget), u_for(death_budget), u_for(background_budget),
        u_for(symptom_budget), cure_draw,
    ]
    return DiseaseClock(params, arrival, draws, age, male, prog_hr, death_hr)


# ----------------------------------------------------------------------------- Weibull


def test_weibull_cumhaz_hand_values():
    assert weibull_cumhaz(10.0, 2.0, 5.0) == pytest.approx(4.0)
    assert weibull_cumhaz(50.0, 1.0, 200.0) == pytest.approx(0.25)
    assert weibull_cumhaz(8.0, 0.5, 2.0) == pytest.approx(2.0)
    assert weibull_cumhaz(0.0, 1.3, 7.0) == 0.0
    assert weibull_cumhaz(-3.0, 1.3, 7.0) == 0.0


def test_weibull_inverse_hand_values():
    assert weibull_inverse_cumhaz(4.0, 2.0, 5.0) == pytest.approx(10.0)
    assert weibull_inverse_cumhaz(0.25, 1.0, 200.0) == pytest.approx(50.0)
    assert weibull_inverse_cumhaz(0.0, 2.0, 5.0) == 0.0


def test_weibull_median_hand_values():
    assert weibull_median(1.0, 100.0) == pytest.approx(100.0 * math.log(2.0))
    assert weibull_median(2.0, 10.0) == pytest.approx(10.0 * math.sqrt(math.log(2.0)))
    # survival at the median is one half
    assert math.exp(-weibull_cumhaz(weibull_median(1.7, 33.0), 1.7, 33.0)) == pytest.approx(0.5)


@pytest.mark.parametrize("shape,scale,t", [(1.0, 10.0, 3.0), (2.5, 40.0, 55.0), (0.7, 12.0, 1.5)])
def test_weibull_parameterisation_matches_scipy(shape, scale, t):
    """Survival exp(-H(t)) is scipy's weibull_min survival with c=shape, scale=scale."""
    assert math.exp(-weibull_cumhaz(t, shape, scale)) == pytest.approx(
        weibull_min.sf(t, shape, scale=scale), rel=1e-12
    )


@settings(max_examples=200, deadline=None)
@given(
    t=st.floats(min_value=1e-3, max_value=1e4),
    shape=st.floats(min_value=0.3, max_value=5.0),
    scale=st.floats(min_value=0.5, max_value=1e4),
)
def test_weibull_round_trip_time(t, shape, scale):
    h = weibull_cumhaz(t, shape, scale)
    assert weibull_inverse_cumhaz(h, shape, scale) == pytest.approx(t, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    h=st.floats(min_value=1e-6, max_value=50.0),
    shape=st.floats(min_value=0.3, max_value=5.0),
    scale=st.floats(min_value=0.5, max_value=1e4),
)
def test_weibull_round_trip_hazard(h, shape, scale):
    t = weibull_inverse_cumhaz(h, shape, scale)
    assert weibull_cumhaz(t, shape, scale) == pytest.approx(h, rel=1e-9)


# ----------------------------------------------------------------------------- life table


def test_life_table_single_band():
    # age + budget / rate
    assert life_table_death_age(60.0, 0.1, ((0.0, 0.02),)) == pytest.approx(65.0)
    assert life_table_death_age(42.5, 1.0, ((18.0, 0.25),)) == pytest.approx(46.5)


def test_life_table_zero_budget_dies_now():
    assert life_table_death_age(70.0, 0.0, ((0.0, 0.02), (80.0, 0.1))) == pytest.approx(70.0)


BANDS = ((0.0, 0.01), (70.0, 0.05), (80.0, 0.1))


@pytest.mark.parametrize(
    "age,budget,expected",
    [
        # 65 -> 70 at 0.01 uses 0.05; 0.25 left at 0.05/year -> 5 years into the 70 band
        (65.0, 0.3, 75.0),
        # 65 -> 70 uses 0.05, 70 -> 80 uses 0.5; 0.05 left at 0.1/year -> 80.5
        (65.0, 0.6, 80.5),
        # within the first band entirely
        (65.0, 0.03, 68.0),
        # exactly at a band boundary: 70 -> 80 uses all 0.5
        (70.0, 0.5, 80.0),
        # starting in the middle band
        (75.0, 0.45, 80.0 + 0.2 / 0.1),
    ],
)
def test_life_table_several_bands(age, budget, expected):
    assert life_table_death_age(age, budget, BANDS) == pytest.approx(expected)


def test_life_table_beyond_last_band_holds_constant():
    # starting inside the last band: the last rate applies for ever
    assert life_table_death_age(95.0, 0.7, BANDS) == pytest.approx(102.0)
    assert life_table_death_age(81.0, 3.0, BANDS) == pytest.approx(111.0)
    # a large budget from a young age: 0.05 + 0.5 + rest at 0.1/year
    assert life_table_death_age(65.0, 10.0, BANDS) == pytest.approx(80.0 + (10.0 - 0.55) / 0.1)


def test_life_table_zero_rate_band_is_skipped():
    bands = ((0.0, 0.0), (50.0, 0.1))
    # no hazard until 50, then 0.2 / 0.1 = 2 years
    assert life_table_death_age(40.0, 0.2, bands) == pytest.approx(52.0)
    # a zero-rate band in the middle
    bands = ((0.0, 0.1), (30.0, 0.0), (60.0, 0.2))
    # 25 -> 30 uses 0.5; nothing 30 -> 60; 0.5 left at 0.2 -> 62.5
    assert life_table_death_age(25.0, 1.0, bands) == pytest.approx(62.5)


def test_life_table_zero_rate_last_band_never_dies():
    assert life_table_death_age(60.0, 0.3, ((0.0, 0.01), (65.0, 0.0))) == math.inf


def test_life_table_first_band_covers_younger_ages():
    bands = ((50.0, 0.02), (60.0, 0.04))
    # 30 -> 60 at 0.02 gives 0.6 >= 0.5: 30 + 0.5 / 0.02 = 55
    assert life_table_death_age(30.0, 0.5, bands) == pytest.approx(55.0)


@settings(max_examples=200, deadline=None)
@given(
    age=st.floats(min_value=0.0, max_value=110.0),
    budget=st.floats(min_value=0.0, max_value=20.0),
)
def test_life_table_integrates_back_to_budget(age, budget):
    """Integrating the piecewise rate from age to the death age gives back the budget."""
    death = life_table_death_age(age, budget, BANDS)
    assert death >= age
    segments = ((-math.inf, 70.0, 0.01), (70.0, 80.0, 0.05), (80.0, math.inf, 0.1))
    integral = sum(rate * max(min(hi, death) - max(lo, age), 0.0) for lo, hi, rate in segments)
    assert integral == pytest.approx(budget, rel=1e-9, abs=1e-9)


# ----------------------------------------------------------------------------- disease clock


def test_constant_hazard_progression_cancer_death_background_and_symptoms():
    p = make_params(shape=1.0, scale=200.0, death_shape=1.0, death_scale=60.0, symptomatic_mean=30.0,
                    state_hr={**STATE_HR, "on_treatment": 1.0})
    c = make_clock(
        p, arrival=30.0, progression_budget=0.5, death_budget=0.25, background_budget=0.1,
        symptom_budget=0.2, prog_hr=2.0, death_hr=0.5, age=60.0, male=True,
    )
    # rate = 1/200 per day, HR = 1 * 2: 30 + 0.5 / (2/200) = 80
    assert c.state == "on_treatment"
    assert c.t_progression == pytest.approx(80.0)
    # cancer death: 60 * (0.25 / 0.5) = 30 days after progression
    assert c.t_cancer_death == pytest.approx(110.0)
    # background: male band 0.05/year, budget 0.1 -> 2 years
    assert c.t_background_death == pytest.approx(30.0 + 2.0 * DAYS_PER_YEAR)
    assert c.t_death == pytest.approx(110.0)
    assert c.death_cause() == "cancer"
    # symptoms: 0.2 * 30 = 6 days after progression
    assert c.symptom_delay == pytest.approx(6.0)
    assert c.t_symptoms == pytest.approx(86.0)


def test_state_hazard_ratio_of_initial_state_applies():
    p = make_params(shape=1.0, scale=100.0, state_hr={**STATE_HR, "on_treatment": 4.0})
    c = make_clock(p, arrival=10.0, progression_budget=2.0, prog_hr=0.5)
    # rate 1/100, HR 4 * 0.5 = 2: 10 + 2 / 0.02 = 110
    assert c.t_progression == pytest.approx(110.0)


def test_background_death_female_uses_female_bands_and_can_come_first():
    p = make_params(
        scale=1000.0,
        bands_male=((0.0, 0.05),),
        bands_female=((0.0, 0.01), (70.0, 0.1)),
    )
    c = make_clock(p, arrival=100.0, background_budget=0.3, age=65.0, male=False,
                   progression_budget=10.0)
    # 65 -> 70 at 0.01 uses 0.05; 0.25 at 0.1 -> 72.5 years: 7.5 years after arrival
    assert c.t_background_death == pytest.approx(100.0 + 7.5 * DAYS_PER_YEAR)
    male = make_clock(p, arrival=100.0, background_budget=0.3, age=65.0, male=True,
                      progression_budget=10.0)
    assert male.t_background_death == pytest.approx(100.0 + 6.0 * DAYS_PER_YEAR)
    # progression after 10 * 1000 days, long after background death
    assert c.t_progression == pytest.approx(10100.0)
    assert c.t_death == pytest.approx(c.t_background_death)
    assert c.death_cause() == "other"


def test_state_change_constant_hazard_piecewise():
    p = make_params(shape=1.0, scale=100.0)
    c = make_clock(p, arrival=5.0, progression_budget=0.5)
    assert c.t_progression == pytest.approx(55.0)
    # partially_treated has HR 2 from day 25 (20 days after arrival): 0.2 used, 0.3 left at 0.02/day
    c.set_state(25.0, "partially_treated")
    assert c.state == "partially_treated"
    assert c.t_progression == pytest.approx(25.0 + 15.0)
    # cancer death moves with progression (death hazard counts from progression)
    assert c.t_cancer_death == pytest.approx(40.0 + 60.0)


def test_three_pieces_constant_hazard():
    p = make_params(shape=1.0, scale=100.0)
    c = make_clock(p, arrival=0.0, progression_budget=1.0, cure_draw=0.9)
    c.set_state(20.0, "partially_treated")  # 0.2 used at HR 1
    c.set_state(40.0, "all_sites_treated")  # 20 days at HR 2: 0.4 used, total 0.6
    # 0.4 left at HR 0.5 -> 0.005/day -> 80 days
    assert c.t_progression == pytest.approx(120.0)


def test_state_change_weibull_piecewise():
    p = make_params(shape=2.0, scale=100.0, state_hr={"on_treatment": 1.0, "palliative": 4.0})
    c = make_clock(p, arrival=10.0, progression_budget=1.0)
    # (t/100)^2 = 1 -> 100 days
    assert c.t_progression == pytest.approx(110.0)
    c.set_state(60.0, "palliative")
    # at 50 days: H0 = 0.25 used; 4 * ((t/100)^2 - 0.25) = 0.75 -> (t/100)^2 = 0.4375
    assert c.t_progression == pytest.approx(10.0 + 100.0 * math.sqrt(0.4375))


def test_set_state_to_same_state_is_a_no_op():
    p = make_params(shape=1.3, scale=80.0)
    c = make_clock(p, arrival=3.0, progression_budget=0.8)
    before = (c.t_progression, c.t_cancer_death)
    c.set_state(20.0, "on_treatment")
    assert (c.t_progression, c.t_cancer_death) == before


def test_set_state_after_progression_does_not_move_it():
    p = make_params(shape=1.0, scale=100.0)
    c = make_clock(p, arrival=0.0, progression_budget=0.5)
    assert c.t_progression == pytest.approx(50.0)
    before = (c.t_progression, c.t_cancer_death)
    c.set_state(60.0, "partially_treated")
    assert (c.t_progression, c.t_cancer_death) == before
    assert c.state == "partially_treated"
    c.set_state(70.0, "palliative")
    assert (c.t_progression, c.t_cancer_death) == before
    # exactly at the progression time also counts as "already happened"
    d = make_clock(p, arrival=0.0, progression_budget=0.5)
    d.set_state(d.t_progression, "palliative")
    assert d.t_progression == pytest.approx(50.0)


def test_cured_patient_never_progresses():
    p = make_params(shape=1.0, scale=100.0, cure=0.4)
    c = make_clock(p, arrival=0.0, progression_budget=0.5, cure_draw=0.1, background_budget=0.1)
    assert c.cured_if_treated
    assert c.t_progression == pytest.approx(50.0)  # before treatment is complete
    c.set_state(20.0, "all_sites_treated")
    assert c.t_progression == math.inf
    assert c.t_cancer_death == math.inf
    assert c.t_symptoms == math.inf
    assert c.t_death == c.t_background_death
    assert c.death_cause() == "other"


def test_not_cured_patient_uses_the_all_sites_treated_ratio():
    p = make_params(shape=1.0, scale=100.0, cure=0.4)
    # cure draw equal to the probability is not a cure (draw < probability)
    c = make_clock(p, arrival=0.0, progression_budget=0.5, cure_draw=0.4)
    assert not c.cured_if_treated
    c.set_state(20.0, "all_sites_treated")
    # 0.2 used; 0.3 left at HR 0.5 -> 60 days
    assert c.t_progression == pytest.approx(80.0)


def test_cure_only_applies_if_all_sites_treated_before_progression():
    p = make_params(shape=1.0, scale=100.0, cure=1.0)
    c = make_clock(p, arrival=0.0, progression_budget=0.5, cure_draw=0.0)
    c.set_state(50.0, "all_sites_treated")  # progression already happened at day 50
    assert c.t_progression == pytest.approx(50.0)
    assert c.t_cancer_death < math.inf


@settings(max_examples=200, deadline=None)
@given(
    cure=st.floats(min_value=0.0, max_value=1.0),
    draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    budget=st.floats(min_value=0.05, max_value=5.0),
)
def test_cure_decided_by_draw(cure, draw, budget):
    p = make_params(shape=1.0, scale=100.0, cure=cure)
    c = make_clock(p, arrival=0.0, progression_budget=budget, cure_draw=draw)
    c.set_state(1.0, "all_sites_treated")  # 0.01 used, always before progression
    if draw < cure:
        assert c.t_progression == math.inf and c.t_cancer_death == math.inf
    else:
        # 0.01 used at HR 1, the rest at HR 0.5: 1 + (budget - 0.01) * 200
        assert c.t_progression == pytest.approx(1.0 + (budget - 0.01) * 200.0)


@settings(max_examples=300, deadline=None)
@given(
    budget=st.floats(min_value=1e-3, max_value=8.0),
    t0=st.floats(min_value=0.0, max_value=500.0),
    hr=st.floats(min_value=0.01, max_value=1.0),
    shape=st.floats(min_value=0.4, max_value=4.0),
    scale=st.floats(min_value=10.0, max_value=1000.0),
    arrival=st.floats(min_value=0.0, max_value=1000.0),
)
def test_hazard_ratio_below_one_never_brings_progression_forward(budget, t0, hr, shape, scale, arrival):
    p = make_params(shape=shape, scale=scale,
                    state_hr={"on_treatment": 1.0, "low": hr, "one": 1.0})
    low = make_clock(p, arrival=arrival, progression_budget=budget)
    one = make_clock(p, arrival=arrival, progression_budget=budget)
    unchanged = make_clock(p, arrival=arrival, progression_budget=budget)
    low.set_state(arrival + t0, "low")
    one.set_state(arrival + t0, "one")
    tol = 1e-9 * max(1.0, unchanged.t_progression)
    # changing to a state with the same ratio changes nothing
    assert one.t_progression == pytest.approx(unchanged.t_progression, rel=1e-9, abs=tol)
    assert low.t_progression >= one.t_progression - tol
    # a covariate ratio below one at baseline too
    cov = make_clock(p, arrival=arrival, progression_budget=budget, prog_hr=hr)
    assert cov.t_progression >= unchanged.t_progression - tol


@settings(max_examples=200, deadline=None)
@given(
    u=st.lists(st.floats(min_value=0.0, max_value=0.999), min_size=5, max_size=5),
    t0=st.floats(min_value=0.0, max_value=400.0),
    state=st.sampled_from(sorted(STATE_HR)),
    death_shape=st.floats(min_value=0.3, max_value=4.0),
    death_hr=st.floats(min_value=0.1, max_value=10.0),
)
def test_cancer_death_always_after_progression(u, t0, state, death_shape, death_hr):
    p = make_params(shape=1.4, scale=300.0, cure=0.3, death_shape=death_shape, death_scale=200.0)
    c = DiseaseClock(p, 0.0, u, 62.0, False, 1.3, death_hr)
    c.set_state(t0, state)
    assert c.t_cancer_death >= c.t_progression
    if c.t_progression < math.inf:
        after = 200.0 * (-math.log1p(-u[1]) / death_hr) ** (1.0 / death_shape)
        assert c.t_cancer_death - c.t_progression == pytest.approx(after, rel=1e-9, abs=1e-9)
    assert c.t_death == min(c.t_cancer_death, c.t_background_death)


def test_cure_survives_a_later_state_change():
    """A cured patient has no residual disease: moving to another state (palliative care for an
    unrelated reason, say) must not bring the progression hazard back."""
    p = make_params(shape=1.0, scale=100.0, cure=0.4)
    c = make_clock(p, arrival=0.0, progression_budget=0.5, cure_draw=0.1, background_budget=0.1)
    c.set_state(10.0, "all_sites_treated")
    c.set_state(20.0, "palliative")
    c.set_state(30.0, "partially_treated")
    assert c.cured
    assert math.isinf(c.t_progression) and math.isinf(c.t_cancer_death)


def test_death_hazard_change_after_progression_constant_hazard():
    """Shape 1: after progression at T the death budget E is spent at rate 1/60 a day; from
    T + 10 on at rate 3/60, so death comes at T + 10 + (60 E - 10) / 3."""
    p = make_params(shape=1.0, scale=100.0, death_shape=1.0, death_scale=60.0)
    c = make_clock(p, arrival=0.0, progression_budget=0.5, cure_draw=0.99)
    t_prog = c.t_progression
    budget_days = c.t_cancer_death - t_prog  # 60 E
    c.change_death_hazard(t_prog + 10.0, 3.0)
    assert c.t_cancer_death == pytest.approx(t_prog + 10.0 + (budget_days - 10.0) / 3.0)
    # before progression, or after death, nothing changes
    d = make_clock(p, arrival=0.0, progression_budget=0.5, cure_draw=0.99)
    before = d.t_cancer_death
    d.change_death_hazard(d.t_progression - 1.0, 3.0)
    assert d.t_cancer_death == before


def test_death_hazard_changes_compose():
    """Shape 1, death scale 60 days: the budget 60 E days is spent at rate 1 for 10 days, at rate
    1.5 (progression found during treatment) for the next 20, then at 1.5 x 3 (supportive care):
    death at T + 30 + (60 E - 10 - 30) / 4.5. A second change must not forget the first."""
    p = make_params(shape=1.0, scale=100.0, death_shape=1.0, death_scale=60.0)
    c = make_clock(p, arrival=0.0, progression_budget=0.5, cure_draw=0.99)
    t_prog = c.t_progression
    budget_days = c.t_cancer_death - t_prog
    assert budget_days > 40.0
    c.change_death_hazard(t_prog + 10.0, 1.5)
    c.change_death_hazard(t_prog + 30.0, 3.0)
    assert c.t_cancer_death == pytest.approx(t_prog + 30.0 + (budget_days - 40.0) / 4.5)
