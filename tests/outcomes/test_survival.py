"""The numpy Kaplan-Meier estimator equals lifelines', bit for bit (ties, zeros, censoring, all
events), and every use of it (landmarks, intervals, medians, RMST, numbers at risk, Greenwood
variances, bootstrap resamples) agrees with lifelines or a hand calculation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

from sim.outcomes.survival import Z95, kaplan_meier, km_landmark, km_rmst, km_summary


def _lifelines(durations, events) -> KaplanMeierFitter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' own numpy warnings on S = 0
        return KaplanMeierFitter().fit(durations, events)


def _assert_equal_to_lifelines(durations, events) -> None:
    kmf = _lifelines(durations, events)
    fit = kaplan_meier(durations, events)
    ci = kmf.confidence_interval_survival_function_
    np.testing.assert_array_equal(fit.timeline, kmf.survival_function_.index.to_numpy())
    np.testing.assert_array_equal(fit.survival, kmf.survival_function_.iloc[:, 0].to_numpy())
    np.testing.assert_array_equal(fit.lower, ci.iloc[:, 0].to_numpy())
    np.testing.assert_array_equal(fit.upper, ci.iloc[:, 1].to_numpy())
    assert fit.median() == kmf.median_survival_time_
    np.testing.assert_array_equal(fit.at_risk, kmf.event_table["at_risk"].to_numpy())


def _cases():
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(1, 300))
        durations = rng.exponential(20, n)
        if trial % 3 == 0:
            durations = np.round(durations)  # ties
        if trial % 7 == 0:
            durations[: n // 3] = 0.0
        events = (rng.random(n) < rng.random()).astype(int)
        if trial % 11 == 0:
            events[:] = 1
        yield durations, events


@pytest.mark.parametrize("durations,events", list(_cases()))
def test_kaplan_meier_equals_lifelines(durations, events):
    _assert_equal_to_lifelines(durations, events)


# durations on a coarse grid (many ties, some at 0), each with an event flag
_samples = st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=120)


@settings(max_examples=150, deadline=None)
@given(_samples, st.integers(1, 4))
def test_kaplan_meier_equals_lifelines_on_random_data(sample, scale):
    durations = np.array([d / scale for d, _ in sample], dtype=float)
    events = np.array([e for _, e in sample], dtype=int)
    _assert_equal_to_lifelines(durations, events)


@settings(max_examples=80, deadline=None)
@given(_samples, st.floats(0, 45))
def test_landmark_and_rmst_equal_lifelines(sample, t):
    durations = np.array([d for d, _ in sample], dtype=float)
    events = np.array([e for _, e in sample], dtype=int)
    kmf, fit = _lifelines(durations, events), kaplan_meier(durations, events)
    if t > durations.max():
        assert math.isnan(fit.survival_at(t)) and math.isnan(fit.restricted_mean(t))
        return
    assert fit.survival_at(t) == float(kmf.predict(t))
    assert fit.restricted_mean(t) == pytest.approx(restricted_mean_survival_time(kmf, t=t), abs=1e-9)
    assert fit.numbers_at_risk((t,)) == {t: int(np.sum(durations >= t))}


def test_greenwood_variance_by_hand():
    # at risk 5: death at 6 -> 1/(5*4); censored at 10; at risk 3: death at 20 -> 1/(3*2)
    fit = kaplan_meier([6, 10, 20, 30, 40], [1, 0, 1, 0, 0])
    assert fit.log_variance_at(5) == 0.0
    assert fit.log_variance_at(12) == pytest.approx(1 / 20)
    assert fit.log_variance_at(24) == pytest.approx(1 / 20 + 1 / 6)
    assert math.isnan(fit.log_variance_at(41))
    assert fit.numbers_at_risk((0, 10, 11, 40, 50)) == {0: 5, 10: 4, 11: 3, 40: 1, 50: 0}


def test_restricted_mean_by_hand():
    # S = 1 to 6, 3/4 to 30, then 3/4 * 1/2 (2 at risk at 30, after the censoring at 20)
    fit = kaplan_meier([6.0, 20.0, 30.0, 40.0], [1, 0, 1, 0])
    assert fit.restricted_mean(36) == pytest.approx(6 + 0.75 * 24 + 0.375 * 6)
    assert fit.restricted_mean(6) == pytest.approx(6.0)


def test_resamples_with_unit_weights_are_the_plain_fit():
    rng = np.random.default_rng(3)
    durations = np.round(rng.exponential(20, 200))
    events = rng.random(200) < 0.7
    fit = kaplan_meier(durations, events)
    weights = np.ones((2, 200))
    for t in (0.0, 5.0, 12.0, 36.0):
        assert km_landmark(durations, events, weights, t).tolist() == [fit.survival_at(t)] * 2
        # the same sum, of rows of a matrix: equal to the last bits of the summation order
        assert km_rmst(durations, events, weights, t) == pytest.approx([fit.restricted_mean(t)] * 2,
                                                                      rel=1e-14)


def test_resample_weights_count_patients():
    # the first patient twice is the plain fit of the duplicated data
    durations, events = np.array([3.0, 6.0, 9.0, 12.0]), np.array([1, 0, 1, 1])
    doubled = kaplan_meier(np.r_[durations, 3.0], np.r_[events, 1])
    weights = np.array([[2.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 2.0]])
    s = km_landmark(durations, events, weights, 10.0)
    assert s[0] == doubled.survival_at(10.0)
    # second resample: 6 censored, then at 9 one death of 3 at risk (9 once, 12 twice)
    assert s[1] == pytest.approx(2 / 3)
    assert km_rmst(durations, events, weights, 12.0)[1] == pytest.approx(9 + 3 * 2 / 3)


def test_km_summary_of_nothing_and_of_short_follow_up():
    assert km_summary([], []) == {}
    short = km_summary([1.0, 2.0, 3.0], [1, 0, 1])
    assert short["12"] is None and short["ci95"]["12"] is None


def test_quantile_is_scipys():
    from scipy import stats

    assert Z95 == stats.norm.ppf(0.975)
