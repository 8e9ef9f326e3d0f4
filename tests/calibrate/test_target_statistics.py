"""The targets of completion-specific survival, progression timing and chemotherapy duration:
their statistics on small hand-made patient tables, their likelihoods and their validation.
Every expected value is worked out by hand in the comments."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT

from sim.calibrate.statistics import Statistics, observed_within, statistics_from_patients
from sim.calibrate.targets import (
    KmTarget,
    MultinomialTarget,
    TargetsFile,
    km_deviances,
    load_targets,
    multinomial_deviance,
    statistics_for,
    target_rows,
)
from sim.errors import InputError
from sim.report.calibration import _table_html
from sim.scenario.parameters import TOXICITY_TYPES

TARGETS = ROOT / "calibration" / "li2021_targets.yaml"
Z = 1.959963984540054
WINDOW = (18.0, 93.4)


def _patients() -> pd.DataFrame:
    """Eight patients, four completers. OS: completers 10 (death), 40, 50, 60 (censored);
    non-completers 5, 20 (deaths), 30 (censored), 48 (death)."""
    n = 8
    table = pd.DataFrame({
        "completed": [True] * 4 + [False] * 4,
        "pathway": ["completed"] * 4 + ["palliative"] * 4,
        "os_months": [10.0, 40.0, 50.0, 60.0, 5.0, 20.0, 30.0, 48.0],
        "os_event": [1, 0, 0, 0, 1, 1, 0, 1],
        "progression_timing": ["during_treatment", "during_treatment", "after_treatment",
                               "after_treatment", "after_treatment", "no_progression",
                               "no_progression", "no_progression"],
        "progression_detected_months": [6.0, 55.7, 30.0, 100.0, 12.0, np.nan, np.nan, np.nan],
        "treatment_chemotherapy_months": [0.0, 3.0, 3.01, 5.52, 6.0, 6.2, 12.0, 2.0],
    })
    table["pfs_months"], table["pfs_event"] = table["os_months"], table["os_event"]
    for column in ("grade34_toxicity", "rectal_surgery", "surgical_complication",
                   "metastasis_treatment", "watch_and_wait", "ypcr",
                   *(f"grade34_{t}" for t in TOXICITY_TYPES)):
        table[column] = np.zeros(n, dtype=bool)
    table["first_response"] = "PR"
    return table


# ------------------------------------------------------------------------------ statistics

def test_observed_within_the_cohorts_follow_up():
    months = np.array([6.0, 18.0, 55.7, 93.4, 120.0, np.nan])
    # 1 up to the shortest follow-up, (93.4 - t) / 75.4 after: 37.7 / 75.4 = 0.5 at 55.7
    assert observed_within(months, WINDOW) == pytest.approx([1, 1, 0.5, 0, 0, 0])
    assert observed_within(months, None) == pytest.approx([1, 1, 1, 1, 1, 0])
    # everyone followed exactly 24 months: seen up to 24, not after
    assert observed_within(months, (24.0, 24.0)) == pytest.approx([1, 1, 0, 0, 0, 0])


def test_progression_timing_shares_as_the_cohort_would_see_them():
    s = statistics_from_patients(_patients(), follow_up_months=WINDOW)
    # during: 6 months (seen: 1) + 55.7 months (0.5) = 1.5 of 8
    assert s.values["progression_timing.during_treatment"] == pytest.approx(1.5 / 8)
    # after: 30 months ((93.4 - 30) / 75.4 = 0.840849), 100 months (0), 12 months (1)
    after = (1 + 63.4 / 75.4) / 8
    assert s.values["progression_timing.after_treatment"] == pytest.approx(after)
    assert s.values["progression_timing.no_progression"] == pytest.approx(1 - 1.5 / 8 - after)
    assert s.denominators["progression_timing.during_treatment"] == 8
    # without a follow-up window, every detection counts: 2, 3 and 3 of 8
    anytime = statistics_from_patients(_patients())
    assert [anytime.values[f"progression_timing.{k}"] for k in
            ("during_treatment", "after_treatment", "no_progression")] == pytest.approx([2 / 8, 3 / 8, 3 / 8])


def test_chemotherapy_duration_bands_include_their_upper_bound():
    s = statistics_from_patients(_patients())
    # <= 3: 0, 3.0, 2.0; 3-6: 3.01, 5.52, 6.0; > 6: 6.2, 12
    assert s.values["chemotherapy_duration.up_to_3_months"] == pytest.approx(3 / 8)
    assert s.values["chemotherapy_duration.3_to_6_months"] == pytest.approx(3 / 8)
    assert s.values["chemotherapy_duration.over_6_months"] == pytest.approx(2 / 8)


def test_a_table_without_the_new_columns_leaves_their_statistics_out():
    old = _patients().drop(columns=["progression_timing", "treatment_chemotherapy_months"])
    s = statistics_from_patients(old)
    assert not any(k.startswith(("progression_timing", "chemotherapy_duration")) for k in s.values)
    unknown = _patients().assign(treatment_chemotherapy_months=np.nan)
    assert "chemotherapy_duration.over_6_months" not in statistics_from_patients(unknown).values


def test_kaplan_meier_by_completion():
    s = statistics_from_patients(_patients(), months=(36.0,))
    # completers: death at 10 of 4 at risk, the rest censored later: S(36) = 3/4, Greenwood 1/12
    assert s.km["os.completed"][36.0] == pytest.approx((0.75, 1 / 12))
    # non-completers: 5 -> 3/4, 20 -> 3/4 x 2/3 = 1/2; censored at 30, death at 48
    assert s.km["os.not_completed"][36.0][0] == pytest.approx(0.5)
    # whole cohort: 5 -> 7/8, 10 -> 6/8, 20 -> 5/8
    assert s.km["os"][36.0][0] == pytest.approx(0.625)
    assert s.km["pfs.completed"][36.0][0] == pytest.approx(0.75)


def test_an_empty_group_has_no_curve():
    everyone = _patients().assign(completed=True)
    s = statistics_from_patients(everyone, months=(36.0,))
    assert all(math.isnan(v) for v in s.km["os.not_completed"][36.0])


# ------------------------------------------------------------------------------ targets

def _km(**kw) -> KmTarget:
    base = {"name": "t", "likelihood": "km", "curve": "os", "month": 36, "percent": 39.2}
    return KmTarget(**{**base, **kw})


def test_interval_from_the_binomial_se_when_no_ci_is_printed():
    t = _km(group="not_completed", binomial_n=116)
    half = 100 * Z * math.sqrt(0.392 * 0.608 / 116)  # 8.884 points
    assert t.interval == pytest.approx((39.2 - half, 39.2 + half))
    assert t.interval == pytest.approx((30.316, 48.084), abs=1e-3)
    assert t.se_log == pytest.approx(math.log(48.084 / 30.316) / (2 * Z), rel=1e-4)
    printed = _km(ci95=(66.1, 83.8), percent=74.4)
    assert printed.interval == (66.1, 83.8) and printed.key == "os"
    assert t.key == "os.not_completed"


@pytest.mark.parametrize("kw,message", [
    ({"ci95": (30.0, 48.0), "binomial_n": 116}, "not both"),
    ({}, "not neither"),
    ({"percent": 100.0, "binomial_n": 116}, "percent < 100"),
    ({"group": "completers", "binomial_n": 116}, "not_completed"),
])
def test_km_target_validation(kw, message):
    with pytest.raises(ValueError, match=message):
        _km(**kw)


def test_group_landmarks_are_increments_of_their_own_curve():
    marks = [_km(name="os_24", month=24, percent=74.8, ci95=(69.4, 80.7)),
             _km(name="os_36_completed", group="completed", percent=74.4, ci95=(66.1, 83.8)),
             _km(name="os_36_not_completed", group="not_completed", binomial_n=116)]
    stats = Statistics(km={"os": {24: (0.748, 0.0)}, "os.completed": {36: (0.70, 0.0)}})
    dev = km_deviances(marks, stats)
    assert dev["os_24"] == pytest.approx(0, abs=1e-12)
    # the group's only landmark is compared whole, with its own CI's variance
    assert dev["os_36_completed"] == pytest.approx(math.log(0.744 / 0.70) ** 2 / marks[1].se_log ** 2)
    assert dev["os_36_not_completed"] == math.inf  # no simulated curve


def test_progression_timing_multinomial_by_hand():
    t = MultinomialTarget(name="p", likelihood="multinomial", statistic="progression_timing", of=228,
                          counts={"during_treatment": 70, "after_treatment": 79, "no_progression": 79})
    p = {"during_treatment": 0.467, "after_treatment": 0.234, "no_progression": 0.299}
    values = {f"progression_timing.{k}": v for k, v in p.items()}
    hand = 2 * (70 * math.log(70 / (228 * 0.467)) + 79 * math.log(79 / (228 * 0.234))
                + 79 * math.log(79 / (228 * 0.299)))
    big = Statistics(values=values, denominators={k: 10**9 for k in values})
    assert multinomial_deviance(t, big) == pytest.approx(hand, rel=1e-6)
    # Monte Carlo error: a simulation as small as the cohort halves it
    small = Statistics(values=values, denominators={k: 228 for k in values})
    assert multinomial_deviance(t, small) == pytest.approx(hand / 2, rel=1e-6)


def test_unknown_category_is_refused_naming_the_partition():
    with pytest.raises(ValueError, match="'later'.*during_treatment"):
        MultinomialTarget(name="p", likelihood="multinomial", statistic="progression_timing", of=228,
                          counts={"during_treatment": 70, "later": 79})


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(follow_up_months=[93.4, 18]), "shortest <= longest"),
    (lambda d: d["targets"][-1]["counts"].update(over_7_months=1), "unknown category 'over_7_months'"),
    (lambda d: d["targets"][-3].update(ci95=[20, 40]), "not both"),
])
def test_shipped_file_with_a_mistake_is_refused_in_one_line(tmp_path, change, message):
    data = yaml.safe_load(TARGETS.read_text())
    change(data)
    with pytest.raises(InputError) as info:
        load_targets(_write(tmp_path, data))
    line = info.value.one_line()
    assert message in line and "\n" not in line


NEW = ("os_36_completed", "pfs_36_completed", "os_36_not_completed", "pfs_36_not_completed",
       "progression_timing", "chemotherapy_duration")


def test_shipped_targets_fit_the_figures_by_completion_timing_and_duration():
    targets, _ = load_targets(TARGETS)
    by_name = {t.name: t for t in targets.targets}
    assert targets.follow_up_months == WINDOW
    timing, chemo = by_name["progression_timing"], by_name["chemotherapy_duration"]
    assert isinstance(timing, MultinomialTarget) and isinstance(chemo, MultinomialTarget)
    # Table 3 site rows: 24+18+3+11+3+5+4+2 = 70 during, 23+27+4+6+5+4+3+7 = 79 after
    assert timing.counts == {"during_treatment": 70, "after_treatment": 79, "no_progression": 79}
    assert chemo.counts == {"up_to_3_months": 23, "3_to_6_months": 131, "over_6_months": 74}
    assert sum(timing.counts.values()) == sum(chemo.counts.values()) == 228
    non = by_name["pfs_36_not_completed"]
    assert isinstance(non, KmTarget) and non.binomial_n == 116
    assert non.interval == pytest.approx((22.12, 38.88), abs=0.01)
    assert all(by_name[n].fit for n in NEW)
    # kept back to validate on: figures no step of the fit sees
    assert {t.name for t in targets.targets if not t.fit} == {
        "completion", "grade34_toxicity", "surgical_complications", "metastasis_treatment", "ypcr"}


def test_statistics_for_the_targets_use_their_follow_up():
    targets, _ = load_targets(TARGETS)
    got = statistics_for(targets, _patients())
    assert got.values["progression_timing.during_treatment"] == pytest.approx(1.5 / 8)
    assert set(got.km["pfs.not_completed"]) == set(targets.km_months)


def test_new_targets_are_validation_rows_inside_or_outside():
    targets, _ = load_targets(TARGETS)
    shipped = targets.targets
    # just the new ones and one fitted landmark (a file needs a fitted target)
    subset = TargetsFile(name="x", cohort_size=228, follow_up_months=WINDOW,
                         targets=[t for t in shipped if t.name == "os_36"]
                         + [t.model_copy(update={"fit": False}) for t in shipped if t.name in NEW])
    stats = statistics_from_patients(_patients(), subset.km_months, WINDOW)
    rows = {r["target"]: r for r in target_rows(subset, stats)}
    # non-completers' 3-year OS: simulated 0.5 against 30.3-48.1%: outside; completers' 0.75
    # against 66.1-83.8%: inside
    assert rows["os_36_not_completed"]["published_ci95"] == pytest.approx([0.30316, 0.48084], abs=1e-5)
    assert rows["os_36_not_completed"]["inside"] is False and rows["os_36_completed"]["inside"] is True
    assert rows["os_36_completed"]["group"] == "completed" and "group" not in rows["os_36"]
    # chemotherapy over 6 months: 2/8 = 25% against 74/228 (Clopper-Pearson 26.4-39.0%): outside
    assert rows["chemotherapy_duration.over_6_months"]["simulated"] == pytest.approx(0.25)
    assert rows["chemotherapy_duration.over_6_months"]["inside"] is False
    assert rows["progression_timing.during_treatment"]["fit"] is False
    html = _table_html(list(rows.values()))
    assert html.count("<td>validation</td>") == len(rows) - 1
    assert "<td>chemotherapy_duration.over_6_months</td><td>validation</td>" in html
