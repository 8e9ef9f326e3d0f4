"""The numpy Kaplan-Meier estimator equals lifelines', bit for bit (ties, zeros, all events)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from sim.outcomes.survival import Z95, _median, kaplan_meier, km_summary


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' own numpy warnings on S = 0
        kmf = KaplanMeierFitter().fit(durations, events)
    timeline, surv, lower, upper = kaplan_meier(durations, events)
    ci = kmf.confidence_interval_survival_function_
    np.testing.assert_array_equal(timeline, kmf.survival_function_.index.to_numpy())
    np.testing.assert_array_equal(surv, kmf.survival_function_.iloc[:, 0].to_numpy())
    np.testing.assert_array_equal(lower, ci.iloc[:, 0].to_numpy())
    np.testing.assert_array_equal(upper, ci.iloc[:, 1].to_numpy())
    assert _median(timeline, surv) == kmf.median_survival_time_


def test_km_summary_of_nothing_and_of_short_follow_up():
    assert km_summary([], []) == {}
    short = km_summary([1.0, 2.0, 3.0], [1, 0, 1])
    assert short["12"] is None and short["ci95"]["12"] is None


def test_quantile_is_scipys():
    from scipy import stats

    assert Z95 == stats.norm.ppf(0.975)
